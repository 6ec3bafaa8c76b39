using GradientSurgery.Aggregation;
using static GradientSurgery.Tests.Aggregation.TestJacobians;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation;

public sealed class UPGradTests
{
    [Fact]
    public void NeverConflictsWithAnyTaskOnRandomAndAdversarialJacobians()
    {
        foreach (var (name, jacobian) in TestJacobians.RandomCases(80, 31).Concat(TestJacobians.AdversarialCases()))
        {
            using var scope = NewDisposeScope();
            var weights = new UPGrad().Weights(Jacobian.Gramian(jacobian));
            var update = Jacobian.Combine(jacobian, weights);
            Assert.True(TestJacobians.WorstConflict(jacobian, update, weights) <= 1e-10, $"{name}: conflict {TestJacobians.WorstConflict(jacobian, update, weights)}");
            Assert.True(update.isfinite().all().item<bool>(), name);
            // v_i ≥ e_i for every projection, so every task keeps at least weight 1/T.
            Assert.All(weights, w => Assert.True(w >= 1.0 / weights.Length, $"{name}: weight {w}"));
        }
    }

    [Fact]
    public void IsExactlyTheMeanWhenNoPairOfGradientsConflicts()
    {
        using var scope = NewDisposeScope();
        for (var seed = 0; seed < 20; seed++)
        {
            var jacobian = TestJacobians.RandomJacobian(2 + seed % 6, 7, 40 + seed).abs();
            Assert.True(new UPGrad().Aggregate(jacobian).equal(new Mean().Aggregate(jacobian)).all().item<bool>(), $"seed {seed}");
        }
        var identical = TestJacobians.RandomJacobian(1, 4, 60).repeat(3, 1);
        Assert.True(new UPGrad().Aggregate(identical).equal(new Mean().Aggregate(identical)).all().item<bool>());
    }

    [Fact]
    public void AveragesTheEuclideanProjectionsComputedIndependentlyByHildrethsMethod()
    {
        for (var trial = 0; trial < 30; trial++)
        {
            using var scope = NewDisposeScope();
            var tasks = 2 + trial % 3;
            var jacobian = TestJacobians.RandomJacobian(tasks, 2 + trial % 4, 70 + trial);
            var update = new UPGrad().Aggregate(jacobian).data<double>().ToArray();
            var expected = new double[update.Length];
            for (var i = 0; i < tasks; i++)
            {
                var projection = TestJacobians.HildrethProjection(jacobian, jacobian[i].data<double>().ToArray());
                for (var c = 0; c < expected.Length; c++)
                {
                    expected[c] += projection[c] / tasks;
                }
            }
            var size = jacobian.norm().item<double>();
            for (var c = 0; c < expected.Length; c++)
            {
                Assert.True(Math.Abs(update[c] - expected[c]) <= 1e-8 * size, $"trial {trial}, coordinate {c}: {update[c]} vs {expected[c]}");
            }
        }
    }

    [Fact]
    public void SmallExampleWorkedByHand()
    {
        using var scope = NewDisposeScope();
        // TorchJD's documentation example: g₁ = (−4, 1, 1), g₂ = (6, 1, 1); G = [[18, −22], [−22, 38]].
        // π(g₁): v = (1, v₂) with (Gv)₂ = −22 + 38v₂ = 0, so v₂ = 11/19; then (Gv)₁ = 18 − 242/19 = 100/19 ≥ 0.
        // π(g₂): v = (v₁, 1) with (Gv)₁ = 18v₁ − 22 = 0, so v₁ = 11/9; then (Gv)₂ = −242/9 + 38 = 100/9 ≥ 0.
        // w = ((1, 11/19) + (11/9, 1)) / 2 = (10/9, 15/19);
        // d = (10/9)g₁ + (15/19)g₂ = (−40/9 + 90/19, 10/9 + 15/19, ·) = (50/171, 325/171, 325/171).
        // (TorchJD, which regularises G, documents (0.2929, 1.9004, 1.9004); exact is (0.29240, 1.90058, 1.90058).)
        var jacobian = tensor(new[,] { { -4.0, 1.0, 1.0 }, { 6.0, 1.0, 1.0 } });
        var gramian = Jacobian.Gramian(jacobian);
        var projections = UPGrad.ProjectionWeights(gramian);
        AssertClose([1.0, 11 / 19.0, 11 / 9.0, 1.0], [projections[0, 0], projections[0, 1], projections[1, 0], projections[1, 1]]);
        AssertClose([10 / 9.0, 15 / 19.0], new UPGrad().Weights(gramian));
        AssertClose([50 / 171.0, 325 / 171.0, 325 / 171.0], new UPGrad().Aggregate(jacobian).data<double>().ToArray());
    }

    [Fact]
    public void AdversarialInputsGiveTheExpectedUpdates()
    {
        using var scope = NewDisposeScope();
        var g = TestJacobians.RandomJacobian(1, 5, 80);
        var size = g.norm().item<double>();
        Assert.True(new UPGrad().Aggregate(g).equal(g[0]).all().item<bool>());
        // g and −g: each projects onto the hyperplane g·y = 0, where it lands at 0.
        Assert.True(new UPGrad().Aggregate(cat([g, -g])).norm().item<double>() <= 1e-15 * size);
        Assert.True(new UPGrad().Aggregate(cat([g, -1e3 * g])).norm().item<double>() <= 1e-12 * size);
        // A zero gradient constrains nothing and projects to 0: the update is (T−1)/T times that of the others.
        var others = TestJacobians.RandomJacobian(3, 5, 81);
        var withZero = cat([others, zeros(1, 5, dtype: ScalarType.Float64)]);
        Assert.True(new UPGrad().Aggregate(withZero).allclose(0.75 * new UPGrad().Aggregate(others), rtol: 1e-13, atol: 1e-15));
        // All zero: weights 1/T, update 0.
        Assert.Equal(new[] { 0.5, 0.5 }, new UPGrad().Weights(new double[2, 2]));
        Assert.True(new UPGrad().Aggregate(zeros(2, 4, dtype: ScalarType.Float64)).eq(0).all().item<bool>());
    }

    [Fact]
    public void RejectsBadArguments()
    {
        using var scope = NewDisposeScope();
        var upgrad = new UPGrad();
        Assert.Throws<ArgumentNullException>(() => upgrad.Weights((double[,])null!));
        Assert.Contains("square", Assert.Throws<ArgumentException>(() => upgrad.Weights(new double[3, 2])).Message);
        Assert.Contains("not finite", Assert.Throws<ArgumentException>(() => upgrad.Weights(new[,] { { double.PositiveInfinity } })).Message);
        Assert.Contains("negative", Assert.Throws<ArgumentException>(() => upgrad.Weights(new[,] { { -1.0 } })).Message);
        Assert.Contains("positive semi-definite", Assert.Throws<ArgumentException>(() => upgrad.Weights(new[,] { { 1.0, -3.0 }, { -3.0, 4.0 } })).Message);
        Assert.Contains("square", Assert.Throws<ArgumentException>(() => UPGrad.ProjectionWeights(new double[1, 2])).Message);
        Assert.Contains("2-D", Assert.Throws<ArgumentException>(() => upgrad.Aggregate(ones(2, 2, 2))).Message);
        Assert.Contains("floating-point", Assert.Throws<ArgumentException>(() => upgrad.Aggregate(ones(2, 2, dtype: ScalarType.Int32))).Message);
    }

    [Fact]
    public void KeepsTheJacobiansDtype()
    {
        using var scope = NewDisposeScope();
        AssertKeepsTheJacobiansDtype(() => new UPGrad(), RandomJacobian(4, 30, 90), atol: 1e-5);
    }
}
