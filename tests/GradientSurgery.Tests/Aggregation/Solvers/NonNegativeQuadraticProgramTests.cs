using GradientSurgery.Aggregation.Solvers;

namespace GradientSurgery.Tests.Aggregation.Solvers;

public sealed class NonNegativeQuadraticProgramTests
{
    [Fact]
    public void SolvesASmallProblemWorkedByHand()
    {
        // min ½xᵀQx + cᵀx, x ≥ 0, with Q = [[2, 1], [1, 2]], c = (−1, 1).
        // Unconstrained minimiser −Q⁻¹c = −(1/3)[[2, −1], [−1, 2]](−1, 1) = (1, −1): infeasible.
        // With x₂ = 0: 2x₁ − 1 = 0, so x₁ = 1/2; then g₂ = x₁ + 1 = 3/2 ≥ 0, so (1/2, 0) is the KKT point.
        var x = NonNegativeQuadraticProgram.Solve(new[,] { { 2.0, 1.0 }, { 1.0, 2.0 } }, [-1.0, 1.0]);
        Assert.Equal(0.5, x[0], 15);
        Assert.Equal(0.0, x[1]);
    }

    [Fact]
    public void MatchesExhaustiveSearchOverActiveSetsOnRandomPositiveDefiniteProblems()
    {
        var random = new Random(1);
        for (var trial = 0; trial < 300; trial++)
        {
            var n = 1 + trial % 6;
            var q = RandomGram(random, n + 2, n);
            var c = RandomVector(random, n, 3.0);
            var x = NonNegativeQuadraticProgram.Solve(q, c);
            var expected = ExhaustiveSolution(q, c);
            for (var i = 0; i < n; i++)
            {
                Assert.True(Math.Abs(x[i] - expected[i]) <= 1e-9 * (1 + Math.Abs(expected[i])), $"trial {trial}, x[{i}] = {x[i]}, expected {expected[i]}");
            }
            Assert.True(NonNegativeQuadraticProgram.RelativeKktResidual(q, c, x) <= 1e-10, $"trial {trial}");
        }
    }

    [Fact]
    public void MeetsTheKktConditionsOnRankDeficientProblems()
    {
        var random = new Random(2);
        for (var trial = 0; trial < 200; trial++)
        {
            var n = 2 + trial % 12;
            var rank = 1 + random.Next(n - 1);
            var q = RandomGram(random, rank, n);
            // c = Qu keeps the problem bounded below, as in the dual-cone projections.
            var c = Multiply(q, RandomVector(random, n, 1.0));
            var x = NonNegativeQuadraticProgram.Solve(q, c);
            Assert.All(x, value => Assert.True(value >= 0));
            Assert.True(NonNegativeQuadraticProgram.RelativeKktResidual(q, c, x) <= 1e-10, $"trial {trial} (n = {n}, rank = {rank})");
            // KKT implies optimality for a convex problem; spot-check it against random feasible points.
            var best = Objective(q, c, x);
            for (var probe = 0; probe < 20; probe++)
            {
                var y = RandomVector(random, n, 1.0).Select(Math.Abs).ToArray();
                Assert.True(best <= Objective(q, c, y) + 1e-12 * (1 + Math.Abs(best)), $"trial {trial}");
            }
        }
    }

    [Fact]
    public void IsInvariantToRescalingTheVariablesOverTwelveOrdersOfMagnitude()
    {
        var random = new Random(3);
        for (var trial = 0; trial < 50; trial++)
        {
            const int n = 6;
            var q0 = RandomGram(random, 4, n);
            var c0 = Multiply(q0, RandomVector(random, n, 1.0));
            var scale = Enumerable.Range(0, n).Select(i => Math.Pow(10, -6 + 12.0 * i / (n - 1))).ToArray();
            var q = new double[n, n];
            var c = new double[n];
            for (var i = 0; i < n; i++)
            {
                c[i] = scale[i] * c0[i];
                for (var j = 0; j < n; j++)
                {
                    q[i, j] = scale[i] * q0[i, j] * scale[j];
                }
            }
            var x = NonNegativeQuadraticProgram.Solve(q, c);
            Assert.True(NonNegativeQuadraticProgram.RelativeKktResidual(q, c, x) <= 1e-10, $"trial {trial}");
            // The unscaled problem's optimal value is unique even when its minimiser is not.
            var x0 = NonNegativeQuadraticProgram.Solve(q0, c0);
            var rescaled = x.Select((value, i) => value * scale[i]).ToArray();
            var f0 = Objective(q0, c0, x0);
            Assert.True(Math.Abs(Objective(q0, c0, rescaled) - f0) <= 1e-9 * (1 + Math.Abs(f0)), $"trial {trial}");
        }
    }

    [Fact]
    public void SolvesAHundredVariableRankDeficientProblem()
    {
        var random = new Random(4);
        var q = RandomGram(random, 30, 100);
        var c = Multiply(q, RandomVector(random, 100, 1.0));
        var x = NonNegativeQuadraticProgram.Solve(q, c);
        Assert.True(NonNegativeQuadraticProgram.RelativeKktResidual(q, c, x) <= 1e-10);
    }

    [Fact]
    public void RepeatedAndOppositeColumnsAreHandledWithoutRegularisation()
    {
        // Q = aaᵀ-style Gramian of g, g, −g with g = (1, 2): all columns are parallel.
        var q = new[,] { { 5.0, 5.0, -5.0 }, { 5.0, 5.0, -5.0 }, { -5.0, -5.0, 5.0 } };
        var c = new[] { -5.0, -5.0, 5.0 };
        var x = NonNegativeQuadraticProgram.Solve(q, c);
        Assert.True(NonNegativeQuadraticProgram.RelativeKktResidual(q, c, x) <= 1e-12);
        // f = ½·5(x₁ + x₂ − x₃)² − 5(x₁ + x₂ − x₃): minimum −5/2 at x₁ + x₂ − x₃ = 1.
        Assert.Equal(-2.5, Objective(q, c, x), 12);
    }

    [Fact]
    public void ANonNegativeLinearTermGivesZeroAndAZeroProblemGivesZero()
    {
        var q = new[,] { { 1.0, -0.5 }, { -0.5, 1.0 } };
        Assert.Equal(new[] { 0.0, 0.0 }, NonNegativeQuadraticProgram.Solve(q, [0.0, 2.0]));
        Assert.Equal(new[] { 0.0, 0.0 }, NonNegativeQuadraticProgram.Solve(new double[2, 2], [0.0, 0.0]));
    }

    [Fact]
    public void TheResidualDetectsWrongAnswers()
    {
        var q = new[,] { { 2.0, 1.0 }, { 1.0, 2.0 } };
        double[] c = [-1.0, 1.0];
        Assert.Equal(0, NonNegativeQuadraticProgram.RelativeKktResidual(q, c, [0.5, 0.0]));
        Assert.True(NonNegativeQuadraticProgram.RelativeKktResidual(q, c, [0.5 + 1e-6, 0.0]) > 1e-7);
        Assert.True(NonNegativeQuadraticProgram.RelativeKktResidual(q, c, [0.0, 0.0]) > 0.1);
        Assert.True(NonNegativeQuadraticProgram.RelativeKktResidual(q, c, [0.5, 1e-3]) > 1e-3);
        Assert.Equal(double.PositiveInfinity, NonNegativeQuadraticProgram.RelativeKktResidual(q, c, [0.5, -1e-9]));
    }

    [Fact]
    public void RejectsBadArguments()
    {
        var q = new[,] { { 1.0, 0.0 }, { 0.0, 1.0 } };
        Assert.Throws<ArgumentNullException>(() => NonNegativeQuadraticProgram.Solve(null!, [1.0, 1.0]));
        Assert.Throws<ArgumentNullException>(() => NonNegativeQuadraticProgram.Solve(q, null!));
        Assert.Contains("n = 3", Assert.Throws<ArgumentException>(() => NonNegativeQuadraticProgram.Solve(q, [1.0, 1.0, 1.0])).Message);
        Assert.Contains("2×3", Assert.Throws<ArgumentException>(() => NonNegativeQuadraticProgram.Solve(new double[2, 3], [1.0, 1.0])).Message);
        Assert.Contains("c[1]", Assert.Throws<ArgumentException>(() => NonNegativeQuadraticProgram.Solve(q, [1.0, double.NaN])).Message);
        Assert.Contains("Q[0, 1]", Assert.Throws<ArgumentException>(
            () => NonNegativeQuadraticProgram.Solve(new[,] { { 1.0, double.PositiveInfinity }, { 0.0, 1.0 } }, [1.0, 1.0])).Message);
        Assert.Contains("unbounded", Assert.Throws<ArgumentException>(
            () => NonNegativeQuadraticProgram.Solve(new[,] { { 1.0, 0.0 }, { 0.0, 0.0 } }, [1.0, -1.0])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => NonNegativeQuadraticProgram.Solve(q, [1.0, 1.0], tolerance: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => NonNegativeQuadraticProgram.Solve(q, [1.0, 1.0], tolerance: double.NaN));
        Assert.Contains("Expected 2 entries", Assert.Throws<ArgumentException>(() => NonNegativeQuadraticProgram.RelativeKktResidual(q, [1.0, 1.0], [1.0])).Message);
    }

    /// <summary>AᵀA for a random rows×n matrix A (rank min(rows, n)).</summary>
    internal static double[,] RandomGram(Random random, int rows, int n)
    {
        var a = new double[rows, n];
        for (var r = 0; r < rows; r++)
        {
            for (var j = 0; j < n; j++)
            {
                a[r, j] = Gaussian(random);
            }
        }
        var q = new double[n, n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                var sum = 0.0;
                for (var r = 0; r < rows; r++)
                {
                    sum += a[r, i] * a[r, j];
                }
                q[i, j] = q[j, i] = sum;
            }
        }
        return q;
    }

    internal static double[] RandomVector(Random random, int n, double scale) =>
        Enumerable.Range(0, n).Select(_ => scale * Gaussian(random)).ToArray();

    internal static double[] Multiply(double[,] q, double[] v)
    {
        var n = v.Length;
        var result = new double[n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                result[i] += q[i, j] * v[j];
            }
        }
        return result;
    }

    private static double Objective(double[,] q, double[] c, double[] x)
    {
        var qx = Multiply(q, x);
        return Enumerable.Range(0, x.Length).Sum(i => 0.5 * x[i] * qx[i] + c[i] * x[i]);
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>The unique minimiser of a strictly convex problem: the one active set whose stationary point is a KKT point.</summary>
    private static double[] ExhaustiveSolution(double[,] q, double[] c)
    {
        var n = c.Length;
        double[]? found = null;
        for (var mask = 0; mask < 1 << n; mask++)
        {
            var free = Enumerable.Range(0, n).Where(i => (mask >> i & 1) == 1).ToArray();
            var system = new double[free.Length, free.Length];
            var rhs = new double[free.Length];
            for (var a = 0; a < free.Length; a++)
            {
                rhs[a] = -c[free[a]];
                for (var b = 0; b < free.Length; b++)
                {
                    system[a, b] = q[free[a], free[b]];
                }
            }
            var solution = GaussianElimination(system, rhs);
            var x = new double[n];
            for (var a = 0; a < free.Length; a++)
            {
                x[free[a]] = solution[a];
            }
            var g = Multiply(q, x);
            var feasible = x.All(v => v >= -1e-12);
            var stationary = Enumerable.Range(0, n).All(i => (mask >> i & 1) == 1 || g[i] + c[i] >= -1e-12);
            if (feasible && stationary)
            {
                found = x.Select(v => Math.Max(v, 0)).ToArray();
                break;
            }
        }
        return found ?? throw new InvalidOperationException("No active set satisfies the KKT conditions.");
    }

    private static double[] GaussianElimination(double[,] a, double[] b)
    {
        var n = b.Length;
        var m = (double[,])a.Clone();
        var r = (double[])b.Clone();
        for (var col = 0; col < n; col++)
        {
            var pivot = col;
            for (var row = col + 1; row < n; row++)
            {
                if (Math.Abs(m[row, col]) > Math.Abs(m[pivot, col]))
                {
                    pivot = row;
                }
            }
            for (var k = 0; k < n; k++)
            {
                (m[col, k], m[pivot, k]) = (m[pivot, k], m[col, k]);
            }
            (r[col], r[pivot]) = (r[pivot], r[col]);
            for (var row = col + 1; row < n; row++)
            {
                var factor = m[row, col] / m[col, col];
                for (var k = col; k < n; k++)
                {
                    m[row, k] -= factor * m[col, k];
                }
                r[row] -= factor * r[col];
            }
        }
        var x = new double[n];
        for (var row = n - 1; row >= 0; row--)
        {
            var sum = r[row];
            for (var k = row + 1; k < n; k++)
            {
                sum -= m[row, k] * x[k];
            }
            x[row] = sum / m[row, row];
        }
        return x;
    }
}
