using GradientSurgery.Diagnostics;

namespace GradientSurgery.Experiments;

/// <summary>
/// Running means of the per-step conflict statistics (fraction of conflicting pairs, mean cosine, Φ, ξ), each over
/// the steps where it is defined; NaN when it never was (e.g. a loss weighting's steps, which measure none).
/// </summary>
internal sealed class ConflictAverages
{
    private readonly double[] _sum = new double[4];
    private readonly int[] _count = new int[4];

    public double ConflictFraction => Mean(0);

    public double MeanCosine => Mean(1);

    public double MagnitudeSimilarity => Mean(2);

    public double Curvature => Mean(3);

    /// <summary>Adds one step's report; null adds nothing.</summary>
    public void Add(ConflictReport? conflicts)
    {
        Add(0, conflicts?.ConflictFraction);
        Add(1, conflicts?.MeanCosine);
        Add(2, conflicts?.MeanMagnitudeSimilarity);
        Add(3, conflicts?.MeanCurvature);
    }

    public void Clear()
    {
        Array.Clear(_sum);
        Array.Clear(_count);
    }

    public void Save(BinaryWriter writer)
    {
        for (var k = 0; k < _sum.Length; k++)
        {
            writer.Write(_sum[k]);
            writer.Write(_count[k]);
        }
    }

    public void Load(BinaryReader reader)
    {
        for (var k = 0; k < _sum.Length; k++)
        {
            _sum[k] = reader.ReadDouble();
            _count[k] = reader.ReadInt32();
        }
    }

    private void Add(int k, double? value)
    {
        if (value is { } v)
        {
            _sum[k] += v;
            _count[k]++;
        }
    }

    private double Mean(int k) => _count[k] == 0 ? double.NaN : _sum[k] / _count[k];
}
