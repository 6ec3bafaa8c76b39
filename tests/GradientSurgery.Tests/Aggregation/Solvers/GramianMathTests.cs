using GradientSurgery.Aggregation.Solvers;

namespace GradientSurgery.Tests.Aggregation.Solvers;

public sealed class GramianMathTests
{
    [Fact]
    public void CosineMatrixHasAUnitDiagonalAndClampsRounding()
    {
        // Tasks 0 and 2 are parallel but the stored dot product exceeds ‖g_0‖‖g_2‖ by rounding; task 1 is skipped.
        var g = new[,] { { 4.0, 0.0, 6.000000001 }, { 0.0, 0.0, 0.0 }, { 6.000000001, 0.0, 9.0 } };
        var c = GramianMath.CosineMatrix(g, [0, 2]);
        Assert.Equal(1.0, c[0, 0]);
        Assert.Equal(1.0, c[1, 1]);
        Assert.Equal(1.0, c[0, 1]);
        Assert.Equal(1.0, c[1, 0]);
        Assert.Equal(new[] { 0, 2 }, GramianMath.NonZeroTasks(g));
        Assert.Equal(new[] { 2.0, 0.0, 3.0 }, GramianMath.Norms(g));
    }
}
