using GradientSurgery.Aggregation;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Training;

/// <summary>
/// Where each parameter's gradient goes: the shared parameters laid end to end as the P columns of the task
/// Jacobian, and the task-specific ones (heads) beside them. Validates the partition once, when a backward is created.
/// </summary>
internal sealed class ParameterLayout
{
    private readonly long[] _offsets;

    /// <summary>Keeps the parameters that require grad and checks that they form a valid partition.</summary>
    /// <param name="sharedParameters">The parameters that take part in the surgery.</param>
    /// <param name="taskSpecificParameters">All other trainable parameters.</param>
    /// <param name="taskParameters">
    /// Optionally, which task owns which of the task-specific parameters (list i: task i's own parameters). An owned
    /// parameter receives its owner's gradient only, even where other tasks' losses read it (a cross-stitch column);
    /// a task-specific parameter no task owns may be reached by one task only.
    /// </param>
    /// <exception cref="ArgumentException">
    /// No shared parameter, a shared parameter that is not floating point, shared parameters of different dtypes or
    /// devices, a parameter listed twice (or as both shared and task-specific), or an owned parameter that is not
    /// task-specific or owned by two tasks.
    /// </exception>
    public ParameterLayout(
        IEnumerable<Parameter> sharedParameters, IEnumerable<Parameter> taskSpecificParameters, IReadOnlyList<IEnumerable<Parameter>>? taskParameters = null)
    {
        ArgumentNullException.ThrowIfNull(sharedParameters);
        ArgumentNullException.ThrowIfNull(taskSpecificParameters);
        Shared = [.. sharedParameters.Where(p => p.requires_grad)];
        TaskSpecific = [.. taskSpecificParameters.Where(p => p.requires_grad)];
        if (Shared.Length == 0)
        {
            throw new ArgumentException("At least one shared parameter that requires grad is needed.", nameof(sharedParameters));
        }
        var first = Shared[0];
        if (!first.is_floating_point())
        {
            throw new ArgumentException($"Shared parameter 0 has dtype {first.dtype}; shared parameters must be floating point.", nameof(sharedParameters));
        }
        var handles = new HashSet<IntPtr>();
        _offsets = new long[Shared.Length];
        for (var k = 0; k < Shared.Length; k++)
        {
            var p = Shared[k];
            if (p.dtype != first.dtype || !SameDevice(p, first))
            {
                throw new ArgumentException(
                    $"Shared parameter {k} (shape {Jacobian.ShapeText(p)}) is {p.dtype} on {p.device}, but shared parameter 0 is {first.dtype} on {first.device}; " +
                    "all shared parameters must have one dtype and device.", nameof(sharedParameters));
            }
            if (!handles.Add(p.Handle))
            {
                throw new ArgumentException($"Shared parameter {k} (shape {Jacobian.ShapeText(p)}) is listed twice.", nameof(sharedParameters));
            }
            _offsets[k] = SharedSize;
            SharedSize += p.numel();
        }
        for (var k = 0; k < TaskSpecific.Length; k++)
        {
            if (!handles.Add(TaskSpecific[k].Handle))
            {
                throw new ArgumentException(
                    $"Task-specific parameter {k} (shape {Jacobian.ShapeText(TaskSpecific[k])}) is also shared or listed twice.", nameof(taskSpecificParameters));
            }
        }
        Owners = OwnersOf(TaskSpecific, taskParameters);
    }

    /// <summary>
    /// The task that owns each of <see cref="TaskSpecific"/> (receives only that task's gradient), or −1 where no
    /// owner was declared (the one task that reaches it, if any, gives its gradient).
    /// </summary>
    public int[] Owners { get; }

    /// <summary>
    /// The indices (into <see cref="TaskSpecific"/>) of the parameters whose gradient task <paramref name="task"/> may
    /// give: its own and those without a declared owner. Asking autograd for these only spares the weight gradients
    /// of other tasks' own parameters, which would be dropped.
    /// </summary>
    public int[] GradientTargetsOf(int task)
    {
        // Asked for at every step; the partition never changes, so each task's list is built once.
        if (!_targets.TryGetValue(task, out var targets))
        {
            targets = [.. Enumerable.Range(0, TaskSpecific.Length).Where(k => Owners[k] < 0 || Owners[k] == task)];
            _targets[task] = targets;
        }
        return targets;
    }

    private readonly Dictionary<int, int[]> _targets = [];

    private static int[] OwnersOf(Parameter[] taskSpecific, IReadOnlyList<IEnumerable<Parameter>>? taskParameters)
    {
        var owners = Enumerable.Repeat(-1, taskSpecific.Length).ToArray();
        if (taskParameters is null)
        {
            return owners;
        }
        var index = taskSpecific.Select((p, k) => (p.Handle, k)).ToDictionary(e => e.Handle, e => e.k);
        for (var task = 0; task < taskParameters.Count; task++)
        {
            var position = 0;
            foreach (var parameter in taskParameters[task] ?? throw new ArgumentException($"Task {task}'s parameter list is null.", nameof(taskParameters)))
            {
                if (parameter.requires_grad)
                {
                    if (!index.TryGetValue(parameter.Handle, out var k))
                    {
                        throw new ArgumentException(
                            $"Parameter {position} of task {task} (shape {Jacobian.ShapeText(parameter)}) is not among the task-specific parameters (it is shared, or not optimized).", nameof(taskParameters));
                    }
                    if (owners[k] >= 0 && owners[k] != task)
                    {
                        throw new ArgumentException(
                            $"Parameter {position} of task {task} (shape {Jacobian.ShapeText(parameter)}) is also listed for task {owners[k]}; a parameter of several tasks is shared.", nameof(taskParameters));
                    }
                    owners[k] = task;
                }
                position++;
            }
        }
        return owners;
    }

    /// <summary>The shared parameters that require grad, in column order.</summary>
    public Parameter[] Shared { get; }

    /// <summary>The task-specific parameters that require grad.</summary>
    public Parameter[] TaskSpecific { get; }

    /// <summary>P, the number of shared scalar parameters: the Jacobian's width.</summary>
    public long SharedSize { get; }

    /// <summary>The shared parameters' dtype (every Jacobian row and update has it).</summary>
    public ScalarType Dtype => Shared[0].dtype;

    /// <summary>The shared parameters' device.</summary>
    public Device Device => Shared[0].device;

    /// <summary>Whether <paramref name="tensor"/> is on the shared parameters' device.</summary>
    public bool IsOnDevice(Tensor tensor) => SameDevice(tensor, Shared[0]);

    /// <summary>The first of shared parameter <paramref name="k"/>'s columns in the task Jacobian.</summary>
    public long Offset(int k) => _offsets[k];

    /// <summary>The columns of shared parameter <paramref name="k"/> in a P-vector (a view).</summary>
    public Tensor Slice(Tensor vector, int k) => vector.narrow(0, _offsets[k], Shared[k].numel());

    /// <summary>
    /// Writes one task's gradients of the shared parameters (the first <see cref="Shared"/>.Length entries of
    /// <paramref name="gradients"/>, undefined where the task does not reach a parameter) into <paramref name="row"/>,
    /// releasing each gradient as soon as it is copied. False when the task reaches none of them.
    /// </summary>
    public bool CopyInto(Tensor row, IList<Tensor> gradients)
    {
        var connected = false;
        for (var k = 0; k < Shared.Length; k++)
        {
            var slice = Slice(row, k);
            if (gradients[k].IsInvalid)
            {
                // A parameter this task does not reach has a zero gradient (the buffer holds the previous step's).
                slice.zero_();
            }
            else
            {
                // The row now holds it: release the P-sized gradient (and the flat view that shares its storage) at
                // once rather than at the end of the step, so that a step never keeps T gradients and the Jacobian
                // alive together.
                using (var flat = gradients[k].reshape(-1))
                {
                    slice.copy_(flat);
                }
                gradients[k].Dispose();
                connected = true;
            }
        }
        return connected;
    }

    /// <summary>Adds the P-vector <paramref name="update"/> to the shared parameters' <c>.grad</c>, as <c>loss.backward()</c> accumulates.</summary>
    public void AccumulateShared(Tensor update)
    {
        using var noGrad = no_grad();
        for (var k = 0; k < Shared.Length; k++)
        {
            Accumulate(Shared[k], Slice(update, k).view_as(Shared[k]));
        }
    }

    /// <summary>Adds <paramref name="gradient"/> to the parameter's <c>.grad</c> (sets it when there is none).</summary>
    public static void Accumulate(Parameter parameter, Tensor gradient)
    {
        var existing = parameter.grad;
        if (existing is null || existing.IsInvalid)
        {
            parameter.grad = gradient.requires_grad ? gradient.detach() : gradient;
        }
        else
        {
            existing.add_(gradient);
        }
    }

    // Device objects compare by reference in TorchSharp.
    internal static bool SameDevice(Tensor a, Tensor b) => a.device_type == b.device_type && a.device_index == b.device_index;
}
