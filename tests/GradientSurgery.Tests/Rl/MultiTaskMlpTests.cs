using GradientSurgery.Rl;
using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Tests.Rl;

/// <summary>The sharing of the multi-task networks: what each task's loss reaches, and that rows never mix.</summary>
public sealed class MultiTaskMlpTests
{
    private static (MultiTaskMlp Network, Tensor Inputs, Tensor Ids) Network(NetworkSharing sharing)
    {
        manual_seed(21);
        var network = new MultiTaskMlp(sharing, taskCount: 3, inputSize: 4, hidden: [6, 5], outputSize: 2);
        return (network, randn(9, 4), tensor(new long[] { 0, 1, 2, 2, 1, 0, 1, 1, 2 }));
    }

    // ∂(task 1's summed output)/∂θ for every parameter, by name.
    private static Dictionary<string, Tensor> TaskOneGradients(MultiTaskMlp network, Tensor inputs, Tensor ids)
    {
        var output = network.call(inputs, ids);
        var loss = (output * (ids == 1).unsqueeze(1).to(output.dtype)).sum();
        var named = network.named_parameters().ToArray();
        var gradients = autograd.grad([loss], [.. named.Select(p => p.parameter)], allow_unused: true);
        return named.Select((p, k) => (p.name, Gradient: gradients[k].IsInvalid ? zeros_like(p.parameter) : gradients[k])).ToDictionary(p => p.name, p => p.Gradient);
    }

    [Theory]
    [InlineData(NetworkSharing.OneHot)]
    [InlineData(NetworkSharing.MultiHead)]
    [InlineData(NetworkSharing.Independent)]
    public void ARowsOutputDependsOnlyOnItsOwnInputAndTask(NetworkSharing sharing)
    {
        var (network, inputs, ids) = Network(sharing);
        var before = network.call(inputs, ids);
        var changed = inputs.clone();
        changed[3] = randn(4);
        var after = network.call(changed, ids);
        var others = tensor(new long[] { 0, 1, 2, 4, 5, 6, 7, 8 });
        var difference = (before.index_select(0, others) - after.index_select(0, others)).abs().max().item<float>();
        Assert.True(difference == 0, $"other rows changed by {difference}");
        Assert.False(before[3].allclose(after[3]));
    }

    [Fact]
    public void AMultiHeadTasksLossReachesTheTrunkAndOnlyItsOwnHead()
    {
        var (network, inputs, ids) = Network(NetworkSharing.MultiHead);
        var gradients = TaskOneGradients(network, inputs, ids);
        var head = gradients.Single(g => g.Key.StartsWith("_heads.weight", StringComparison.Ordinal)).Value.view(3, 2, -1);
        Assert.Equal(0, head[0].abs().sum().item<float>());
        Assert.Equal(0, head[2].abs().sum().item<float>());
        Assert.True(head[1].abs().sum().item<float>() > 0);
        Assert.All(gradients.Where(g => g.Key.StartsWith("_shared", StringComparison.Ordinal)), g => Assert.True(g.Value.abs().sum().item<float>() > 0, g.Key));
    }

    [Fact]
    public void AnIndependentTasksLossReachesOnlyItsOwnNetwork()
    {
        var (network, inputs, ids) = Network(NetworkSharing.Independent);
        var gradients = TaskOneGradients(network, inputs, ids);
        Assert.All(gradients, g => Assert.Equal(g.Key.StartsWith("_perTask.1.", StringComparison.Ordinal), g.Value.abs().sum().item<float>() > 0));
    }

    [Fact]
    public void ATaskIdOutOfRangeIsRefused()
    {
        var (network, inputs, _) = Network(NetworkSharing.OneHot);
        Assert.Contains("[0, 3)", Assert.Throws<ArgumentException>(() => network.call(inputs, full(9, 3L))).Message);
    }
}
