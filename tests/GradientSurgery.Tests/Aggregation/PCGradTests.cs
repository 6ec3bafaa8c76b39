using GradientSurgery.Aggregation;
using static GradientSurgery.Tests.Aggregation.TestJacobians;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation;

public sealed class PCGradTests
{
    [Fact]
    public void TwoTaskConflictMatchesClosedFormWhateverTheSeed()
    {
        using var scope = NewDisposeScope();
        var g1 = tensor(new[] { 3.0, -1.0, 0.5, 2.0 });
        var g2 = tensor(new[] { -2.0, 0.25, 1.0, -1.5 });
        var d = g1.dot(g2).item<double>();
        Assert.True(d < 0);
        var closedForm = g1 + g2 - d * (g1 / g1.dot(g1) + g2 / g2.dot(g2));
        var jacobian = stack([g1, g2]);

        foreach (var seed in new long[] { 0, 1, 2, 99 })
        {
            var update = new PCGrad(seed: seed).Aggregate(jacobian);
            Assert.True(update.allclose(closedForm, rtol: 0, atol: 1e-14), $"seed {seed}");
        }
    }

    [Fact]
    public void TwoTasksWithoutConflictAreSimplySummed()
    {
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[,] { { 1.0, 2.0, 0.0 }, { 0.5, -0.25, 4.0 } });
        Assert.True(jacobian[0].dot(jacobian[1]).item<double>() >= 0);
        var update = new PCGrad().Aggregate(jacobian);
        Assert.Equal((jacobian[0] + jacobian[1]).data<double>().ToArray(), update.data<double>().ToArray());
    }

    [Fact]
    public void ProjectedTwoTaskGradientsAreOrthogonalToTheOther()
    {
        var gramian = new[,] { { 4.0, -3.0 }, { -3.0, 9.0 } };
        var c = PCGrad.ProjectionCoefficients(gramian, new[] { new[] { 1 }, new[] { 0 } });
        // g1' · g2 = c[0,0] G[0,1] + c[0,1] G[1,1] must vanish, and likewise for g2'.
        Assert.Equal(0, c[0, 0] * gramian[0, 1] + c[0, 1] * gramian[1, 1], 12);
        Assert.Equal(0, c[1, 0] * gramian[0, 0] + c[1, 1] * gramian[1, 0], 12);
        // Worked by hand: c_1 = e_1 + (3/9) e_2, c_2 = (3/4) e_1 + e_2.
        Assert.Equal(new[] { 1.0, 1.0 / 3.0, 0.75, 1.0 }, new[] { c[0, 0], c[0, 1], c[1, 0], c[1, 1] });
    }

    [Fact]
    public void MeanIsTheSumDividedByTaskCount()
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(5, 40, seed: 3);
        var orders = new PCGrad(seed: 11).DrawOrders(5);
        var sum = new PCGrad(Reduction.Sum).Aggregate(jacobian, orders);
        var mean = new PCGrad(Reduction.Mean).Aggregate(jacobian, orders);
        Assert.True(mean.allclose(sum / 5, rtol: 1e-15, atol: 1e-15));
        Assert.False(mean.allclose(sum, rtol: 1e-3, atol: 1e-3));
    }

    [Fact]
    public void SameSeedGivesBitIdenticalUpdates()
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(6, 64, seed: 5);
        var a = new PCGrad(seed: 42);
        var b = new PCGrad(seed: 42);
        for (var step = 0; step < 10; step++)
        {
            Assert.True(a.Aggregate(jacobian).equal(b.Aggregate(jacobian)).all().item<bool>(), $"step {step}");
        }
    }

    [Fact]
    public void DifferentSeedsDrawDifferentOrders()
    {
        var a = new PCGrad(seed: 1).DrawOrders(6);
        var b = new PCGrad(seed: 2).DrawOrders(6);
        Assert.NotEqual(Flatten(a), Flatten(b));
    }

    [Fact]
    public void RestoringTheRandomStateReplaysTheOrders()
    {
        var pcgrad = new PCGrad(seed: 7);
        pcgrad.DrawOrders(4);
        var saved = pcgrad.RandomState;
        var first = Flatten(pcgrad.DrawOrders(4));
        pcgrad.RandomState = saved;
        Assert.Equal(first, Flatten(pcgrad.DrawOrders(4)));
    }

    [Fact]
    public void DrawnOrdersArePermutationsOfTheOtherTasksAndUniform()
    {
        var pcgrad = new PCGrad(seed: 123);
        const int draws = 6000;
        var firstVisited = new int[4, 4];
        for (var n = 0; n < draws; n++)
        {
            var orders = pcgrad.DrawOrders(4);
            for (var i = 0; i < 4; i++)
            {
                Assert.Equal(Enumerable.Range(0, 4).Where(j => j != i), orders[i].Order());
                firstVisited[i, orders[i][0]]++;
            }
        }
        for (var i = 0; i < 4; i++)
        {
            for (var j = 0; j < 4; j++)
            {
                if (i != j)
                {
                    // Each of the 3 others comes first with probability 1/3: 2000 ± 5 standard deviations (~36).
                    Assert.InRange(firstVisited[i, j], 2000 - 185, 2000 + 185);
                }
            }
        }
    }

    [Fact]
    public void OrderMattersForThreeOrMoreTasks()
    {
        // Two conflicting directions seen from a third task: projecting on g1 then g2 differs from g2 then g1.
        var gramian = new[,] { { 1.0, 0.2, -0.6 }, { 0.2, 1.0, -0.7 }, { -0.6, -0.7, 1.0 } };
        var forward = PCGrad.ProjectionCoefficients(gramian, new[] { new[] { 1, 2 }, new[] { 0, 2 }, new[] { 0, 1 } });
        var backward = PCGrad.ProjectionCoefficients(gramian, new[] { new[] { 1, 2 }, new[] { 0, 2 }, new[] { 1, 0 } });
        Assert.NotEqual(forward[2, 0], backward[2, 0]);
    }

    [Fact]
    public void SingleTaskReturnsItsGradient()
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(1, 9, seed: 8);
        foreach (var reduction in new[] { Reduction.Sum, Reduction.Mean })
        {
            Assert.True(new PCGrad(reduction).Aggregate(jacobian).equal(jacobian[0]).all().item<bool>());
        }
    }

    [Fact]
    public void ZeroGradientNeverDividesAndIsNeverProjectedOn()
    {
        using var scope = NewDisposeScope();
        var jacobian = tensor(new[,] { { 1.0, -2.0 }, { 0.0, 0.0 }, { -1.0, 1.0 } });
        var update = new PCGrad(seed: 0).Aggregate(jacobian);
        Assert.True(isfinite(update).all().item<bool>());
        var withoutZero = new PCGrad(seed: 0).Aggregate(jacobian.index_select(0, tensor(new long[] { 0, 2 })));
        Assert.True(update.allclose(withoutZero, rtol: 0, atol: 1e-15));
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void KeepsTheJacobiansDtype(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var jacobian64 = RandomJacobian(4, 30, seed: 9);
        var orders = new PCGrad(seed: 1).DrawOrders(4);
        var reference = new PCGrad().Aggregate(jacobian64, orders);
        var update = new PCGrad().Aggregate(jacobian64.to(dtype), orders);
        Assert.Equal(dtype, update.dtype);
        var tolerance = dtype == ScalarType.Float32 ? 1e-4 : 0.1;
        Assert.True(update.to(ScalarType.Float64).allclose(reference, rtol: tolerance, atol: tolerance));
    }

    [Fact]
    public void RejectsAJacobianThatIsNotAFloatingPointMatrix()
    {
        using var scope = NewDisposeScope();
        var pcgrad = new PCGrad();
        Assert.Contains("2-D", Assert.Throws<ArgumentException>(() => pcgrad.Aggregate(ones(5))).Message);
        Assert.Contains("2-D", Assert.Throws<ArgumentException>(() => pcgrad.Aggregate(ones(2, 3, 4))).Message);
        Assert.Contains("floating-point", Assert.Throws<ArgumentException>(() => pcgrad.Aggregate(ones(2, 3, dtype: ScalarType.Int64))).Message);
        Assert.Contains("at least one task", Assert.Throws<ArgumentException>(() => pcgrad.Aggregate(ones(0, 3))).Message);
    }

    [Fact]
    public void RejectsOrdersThatAreNotPermutationsOfTheOtherTasks()
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(3, 4, seed: 1);
        var pcgrad = new PCGrad();
        string Fail(int[][] orders) => Assert.Throws<ArgumentException>(() => pcgrad.Aggregate(jacobian, orders)).Message;

        Assert.Contains("task 1 contains 1 itself", Fail([[1, 2], [1, 2], [0, 1]]));
        Assert.Contains("task 2 visits task 0 twice", Fail([[1, 2], [0, 2], [0, 0]]));
        Assert.Contains("task 0 must list each of the other 2 tasks", Fail([[1], [0, 2], [0, 1]]));
        Assert.Contains("task 0 contains 3", Fail([[1, 3], [0, 2], [0, 1]]));
        Assert.Contains("one order per task (3)", Fail([[1, 2], [0, 2]]));
    }

    private static int[] Flatten(IReadOnlyList<IReadOnlyList<int>> orders) => orders.SelectMany(o => o).ToArray();
}
