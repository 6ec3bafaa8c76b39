using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace GradientSurgery.Models;

/// <summary>
/// A cross-stitch unit (Misra, Shrivastava, Gupta &amp; Hebert, CVPR 2016, Eq. 1): task i's next input is a learned
/// linear combination of every task's activation, x̃_i = Σ_j α_ij x_j, with one T×T matrix of α per channel.
/// </summary>
/// <remarks>
/// α is initialised as the paper recommends (§4.3): α_ii = 0.9 and the rest of each row 0.1, split evenly over the
/// other tasks, so that each row sums to one. The paper also raises the units' learning rate by 10²–10³; here they
/// share the network's optimizer and learning rate. The units are shared parameters: every task's gradient reaches them.
/// </remarks>
public sealed class CrossStitchUnit : Module<Tensor[], Tensor[]>
{
    private const double SameTask = 0.9;

    private readonly Parameter alpha;

    /// <summary>Creates a unit for <paramref name="tasks"/> columns of <paramref name="channels"/> channels (dimension 1 of the activations).</summary>
    public CrossStitchUnit(int tasks, long channels) : base(nameof(CrossStitchUnit))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tasks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        Tasks = tasks;
        using (no_grad())
        {
            var other = tasks == 1 ? 0 : (1 - SameTask) / (tasks - 1);
            var initial = full(tasks, tasks, channels, other);
            for (var i = 0; i < tasks; i++)
            {
                initial[i, i].fill_(tasks == 1 ? 1.0 : SameTask);
            }
            alpha = Parameter(initial);
        }
        RegisterComponents();
    }

    /// <summary>The number of columns the unit mixes.</summary>
    public int Tasks { get; }

    /// <summary>The α matrix (T×T×channels): row i mixes task i's next input.</summary>
    public Parameter Alpha => alpha;

    /// <summary>Mixes the T columns' activations (each N×channels×…, all of one shape).</summary>
    public override Tensor[] forward(Tensor[] columns)
    {
        ArgumentNullException.ThrowIfNull(columns);
        if (columns.Length != Tasks)
        {
            throw new ArgumentException($"The unit mixes {Tasks} columns, but {columns.Length} activations were given.", nameof(columns));
        }
        var stacked = stack(columns, 1); // N×T×C×…
        if (stacked.shape[2] != alpha.shape[2])
        {
            throw new ArgumentException($"The unit has {alpha.shape[2]} channels, but the activations have {stacked.shape[2]}.", nameof(columns));
        }
        // mixed[n, i, c, s] = Σ_j α[i, j, c] x[n, j, c, s] over the flattened spatial positions s, without forming the
        // N×T×T×C×S product that broadcasting would.
        var flat = stacked.reshape(stacked.shape[0], Tasks, stacked.shape[2], -1);
        var mixed = einsum("ijc,njcs->nics", alpha, flat).reshape(stacked.shape);
        return [.. Enumerable.Range(0, Tasks).Select(i => mixed.select(1, i))];
    }
}
