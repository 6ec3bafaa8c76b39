using GradientSurgery.Aggregation;
using static GradientSurgery.Tests.Aggregation.TestJacobians;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Aggregation;

/// <summary>
/// The hand-written float32 Gramian kernel against J Jᵀ computed in float64 from the same float32 values. The kernel
/// takes its 512-bit path where the JIT has AVX-512 and its 256-bit path otherwise (.ci/run runs these tests a second
/// time with AVX-512 hidden); vector operations fall back to software where the processor has neither, so the tests
/// run everywhere, whether or not <see cref="Jacobian.Gramian"/> would pick the kernel on the machine.
/// </summary>
public sealed class CpuGramianKernelTests
{
    public static TheoryData<int, int> Shapes => new()
    {
        { 1, 1 }, { 1, 16 }, { 2, 15 }, { 2, 17 }, { 3, 100 }, { 4, 2048 }, { 5, 2047 }, { 5, 2049 },
        { 7, 4096 + 31 }, { 8, 70_001 }, { 13, 33 * 2048 + 5 }, { 40, 20_000 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesTheFloat64ProductEntryByEntry(int tasks, int parameters)
    {
        using var scope = NewDisposeScope();
        // A common offset makes the rows strongly correlated, so off-diagonal entries are large and cancellation small;
        // the scale spread makes rows of very different norms meet in one tile.
        var jacobian = (RandomJacobian(tasks, parameters, seed: tasks * 7919 + parameters, dtype: ScalarType.Float32) + 0.3)
            * logspace(-2, 2, tasks, dtype: ScalarType.Float32).unsqueeze(1);
        var reference = Reference(jacobian);

        var gramian = CpuGramianKernel.Gramian(jacobian);

        for (var i = 0; i < tasks; i++)
        {
            for (var j = 0; j < tasks; j++)
            {
                var scale = Math.Sqrt(reference[i, i] * reference[j, j]);
                Assert.True(Math.Abs(gramian[i, j] - reference[i, j]) <= 1e-6 * scale,
                    $"G[{i},{j}] = {gramian[i, j]:R}, float64 product {reference[i, j]:R} (T = {tasks}, P = {parameters})");
                Assert.Equal(gramian[i, j], gramian[j, i]);
            }
        }
    }

    [Fact]
    public void ReadsARowBlockThatStartsInsideALargerTensor()
    {
        using var scope = NewDisposeScope();
        var storage = RandomJacobian(9, 5000, seed: 3, dtype: ScalarType.Float32);
        var rows = storage.narrow(0, 2, 6);
        Assert.True(rows.is_contiguous());

        var gramian = CpuGramianKernel.Gramian(rows);

        var reference = Reference(rows);
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(reference[i, i], gramian[i, i], reference[i, i] * 1e-6);
        }
    }

    [Fact]
    public void DoesNotDependOnTheThreadCount()
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(11, 40 * 2048 + 7, seed: 5, dtype: ScalarType.Float32);
        var threads = get_num_threads();
        try
        {
            set_num_threads(1);
            var single = CpuGramianKernel.Gramian(jacobian);
            set_num_threads(2);
            var two = CpuGramianKernel.Gramian(jacobian);
            var again = CpuGramianKernel.Gramian(jacobian);
            Assert.Equal(single, two);
            Assert.Equal(two, again);
        }
        finally
        {
            set_num_threads(threads);
        }
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void ANonFiniteEntryMakesItsRowsDiagonalNonFinite(float bad)
    {
        // MultiTaskBackward reads its NaN/Inf check off the diagonal, so the kernel must carry non-finite values there.
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(6, 3000, seed: 8, dtype: ScalarType.Float32);
        jacobian[4, 2999] = tensor(bad);
        jacobian[1, 17] = tensor(bad);

        var gramian = CpuGramianKernel.Gramian(jacobian);

        Assert.False(double.IsFinite(gramian[4, 4]));
        Assert.False(double.IsFinite(gramian[1, 1]));
        Assert.True(double.IsFinite(gramian[0, 0]) && double.IsFinite(gramian[5, 5]));
    }

    [Fact]
    public void JacobianGramianGivesTheSameMatrixWhicheverRouteItTakes()
    {
        using var scope = NewDisposeScope();
        var jacobian = RandomJacobian(6, 10_000, seed: 9, dtype: ScalarType.Float32);
        // A transposed copy is not contiguous, so it always goes through the matrix product.
        var strided = jacobian.t().contiguous().t();
        Assert.False(CpuGramianKernel.Applies(strided));

        var direct = Jacobian.Gramian(jacobian);
        var viaProduct = Jacobian.Gramian(strided);

        var reference = Reference(jacobian);
        for (var i = 0; i < 6; i++)
        {
            for (var j = 0; j < 6; j++)
            {
                var scale = Math.Sqrt(reference[i, i] * reference[j, j]);
                Assert.True(Math.Abs(direct[i, j] - reference[i, j]) <= 1e-6 * scale);
                Assert.True(Math.Abs(viaProduct[i, j] - reference[i, j]) <= 1e-5 * scale);
            }
        }
    }

    [Fact]
    public void AppliesOnlyToContiguousFloat32CpuJacobiansOfAtMost256Tasks()
    {
        using var scope = NewDisposeScope();
        var accelerated = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated || System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated;
        Assert.Equal(accelerated, CpuGramianKernel.Applies(zeros(3, 100)));
        Assert.Equal(accelerated, CpuGramianKernel.Applies(zeros(CpuGramianKernel.MaxTasks, 10)));
        Assert.False(CpuGramianKernel.Applies(zeros(CpuGramianKernel.MaxTasks + 1, 10)));
        Assert.False(CpuGramianKernel.Applies(zeros(3, 100, dtype: ScalarType.Float64)));
        Assert.False(CpuGramianKernel.Applies(zeros(100, 3).t()));
    }

    private static double[,] Reference(Tensor jacobian)
    {
        var wide = jacobian.to(ScalarType.Float64);
        return SquareArray(wide.mm(wide.t()));
    }
}
