using GradientSurgery.Aggregation;
using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Training;

/// <summary>
/// Builds the task Jacobian of the shared parameters from T losses (TorchJD's <c>mtl_backward</c> half of the data
/// path), by one of two routes, and collects the heads' own gradients on the way:
/// <list type="bullet">
/// <item>parameters path: T vector-Jacobian products, each through the whole graph;</item>
/// <item>features path: each task through its head to the shared features, then T products through the trunk only.</item>
/// </list>
/// For weightings that use the representation's Gramian (MGDA-UB) it also gives the feature gradients and the single
/// pass through the trunk with their weighted sum.
/// </summary>
/// <remarks>
/// The T×P Jacobian is written in full at every step into storage kept between calls: allocating (and page-faulting
/// in) T·P fresh floats per step costs more than the surgery itself at large T. The returned Jacobian is that buffer,
/// valid until the next call or <see cref="Dispose"/>.
/// </remarks>
internal sealed class TaskJacobianBuilder(ParameterLayout layout) : IDisposable
{
    private Tensor? _buffer;

    /// <summary>Parameters path: row i is ∂L_i/∂θ_shared, by one vector-Jacobian product of the whole graph per task.</summary>
    /// <exception cref="ArgumentException">A loss reaches none of the shared parameters.</exception>
    public Tensor ByParameters(IReadOnlyList<Tensor> losses, HeadGradients heads)
    {
        var jacobian = Buffer(losses.Count);
        for (var i = 0; i < losses.Count; i++)
        {
            var targets = layout.GradientTargetsOf(i);
            Tensor[] inputs = [.. layout.Shared, .. targets.Select(k => layout.TaskSpecific[k])];
            var gradients = autograd.grad([losses[i]], inputs, retain_graph: i < losses.Count - 1, allow_unused: true);
            if (!layout.CopyInto(jacobian[i], gradients))
            {
                throw GradientChecks.NotConnected(i, "none of the shared parameters receives a gradient from it");
            }
            heads.Collect(i, gradients, layout.Shared.Length, targets);
        }
        return jacobian;
    }

    /// <summary>Features path: row i is ∂L_i/∂θ_shared, through task i's head to <paramref name="features"/> and then the trunk.</summary>
    /// <exception cref="ArgumentException">A feature tensor is null, does not require grad or is on another device; or the features reach no shared parameter.</exception>
    public Tensor ByFeatures(IReadOnlyList<Tensor> losses, IReadOnlyList<Tensor> features, HeadGradients heads)
    {
        ValidateFeatures(features);
        var jacobian = Buffer(losses.Count);
        Tensor[] featureList = [.. features];
        for (var i = 0; i < losses.Count; i++)
        {
            // One task at a time through its head and then the trunk, so that only one task's feature gradient (B×F)
            // is alive at once rather than T of them next to the Jacobian (20 MiB at T = 40 in the step benchmark).
            var featureGradient = FeatureGradient(i, losses[i], features, heads);
            var gradients = autograd.grad(featureList, layout.Shared, featureGradient, retain_graph: i < losses.Count - 1, allow_unused: true);
            foreach (var gradient in featureGradient)
            {
                gradient.Dispose();
            }
            if (!layout.CopyInto(jacobian[i], gradients))
            {
                throw FeaturesNotConnected();
            }
        }
        return jacobian;
    }

    /// <summary>Each task's gradient with respect to each shared feature tensor, through its head only; the trunk's graph is kept for <see cref="ThroughTrunk"/>.</summary>
    public Tensor[][] FeatureGradients(IReadOnlyList<Tensor> losses, IReadOnlyList<Tensor> features, HeadGradients heads)
    {
        ValidateFeatures(features);
        return [.. losses.Select((loss, i) => FeatureGradient(i, loss, features, heads))];
    }

    /// <summary>The T×F matrix whose row i is task i's feature gradients, flattened and concatenated.</summary>
    public static Tensor Flatten(Tensor[][] featureGradients) =>
        stack(featureGradients.Select(perTask => cat(perTask.Select(g => g.reshape(-1)).ToArray())).ToArray());

    /// <summary>Σ_i w_i ∂L_i/∂θ as one vector-Jacobian product of the trunk with Σ_i w_i ∂L_i/∂z (frees the trunk's graph).</summary>
    /// <exception cref="ArithmeticException">The result holds NaN or Inf.</exception>
    public Tensor ThroughTrunk(IReadOnlyList<Tensor> features, Tensor[][] featureGradients, IReadOnlyList<double> weights)
    {
        var combined = features.Select((_, f) =>
            featureGradients.Select((perTask, i) => perTask[f] * weights[i]).Aggregate((a, b) => a + b)).ToArray();
        var gradients = autograd.grad([.. features], layout.Shared, combined, retain_graph: false, allow_unused: true);
        var update = zeros(layout.SharedSize, dtype: layout.Dtype, device: layout.Device);
        if (!layout.CopyInto(update, gradients))
        {
            throw FeaturesNotConnected();
        }
        if (!isfinite(update).all().item<bool>())
        {
            throw new ArithmeticException("The weighted gradient with respect to the shared parameters contains NaN or Inf; no gradient was written." + NonFiniteGradient.Advice);
        }
        return update;
    }

    /// <summary>Frees the reusable Jacobian storage.</summary>
    public void Dispose()
    {
        _buffer?.Dispose();
        _buffer = null;
    }

    /// <summary>Task <paramref name="task"/>'s gradient with respect to each shared feature tensor, through its head; records its head's gradients.</summary>
    private Tensor[] FeatureGradient(int task, Tensor loss, IReadOnlyList<Tensor> features, HeadGradients heads)
    {
        var targets = layout.GradientTargetsOf(task);
        Tensor[] headInputs = [.. features, .. targets.Select(k => layout.TaskSpecific[k])];
        // The trunk's graph must survive for the pass(es) through it; the heads' parts are released with the losses.
        var gradients = autograd.grad([loss], headInputs, retain_graph: true, allow_unused: true);
        if (!gradients.Take(features.Count).Any(g => !g.IsInvalid))
        {
            throw GradientChecks.NotConnected(task, "none of the shared feature tensors receives a gradient from it");
        }
        heads.Collect(task, gradients, features.Count, targets);
        return [.. features.Select((feature, f) => gradients[f].IsInvalid ? zeros_like(feature) : gradients[f])];
    }

    private void ValidateFeatures(IReadOnlyList<Tensor> features)
    {
        for (var f = 0; f < features.Count; f++)
        {
            var feature = features[f] ?? throw new ArgumentException($"Shared feature tensor {f} is null.", nameof(features));
            if (!feature.requires_grad)
            {
                throw new ArgumentException(
                    $"Shared feature tensor {f} (shape {Jacobian.ShapeText(feature)}) does not require grad, so it is not connected to the shared parameters.", nameof(features));
            }
            if (!layout.IsOnDevice(feature))
            {
                throw new ArgumentException($"Shared feature tensor {f} is on {feature.device}, but the shared parameters are on {layout.Device}.", nameof(features));
            }
        }
    }

    private Tensor Buffer(int taskCount)
    {
        if (_buffer is null || _buffer.IsInvalid || _buffer.shape[0] != taskCount)
        {
            _buffer?.Dispose();
            _buffer = empty(taskCount, layout.SharedSize, dtype: layout.Dtype, device: layout.Device).DetachFromDisposeScope();
        }
        return _buffer;
    }

    private static ArgumentException FeaturesNotConnected() => new(
        "None of the shared parameters receives a gradient through the shared features; pass the trunk's output as the features.", "features");
}
