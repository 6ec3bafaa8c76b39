using GradientSurgery.Aggregation;
using GradientSurgery.Aggregation.Solvers;

namespace GradientSurgery.Tests.Aggregation.Solvers;

public sealed class GramianInputTests
{
    private static string Fail(double[,] g) => Assert.Throws<ArgumentException>(() => CheckedGramian.From(g).ToArray()).Message;

    [Fact]
    public void SymmetrisedRejectsWhatCannotBeAGramianAndNamesTheEntry()
    {
        Assert.Contains("non-empty square matrix, but it is 2×3", Fail(new double[2, 3]));
        Assert.Contains("non-empty square matrix, but it is 0×0", Fail(new double[0, 0]));
        Assert.Contains("non-finite entry G[0, 1]", Fail(new[,] { { 1.0, double.NaN }, { double.NaN, 1.0 } }));
        Assert.Contains("[0, 1] is NaN", Fail(new[,] { { 1.0, double.NaN }, { double.NaN, 1.0 } }));
        Assert.Contains("non-finite entry G[1, 1]", Fail(new[,] { { 1.0, 0.0 }, { 0.0, double.PositiveInfinity } }));
        Assert.Contains("[1, 1] is ∞", Fail(new[,] { { 1.0, 0.0 }, { 0.0, double.PositiveInfinity } }).Replace("Infinity", "∞"));
        Assert.Contains($"negative diagonal entry G[1, 1] = {-2.0}", Fail(new[,] { { 1.0, 0.0 }, { 0.0, -2.0 } }));
        Assert.Contains("cannot be negative", Fail(new[,] { { 1.0, 0.0 }, { 0.0, -1.0 } }));
        Assert.Contains($"not symmetric: G[0, 1] = {0.5} but G[1, 0] = {0.4}", Fail(new[,] { { 1.0, 0.5 }, { 0.4, 1.0 } }));
        Assert.Contains($"G[0, 1] = {-3.0} exceeds", Fail(new[,] { { 1.0, -3.0 }, { -3.0, 4.0 } }));
        Assert.Contains("not positive semi-definite", Fail(new[,] { { 1.0, -3.0 }, { -3.0, 4.0 } }));
        Assert.Throws<ArgumentNullException>(() => CheckedGramian.From(null!).ToArray());
        Assert.Equal("gramian", Assert.Throws<ArgumentException>(() => CheckedGramian.From(new double[1, 2])).ParamName);
    }

    [Fact]
    public void RequireSquareChecksOnlyTheShape()
    {
        GramianInput.RequireSquare(new[,] { { double.NaN, 1.0 }, { -5.0, -1.0 } }, "gramian");
        Assert.Contains("non-empty square matrix, but it is 3×2",
            Assert.Throws<ArgumentException>(() => GramianInput.RequireSquare(new double[3, 2], "gramian")).Message);
        Assert.Throws<ArgumentNullException>(() => GramianInput.RequireSquare(null!, "gramian"));
    }

    [Fact]
    public void SymmetrisedAcceptsAndRemovesRoundingLevelAsymmetry()
    {
        var g = new[,] { { 2.0, 1.0 + 1e-15 }, { 1.0 - 1e-15, 3.0 } };
        var copy = CheckedGramian.From(g).ToArray();
        Assert.Equal(copy[0, 1], copy[1, 0]);
        Assert.Equal(1.0, copy[0, 1], 15);
        Assert.Equal(1.0 + 1e-15, g[0, 1]);
        Assert.Equal(0.5 + 0.5e-12, CheckedGramian.From(new[,] { { 1.0, 0.5 }, { 0.5 + 1e-12, 1.0 } })[0, 1], 15);
    }

    [Fact]
    public void TolerancesAreRelativeToEachEntrysOwnScale()
    {
        // Norms 1e2, 1e-2 and 1e-2: G[1, 2] = 1e-4 is the largest dot product of the two small gradients, so an
        // asymmetry of 1e-5 there is 10% of the entry, not rounding, although it is only 1e-9 of the largest
        // diagonal entry (1e4).
        var g = new[,] { { 1e4, 0.0, 0.0 }, { 0.0, 1e-4, 1e-4 }, { 0.0, 0.9e-4, 1e-4 } };
        Assert.Contains("not symmetric: G[1, 2]", Fail(g));
        // Float32-sized rounding (1e-7 relative) of the same entry passes.
        g[2, 1] = 1e-4 * (1 - 1e-7);
        Assert.Equal(1e-4 * (1 - 0.5e-7), CheckedGramian.From(g).ToArray()[1, 2], 1e-18);
    }

    [Fact]
    public void TheDotProductsOfAZeroGradientAreExactlyZero()
    {
        var g = new[,] { { 4.0, 1e-14, 2.0 }, { 1e-14, 0.0, 0.0 }, { 2.0, 0.0, 9.0 } };
        var copy = CheckedGramian.From(g).ToArray();
        Assert.Equal(0.0, copy[0, 1]);
        Assert.Equal(0.0, copy[1, 0]);
        Assert.Equal(2.0, copy[0, 2]);
        Assert.Equal(9.0, copy[2, 2]);
    }
}
