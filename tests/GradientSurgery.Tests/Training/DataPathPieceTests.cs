using GradientSurgery.Aggregation;
using GradientSurgery.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Training;

/// <summary>
/// The pieces of the multi-task backward on their own, with bare parameters and closed-form losses (no model):
/// the parameter layout, the Jacobian builder, the head gradients and the gradient checks.
/// </summary>
public sealed class DataPathPieceTests
{
    private static readonly double[] A = [1.0, -2.0, 0.5];

    // θ = (θa, θb): θa has 3 entries, θb 2; heads h0, h1 are scalars. L0 = h0 · (a · θa), L1 = h1 · (‖θa‖² + Σ θb).
    private sealed class Problem
    {
        public Parameter ThetaA { get; } = new(tensor(new[] { 0.3, -0.1, 0.7 }, dtype: ScalarType.Float64));
        public Parameter ThetaB { get; } = new(tensor(new[] { 2.0, -1.0 }, dtype: ScalarType.Float64));
        public Parameter Head0 { get; } = new(tensor(new[] { 1.5 }, dtype: ScalarType.Float64));
        public Parameter Head1 { get; } = new(tensor(new[] { -0.5 }, dtype: ScalarType.Float64));

        public ParameterLayout Layout() => new([ThetaA, ThetaB], [Head0, Head1]);

        // The "trunk": z = (θa, θb) concatenated, so that ∂L/∂θ = ∂L/∂z.
        public Tensor Features() => cat([ThetaA, ThetaB]);

        public Tensor[] Losses(Tensor? z = null)
        {
            var a = z is null ? ThetaA : z.narrow(0, 0, 3);
            var b = z is null ? ThetaB : z.narrow(0, 3, 2);
            var coefficients = tensor(A, dtype: ScalarType.Float64);
            return [(Head0 * a.dot(coefficients)).sum(), (Head1 * (a.dot(a) + b.sum())).sum()];
        }

        // Closed form of the two Jacobian rows.
        public double[][] ExpectedRows()
        {
            var a = ThetaA.data<double>().ToArray();
            var h0 = Head0.item<double>();
            var h1 = Head1.item<double>();
            return [[.. A.Select(c => h0 * c), 0, 0], [.. a.Select(x => 2 * h1 * x), h1, h1]];
        }
    }

    [Fact]
    public void TheLayoutPlacesEachSharedParameterInItsColumnsAndAccumulates()
    {
        var problem = new Problem();
        var layout = problem.Layout();
        Assert.Equal(5, layout.SharedSize);
        using var scope = NewDisposeScope();
        var update = tensor(new[] { 1.0, 2.0, 3.0, 4.0, 5.0 }, dtype: ScalarType.Float64);
        layout.AccumulateShared(update);
        layout.AccumulateShared(update);
        Assert.Equal([2.0, 4.0, 6.0], problem.ThetaA.grad!.data<double>().ToArray());
        Assert.Equal([8.0, 10.0], problem.ThetaB.grad!.data<double>().ToArray());
    }

    [Fact]
    public void TheLayoutRefusesAnInvalidPartition()
    {
        var problem = new Problem();
        Assert.Contains("listed twice", Assert.Throws<ArgumentException>(() => new ParameterLayout([problem.ThetaA, problem.ThetaA], [])).Message);
        Assert.Contains("also shared", Assert.Throws<ArgumentException>(() => new ParameterLayout([problem.ThetaA], [problem.ThetaA])).Message);
        var float32 = new Parameter(ones(2));
        Assert.Contains("one dtype and device", Assert.Throws<ArgumentException>(() => new ParameterLayout([problem.ThetaA, float32], [])).Message);
        Assert.Contains("At least one shared parameter", Assert.Throws<ArgumentException>(() => new ParameterLayout([], [problem.Head0])).Message);
    }

    [Fact]
    public void BothRoutesBuildTheClosedFormJacobianAndCollectEachHeadsOwnGradient()
    {
        var problem = new Problem();
        var layout = problem.Layout();
        using var builder = new TaskJacobianBuilder(layout);
        var expected = problem.ExpectedRows();
        foreach (var byFeatures in new[] { false, true })
        {
            using var scope = NewDisposeScope();
            var heads = new HeadGradients(layout);
            var z = problem.Features();
            var jacobian = byFeatures ? builder.ByFeatures(problem.Losses(z), [z], heads) : builder.ByParameters(problem.Losses(), heads);
            for (var i = 0; i < 2; i++)
            {
                Assert.Equal(expected[i], jacobian[i].data<double>().ToArray(), (x, y) => Math.Abs(x - y) <= 1e-15);
            }
            foreach (var head in new[] { problem.Head0, problem.Head1 })
            {
                head.grad = null;
            }
            heads.Accumulate();
            var a = problem.ThetaA.data<double>().ToArray();
            Assert.Equal(A.Zip(a, (c, x) => c * x).Sum(), problem.Head0.grad!.item<double>(), 15);
            Assert.Equal(a.Sum(x => x * x) + 1.0, problem.Head1.grad!.item<double>(), 15);
        }
    }

    [Fact]
    public void TheJacobianBufferIsReusedAndAColumnATaskNoLongerReachesIsZeroed()
    {
        var problem = new Problem();
        var layout = problem.Layout();
        using var builder = new TaskJacobianBuilder(layout);
        using var scope = NewDisposeScope();
        var first = builder.ByParameters(problem.Losses(), new HeadGradients(layout));
        Assert.NotEqual(0.0, first[1, 3].item<double>());
        // Task 1 now ignores θb: its θb columns must be zero, not the previous step's values.
        Tensor[] losses = [problem.Losses()[0], (problem.Head1 * problem.ThetaA.sum()).sum()];
        var second = builder.ByParameters(losses, new HeadGradients(layout));
        Assert.Same(first, second);
        Assert.Equal([0.0, 0.0], second[1].narrow(0, 3, 2).data<double>().ToArray());
    }

    [Fact]
    public void ALossThatReachesNoSharedParameterIsNamed()
    {
        var problem = new Problem();
        var layout = problem.Layout();
        using var builder = new TaskJacobianBuilder(layout);
        using var scope = NewDisposeScope();
        Tensor[] losses = [problem.Losses()[0], (problem.Head1 * 2).sum()];
        var error = Assert.Throws<ArgumentException>(() => builder.ByParameters(losses, new HeadGradients(layout)));
        Assert.Contains("task 1 is not connected", error.Message);
    }

    [Fact]
    public void AHeadReachedByTwoTasksIsRefusedAndANonFiniteHeadGradientIsNamed()
    {
        var problem = new Problem();
        var layout = problem.Layout();
        using var scope = NewDisposeScope();
        var heads = new HeadGradients(layout);
        var unreached = ones(1);
        unreached.Dispose(); // what autograd.grad returns for a parameter a task does not reach: an undefined tensor
        heads.Collect(0, [ones(1), unreached], first: 0);
        var twice = Assert.Throws<InvalidOperationException>(() => heads.Collect(1, [ones(1), ones(1)], first: 0));
        Assert.Contains("receives gradients from tasks 0 and 1", twice.Message);

        var poisoned = new HeadGradients(layout);
        poisoned.Collect(1, [ones(1), full(1, double.NaN)], first: 0);
        var error = Assert.Throws<ArithmeticException>(poisoned.EnsureFinite);
        Assert.Contains("task 1 with respect to its task-specific parameter 1", error.Message);
    }

    [Fact]
    public void TheGramianCheckNamesTheTaskWhoseGradientIsNotFinite()
    {
        using var scope = NewDisposeScope();
        var rows = tensor(new float[,] { { 1, 2, 3 }, { 4, float.NaN, 6 } });
        Assert.Contains("task 1 with respect to the shared parameters contains NaN or Inf",
            Assert.Throws<ArithmeticException>(() => GradientChecks.FiniteGramian(rows, "the shared parameters")).Message);
        var huge = tensor(new double[,] { { 1, 2, 3 }, { 1e200, 1e200, 0 } });
        Assert.Contains("task 1 with respect to x is finite but too large",
            Assert.Throws<ArithmeticException>(() => GradientChecks.FiniteGramian(huge, "x")).Message);
        var fine = GradientChecks.FiniteGramian(tensor(new float[,] { { 1, 2 }, { 3, 4 } }), "x");
        Assert.Equal(11.0, fine[0, 1]);
    }

    [Fact]
    public void TheLossCheckNamesTheTaskAndTheProblem()
    {
        var problem = new Problem();
        var layout = problem.Layout();
        using var scope = NewDisposeScope();
        var good = problem.Losses()[0];
        string Fails(Tensor bad) => Assert.ThrowsAny<Exception>(() => GradientChecks.LossValues([good, bad], layout)).Message;
        Assert.Contains("task 1 is not a scalar", Fails(problem.ThetaA * 2));
        Assert.Contains("task 1 does not require grad", Fails(tensor(1.0, dtype: ScalarType.Float64)).Replace("is not connected to the shared parameters: it ", ""));
        Assert.IsType<ArithmeticException>(Assert.ThrowsAny<Exception>(() => GradientChecks.LossValues([good, good * double.NaN], layout)));
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => GradientChecks.LossValues([], layout)).Message);
        Assert.Equal(good.item<double>(), GradientChecks.LossValues([good], layout)[0]);
    }
}
