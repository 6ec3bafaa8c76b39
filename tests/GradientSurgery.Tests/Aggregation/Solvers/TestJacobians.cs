using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation.Solvers;

/// <summary>Random and adversarial float64 Jacobians shared by the MGDA, UPGrad and DualProj tests.</summary>
internal static class TestJacobians
{
    public static Tensor Random(int tasks, int parameters, long seed) =>
        randn(tasks, parameters, dtype: ScalarType.Float64, generator: new Generator((ulong)seed));

    /// <summary>Random Jacobians of 2–12 tasks, including wide, square and rank-deficient (P &lt; T) ones.</summary>
    public static IEnumerable<(string Name, Tensor Jacobian)> RandomCases(int count, long seed)
    {
        var random = new System.Random((int)seed);
        for (var n = 0; n < count; n++)
        {
            var tasks = 2 + random.Next(11);
            var parameters = 1 + random.Next(2 * tasks);
            yield return ($"random #{n} ({tasks}×{parameters})", Random(tasks, parameters, seed * 1000 + n));
        }
    }

    /// <summary>The adversarial inputs of the project's rules, each a T×P float64 matrix.</summary>
    public static IEnumerable<(string Name, Tensor Jacobian)> AdversarialCases()
    {
        var g = Random(1, 6, 101);
        yield return ("single task", g);
        yield return ("identical rows", cat([g, g, g]));
        yield return ("opposite rows", cat([g, -g]));
        yield return ("opposite rows of different norms", cat([g, -1e3 * g]));
        yield return ("a zero row", cat([Random(2, 6, 102), zeros(1, 6, dtype: ScalarType.Float64), Random(1, 6, 103)]));
        yield return ("all rows zero", zeros(3, 6, dtype: ScalarType.Float64));
        yield return ("rank-deficient (8 tasks in 3 dimensions)", Random(8, 3, 104));
        yield return ("rank-deficient (5 tasks spanning a plane in 6 dimensions)", Random(5, 2, 105).mm(Random(2, 6, 106)));
        var scales = tensor(new[] { 1e-3, 1.0, 1e3 }, dtype: ScalarType.Float64).unsqueeze(1);
        yield return ("norms 1e-3, 1, 1e3", Random(3, 5, 107) * scales);
        yield return ("norms 1e6 apart, conflicting", tensor(new[,] { { 1e6, 1e6, 0.0 }, { -1.0, 0.5, 1.0 } }));
        yield return ("nearly opposite rows", cat([g, -g + 1e-9 * Random(1, 6, 108)]));
        yield return ("100 tasks in 20 dimensions", Random(100, 20, 109));
    }

    /// <summary>
    /// How much the update conflicts with the worst task: max_j −(g_j · d) / (‖g_j‖ Σ_k |w_k| ‖g_k‖), computed
    /// in the P-dimensional space from the Jacobian itself. 0 for a zero task; ≤ 0 means no conflict.
    /// </summary>
    public static double WorstConflict(Tensor jacobian, Tensor update, IReadOnlyList<double> weights)
    {
        using var scope = NewDisposeScope();
        var dots = jacobian.to(ScalarType.Float64).mv(update.to(ScalarType.Float64)).data<double>().ToArray();
        var norms = jacobian.to(ScalarType.Float64).pow(2).sum(1).sqrt().data<double>().ToArray();
        var budget = 0.0;
        for (var k = 0; k < norms.Length; k++)
        {
            budget += Math.Abs(weights[k]) * norms[k];
        }
        var worst = double.NegativeInfinity;
        for (var j = 0; j < dots.Length; j++)
        {
            var scale = norms[j] * budget;
            worst = Math.Max(worst, scale > 0 ? -dots[j] / scale : 0);
        }
        return worst;
    }

    /// <summary>
    /// The Euclidean projection of x onto {y : J y ≥ 0} by Hildreth's method (cyclic coordinate ascent on the
    /// dual, 1957), computed in the P-dimensional space independently of the Gramian-space solvers.
    /// </summary>
    public static double[] HildrethProjection(Tensor jacobian, double[] x, int sweeps = 20000)
    {
        var rows = (int)jacobian.shape[0];
        var columns = (int)jacobian.shape[1];
        var j = jacobian.to(ScalarType.Float64).contiguous().data<double>().ToArray();
        var y = (double[])x.Clone();
        var multipliers = new double[rows];
        for (var sweep = 0; sweep < sweeps; sweep++)
        {
            for (var r = 0; r < rows; r++)
            {
                double dot = 0, squared = 0;
                for (var c = 0; c < columns; c++)
                {
                    dot += j[r * columns + c] * y[c];
                    squared += j[r * columns + c] * j[r * columns + c];
                }
                if (squared == 0)
                {
                    continue;
                }
                var updated = Math.Max(0, multipliers[r] - dot / squared);
                var change = updated - multipliers[r];
                multipliers[r] = updated;
                for (var c = 0; c < columns; c++)
                {
                    y[c] += change * j[r * columns + c];
                }
            }
        }
        return y;
    }
}
