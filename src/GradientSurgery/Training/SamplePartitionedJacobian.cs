using GradientSurgery.Aggregation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Training;

/// <summary>
/// The task Jacobian of a batch whose samples are partitioned among T tasks (multi-task SAC, batches mixing several
/// datasets), from one backward pass: each sample belongs to exactly one task, task t's loss is the mean of its own
/// samples' losses, and row t of the T×P result is ∂L_t/∂θ over the chosen parameters, in the columns the rest of the
/// library uses (parameters in order, each flattened row-major).
/// </summary>
/// <remarks>
/// <para>
/// How: every <see cref="Linear"/> layer of the module records its input X [N, in] and output Y during the forward
/// (<see cref="Record"/>); one backward of Σ_n loss_n / n_{task(n)} gives G = ∂/∂Y [N, out]. Because a sample's loss
/// depends only on that sample, G's rows for task t's samples are exactly ∂L_t/∂Y for them, so task t's weight
/// gradient is G_tᵀ X_t and its bias gradient Σ_{n∈t} G_n: one product per task over its own rows (N·in·out
/// multiply-adds in all, the cost of the one weight gradient a plain backward computes).
/// </para>
/// <para>
/// Fallback: parameters outside any <see cref="Linear"/> (norm layers, embeddings, bare parameters), and those of a
/// Linear that recorded no call or a call whose input is not [N, in], get their rows by one backward per non-empty
/// task instead (exact, slower); <see cref="LastBackwardPasses"/> tells how many passes the last call took.
/// </para>
/// <para>
/// Limitation: the network must treat samples independently. A layer that mixes samples (BatchNorm in training mode,
/// attention across the batch, a loss normalised by a batch statistic) makes G's rows depend on other tasks' samples,
/// and the one-pass rows are then wrong without any error; use <see cref="MultiTaskBackward"/> for such models.
/// Every Linear must be invoked through its module call (as <c>Sequential</c> and <c>layer.call(x)</c> do, not
/// <c>layer.forward(x)</c> directly) for its input to be recorded. An instance is not thread-safe.
/// </para>
/// </remarks>
public sealed class SamplePartitionedJacobian : IDisposable
{
    private readonly ParameterLayout _layout;
    private readonly LayerSlot[] _layers;
    private readonly List<Action> _removeHooks = [];
    private bool _recording;
    private bool _recorded;

    /// <summary>The Jacobian over all trainable parameters of <paramref name="module"/>, in <c>module.parameters()</c> order.</summary>
    public SamplePartitionedJacobian(nn.Module module)
        : this(module, module?.parameters() ?? throw new ArgumentNullException(nameof(module)))
    {
    }

    /// <summary>The Jacobian over <paramref name="parameters"/> (those that require grad, in this order), which belong to <paramref name="module"/>.</summary>
    /// <param name="module">Searched for the <see cref="Linear"/> layers whose gradients are taken in the one pass.</param>
    /// <param name="parameters">The Jacobian's columns (e.g. a shared trunk's parameters). Same dtype and device.</param>
    /// <exception cref="ArgumentException">No parameter that requires grad, mixed dtypes or devices, or a parameter listed twice.</exception>
    public SamplePartitionedJacobian(nn.Module module, IEnumerable<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(parameters);
        _layout = new ParameterLayout(parameters, []);
        var column = new Dictionary<IntPtr, int>();
        for (var k = 0; k < _layout.Shared.Length; k++)
        {
            column[_layout.Shared[k].Handle] = k;
        }
        var layers = new List<LayerSlot>();
        var seen = new HashSet<Linear>(ReferenceEqualityComparer.Instance);
        // named_modules() includes the module itself, so a bare Linear works too.
        foreach (var (_, child) in module.named_modules())
        {
            // A layer reachable twice (registered under two names) gets one hook: two would record each call twice.
            if (child is not Linear linear || !seen.Add(linear))
            {
                continue;
            }
            var weight = linear.weight is { } w && column.TryGetValue(w.Handle, out var wk) ? wk : -1;
            var bias = linear.bias is { } b && column.TryGetValue(b.Handle, out var bk) ? bk : -1;
            if (weight < 0 && bias < 0)
            {
                continue;
            }
            var slot = new LayerSlot(linear, weight, bias);
            layers.Add(slot);
            var hook = linear.register_forward_hook((_, input, output) =>
            {
                if (_recording)
                {
                    // Own references to the same native tensors (same autograd identity): Sequential disposes each
                    // intermediate once the next module has consumed it, and the caller's scope may end before Compute.
                    slot.Calls.Add((input.alias().DetachFromDisposeScope(), output.alias().DetachFromDisposeScope()));
                }
                return output;
            });
            _removeHooks.Add(hook.remove);
        }
        _layers = [.. layers];
    }

    /// <summary>The Jacobian's columns: the parameters that require grad, in order.</summary>
    public IReadOnlyList<Parameter> Parameters => _layout.Shared;

    /// <summary>P, the Jacobian's width.</summary>
    public long ParameterCount => _layout.SharedSize;

    /// <summary>The columns' layout, for writing an update of the parameters back to <c>.grad</c>.</summary>
    internal ParameterLayout Layout => _layout;

    /// <summary>Backward passes the last <see cref="Compute"/> ran: 1 when every parameter went through the one-pass route, plus one per non-empty task for the fallback.</summary>
    public int LastBackwardPasses { get; private set; }

    /// <summary>
    /// Starts recording the Linear layers' inputs and outputs (forgetting any earlier recording); dispose the result
    /// after the forward pass. Wrap exactly the forward pass whose per-sample losses go to <see cref="Compute"/>.
    /// </summary>
    public IDisposable Record()
    {
        foreach (var layer in _layers)
        {
            layer.Forget();
        }
        _recording = true;
        _recorded = true;
        return new StopRecording(this);
    }

    /// <summary>
    /// The T×P task Jacobian: row t is the gradient of task t's mean loss (over its own samples) with respect to
    /// <see cref="Parameters"/>; a task with no sample gets a zero row. Frees the graph and the recording.
    /// </summary>
    /// <param name="sampleLosses">Per-sample losses [N] of the recorded forward (floating point, finite, requiring grad).</param>
    /// <param name="taskIds">Each sample's task [N] (int64 or int32, values in [0, <paramref name="taskCount"/>)).</param>
    /// <param name="taskCount">T ≥ 1.</param>
    /// <returns>A new T×P tensor of the parameters' dtype and device, owned by the caller's dispose scope.</returns>
    /// <exception cref="ArgumentException">Bad shapes, dtypes, devices, ids, a non-finite or unconnected loss.</exception>
    /// <exception cref="InvalidOperationException">No <see cref="Record"/> since the last call.</exception>
    public Tensor Compute(Tensor sampleLosses, Tensor taskIds, int taskCount)
    {
        var tasks = Validate(sampleLosses, taskIds, taskCount);
        if (!_recorded)
        {
            throw new InvalidOperationException("Wrap the forward pass in Record() before Compute: the Linear layers' inputs were not recorded.");
        }
        _recording = false;
        _recorded = false;
        try
        {
            using var scope = NewDisposeScope();
            var jacobian = zeros(taskCount, _layout.SharedSize, dtype: _layout.Dtype, device: _layout.Device);
            Fill(jacobian, sampleLosses, taskIds, tasks, taskCount);
            return jacobian.MoveToOuterDisposeScope();
        }
        finally
        {
            foreach (var layer in _layers)
            {
                layer.Forget();
            }
        }
    }

    /// <summary>Removes the forward hooks.</summary>
    public void Dispose()
    {
        foreach (var layer in _layers)
        {
            layer.Forget();
        }
        foreach (var remove in _removeHooks)
        {
            remove();
        }
        _removeHooks.Clear();
    }

    private void Fill(Tensor jacobian, Tensor sampleLosses, Tensor taskIds, long[] tasks, int taskCount)
    {
        var n = tasks.Length;
        var counts = new long[taskCount];
        foreach (var t in tasks)
        {
            counts[t]++;
        }
        var perSample = tasks.Select(t => 1.0 / counts[t]).ToArray();
        // Sample indices grouped by task (stable), so that task t's samples are order[starts[t] .. starts[t] + counts[t]).
        var starts = new long[taskCount];
        for (var t = 1; t < taskCount; t++)
        {
            starts[t] = starts[t - 1] + counts[t - 1];
        }
        // A task-balanced replay batch comes grouped by task already: then the grouping is the identity and the rows are
        // used in place instead of being copied by index_select for every layer.
        var grouped = IsNonDecreasing(tasks);
        var order = tensor(Enumerable.Range(0, n).OrderBy(i => tasks[i]).Select(i => (long)i).ToArray(), device: sampleLosses.device);
        var ids = taskIds.to(ScalarType.Int64);

        // A layer whose every call has a per-sample input [N, in] takes the one-pass route; any other call (or none,
        // e.g. a layer invoked through forward() past its hook) sends its parameters to the exact per-task fallback.
        var batched = _layers.Where(l => l.Calls.Count > 0 && l.Calls.All(c => c.Input.dim() == 2 && c.Input.shape[0] == n)).ToArray();
        var covered = new HashSet<int>(batched.SelectMany(l => new[] { l.WeightColumn, l.BiasColumn }).Where(k => k >= 0));
        var fallback = Enumerable.Range(0, _layout.Shared.Length).Where(k => !covered.Contains(k)).ToArray();
        var keepGraph = fallback.Length > 0;
        LastBackwardPasses = 0;

        if (batched.Length > 0)
        {
            // Each task's loss is the mean over its samples, so the sum of all tasks' losses weights sample n by 1/n_t.
            var weights = tensor(perSample, dtype: sampleLosses.dtype, device: sampleLosses.device);
            var total = (sampleLosses * weights).sum();
            Tensor[] outputs = [.. batched.SelectMany(l => l.Calls.Select(c => c.Output))];
            var outputGradients = autograd.grad([total], outputs, retain_graph: keepGraph, allow_unused: true);
            LastBackwardPasses++;
            using var noGrad = no_grad();
            var g = 0;
            foreach (var layer in batched)
            {
                foreach (var (input, _) in layer.Calls)
                {
                    var gradient = outputGradients[g++];
                    if (gradient.IsInvalid)
                    {
                        // This call's output does not reach the loss: it adds nothing.
                        continue;
                    }
                    AddLinearRows(jacobian, layer, input.detach(), gradient, ids, grouped ? null : order, counts, starts);
                }
            }
        }

        if (fallback.Length > 0)
        {
            Tensor[] inputs = [.. fallback.Select(k => (Tensor)_layout.Shared[k])];
            var last = Array.FindLastIndex(counts, c => c > 0);
            for (var t = 0; t <= last; t++)
            {
                if (counts[t] == 0)
                {
                    continue;
                }
                var members = order.narrow(0, starts[t], counts[t]);
                var taskLoss = sampleLosses.index_select(0, members).mean();
                var gradients = autograd.grad([taskLoss], inputs, retain_graph: t < last, allow_unused: true);
                LastBackwardPasses++;
                using var noGrad = no_grad();
                for (var i = 0; i < fallback.Length; i++)
                {
                    if (!gradients[i].IsInvalid)
                    {
                        Columns(jacobian[t], fallback[i]).copy_(gradients[i].reshape(-1));
                    }
                }
            }
        }
    }

    /// <summary>
    /// Adds one recorded call's per-task weight (G_tᵀ X_t) and bias (Σ G_t) gradients to the Jacobian's rows;
    /// <c>order</c> holds the sample indices grouped by task, or is null when the samples are grouped already.
    /// </summary>
    private void AddLinearRows(Tensor jacobian, LayerSlot layer, Tensor input, Tensor outputGradient, Tensor taskIds, Tensor? order, long[] counts, long[] starts)
    {
        if (layer.BiasColumn >= 0)
        {
            // Segment sum of the output gradients by task, all tasks at once.
            var bias = zeros(counts.Length, outputGradient.shape[1], dtype: outputGradient.dtype, device: outputGradient.device)
                .index_add_(0, taskIds, outputGradient, 1.0);
            Columns(jacobian, layer.BiasColumn).add_(bias);
        }
        if (layer.WeightColumn >= 0)
        {
            // Rows grouped by task, then one product per task over its own rows: no padding, no T-fold work.
            var sortedGradient = order is null ? outputGradient : outputGradient.index_select(0, order);
            var sortedInput = order is null ? input : input.index_select(0, order);
            var shape = layer.Linear.weight!.shape;
            for (var t = 0; t < counts.Length; t++)
            {
                if (counts[t] == 0)
                {
                    continue;
                }
                var rows = Columns(jacobian[t], layer.WeightColumn).view(shape);
                rows.addmm_(sortedGradient.narrow(0, starts[t], counts[t]).t(), sortedInput.narrow(0, starts[t], counts[t]));
            }
        }
    }

    private static bool IsNonDecreasing(long[] tasks)
    {
        for (var n = 1; n < tasks.Length; n++)
        {
            if (tasks[n] < tasks[n - 1])
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Parameter <paramref name="k"/>'s columns of a Jacobian row (1-D) or of the whole Jacobian (2-D); a view.</summary>
    private Tensor Columns(Tensor rowOrMatrix, int k) =>
        rowOrMatrix.narrow(rowOrMatrix.dim() - 1, _layout.Offset(k), _layout.Shared[k].numel());

    /// <summary>The task of each sample, after checking every argument.</summary>
    private long[] Validate(Tensor sampleLosses, Tensor taskIds, int taskCount)
    {
        ArgumentNullException.ThrowIfNull(sampleLosses);
        ArgumentNullException.ThrowIfNull(taskIds);
        if (taskCount < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(taskCount), taskCount, "At least one task is needed.");
        }
        if (sampleLosses.dim() != 1 || sampleLosses.shape[0] == 0)
        {
            throw new ArgumentException(
                $"The per-sample losses must be a non-empty 1-D tensor [N], but they have shape {Jacobian.ShapeText(sampleLosses)}; do not reduce them.", nameof(sampleLosses));
        }
        if (!sampleLosses.is_floating_point())
        {
            throw new ArgumentException($"The per-sample losses have dtype {sampleLosses.dtype}; they must be floating point.", nameof(sampleLosses));
        }
        if (!_layout.IsOnDevice(sampleLosses))
        {
            throw new ArgumentException($"The per-sample losses are on {sampleLosses.device}, but the parameters are on {_layout.Device}.", nameof(sampleLosses));
        }
        if (!sampleLosses.requires_grad)
        {
            throw new ArgumentException("The per-sample losses do not require grad, so they are not connected to the parameters.", nameof(sampleLosses));
        }
        if (taskIds.dim() != 1 || taskIds.shape[0] != sampleLosses.shape[0])
        {
            throw new ArgumentException(
                $"The task ids must be a 1-D tensor with one id per sample [{sampleLosses.shape[0]}], but they have shape {Jacobian.ShapeText(taskIds)}.", nameof(taskIds));
        }
        if (taskIds.dtype is not (ScalarType.Int64 or ScalarType.Int32))
        {
            throw new ArgumentException($"The task ids have dtype {taskIds.dtype}; they must be int64 or int32.", nameof(taskIds));
        }
        if (!_layout.IsOnDevice(taskIds))
        {
            throw new ArgumentException($"The task ids are on {taskIds.device}, but the parameters are on {_layout.Device}.", nameof(taskIds));
        }
        long[] tasks;
        double[] losses;
        using (var scope = NewDisposeScope())
        {
            tasks = taskIds.to(ScalarType.Int64).cpu().data<long>().ToArray();
            losses = sampleLosses.detach().to(ScalarType.Float64).cpu().data<double>().ToArray();
        }
        for (var n = 0; n < tasks.Length; n++)
        {
            if (tasks[n] < 0 || tasks[n] >= taskCount)
            {
                throw new ArgumentException($"Sample {n} has task id {tasks[n]}, outside [0, {taskCount}).", nameof(taskIds));
            }
        }
        for (var n = 0; n < losses.Length; n++)
        {
            if (!double.IsFinite(losses[n]))
            {
                throw new ArgumentException($"The loss of sample {n} (task {tasks[n]}) is {losses[n]}; no Jacobian was computed.", nameof(sampleLosses));
            }
        }
        return tasks;
    }

    private sealed class LayerSlot(Linear linear, int weightColumn, int biasColumn)
    {
        public Linear Linear { get; } = linear;

        public int WeightColumn { get; } = weightColumn;

        public int BiasColumn { get; } = biasColumn;

        public List<(Tensor Input, Tensor Output)> Calls { get; } = [];

        /// <summary>Releases the recorded references.</summary>
        public void Forget()
        {
            foreach (var (input, output) in Calls)
            {
                input.Dispose();
                output.Dispose();
            }
            Calls.Clear();
        }
    }

    private sealed class StopRecording(SamplePartitionedJacobian owner) : IDisposable
    {
        public void Dispose() => owner._recording = false;
    }
}
