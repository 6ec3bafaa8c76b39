using GradientSurgery.Aggregation;
using GradientSurgery.Aggregation.Solvers;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation.Solvers;

public sealed class DualConeProjectionTests
{
    [Fact]
    public void WeightsMeetTheKktConditionsOfProposition1()
    {
        // w = argmin_{v ≥ u} vᵀGv  ⇔  w ≥ u, Gw ≥ 0, (Gw)_j = 0 where w_j > u_j.
        var random = new Random(20);
        foreach (var (name, jacobian) in TestJacobians.RandomCases(60, 21).Concat(TestJacobians.AdversarialCases()))
        {
            using var scope = NewDisposeScope();
            var gramian = Jacobian.Gramian(jacobian);
            var n = gramian.GetLength(0);
            var u = Enumerable.Range(0, n).Select(_ => random.NextDouble() * 2 - 0.5).ToArray();
            var w = DualConeProjection.Weights(gramian, u);
            var product = DenseLinearAlgebra.Multiply(gramian, w);
            var start = DenseLinearAlgebra.Multiply(gramian, u);
            // The solver's stated bound: g_j · π ≥ −τ (‖g_j‖ Σ_k (w_k − u_k) ‖g_k‖ + |g_j · Jᵀu|).
            var budget = Enumerable.Range(0, n).Sum(k => (w[k] - u[k]) * Math.Sqrt(gramian[k, k]));
            for (var j = 0; j < n; j++)
            {
                Assert.True(w[j] >= u[j], $"{name}: w[{j}] = {w[j]} < u[{j}] = {u[j]}");
                var scale = Math.Sqrt(gramian[j, j]) * budget + Math.Abs(start[j]);
                Assert.True(product[j] >= -1e-10 * scale, $"{name}: (Gw)[{j}] = {product[j]}");
                if (w[j] > u[j])
                {
                    Assert.True(Math.Abs(product[j]) <= 1e-10 * scale, $"{name}: w[{j}] > u[{j}] but (Gw)[{j}] = {product[j]}");
                }
            }
        }
    }

    [Fact]
    public void AgreesWithHildrethsMethodInParameterSpace()
    {
        var random = new Random(22);
        for (var trial = 0; trial < 40; trial++)
        {
            using var scope = NewDisposeScope();
            var tasks = 2 + trial % 3;
            var jacobian = TestJacobians.RandomJacobian(tasks, 2 + trial % 4, 23 + trial);
            var u = Enumerable.Range(0, tasks).Select(_ => random.NextDouble() * 2 - 0.5).ToArray();
            var w = DualConeProjection.Weights(Jacobian.Gramian(jacobian), u);
            var projection = Jacobian.Combine(jacobian, w).data<double>().ToArray();
            var x = Jacobian.Combine(jacobian, u).data<double>().ToArray();
            var expected = TestJacobians.HildrethProjection(jacobian, x);
            var size = Math.Sqrt(x.Sum(v => v * v));
            for (var c = 0; c < x.Length; c++)
            {
                Assert.True(Math.Abs(projection[c] - expected[c]) <= 1e-8 * size, $"trial {trial}, coordinate {c}: {projection[c]} vs {expected[c]}");
            }
        }
    }

    [Fact]
    public void AVectorAlreadyInTheDualConeIsItsOwnProjection()
    {
        // g₁ = (1, 0), g₂ = (1, 1): u = (1, 0) gives Jᵀu = g₁ with J g₁ = (1, 1) ≥ 0, so w = u exactly.
        var gramian = new[,] { { 1.0, 1.0 }, { 1.0, 2.0 } };
        Assert.Equal(new[] { 1.0, 0.0 }, DualConeProjection.Weights(gramian, [1.0, 0.0]));
    }
}
