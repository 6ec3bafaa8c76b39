using static TorchSharp.torch;

namespace GradientSurgery.Tests.Weighting;

/// <summary>Compares doubles up to an absolute tolerance (for Assert.Equal on sequences).</summary>
internal sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
{
    public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;

    public int GetHashCode(double obj) => 0;
}

internal static class WeightingTestHelpers
{
    /// <summary>Scalar float64 leaves that require grad, so that ∂objective/∂L_i can be read from their .grad.</summary>
    public static Tensor[] Leaves(params double[] values) =>
        [.. values.Select(v => tensor(v, dtype: ScalarType.Float64).requires_grad_(true))];

    /// <summary>∂objective/∂L_i read from the leaves after a backward.</summary>
    public static double[] Gradients(IEnumerable<Tensor> leaves) => [.. leaves.Select(l => l.grad!.item<double>())];

    public static MemoryStream Save(IStateful stateful)
    {
        var stream = new MemoryStream();
        stateful.SaveState(new BinaryWriter(stream));
        stream.Position = 0;
        return stream;
    }

    public static void Load(IStateful stateful, MemoryStream stream) => stateful.LoadState(new BinaryReader(stream));
}
