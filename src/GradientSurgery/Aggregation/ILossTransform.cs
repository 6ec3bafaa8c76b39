using static TorchSharp.torch;

namespace GradientSurgery.Aggregation;

/// <summary>
/// An aggregator defined on transformed losses (DB-MTL balances log L_i). The multi-task backward
/// differentiates the transformed losses, so both the Jacobian the aggregator sees and the heads' own
/// gradients are those of the transformed losses; step reports still show the raw loss values.
/// </summary>
public interface ILossTransform
{
    /// <summary>The transformed scalar loss, differentiable with respect to the original.</summary>
    Tensor Transform(Tensor loss);
}
