using GradientSurgery.Aggregation;
using static GradientSurgery.Tests.Aggregation.TestJacobians;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation;

public sealed class DualProjTests
{
    [Fact]
    public void NeverConflictsWithAnyTaskOnRandomAndAdversarialJacobians()
    {
        foreach (var (name, jacobian) in TestJacobians.RandomCases(80, 41).Concat(TestJacobians.AdversarialCases()))
        {
            using var scope = NewDisposeScope();
            var weights = new DualProj().Weights(Jacobian.Gramian(jacobian));
            var update = Jacobian.Combine(jacobian, weights);
            Assert.True(TestJacobians.WorstConflict(jacobian, update, weights) <= 1e-10, $"{name}: conflict {TestJacobians.WorstConflict(jacobian, update, weights)}");
            Assert.True(update.isfinite().all().item<bool>(), name);
            Assert.All(weights, w => Assert.True(w >= 1.0 / weights.Length, $"{name}: weight {w}"));
        }
    }

    [Fact]
    public void IsExactlyTheMeanWhenTheMeanConflictsWithNoTask()
    {
        using var scope = NewDisposeScope();
        for (var seed = 0; seed < 20; seed++)
        {
            var jacobian = TestJacobians.RandomJacobian(2 + seed % 6, 7, 140 + seed).abs();
            Assert.True(new DualProj().Aggregate(jacobian).equal(new Mean().Aggregate(jacobian)).all().item<bool>(), $"seed {seed}");
        }
        // g₁ = (1, 0) and g₂ = (−1/2, 1) conflict (g₁·g₂ = −1/2), but their mean (1/4, 1/2) conflicts with
        // neither (g₁·ḡ = 1/4, g₂·ḡ = 3/8): DualProj keeps the mean, while UPGrad, which projects each gradient, does not.
        var pairConflict = tensor(new[,] { { 1.0, 0.0 }, { -0.5, 1.0 } });
        Assert.True(new DualProj().Aggregate(pairConflict).equal(new Mean().Aggregate(pairConflict)).all().item<bool>());
        Assert.False(new UPGrad().Aggregate(pairConflict).allclose(new Mean().Aggregate(pairConflict)));
    }

    [Fact]
    public void IsTheEuclideanProjectionOfTheMeanComputedIndependentlyByHildrethsMethod()
    {
        for (var trial = 0; trial < 30; trial++)
        {
            using var scope = NewDisposeScope();
            var jacobian = TestJacobians.RandomJacobian(2 + trial % 3, 2 + trial % 4, 170 + trial);
            var update = new DualProj().Aggregate(jacobian).data<double>().ToArray();
            var expected = TestJacobians.HildrethProjection(jacobian, jacobian.mean([0]).data<double>().ToArray());
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
        // TorchJD's documentation example: g₁ = (−4, 1, 1), g₂ = (6, 1, 1); G = [[18, −22], [−22, 38]], u = (1/2, 1/2).
        // Gu = (−2, 8): the mean conflicts with g₁. Try v = (v₁, 1/2) with (Gv)₁ = 18v₁ − 11 = 0: v₁ = 11/18 ≥ 1/2,
        // and (Gv)₂ = −242/18 + 19 = 100/18 ≥ 0, so w = (11/18, 1/2) and
        // d = (11/18)g₁ + (1/2)g₂ = (−44/18 + 3, 11/18 + 1/2, ·) = (10/18, 20/18, 20/18).
        // (TorchJD, which regularises G, documents (0.5563, 1.1109, 1.1109).)
        var jacobian = tensor(new[,] { { -4.0, 1.0, 1.0 }, { 6.0, 1.0, 1.0 } });
        AssertClose([11 / 18.0, 0.5], new DualProj().Weights(Jacobian.Gramian(jacobian)));
        AssertClose([10 / 18.0, 20 / 18.0, 20 / 18.0], new DualProj().Aggregate(jacobian).data<double>().ToArray());
    }

    [Fact]
    public void AdversarialInputsGiveTheExpectedUpdates()
    {
        using var scope = NewDisposeScope();
        var g = TestJacobians.RandomJacobian(1, 5, 180);
        var size = g.norm().item<double>();
        Assert.True(new DualProj().Aggregate(g).equal(g[0]).all().item<bool>());
        Assert.True(new DualProj().Aggregate(cat([g, g])).allclose(g[0], rtol: 0, atol: 1e-15 * size));
        // g and −g: the mean is 0, already in the cone.
        Assert.True(new DualProj().Aggregate(cat([g, -g])).norm().item<double>() <= 1e-15 * size);
        // g and −1000g: the mean −499.5g must end up in {y : g·y = 0}, i.e. at 0.
        Assert.True(new DualProj().Aggregate(cat([g, -1e3 * g])).norm().item<double>() <= 1e-12 * size);
        // A zero gradient constrains nothing; the mean shrinks by (T−1)/T and the projection with it.
        var others = TestJacobians.RandomJacobian(3, 5, 181);
        var withZero = cat([others, zeros(1, 5, dtype: ScalarType.Float64)]);
        Assert.True(new DualProj().Aggregate(withZero).allclose(0.75 * new DualProj().Aggregate(others), rtol: 1e-13, atol: 1e-15));
        Assert.Equal(new[] { 1 / 3.0, 1 / 3.0, 1 / 3.0 }, new DualProj().Weights(new double[3, 3]));
    }

    [Fact]
    public void RejectsBadArguments()
    {
        using var scope = NewDisposeScope();
        var dualProj = new DualProj();
        Assert.Throws<ArgumentNullException>(() => dualProj.Weights((double[,])null!));
        Assert.Contains("square", Assert.Throws<ArgumentException>(() => dualProj.Weights(new double[2, 1])).Message);
        Assert.Contains("not finite", Assert.Throws<ArgumentException>(() => dualProj.Weights(new[,] { { 1.0, 0.0 }, { 0.0, double.NaN } })).Message);
        Assert.Contains("not symmetric", Assert.Throws<ArgumentException>(() => dualProj.Weights(new[,] { { 1.0, 0.0 }, { 1.0, 1.0 } })).Message);
        Assert.Contains("2-D", Assert.Throws<ArgumentException>(() => dualProj.Aggregate(ones(4))).Message);
        Assert.Contains("at least one task", Assert.Throws<ArgumentException>(() => dualProj.Aggregate(ones(0, 4))).Message);
    }

    [Fact]
    public void KeepsTheJacobiansDtype()
    {
        using var scope = NewDisposeScope();
        AssertKeepsTheJacobiansDtype(() => new DualProj(), RandomJacobian(4, 30, 190), atol: 1e-5);
    }
}
