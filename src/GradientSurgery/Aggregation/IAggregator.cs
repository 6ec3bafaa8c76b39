using TorchSharp;

namespace GradientSurgery.Aggregation;

/// <summary>
/// Turns the per-task Jacobian of the shared parameters into one update direction.
/// </summary>
/// <remarks>
/// The Jacobian is a T×P matrix whose row i is the gradient of task i's loss with respect to the P shared
/// parameters (flattened). An aggregator returns a P-vector of the same dtype and device, which is written
/// to the shared parameters' <c>.grad</c> before <c>optimizer.step()</c>. The multi-task backward reuses the
/// Jacobian's storage from step to step, so an aggregator must not keep a reference to it after returning.
/// </remarks>
public interface IAggregator
{
    /// <summary>Aggregates the T×P <paramref name="jacobian"/> into a P-vector update.</summary>
    torch.Tensor Aggregate(torch.Tensor jacobian);
}
