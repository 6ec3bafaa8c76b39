using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Training;

/// <summary>
/// <c>torch.optim.Adam</c> with the same arithmetic, options and state (checkpoints of either load into the other), whose
/// step keeps its scalars alive while libtorch reads them.
/// </summary>
/// <remarks>
/// Why it exists: TorchSharp 0.107's <see cref="TorchSharp.Modules.Adam"/> passes its coefficients as implicitly converted
/// <see cref="Scalar"/>s (<c>add_(grad, alpha: 1 - beta1)</c>) that nothing references during the native call, so a
/// garbage collection started by another thread can finalize and free one while libtorch still reads it: the step then
/// fails with "Expected false to be true" or "Unknown scalar type" from <c>c10/core/Scalar.h</c> (or reads a wrong
/// value). With a second thread allocating, 300,000 steps of <see cref="TorchSharp.Modules.Adam"/> failed within seconds in 4 of 4
/// runs on this project's machine; see docs/troubleshooting.md. Here every scalar is created once per step and
/// disposed after the last native call that uses it. Results are bit-identical to <see cref="TorchSharp.Modules.Adam"/>.
/// </remarks>
public sealed class SafeAdam : TorchSharp.Modules.Adam
{
    /// <summary>Adam over <paramref name="parameters"/>, with <c>torch.optim.Adam</c>'s defaults.</summary>
    public SafeAdam(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weight_decay = 0, bool amsgrad = false, bool maximize = false)
        : base(parameters, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize)
    {
    }

    /// <inheritdoc/>
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var options = (Options)group.Options;
        var (beta1, beta2) = (options.beta1!.Value, options.beta2!.Value);
        var (weightDecay, amsgrad, maximize) = (options.weight_decay!.Value, options.amsgrad!.Value, options.maximize!.Value);
        var (eps, lr) = (options.eps!.Value, options.LearningRate!.Value);
        using var beta1Scalar = beta1.ToScalar();
        using var beta2Scalar = beta2.ToScalar();
        using var oneMinusBeta1 = (1 - beta1).ToScalar();
        using var oneMinusBeta2 = (1 - beta2).ToScalar();
        using var epsScalar = eps.ToScalar();
        using var weightDecayScalar = weightDecay.ToScalar();
        foreach (var param in group.Parameters)
        {
            var state = (State)_state[param.Handle];
            if (param.grad is not { } grad)
            {
                continue;
            }
            if (maximize)
            {
                grad = -grad;
            }
            state.step += 1;
            var biasCorrection1 = 1 - Math.Pow(beta1, state.step);
            var biasCorrection2 = 1 - Math.Pow(beta2, state.step);
            if (weightDecay != 0)
            {
                grad = grad.add(param, alpha: weightDecayScalar);
            }
            state.exp_avg.mul_(beta1Scalar).add_(grad, alpha: oneMinusBeta1);
            state.exp_avg_sq.mul_(beta2Scalar).addcmul_(grad, grad.conj(), value: oneMinusBeta2);
            using var sqrtCorrection2 = Math.Sqrt(biasCorrection2).ToScalar();
            Tensor denominator;
            if (amsgrad)
            {
                var previous = state.max_exp_avg_sq;
                state.max_exp_avg_sq = maximum(previous, state.exp_avg_sq).DetachFromDisposeScope();
                previous.Dispose();
                denominator = (state.max_exp_avg_sq.sqrt() / sqrtCorrection2).add_(epsScalar);
            }
            else
            {
                denominator = (state.exp_avg_sq.sqrt() / sqrtCorrection2).add_(epsScalar);
            }
            using var stepSize = (-(lr / biasCorrection1)).ToScalar();
            param.addcdiv_(state.exp_avg, denominator, value: stepSize);
        }
    }, closure);
}
