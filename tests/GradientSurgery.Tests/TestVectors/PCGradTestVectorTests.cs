using GradientSurgery.Aggregation;
using GradientSurgery.Diagnostics;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.TestVectors;

/// <summary>The 42 float64 cases computed independently from Algorithm 1, within the tolerances of their README.</summary>
public sealed class PCGradTestVectorTests
{
    [Fact]
    public void AllFortyTwoCasesAreLoaded()
    {
        Assert.Equal(42, PCGradCase.All.Count);
        Assert.Equal(42, PCGradCase.All.Select(c => c.Name).Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(PCGradCase.Names), MemberType = typeof(PCGradCase))]
    public void UpdateMatchesExpected(string name)
    {
        var testCase = PCGradCase.Named(name);
        using var scope = NewDisposeScope();
        var jacobian = JacobianOf(testCase);
        var pcgrad = new PCGrad(testCase.Reduction == "mean" ? Reduction.Mean : Reduction.Sum);

        var update = pcgrad.Aggregate(jacobian, testCase.Orders);

        Assert.Equal(ScalarType.Float64, update.dtype);
        Assert.Equal(new long[] { testCase.P }, update.shape);
        AssertClose(testCase.Expected, update.data<double>().ToArray(), Tolerance(testCase), "expected");
    }

    [Theory]
    [MemberData(nameof(PCGradCase.Names), MemberType = typeof(PCGradCase))]
    public void ProjectedGradientsMatch(string name)
    {
        var testCase = PCGradCase.Named(name);
        using var scope = NewDisposeScope();
        var jacobian = JacobianOf(testCase);
        var coefficients = PCGrad.ProjectionCoefficients(Jacobian.Gramian(jacobian), testCase.Orders);
        var projected = from_array(coefficients).mm(jacobian);

        for (var i = 0; i < testCase.T; i++)
        {
            AssertClose(testCase.Projected[i], projected[i].data<double>().ToArray(), Tolerance(testCase), $"projected[{i}]");
        }
    }

    [Theory]
    [MemberData(nameof(PCGradCase.Names), MemberType = typeof(PCGradCase))]
    public void DiagnosticsMatch(string name)
    {
        var testCase = PCGradCase.Named(name);
        using var scope = NewDisposeScope();
        var report = ConflictReport.FromJacobian(JacobianOf(testCase));

        AssertMatrix(testCase.Diagnostics.Cosine, report.Cosine, "cosine");
        AssertMatrix(testCase.Diagnostics.MagnitudeSimilarity, report.MagnitudeSimilarity, "magnitude_similarity");
        AssertMatrix(testCase.Diagnostics.Curvature, report.Curvature, "curvature");
    }

    internal static Tensor JacobianOf(PCGradCase testCase)
    {
        var flat = testCase.Grads.SelectMany(g => g).ToArray();
        return tensor(flat, dtype: ScalarType.Float64).reshape(testCase.T, testCase.P);
    }

    private static double Tolerance(PCGradCase testCase) => testCase.Scale == 0 ? 1e-300 : 1e-10 * testCase.Scale;

    private static void AssertClose(double[] expected, double[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var k = 0; k < expected.Length; k++)
        {
            Assert.True(Math.Abs(expected[k] - actual[k]) <= tolerance,
                $"{what}[{k}]: expected {expected[k]:R}, got {actual[k]:R} (tolerance {tolerance:R})");
        }
    }

    private static void AssertMatrix(double?[][] expected, double?[,] actual, string what)
    {
        Assert.Equal(expected.Length, actual.GetLength(0));
        for (var i = 0; i < expected.Length; i++)
        {
            for (var j = 0; j < expected.Length; j++)
            {
                var (e, a) = (expected[i][j], actual[i, j]);
                Assert.True(e.HasValue == a.HasValue, $"{what}[{i}][{j}]: expected {e?.ToString("R") ?? "null"}, got {a?.ToString("R") ?? "null"}");
                if (e is { } ev && a is { } av)
                {
                    Assert.True(Math.Abs(ev - av) <= 1e-10 * Math.Max(1, Math.Abs(ev)),
                        $"{what}[{i}][{j}]: expected {ev:R}, got {av:R}");
                }
            }
        }
    }
}
