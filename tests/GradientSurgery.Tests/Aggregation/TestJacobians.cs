using GradientSurgery.Aggregation;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation;

/// <summary>
/// The test inputs and independent checks shared by the aggregator and solver tests: random and adversarial
/// Jacobians (as tensors), managed float64 matrices for the solver tests (no libtorch needed), and conditions
/// recomputed independently of the code under test.
/// </summary>
internal static class TestJacobians
{
    /// <summary>A T×P matrix of standard normal entries from a seeded libtorch generator.</summary>
    public static Tensor RandomJacobian(int tasks, int parameters, long seed, ScalarType dtype = ScalarType.Float64) =>
        randn(tasks, parameters, dtype: dtype, generator: new Generator((ulong)seed));

    /// <summary>The names of the cases of <see cref="Adversarial"/> that every aggregator must survive.</summary>
    public static readonly string[] AdversarialCaseNames =
        ["single", "identical", "parallel", "opposite", "oppositeScaled", "moreTasksThanParameters", "sumOfOthers", "zeroRow", "magnitudes", "allZero"];

    /// <summary><see cref="AdversarialCaseNames"/> as theory data.</summary>
    public static TheoryData<string> AdversarialNames => new(AdversarialCaseNames);

    /// <summary>
    /// An adversarial float64 Jacobian (rows are task gradients) built from three random 6-vectors a, b, c drawn
    /// from a generator seeded with <paramref name="seed"/>: one task, repeated, parallel, opposite and
    /// opposite-with-another rows, <paramref name="wideTasks"/> (or, for "manyMoreTasksThanParameters", 7)
    /// random tasks in 3 dimensions, a row that is the sum of the others, a zero row, norms 10⁶ apart, all zero.
    /// </summary>
    public static Tensor Adversarial(string name, ulong seed, int wideTasks = 5)
    {
        var generator = new Generator(seed);
        var a = randn(1, 6, dtype: ScalarType.Float64, generator: generator);
        var b = randn(1, 6, dtype: ScalarType.Float64, generator: generator);
        var c = randn(1, 6, dtype: ScalarType.Float64, generator: generator);
        return name switch
        {
            "single" => a,
            "identical" => cat([a, a, b]),
            "parallel" => cat([a, 2 * a]),
            "opposite" => cat([a, -a]),
            "oppositeScaled" => cat([a, -3 * a, b]),
            "moreTasksThanParameters" => randn(wideTasks, 3, dtype: ScalarType.Float64, generator: generator),
            "manyMoreTasksThanParameters" => randn(7, 3, dtype: ScalarType.Float64, generator: generator),
            "sumOfOthers" => cat([a, b, a + b]),
            "zeroRow" => cat([a, zeros_like(a), b]),
            "magnitudes" => cat([a, 1e6 * b, c]),
            "allZero" => zeros(3, 6, dtype: ScalarType.Float64),
            _ => throw new ArgumentException(name),
        };
    }

    /// <summary>Random Jacobians of 2–12 tasks, including wide, square and rank-deficient (P &lt; T) ones.</summary>
    public static IEnumerable<(string Name, Tensor Jacobian)> RandomCases(int count, long seed)
    {
        var random = new Random((int)seed);
        for (var n = 0; n < count; n++)
        {
            var tasks = 2 + random.Next(11);
            var parameters = 1 + random.Next(2 * tasks);
            yield return ($"random #{n} ({tasks}×{parameters})", RandomJacobian(tasks, parameters, seed * 1000 + n));
        }
    }

    /// <summary>The adversarial inputs of the project's rules, each a T×P float64 matrix.</summary>
    public static IEnumerable<(string Name, Tensor Jacobian)> AdversarialCases()
    {
        var g = RandomJacobian(1, 6, 101);
        yield return ("single task", g);
        yield return ("identical rows", cat([g, g, g]));
        yield return ("opposite rows", cat([g, -g]));
        yield return ("opposite rows of different norms", cat([g, -1e3 * g]));
        yield return ("a zero row", cat([RandomJacobian(2, 6, 102), zeros(1, 6, dtype: ScalarType.Float64), RandomJacobian(1, 6, 103)]));
        yield return ("all rows zero", zeros(3, 6, dtype: ScalarType.Float64));
        yield return ("rank-deficient (8 tasks in 3 dimensions)", RandomJacobian(8, 3, 104));
        yield return ("rank-deficient (5 tasks spanning a plane in 6 dimensions)", RandomJacobian(5, 2, 105).mm(RandomJacobian(2, 6, 106)));
        var scales = tensor(new[] { 1e-3, 1.0, 1e3 }, dtype: ScalarType.Float64).unsqueeze(1);
        yield return ("norms 1e-3, 1, 1e3", RandomJacobian(3, 5, 107) * scales);
        yield return ("norms 1e6 apart, conflicting", tensor(new[,] { { 1e6, 1e6, 0.0 }, { -1.0, 0.5, 1.0 } }));
        yield return ("nearly opposite rows", cat([g, -g + 1e-9 * RandomJacobian(1, 6, 108)]));
        yield return ("100 tasks in 20 dimensions", RandomJacobian(100, 20, 109));
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

    // Managed float64 matrices for the solver tests (no libtorch needed).

    /// <summary>A T×P matrix of standard normal entries (Box–Muller on a seeded <see cref="Random"/>).</summary>
    public static double[,] Gaussian(int rows, int columns, int seed)
    {
        var random = new Random(seed);
        var result = new double[rows, columns];
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < columns; j++)
            {
                var u1 = 1.0 - random.NextDouble();
                var u2 = random.NextDouble();
                result[i, j] = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            }
        }
        return result;
    }

    /// <summary>G = J Jᵀ, exactly symmetric.</summary>
    public static double[,] Gram(double[,] jacobian)
    {
        var t = jacobian.GetLength(0);
        var p = jacobian.GetLength(1);
        var g = new double[t, t];
        for (var i = 0; i < t; i++)
        {
            for (var j = i; j < t; j++)
            {
                var sum = 0.0;
                for (var k = 0; k < p; k++)
                {
                    sum += jacobian[i, k] * jacobian[j, k];
                }
                g[i, j] = g[j, i] = sum;
            }
        }
        return g;
    }

    public static double[] Times(double[,] matrix, double[] vector)
    {
        var n = matrix.GetLength(0);
        var result = new double[n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < vector.Length; j++)
            {
                result[i] += matrix[i, j] * vector[j];
            }
        }
        return result;
    }

    /// <summary>wᵀJ, the update as a P-vector.</summary>
    public static double[] Combine(double[,] jacobian, double[] weights)
    {
        var p = jacobian.GetLength(1);
        var result = new double[p];
        for (var i = 0; i < weights.Length; i++)
        {
            for (var k = 0; k < p; k++)
            {
                result[k] += weights[i] * jacobian[i, k];
            }
        }
        return result;
    }

    public static double Dot(double[] x, double[] y)
    {
        var sum = 0.0;
        for (var i = 0; i < x.Length; i++)
        {
            sum += x[i] * y[i];
        }
        return sum;
    }

    public static double[,] ScaleRows(double[,] jacobian, params double[] factors)
    {
        var result = (double[,])jacobian.Clone();
        for (var i = 0; i < factors.Length; i++)
        {
            for (var k = 0; k < jacobian.GetLength(1); k++)
            {
                result[i, k] *= factors[i];
            }
        }
        return result;
    }

    /// <summary>max_i |w_i^p (A w)_i − 1| over the tasks with w_i &gt; 0, recomputed independently of the solver.</summary>
    public static double BargainingResidual(double[,] a, double[] w, double p)
    {
        // Accumulated in double-double (TwoSum/TwoProduct) so that the check itself is not limited by cancellation.
        var n = w.Length;
        var aw = new double[n];
        for (var i = 0; i < n; i++)
        {
            double hi = 0, lo = 0;
            for (var j = 0; j < n; j++)
            {
                var prod = a[i, j] * w[j];
                lo += Math.FusedMultiplyAdd(a[i, j], w[j], -prod);
                var s = hi + prod;
                var bp = s - hi;
                lo += (hi - (s - bp)) + (prod - bp);
                hi = s;
            }
            aw[i] = hi + lo;
        }
        var worst = 0.0;
        for (var i = 0; i < w.Length; i++)
        {
            if (a[i, i] > 0)
            {
                worst = Math.Max(worst, Math.Abs(Math.Pow(w[i], p) * aw[i] - 1));
            }
        }
        return worst;
    }

    /// <summary>G + ρ·diag(G).</summary>
    public static double[,] WithRidge(double[,] g, double ridge)
    {
        var result = (double[,])g.Clone();
        for (var i = 0; i < g.GetLength(0); i++)
        {
            result[i, i] *= 1 + ridge;
        }
        return result;
    }

    /// <summary>The entries of a tensor as float64.</summary>
    public static double[] Values(Tensor t) => t.to(ScalarType.Float64).data<double>().ToArray();

    /// <summary>A square matrix tensor as a float64 array.</summary>
    public static double[,] SquareArray(Tensor matrix)
    {
        var n = (int)matrix.shape[0];
        var values = Values(matrix.contiguous());
        var result = new double[n, n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                result[i, j] = values[i * n + j];
            }
        }
        return result;
    }

    /// <summary>Asserts that the vectors agree entry by entry to 1e-14 (1 + |expected|).</summary>
    public static void AssertClose(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-14 * (1 + Math.Abs(expected[i])), $"[{i}]: expected {expected[i]}, got {actual[i]}");
        }
    }

    /// <summary>
    /// Asserts that an aggregator returns a float32 update for a float32 Jacobian, within the tolerances of the
    /// float64 update of the same Jacobian (a fresh aggregator from <paramref name="create"/> for each).
    /// </summary>
    public static void AssertKeepsTheJacobiansDtype(Func<IAggregator> create, Tensor jacobian, double rtol = 1e-4, double atol = 1e-4)
    {
        var reference = create().Aggregate(jacobian);
        var update = create().Aggregate(jacobian.to(ScalarType.Float32));
        Assert.Equal(ScalarType.Float32, update.dtype);
        Assert.True(update.to(ScalarType.Float64).allclose(reference, rtol: rtol, atol: atol));
    }

    /// <summary>Saves the state of <paramref name="source"/> and loads it into <paramref name="target"/>.</summary>
    public static void CopyState(IStateful source, IStateful target)
    {
        using var stream = new MemoryStream();
        source.SaveState(new BinaryWriter(stream));
        stream.Position = 0;
        target.LoadState(new BinaryReader(stream));
    }

    /// <summary>The message of the <see cref="InvalidDataException"/> with which <paramref name="target"/> refuses the state saved by <paramref name="foreign"/>.</summary>
    public static string RefusalMessage(IStateful target, IStateful foreign)
    {
        using var stream = new MemoryStream();
        foreign.SaveState(new BinaryWriter(stream));
        stream.Position = 0;
        return Assert.Throws<InvalidDataException>(() => target.LoadState(new BinaryReader(stream))).Message;
    }
}
