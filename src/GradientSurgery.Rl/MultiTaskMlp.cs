using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Rl;

/// <summary>
/// A multilayer perceptron that maps each input row to an output for that row's task, shared among the tasks as
/// <see cref="NetworkSharing"/> says. Every row is computed independently of the others, which is what
/// <c>SamplePartitionedJacobian</c> needs to take the tasks' gradients in one backward pass.
/// </summary>
/// <remarks>
/// The multi-head variant computes every head on every row with one Linear of T × output units and keeps the row's own
/// task's slice: the same function and gradients as T separate heads (a row's output depends only on its task's units),
/// in one matrix product instead of T small ones.
/// </remarks>
public sealed class MultiTaskMlp : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly Sequential? _shared;
    private readonly Linear? _heads;
    private readonly ModuleList<Sequential>? _perTask;

    /// <summary>Creates the network, initialised from the global torch seed.</summary>
    /// <param name="sharing">What the tasks share.</param>
    /// <param name="taskCount">T ≥ 1.</param>
    /// <param name="inputSize">Entries of an input row (without the task's identity, which is appended here where it is used).</param>
    /// <param name="hidden">The hidden layers' widths (at least one), ReLU after each.</param>
    /// <param name="outputSize">Entries of an output row.</param>
    public MultiTaskMlp(NetworkSharing sharing, int taskCount, int inputSize, IReadOnlyList<int> hidden, int outputSize) : base(nameof(MultiTaskMlp))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(taskCount);
        ArgumentNullException.ThrowIfNull(hidden);
        if (hidden.Count == 0)
        {
            throw new ArgumentException("A network needs at least one hidden layer.", nameof(hidden));
        }
        (Sharing, TaskCount, InputSize, OutputSize) = (sharing, taskCount, inputSize, outputSize);
        switch (sharing)
        {
            case NetworkSharing.OneHot:
                _shared = Mlp.Create(inputSize + taskCount, hidden, outputSize);
                break;
            case NetworkSharing.MultiHead:
                _shared = Mlp.Create(inputSize + taskCount, [.. hidden.SkipLast(1)], hidden[^1]);
                _heads = nn.Linear(hidden[^1], (long)taskCount * outputSize);
                break;
            case NetworkSharing.Independent:
                _perTask = nn.ModuleList([.. Enumerable.Range(0, taskCount).Select(_ => Mlp.Create(inputSize, hidden, outputSize))]);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(sharing), sharing, "Unknown network sharing.");
        }
        RegisterComponents();
    }

    /// <summary>What the tasks share.</summary>
    public NetworkSharing Sharing { get; }

    /// <summary>T.</summary>
    public int TaskCount { get; }

    /// <summary>Entries of an input row.</summary>
    public int InputSize { get; }

    /// <summary>Entries of an output row.</summary>
    public int OutputSize { get; }

    /// <summary>The output [N, output] of each input row [N, input] for its task (<paramref name="taskIds"/> [N], int64).</summary>
    /// <exception cref="ArgumentException">Shapes that do not fit, or a task id outside [0, T).</exception>
    public override Tensor forward(Tensor inputs, Tensor taskIds)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(taskIds);
        if (inputs.dim() != 2 || inputs.shape[1] != InputSize || taskIds.dim() != 1 || taskIds.shape[0] != inputs.shape[0])
        {
            throw new ArgumentException(
                $"Expected inputs [N, {InputSize}] and task ids [N]; got [{string.Join(", ", inputs.shape)}] and [{string.Join(", ", taskIds.shape)}].", nameof(inputs));
        }
        var rows = inputs.shape[0];
        if (rows > 0)
        {
            var (lowest, highest) = (taskIds.min().item<long>(), taskIds.max().item<long>());
            if (lowest < 0 || highest >= TaskCount)
            {
                throw new ArgumentException($"Task ids must lie in [0, {TaskCount}); got {lowest}..{highest}.", nameof(taskIds));
            }
        }
        switch (Sharing)
        {
            case NetworkSharing.OneHot:
                return _shared!.call(WithIdentity(inputs, taskIds));
            case NetworkSharing.MultiHead:
                var features = nn.functional.relu(_shared!.call(WithIdentity(inputs, taskIds)));
                var all = _heads!.call(features).view(rows, TaskCount, OutputSize);
                return all.gather(1, taskIds.view(rows, 1, 1).expand(rows, 1, OutputSize)).squeeze(1);
            default:
                var output = zeros(rows, OutputSize, dtype: inputs.dtype, device: inputs.device);
                for (var t = 0; t < TaskCount; t++)
                {
                    var members = (taskIds == t).nonzero().squeeze(1);
                    if (members.numel() > 0)
                    {
                        output = output.index_copy(0, members, _perTask![t].call(inputs.index_select(0, members)));
                    }
                }
                return output;
        }
    }

    private Tensor WithIdentity(Tensor inputs, Tensor taskIds) =>
        cat([inputs, nn.functional.one_hot(taskIds, TaskCount).to(inputs.dtype)], 1);
}
