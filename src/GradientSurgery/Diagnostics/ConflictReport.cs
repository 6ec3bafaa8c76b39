using GradientSurgery.Aggregation;
using GradientSurgery.Aggregation.Solvers;
using static TorchSharp.torch;

namespace GradientSurgery.Diagnostics;

/// <summary>
/// The "tragic triad" of the PCGrad paper (Yu et al., NeurIPS 2020, Section 3 and Definitions 1–3) for every
/// pair of task gradients: conflict (the cosine), gradient magnitude similarity Φ, and the curvature bounding
/// measure ξ. Everything follows from the Gramian G = J Jᵀ alone.
/// </summary>
/// <remarks>
/// Undefined entries are null: the cosine and ξ when either gradient is zero; Φ when both are zero (it is 0
/// when exactly one is); ξ also when g_i + g_j = 0. For a non-zero gradient the diagonal is 1, 1 and 0.
/// </remarks>
public sealed class ConflictReport
{
    private ConflictReport(int taskCount)
    {
        TaskCount = taskCount;
        Norms = new double[taskCount];
        Cosine = new double?[taskCount, taskCount];
        MagnitudeSimilarity = new double?[taskCount, taskCount];
        Curvature = new double?[taskCount, taskCount];
    }

    /// <summary>Number of tasks T.</summary>
    public int TaskCount { get; }

    /// <summary>‖g_i‖ for each task.</summary>
    public double[] Norms { get; }

    /// <summary>cos φ_ij = g_i · g_j / (‖g_i‖ ‖g_j‖).</summary>
    public double?[,] Cosine { get; }

    /// <summary>Φ_ij = 2 ‖g_i‖ ‖g_j‖ / (‖g_i‖² + ‖g_j‖²): 1 for equal magnitudes, near 0 when one dominates.</summary>
    public double?[,] MagnitudeSimilarity { get; }

    /// <summary>ξ_ij = (1 − cos² φ_ij) ‖g_i − g_j‖² / ‖g_i + g_j‖².</summary>
    public double?[,] Curvature { get; }

    /// <summary>Number of unordered pairs i &lt; j whose gradients conflict (cosine &lt; 0).</summary>
    public int ConflictingPairs { get; private set; }

    /// <summary>Number of unordered pairs i &lt; j whose cosine is defined (both gradients non-zero).</summary>
    public int DefinedPairs { get; private set; }

    /// <summary>ConflictingPairs / DefinedPairs, or null when no pair is defined.</summary>
    public double? ConflictFraction => DefinedPairs == 0 ? null : (double)ConflictingPairs / DefinedPairs;

    /// <summary>Mean cosine over the defined pairs i &lt; j, or null when there is none (e.g. T = 1).</summary>
    public double? MeanCosine { get; private set; }

    /// <summary>Mean Φ over the defined pairs i &lt; j, or null when there is none.</summary>
    public double? MeanMagnitudeSimilarity { get; private set; }

    /// <summary>Mean ξ over the defined pairs i &lt; j, or null when there is none.</summary>
    public double? MeanCurvature { get; private set; }

    /// <summary>The report for the T×P Jacobian (rows are task gradients); only its Gramian is computed.</summary>
    public static ConflictReport FromJacobian(Tensor jacobian) => FromGramian(Jacobian.Gramian(jacobian));

    /// <summary>The report for a T×T Gramian G[i, j] = g_i · g_j.</summary>
    public static ConflictReport FromGramian(double[,] gramian)
    {
        GramianInput.RequireSquare(gramian, nameof(gramian));
        var taskCount = gramian.GetLength(0);
        var report = new ConflictReport(taskCount);
        for (var i = 0; i < taskCount; i++)
        {
            report.Norms[i] = Math.Sqrt(Math.Max(gramian[i, i], 0.0));
        }
        double cosineSum = 0, similaritySum = 0, curvatureSum = 0;
        int similarityCount = 0, curvatureCount = 0;
        for (var i = 0; i < taskCount; i++)
        {
            for (var j = 0; j < taskCount; j++)
            {
                var (cosine, similarity, curvature) = Pair(gramian, report.Norms, i, j);
                report.Cosine[i, j] = cosine;
                report.MagnitudeSimilarity[i, j] = similarity;
                report.Curvature[i, j] = curvature;
                if (j <= i)
                {
                    continue;
                }
                if (cosine is { } c)
                {
                    report.DefinedPairs++;
                    cosineSum += c;
                    if (c < 0)
                    {
                        report.ConflictingPairs++;
                    }
                }
                if (similarity is { } s)
                {
                    similarityCount++;
                    similaritySum += s;
                }
                if (curvature is { } k)
                {
                    curvatureCount++;
                    curvatureSum += k;
                }
            }
        }
        report.MeanCosine = report.DefinedPairs == 0 ? null : cosineSum / report.DefinedPairs;
        report.MeanMagnitudeSimilarity = similarityCount == 0 ? null : similaritySum / similarityCount;
        report.MeanCurvature = curvatureCount == 0 ? null : curvatureSum / curvatureCount;
        return report;
    }

    private static (double? Cosine, double? Similarity, double? Curvature) Pair(double[,] gramian, double[] norms, int i, int j)
    {
        double ni = norms[i], nj = norms[j];
        if (i == j)
        {
            return ni == 0 ? (null, null, null) : (1.0, 1.0, 0.0);
        }
        double gii = gramian[i, i], gjj = gramian[j, j];
        double? similarity = gii + gjj == 0 ? null : 2 * ni * nj / (gii + gjj);
        if (ni == 0 || nj == 0)
        {
            return (null, similarity, null);
        }
        var cosine = Math.Clamp(gramian[i, j] / ni / nj, -1.0, 1.0);
        var sumSquared = gii + gjj + 2 * gramian[i, j];
        var differenceSquared = Math.Max(gii + gjj - 2 * gramian[i, j], 0.0);
        // g_i = −g_j gives an exact zero here; rounding can only push a true zero below it.
        double? curvature = sumSquared <= 0 ? null : (1 - cosine * cosine) * differenceSquared / sumSquared;
        return (cosine, similarity, curvature);
    }
}
