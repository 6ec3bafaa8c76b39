using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>
/// GradDrop, "Just Pick a Sign: Optimizing Deep Multitask Models with Gradient Sign Dropout" (Chen, Ngiam,
/// Huang, Luong, Kretzschmar, Chai and Anguelov, NeurIPS 2020), Algorithm 1 with the paper's choices f = identity
/// and, by default, leak ℓ_i = 0. Element-wise, with ∇_i the gradient of task i:
/// the Gradient Positive Sign Purity P = ½(1 + Σ_i ∇_i / Σ_i |∇_i|) (Eq. 1), a uniform sample U per element,
/// the masks M_i = 𝟙[f(P) &gt; U]·𝟙[∇_i &gt; 0] + 𝟙[f(P) &lt; U]·𝟙[∇_i &lt; 0], and the update
/// Σ_i (ℓ_i + (1 − ℓ_i) M_i) ∇_i. Each element therefore keeps only its positive or only its negative
/// contributions, the positive ones with probability P.
/// </summary>
/// <remarks>
/// <para>
/// Not a Gramian weighting: the masks act element by element, so this class implements only
/// <see cref="IAggregator"/> and works on the full T×P Jacobian (in its dtype; half-precision types are
/// widened to float32, and P and U are compared in float64).
/// </para>
/// <para>
/// The paper applies GradDrop to the gradients at a layer of shared activations A, with a sign correction
/// sign(A) and a sum over the batch before computing P. Here it acts on the rows of the Jacobian it is given —
/// usually the shared parameters' gradients, as LibMTL's parameter mode and TorchJD do — where there is no
/// batch dimension and no sign correction. Given feature gradients (see <c>MultiTaskBackward</c>) it is
/// applied to them element-wise, still without the batch sum.
/// </para>
/// <para>
/// The uniform samples are drawn from the open interval (0, 1) with a seeded generator whose state is one
/// 64-bit value (<see cref="IStateful"/>); the paper's U is continuous on [0, 1], so excluding the endpoints
/// changes nothing but guarantees that an element whose tasks all agree in sign (P = 0 or 1) keeps its full
/// sum. An element where every task's gradient is zero has no purity (0/0); it contributes 0 whatever P is.
/// </para>
/// </remarks>
public sealed class GradDrop : IAggregator, IStateful
{
    private const string StateTag = "GradDrop/1";

    private readonly SplitMix64 _random;
    private readonly double[]? _leaks;
    private readonly double _leak;

    /// <summary>Creates the aggregator with one leak for every task.</summary>
    /// <param name="leak">ℓ in [0, 1]: the fraction of every task's gradient that passes unmasked; the paper uses 0.</param>
    /// <param name="seed">Seed of the uniform samples; the same seed gives bit-identical updates.</param>
    public GradDrop(double leak = 0.0, long? seed = null)
    {
        ValidateLeak(leak, nameof(leak), null);
        _leak = leak;
        _random = StateFormat.SeededGenerator(seed);
    }

    /// <summary>Creates the aggregator with a leak per task.</summary>
    /// <param name="leaks">ℓ_i in [0, 1], one per task (the Jacobian must then have exactly this many rows).</param>
    /// <param name="seed">Seed of the uniform samples; the same seed gives bit-identical updates.</param>
    public GradDrop(IReadOnlyList<double> leaks, long? seed = null)
    {
        ArgumentNullException.ThrowIfNull(leaks);
        if (leaks.Count == 0)
        {
            throw new ArgumentException("The list of leaks is empty; pass one leak per task.", nameof(leaks));
        }
        for (var i = 0; i < leaks.Count; i++)
        {
            ValidateLeak(leaks[i], nameof(leaks), i);
        }
        _leaks = leaks.ToArray();
        _random = StateFormat.SeededGenerator(seed);
    }

    /// <summary>The leak of task <paramref name="task"/>.</summary>
    public double Leak(int task) => _leaks?[task] ?? _leak;

    /// <summary>The state of the generator of the uniform samples.</summary>
    public ulong RandomState
    {
        get => _random.State;
        set => _random.State = value;
    }

    /// <inheritdoc />
    public void SaveState(BinaryWriter writer) => StateFormat.WriteSeeded(writer, StateTag, _random);

    /// <inheritdoc />
    public void LoadState(BinaryReader reader) => RandomState = StateFormat.ReadSeeded(reader, StateTag, "GradDrop");

    /// <summary>GradDrop with fresh uniform samples: a P-vector of the Jacobian's dtype and device.</summary>
    /// <exception cref="ArgumentException">Invalid Jacobian, or a row count that differs from the number of per-task leaks.</exception>
    public Tensor Aggregate(Tensor jacobian)
    {
        Jacobian.Validate(jacobian);
        var taskCount = (int)jacobian.shape[0];
        if (_leaks is not null && _leaks.Length != taskCount)
        {
            throw new ArgumentException(
                $"GradDrop was given {_leaks.Length} leaks, but the Jacobian has {taskCount} tasks.", nameof(jacobian));
        }
        var length = jacobian.shape[1];
        if (length > Array.MaxLength)
        {
            throw new ArgumentException($"GradDrop draws one managed sample per parameter and supports at most {Array.MaxLength} parameters.", nameof(jacobian));
        }
        return Aggregate(jacobian, DrawUniforms((int)length));
    }

    /// <summary>GradDrop with the given uniform samples (one per parameter, each in [0, 1]).</summary>
    /// <exception cref="ArgumentException">Invalid Jacobian, wrong number of samples, or a sample outside [0, 1].</exception>
    public Tensor Aggregate(Tensor jacobian, IReadOnlyList<double> uniforms)
    {
        Jacobian.Validate(jacobian);
        ArgumentNullException.ThrowIfNull(uniforms);
        var taskCount = (int)jacobian.shape[0];
        if (_leaks is not null && _leaks.Length != taskCount)
        {
            throw new ArgumentException(
                $"GradDrop was given {_leaks.Length} leaks, but the Jacobian has {taskCount} tasks.", nameof(jacobian));
        }
        if (uniforms.Count != jacobian.shape[1])
        {
            throw new ArgumentException($"Expected {jacobian.shape[1]} uniform samples (one per parameter), got {uniforms.Count}.", nameof(uniforms));
        }
        var samples = uniforms.ToArray();
        for (var k = 0; k < samples.Length; k++)
        {
            if (!(samples[k] >= 0.0 && samples[k] <= 1.0))
            {
                throw new ArgumentException($"Uniform sample {k} is {samples[k]}, outside [0, 1].", nameof(uniforms));
            }
        }

        using var scope = NewDisposeScope();
        var work = jacobian.dtype is ScalarType.Float16 or ScalarType.BFloat16 ? jacobian.to(ScalarType.Float32) : jacobian;
        var total = work.sum(dim: 0).to(ScalarType.Float64);
        var absoluteTotal = work.abs().sum(dim: 0).to(ScalarType.Float64);
        // Where every task's entry is zero the purity is 0/0; any value works there, 0.5 keeps it finite.
        var purity = where(absoluteTotal > 0, 0.5 * (1.0 + total / absoluteTotal), full_like(total, 0.5));
        var uniform = tensor(samples, dtype: ScalarType.Float64).to(work.device);
        var keepPositive = purity.gt(uniform).unsqueeze(0);
        var keepNegative = purity.lt(uniform).unsqueeze(0);
        var mask = work.gt(0).logical_and(keepPositive).logical_or(work.lt(0).logical_and(keepNegative)).to(work.dtype);

        Tensor kept;
        if (_leaks is null && _leak == 0.0)
        {
            kept = mask;
        }
        else
        {
            var leaks = Enumerable.Range(0, taskCount).Select(Leak).ToArray();
            var leak = tensor(leaks, dtype: ScalarType.Float64).to(work.dtype, work.device).unsqueeze(1);
            kept = leak + (1.0 - leak) * mask;
        }
        var update = (kept * work).sum(dim: 0).to(jacobian.dtype);
        return scope.MoveToOuter(update);
    }

    /// <summary>Draws <paramref name="count"/> independent uniform samples in the open interval (0, 1).</summary>
    public double[] DrawUniforms(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var samples = new double[count];
        for (var k = 0; k < count; k++)
        {
            // The top 53 bits, centred in their cell: (n + ½)·2⁻⁵³ lies strictly between 0 and 1.
            samples[k] = ((_random.NextUInt64() >> 11) + 0.5) * (1.0 / (1UL << 53));
        }
        return samples;
    }

    private static void ValidateLeak(double leak, string parameterName, int? task)
    {
        if (!double.IsFinite(leak) || leak < 0.0 || leak > 1.0)
        {
            var which = task is null ? "The leak" : $"The leak of task {task}";
            throw new ArgumentOutOfRangeException(parameterName, leak, $"{which} must be in [0, 1].");
        }
    }
}
