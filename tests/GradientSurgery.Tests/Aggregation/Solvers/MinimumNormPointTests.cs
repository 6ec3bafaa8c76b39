using GradientSurgery.Aggregation.Solvers;
using static GradientSurgery.Tests.Aggregation.Solvers.NonNegativeQuadraticProgramTests;

namespace GradientSurgery.Tests.Aggregation.Solvers;

public sealed class MinimumNormPointTests
{
    [Fact]
    public void MatchesExhaustiveSearchOverSupportsForPositiveDefiniteGramians()
    {
        var random = new Random(10);
        for (var trial = 0; trial < 300; trial++)
        {
            var n = 2 + trial % 5;
            var gramian = RandomGram(random, n + 3, n);
            var alpha = MinimumNormPoint.Weights(gramian);
            var expected = ExhaustiveMinimumNorm(gramian);
            for (var i = 0; i < n; i++)
            {
                Assert.True(Math.Abs(alpha[i] - expected[i]) <= 1e-9, $"trial {trial}: α[{i}] = {alpha[i]}, expected {expected[i]}");
            }
            Assert.True(MinimumNormPoint.RelativeKktResidual(gramian, alpha) <= MinimumNormPoint.Tolerance, $"trial {trial}");
        }
    }

    [Fact]
    public void MeetsTheKktConditionsForSingularGramians()
    {
        var random = new Random(11);
        for (var trial = 0; trial < 200; trial++)
        {
            var n = 3 + trial % 20;
            var gramian = RandomGram(random, 1 + random.Next(n - 1), n);
            var alpha = MinimumNormPoint.Weights(gramian);
            Assert.True(MinimumNormPoint.RelativeKktResidual(gramian, alpha) <= MinimumNormPoint.Tolerance, $"trial {trial}");
        }
    }

    [Fact]
    public void MeetsTheKktConditionsWhenGradientNormsSpanTwelveOrdersOfMagnitude()
    {
        // The case that defeats the LDP reduction (G/s + 11ᵀ loses the small gradients): rows rescaled by
        // 10⁻⁶…10⁶, often with a tiny gradient nearly opposite a huge one, so that 0 is (nearly) in the hull.
        var random = new Random(12);
        for (var trial = 0; trial < 300; trial++)
        {
            var n = 2 + trial % 15;
            var gramian = RandomGram(random, 1 + random.Next(n), n);
            var scale = Enumerable.Range(0, n).Select(_ => Math.Pow(10, 12 * random.NextDouble() - 6)).ToArray();
            for (var i = 0; i < n; i++)
            {
                for (var j = 0; j < n; j++)
                {
                    gramian[i, j] *= scale[i] * scale[j];
                }
            }
            var alpha = MinimumNormPoint.Weights(gramian);
            Assert.True(MinimumNormPoint.RelativeKktResidual(gramian, alpha) <= MinimumNormPoint.Tolerance, $"trial {trial}");
        }
    }

    [Fact]
    public void TheResidualDetectsWrongWeights()
    {
        // g₁ = (1, 0), g₂ = (0, 2): α = (4/5, 1/5), d = (4/5, 2/5), Gα = (4/5, 4/5) = λ.
        var gramian = new[,] { { 1.0, 0.0 }, { 0.0, 4.0 } };
        Assert.True(MinimumNormPoint.RelativeKktResidual(gramian, [0.8, 0.2]) <= 1e-15);
        Assert.True(MinimumNormPoint.RelativeKktResidual(gramian, [0.7, 0.3]) > 0.01);
        Assert.True(MinimumNormPoint.RelativeKktResidual(gramian, [0.8, 0.3]) >= 0.1); // off the simplex
        Assert.Equal(double.PositiveInfinity, MinimumNormPoint.RelativeKktResidual(gramian, [1.1, -0.1]));
    }

    private static double[] ExhaustiveMinimumNorm(double[,] gramian)
    {
        var n = gramian.GetLength(0);
        for (var mask = 1; mask < 1 << n; mask++)
        {
            var support = Enumerable.Range(0, n).Where(i => (mask >> i & 1) == 1).ToArray();
            // α_S ∝ G_SS⁻¹1 (G positive definite), normalised to sum 1; λ = 1 / (1ᵀG_SS⁻¹1).
            var ones = Enumerable.Repeat(1.0, support.Length).ToArray();
            var sub = new double[support.Length, support.Length];
            for (var a = 0; a < support.Length; a++)
            {
                for (var b = 0; b < support.Length; b++)
                {
                    sub[a, b] = gramian[support[a], support[b]];
                }
            }
            var y = Solve(sub, ones);
            var total = y.Sum();
            var alpha = new double[n];
            for (var a = 0; a < support.Length; a++)
            {
                alpha[support[a]] = y[a] / total;
            }
            var lambda = 1 / total;
            var product = Multiply(gramian, alpha);
            if (alpha.All(v => v >= -1e-12) && Enumerable.Range(0, n).All(j => product[j] >= lambda * (1 - 1e-12)))
            {
                return alpha;
            }
        }
        throw new InvalidOperationException("No support satisfies the KKT conditions.");
    }

    private static double[] Solve(double[,] a, double[] b)
    {
        // Cholesky: the sub-Gramians here are positive definite.
        var n = b.Length;
        var l = new double[n, n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                var sum = a[i, j];
                for (var k = 0; k < j; k++)
                {
                    sum -= l[i, k] * l[j, k];
                }
                l[i, j] = i == j ? Math.Sqrt(sum) : sum / l[j, j];
            }
        }
        var y = new double[n];
        for (var i = 0; i < n; i++)
        {
            var sum = b[i];
            for (var k = 0; k < i; k++)
            {
                sum -= l[i, k] * y[k];
            }
            y[i] = sum / l[i, i];
        }
        for (var i = n - 1; i >= 0; i--)
        {
            var sum = y[i];
            for (var k = i + 1; k < n; k++)
            {
                sum -= l[k, i] * y[k];
            }
            y[i] = sum / l[i, i];
        }
        return y;
    }
}
