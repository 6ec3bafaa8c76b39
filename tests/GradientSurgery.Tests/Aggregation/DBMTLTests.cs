using GradientSurgery.Aggregation;
using GradientSurgery.Tests.Training;
using GradientSurgery.Tests.Weighting;
using GradientSurgery.Training;
using GradientSurgery.Weighting;
using TorchSharp;
using static GradientSurgery.Tests.Weighting.WeightingTestHelpers;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation;

public sealed class DBMTLTests
{
    private static Tensor Matrix(double[,] values) => tensor(values, dtype: ScalarType.Float64);

    private static double[] Values(Tensor t) => t.data<double>().ToArray();

    [Fact]
    public void RescalesEveryGradientToTheLargestNorm()
    {
        using var scope = NewDisposeScope();
        var dbmtl = new DBMTL(beta: 0.0);
        // Rows (3, 4) and (0, 1), norms 5 and 1, losses 1: the update is 5·((0.6, 0.8) + (0, 1)) = (3, 9).
        var update = dbmtl.Aggregate(Matrix(new[,] { { 3.0, 4.0 }, { 0.0, 1.0 } }), [1.0, 1.0]);
        Assert.Equal(new[] { 3.0, 9.0 }, Values(update), new ToleranceComparer(1e-14));
        Assert.Equal(new[] { 1.0, 5.0 }, dbmtl.LastWeights, new ToleranceComparer(1e-14));
    }

    [Fact]
    public void EveryRescaledTermHasTheMaximumNormOnRandomAndAdversarialJacobians()
    {
        var generator = new Generator(3);
        Tensor[] jacobians =
        [
            randn(5, 40, dtype: ScalarType.Float64, generator: generator),
            randn(1, 7, dtype: ScalarType.Float64, generator: generator),
            randn(3, 6, dtype: ScalarType.Float64, generator: generator) * tensor(new[] { 1e-6, 1.0, 1e6 }, dtype: ScalarType.Float64).unsqueeze(1),
            randn(1, 6, dtype: ScalarType.Float64, generator: generator).repeat(3, 1),
            randn(2, 8, dtype: ScalarType.Float64, generator: generator).matmul(randn(8, 8, dtype: ScalarType.Float64, generator: generator)).repeat(2, 1),
        ];
        foreach (var jacobian in jacobians)
        {
            using var scope = NewDisposeScope();
            var dbmtl = new DBMTL(beta: 0.0);
            var update = dbmtl.Aggregate(jacobian);
            var rowNorms = jacobian.pow(2).sum(1, keepdim: true).sqrt();
            var norms = rowNorms.reshape(-1).data<double>().ToArray();
            var largest = norms.Max();
            var expected = (jacobian / rowNorms).sum(dim: 0) * largest;
            Assert.True(update.allclose(expected, rtol: 1e-10, atol: 1e-10 * largest));
            for (var i = 0; i < norms.Length; i++)
            {
                Assert.Equal(largest, dbmtl.LastWeights[i] * norms[i], 1e-9 * largest);
            }
        }
    }

    [Fact]
    public void WorkedExampleOfTheMovingAverageOverTwoSteps()
    {
        using var scope = NewDisposeScope();
        var dbmtl = new DBMTL(); // β = 0.9

        // Step 1: losses (1, 1), so ∇log L = ∇L. ĝ = 0.1·rows = (0.3, 0.4), (0, 0.1); norms 0.5 and 0.1.
        // Update = 0.5·((0.6, 0.8) + (0, 1)) = (0.3, 0.9).
        var first = dbmtl.Aggregate(Matrix(new[,] { { 3.0, 4.0 }, { 0.0, 1.0 } }), [1.0, 1.0]);
        Assert.Equal(new[] { 0.3, 0.9 }, Values(first), new ToleranceComparer(1e-14));

        // Step 2: rows (0, 2) with L = 2 and (1, 0) with L = 1, so ∇log L = (0, 1) and (1, 0).
        // ĝ₁ = 0.9·(0.3, 0.4) + 0.1·(0, 1) = (0.27, 0.46), ‖·‖ = √0.2845 = 0.5333854;
        // ĝ₂ = 0.9·(0, 0.1) + 0.1·(1, 0) = (0.1, 0.09), ‖·‖ = √0.0181 = 0.1345362.
        // Update = ĝ₁ + (0.5333854/0.1345362)·ĝ₂ = (0.27, 0.46) + 3.9646226·(0.1, 0.09) = (0.6664623, 0.8168160).
        var second = dbmtl.Aggregate(Matrix(new[,] { { 0.0, 2.0 }, { 1.0, 0.0 } }), [2.0, 1.0]);
        Assert.Equal(new[] { 0.666462256011829, 0.816816030410646 }, Values(second), new ToleranceComparer(1e-13));
        Assert.Equal(new[] { 1.0, 3.9646225601182885 }, dbmtl.LastWeights, new ToleranceComparer(1e-12));
        Assert.Equal(2, dbmtl.Steps);
        Assert.Equal(new[] { 0.27, 0.46, 0.1, 0.09 }, Values(dbmtl.MovingAverage!.reshape(-1)), new ToleranceComparer(1e-15));
    }

    [Fact]
    public void RawJacobianWithLossesEqualsTheLogLossJacobian()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(8);
        var logGradients = randn(3, 10, dtype: ScalarType.Float64, generator: generator);
        double[] losses = [0.2, 3.0, 40.0];
        var raw = logGradients * tensor(losses, dtype: ScalarType.Float64).unsqueeze(1); // ∇L = L ∇log L
        var fromRaw = new DBMTL();
        var fromLog = new DBMTL();
        for (var step = 0; step < 3; step++)
        {
            Assert.True(fromRaw.Aggregate(raw, losses).allclose(fromLog.Aggregate(logGradients), rtol: 1e-12, atol: 1e-14));
        }
    }

    [Fact]
    public void LossScaleBalancingMattersThroughTheAverage()
    {
        using var scope = NewDisposeScope();
        var jacobian = Matrix(new[,] { { 1.0, 0.0 }, { 0.0, 1.0 } });
        // With β = 0 each normalised gradient is scale-free: only the common magnitude (the max norm) changes.
        var a = new DBMTL(0.0).Aggregate(jacobian, [1.0, 1.0]);
        var b = new DBMTL(0.0).Aggregate(jacobian, [1.0, 100.0]);
        Assert.Equal(new[] { 1.0, 1.0 }, Values(a), new ToleranceComparer(1e-15));
        Assert.Equal(new[] { 1.0, 1.0 }, Values(b), new ToleranceComparer(1e-15));
        // With an average, a task whose loss was 100× larger at the first step contributed 100× less to ĝ,
        // and the mix of directions differs.
        var averaged = new DBMTL(0.9);
        averaged.Aggregate(Matrix(new[,] { { 1.0, 0.0 }, { 1.0, 0.0 } }), [1.0, 100.0]);
        var mixed = averaged.Aggregate(jacobian, [1.0, 1.0]);
        var reference = new DBMTL(0.9);
        reference.Aggregate(Matrix(new[,] { { 1.0, 0.0 }, { 1.0, 0.0 } }), [1.0, 1.0]);
        Assert.False(mixed.allclose(reference.Aggregate(jacobian, [1.0, 1.0]), rtol: 1e-3, atol: 1e-6));
    }

    [Fact]
    public void ZeroAndOppositeGradientsGiveNoNaN()
    {
        using var scope = NewDisposeScope();
        var zeroRow = new DBMTL(0.0).Aggregate(Matrix(new[,] { { 3.0, 4.0 }, { 0.0, 0.0 } }));
        Assert.Equal(new[] { 3.0, 4.0 }, Values(zeroRow));
        var allZero = new DBMTL();
        Assert.Equal(new[] { 0.0, 0.0 }, Values(allZero.Aggregate(zeros(2, 2, dtype: ScalarType.Float64))));
        Assert.Equal(new[] { 0.0, 0.0 }, allZero.LastWeights);
        var opposite = new DBMTL(0.0).Aggregate(Matrix(new[,] { { 1.0, 2.0 }, { -3.0, -6.0 } }));
        Assert.Equal(new[] { 0.0, 0.0 }, Values(opposite), new ToleranceComparer(1e-14));
    }

    [Fact]
    public void RestoredStateContinuesIdentically()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(5);
        var original = new DBMTL();
        for (var step = 0; step < 3; step++)
        {
            original.Aggregate(randn(4, 12, generator: generator), [1.0, 2.0, 3.0, 4.0]);
        }
        using var stream = Save(original);
        var restored = new DBMTL();
        Load(restored, stream);
        Assert.Equal(original.Steps, restored.Steps);
        for (var step = 0; step < 2; step++)
        {
            var jacobian = randn(4, 12, generator: generator);
            var a = original.Aggregate(jacobian, [0.5, 1.0, 1.5, 2.0]);
            var b = restored.Aggregate(jacobian, [0.5, 1.0, 1.5, 2.0]);
            Assert.Equal(ScalarType.Float32, b.dtype);
            Assert.True(a.equal(b).all().item<bool>());
        }

        // A fresh instance's state round-trips as "no average yet".
        using var empty = Save(new DBMTL());
        Load(restored, empty);
        Assert.Null(restored.MovingAverage);
        Assert.Equal(0, restored.Steps);
    }

    [Fact]
    public void ThroughTheMultiTaskBackwardRawLossesGiveDbMtlWithHeadsOnTheLogGradient()
    {
        using var model = new TinyMultiTaskModel(3, seed: 4);
        using var scope = NewDisposeScope();
        var shared = model.Shared.ToArray();
        var losses = model.Losses();
        var values = losses.Select(l => l.item<double>()).ToArray();
        var rows = losses.Select(l => cat(autograd.grad([l], shared, retain_graph: true).Select(g => g.reshape(-1)).ToList(), 0)).ToList();
        var expected = new DBMTL().Aggregate(stack(rows), values);

        // DB-MTL is an ILossTransform: the multi-task backward differentiates log L itself.
        var backward = new MultiTaskBackward(new DBMTL(), model.Shared, model.HeadParameters);
        backward.Backward(model.Losses());

        var update = cat(shared.Select(p => p.grad!.reshape(-1)).ToList(), 0);
        Assert.True(update.allclose(expected, rtol: 1e-12, atol: 1e-15));
        // Each head receives ∇ log L_t = ∇L_t / L_t, as in the paper.
        for (var t = 0; t < 3; t++)
        {
            var head = model.Heads[t].parameters().ToArray();
            var raw = autograd.grad([model.Losses()[t]], head);
            for (var k = 0; k < head.Length; k++)
            {
                Assert.True(head[k].grad!.allclose(raw[k] / values[t], rtol: 1e-12, atol: 1e-15));
            }
        }
    }

    [Fact]
    public void BadArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DBMTL(1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DBMTL(-0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DBMTL(double.NaN));

        using var scope = NewDisposeScope();
        var dbmtl = new DBMTL();
        var jacobian = Matrix(new[,] { { 1.0, 2.0 }, { 3.0, 4.0 } });
        Assert.Contains("Expected 2 losses", Assert.Throws<ArgumentException>(() => dbmtl.Aggregate(jacobian, [1.0])).Message);
        Assert.Contains("task 1", Assert.Throws<ArgumentException>(() => dbmtl.Aggregate(jacobian, [1.0, 0.0])).Message);
        Assert.Contains("task 0", Assert.Throws<ArithmeticException>(() => dbmtl.Aggregate(jacobian, [double.NaN, 1.0])).Message);
        Assert.Throws<ArgumentException>(() => dbmtl.Aggregate(ones(3)));
        Assert.Equal(0, dbmtl.Steps);
        dbmtl.Aggregate(jacobian, [1.0, 1.0]);
        Assert.Contains("must stay the same", Assert.Throws<ArgumentException>(() => dbmtl.Aggregate(ones(3, 2, dtype: ScalarType.Float64))).Message);
        Assert.Throws<ArithmeticException>(() => dbmtl.Aggregate(Matrix(new[,] { { double.NaN, 0.0 }, { 0.0, 1.0 } })));

        using var foreign = Save(new DynamicWeightAverage());
        Assert.Throws<InvalidDataException>(() => Load(dbmtl, foreign));
    }
}
