using GradientSurgery.Aggregation.Solvers;
using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>
/// Nash-MTL, "Multi-Task Learning as a Bargaining Game" (Navon, Shamsian, Achituve, Maron, Kawaguchi, Chechik
/// and Fetaya, ICML 2022), Algorithm 1 and the bargaining solution it computes: the update is
/// d = Σ_i α_i g_i, whose weights α &gt; 0 solve the bargaining condition Gα = 1/α (element-wise), i.e.
/// g_iᵀd = 1/α_i for every task.
/// </summary>
/// <remarks>
/// <para>
/// The paper approximates α with a sequence of convex problems (CCP) solved by cvxpy. In Gramian space the
/// condition is the stationarity condition of the strictly convex problem min_{α&gt;0} ½αᵀGα − Σ_i ln α_i,
/// solved here by a damped Newton method with a positivity-preserving line search, run to rounding
/// (<see cref="Solvers.BargainingSolver"/>: componentwise backward error ≤ 1e-12, i.e. α solves the condition
/// exactly for a Gramian perturbed by at most 1e-12 relative). Consequences of the condition: the update norm
/// is ‖d‖² = αᵀGα = T; rescaling a task's gradient by s divides its α_i by s and leaves the update unchanged;
/// orthogonal gradients give α_i = 1/‖g_i‖.
/// </para>
/// <para>
/// Where the condition has no solution. It requires g_iᵀd &gt; 0 for all i, impossible when 0 is in the convex
/// hull of the gradients (a Pareto-stationary point: opposite gradients, or any non-negative combination
/// summing to 0), and near such points α grows without bound. We therefore solve
/// (G + ρ·diag G) α = 1/α with ρ = <see cref="Ridge"/> = 1e-10: each gradient gets a private orthogonal
/// component of relative norm √ρ. This is invariant to rescaling a task, moves the solution of a well-posed
/// problem by a relative O(ρ) (checked: Gα = 1/α holds to 1e-8 on random Jacobians), always has a solution,
/// and bounds α_i‖g_i‖ ≤ √(T/ρ), so that the update, formed in the Jacobian's dtype (often float32), is never a
/// cancellation of astronomically large terms. At a Pareto-stationary point the update shrinks towards 0 (for
/// two opposite gradients it is exactly 0). Identical or otherwise dependent gradients that are not Pareto
/// stationary have an exact solution and need no special case. A task whose gradient is exactly zero can
/// never satisfy g_iᵀd = 1/α_i; it is left out of the bargaining and gets α_i = 0 (all-zero gradients give a
/// zero update).
/// </para>
/// <para>
/// Differences from the official implementation (AvivNavon/nash-mtl; LibMTL and TorchJD port it), where we
/// follow the paper: it runs at most <c>optim_niter</c> = 20 CCP iterations warm-started from the previous
/// step's α and stops once ‖Gα − 1/α‖ &lt; 1e-3 on a Frobenius-normalised G, so its α is approximate and
/// depends on the previous step; it clips the update norm to <c>max_norm</c> = 1 (gradient clipping the paper
/// does not prescribe; apply it in the optimiser if wanted); and with <c>update_weights_every</c> &gt; 1 it
/// reuses the last α on the following steps, an engineering shortcut offered here as
/// <see cref="UpdateWeightsEvery"/> (default 1: solve every step, as in the paper).
/// </para>
/// </remarks>
public sealed class NashMTL : GramianWeighting, IStateful
{
    /// <summary>The relative ridge ρ in (G + ρ·diag G) α = 1/α.</summary>
    public const double Ridge = 1e-10;

    private const string StateTag = "NashMTL/1";

    private long _step;
    private double[]? _lastWeights;

    /// <summary>Creates the aggregator.</summary>
    /// <param name="updateWeightsEvery">
    /// Solve for α every this many calls and reuse the last α in between (the official code's
    /// <c>update_weights_every</c>); 1, the default, solves every step as the paper does.
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="updateWeightsEvery"/> is less than 1.</exception>
    public NashMTL(int updateWeightsEvery = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(updateWeightsEvery, 1);
        UpdateWeightsEvery = updateWeightsEvery;
    }

    /// <summary>How many calls share one solution α.</summary>
    public int UpdateWeightsEvery { get; }

    /// <summary>
    /// The Nash-MTL update Σ_i α_i g_i: a P-vector of the Jacobian's dtype and device. With
    /// <see cref="UpdateWeightsEvery"/> &gt; 1, calls that reuse the last α skip the Gramian.
    /// </summary>
    public override Tensor Aggregate(Tensor jacobian)
    {
        Jacobian.Validate(jacobian);
        if (TryReuse((int)jacobian.shape[0], out var reused))
        {
            return Jacobian.Combine(jacobian, reused);
        }
        return Jacobian.Combine(jacobian, Remember(Solution(Jacobian.Gramian(jacobian))));
    }

    /// <summary>
    /// The weights α (update = Σ_i α_i g_i) solving (G + ρ·diag G) α = 1/α, with α_i = 0 for zero gradients;
    /// with <see cref="UpdateWeightsEvery"/> &gt; 1, the last solution on the calls in between (a new solution
    /// whenever the number of tasks changes).
    /// </summary>
    /// <remarks>The Gramian is checked even when α is reused, so that a malformed one never passes silently.</remarks>
    protected override double[] ComputeWeights(GramianContext context) =>
        TryReuse(context.Gramian.TaskCount, out var reused) ? reused : Remember(SolveChecked(context.Gramian.Values));

    /// <summary>Solves the bargaining condition for <paramref name="gramian"/>, ignoring and not touching the reuse state.</summary>
    /// <exception cref="ArgumentException">The matrix cannot be a Gramian: it is not square, not finite or not symmetric, has a negative diagonal entry, or has an entry with |G_ij| &gt; √(G_ii G_jj).</exception>
    public static double[] Solution(double[,] gramian) => SolveChecked(CheckedGramian.From(gramian).Values);

    /// <inheritdoc />
    public void SaveState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(StateTag);
        writer.Write(_step);
        writer.Write(_lastWeights?.Length ?? -1);
        foreach (var weight in _lastWeights ?? [])
        {
            writer.Write(weight);
        }
    }

    /// <inheritdoc />
    public void LoadState(BinaryReader reader)
    {
        StateFormat.ReadTag(reader, StateTag, "Nash-MTL");
        var step = reader.ReadInt64();
        var count = reader.ReadInt32();
        if (step < 0 || count < -1 || count > 1_000_000)
        {
            throw new InvalidDataException($"Corrupt Nash-MTL state: step {step}, {count} weights.");
        }
        double[]? weights = null;
        if (count >= 0)
        {
            weights = new double[count];
            for (var i = 0; i < count; i++)
            {
                weights[i] = reader.ReadDouble();
                if (!double.IsFinite(weights[i]))
                {
                    throw new InvalidDataException($"Corrupt Nash-MTL state: weight {i} is {weights[i]}.");
                }
            }
        }
        _step = step;
        _lastWeights = weights;
    }

    private bool TryReuse(int taskCount, out double[] weights)
    {
        if (_step % UpdateWeightsEvery != 0 && _lastWeights is not null && _lastWeights.Length == taskCount)
        {
            _step++;
            weights = (double[])_lastWeights.Clone();
            return true;
        }
        weights = [];
        return false;
    }

    private static double[] SolveChecked(double[,] checkedGramian) =>
        BargainingSolver.Solve(checkedGramian, exponent: 1.0, Ridge).Weights;

    private double[] Remember(double[] weights)
    {
        // The cycle restarts at every fresh solution, so a change in the number of tasks re-solves at once.
        _step = 1;
        _lastWeights = (double[])weights.Clone();
        return weights;
    }
}
