using GradientSurgery.Diagnostics;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Diagnostics;

public sealed class ConflictReportTests
{
    [Fact]
    public void CountsConflictingPairsAndAveragesOverDefinedPairs()
    {
        using var scope = NewDisposeScope();
        // g0 ⟂ g1, g0 · g2 < 0, g1 · g2 = 0 and g3 = 0 (undefined with everyone).
        var jacobian = tensor(new[,] { { 1.0, 0.0 }, { 0.0, 2.0 }, { -1.0, 0.0 }, { 0.0, 0.0 } });
        var report = ConflictReport.FromJacobian(jacobian);

        Assert.Equal(4, report.TaskCount);
        Assert.Equal(3, report.DefinedPairs);
        Assert.Equal(1, report.ConflictingPairs);
        Assert.Equal(1.0 / 3.0, report.ConflictFraction!.Value, 15);
        Assert.Equal(-1.0 / 3.0, report.MeanCosine!.Value, 15);
        Assert.Null(report.Cosine[0, 3]);
        Assert.Equal(0.0, report.MagnitudeSimilarity[0, 3]);
        Assert.Null(report.MagnitudeSimilarity[3, 3]);
        // g0 = −g2: curvature undefined; g0, g1: (1 − 0)·‖g0 − g1‖²/‖g0 + g1‖² = 1.
        Assert.Null(report.Curvature[0, 2]);
        Assert.Equal(1.0, report.Curvature[0, 1]!.Value, 15);
        // Φ(g0, g1) = 2·1·2/(1 + 4) = 0.8.
        Assert.Equal(0.8, report.MagnitudeSimilarity[0, 1]!.Value, 15);
        Assert.Equal(new[] { 1.0, 2.0, 1.0, 0.0 }, report.Norms);
    }

    [Fact]
    public void SingleTaskHasNoPairs()
    {
        using var scope = NewDisposeScope();
        var report = ConflictReport.FromJacobian(tensor(new[,] { { 3.0, 4.0 } }));
        Assert.Equal(0, report.DefinedPairs);
        Assert.Null(report.MeanCosine);
        Assert.Null(report.ConflictFraction);
        Assert.Equal(1.0, report.Cosine[0, 0]);
        Assert.Equal(0.0, report.Curvature[0, 0]);
    }

    [Fact]
    public void RejectsANonSquareGramian()
    {
        Assert.Throws<ArgumentException>(() => ConflictReport.FromGramian(new double[2, 3]));
    }
}
