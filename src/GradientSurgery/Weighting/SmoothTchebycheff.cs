using static TorchSharp.torch;

namespace GradientSurgery.Weighting;

/// <summary>
/// Smooth Tchebycheff scalarisation (STCH), "Smooth Tchebycheff Scalarization for Multi-Objective
/// Optimization" (Lin, Zhang, Yang, Liu, Wang and Zhang, ICML 2024): the objective is
/// g_μ(L | λ) = μ log Σ_i exp(λ_i (L_i − z_i*) / μ), a smooth approximation of the Tchebycheff scalarisation
/// max_i λ_i (L_i − z_i*), with preference λ, ideal point z* and smoothing μ &gt; 0.
/// </summary>
/// <remarks>
/// <para>
/// Bounds: max_i y_i ≤ g_μ ≤ max_i y_i + μ log T with y_i = λ_i (L_i − z_i*), so g_μ tends to the Tchebycheff
/// value as μ → 0; as μ grows, g_μ − μ log T tends to the mean of the y_i and the weights to λ_i / T. The
/// gradient is Σ_i λ_i softmax_i(y/μ) ∇L_i, so <see cref="ILossWeighting.LastWeights"/> are λ_i softmax_i(y/μ).
/// The largest y_i is subtracted (as a constant) before dividing by μ, which changes neither the value nor
/// the gradient but keeps exp from overflowing for small μ.
/// </para>
/// <para>
/// Defaults: λ uniform on the simplex (1/T each) and z* = 0, the infimum of non-negative losses. μ has no
/// default: the paper reports no single best value, and its scale must match the scale of λ_i (L_i − z_i*).
/// Stateless.
/// </para>
/// <para>
/// Difference from the authors' multi-task code (their LibMTL fork, copied into LibMTL), which we do not
/// reproduce: during epochs 0 to w (w = 4 by default) it minimises Σ_i log L_i and averages the losses of
/// epoch w into a "nadir" vector n; from epoch w + 1 on it minimises T μ log Σ_i exp(log(L_i / n_i) / μ) with
/// μ = 1 by default, that is, this scalarisation of the log-normalised losses log(L_i / n_i) with λ_i = 1 and
/// z* = 0, multiplied by T (a small constant is also added inside each logarithm). Passing log(L_i / n_i) as
/// the losses, with λ = (1, …, 1), gives its post-warm-up objective divided by T.
/// </para>
/// </remarks>
public sealed class SmoothTchebycheff : ILossWeighting
{
    private readonly double[]? _preference;
    private readonly double[]? _idealPoint;
    private double[] _lastWeights = [];

    /// <summary>Creates the scalarisation.</summary>
    /// <param name="mu">The smoothing μ &gt; 0 (smaller is closer to the maximum).</param>
    /// <param name="preference">λ, one non-negative value per task, not all 0; uniform 1/T when null.</param>
    /// <param name="idealPoint">z*, one finite value per task; zeros when null.</param>
    public SmoothTchebycheff(double mu, IReadOnlyList<double>? preference = null, IReadOnlyList<double>? idealPoint = null)
    {
        if (!(mu > 0.0) || !double.IsFinite(mu))
        {
            throw new ArgumentOutOfRangeException(nameof(mu), mu, "μ must be a finite number > 0.");
        }
        if (preference is not null)
        {
            if (preference.Count == 0)
            {
                throw new ArgumentException("The preference is empty; pass null for uniform or one value per task.", nameof(preference));
            }
            for (var i = 0; i < preference.Count; i++)
            {
                if (!(preference[i] >= 0.0) || !double.IsFinite(preference[i]))
                {
                    throw new ArgumentOutOfRangeException(nameof(preference), preference[i], $"The preference of task {i} must be finite and ≥ 0.");
                }
            }
            if (preference.All(p => p == 0.0))
            {
                throw new ArgumentException("The preference is all zero, which ignores every task.", nameof(preference));
            }
            _preference = [.. preference];
        }
        if (idealPoint is not null)
        {
            if (idealPoint.Count == 0)
            {
                throw new ArgumentException("The ideal point is empty; pass null for zeros or one value per task.", nameof(idealPoint));
            }
            if (_preference is not null && idealPoint.Count != _preference.Length)
            {
                throw new ArgumentException($"The ideal point has {idealPoint.Count} values but the preference {_preference.Length}.", nameof(idealPoint));
            }
            for (var i = 0; i < idealPoint.Count; i++)
            {
                if (!double.IsFinite(idealPoint[i]))
                {
                    throw new ArgumentOutOfRangeException(nameof(idealPoint), idealPoint[i], $"The ideal point of task {i} must be finite.");
                }
            }
            _idealPoint = [.. idealPoint];
        }
        Mu = mu;
    }

    /// <summary>The smoothing μ.</summary>
    public double Mu { get; }

    /// <summary>λ, or null for uniform 1/T.</summary>
    public IReadOnlyList<double>? Preference => _preference;

    /// <summary>z*, or null for zeros.</summary>
    public IReadOnlyList<double>? IdealPoint => _idealPoint;

    /// <inheritdoc />
    public double[] LastWeights => (double[])_lastWeights.Clone();

    /// <summary>μ log Σ_i exp(λ_i (L_i − z_i*) / μ).</summary>
    public Tensor Combine(IReadOnlyList<Tensor> losses)
    {
        var values = LossList.Values(losses);
        var taskCount = values.Length;
        var expected = _preference?.Length ?? _idealPoint?.Length;
        if (expected is { } count)
        {
            LossList.RequireTaskCount(count, taskCount, "This smooth Tchebycheff scalarisation");
        }
        var preference = _preference ?? [.. Enumerable.Repeat(1.0 / taskCount, taskCount)];
        var ideal = _idealPoint ?? new double[taskCount];
        var scaled = new double[taskCount];
        for (var i = 0; i < taskCount; i++)
        {
            scaled[i] = preference[i] * (values[i] - ideal[i]);
        }
        var largest = scaled.Max();

        using var scope = NewDisposeScope();
        var dtype = LossList.CommonDtype(losses);
        var shifted = stack(losses.Select((loss, i) => (LossList.Scalar(loss).to(dtype) - ideal[i]) * preference[i] - largest));
        var objective = (shifted / Mu).logsumexp(0) * Mu + largest;

        var exponentials = scaled.Select(y => Math.Exp((y - largest) / Mu)).ToArray();
        var sum = exponentials.Sum();
        _lastWeights = [.. exponentials.Select((e, i) => preference[i] * e / sum)];
        return scope.MoveToOuter(objective);
    }
}
