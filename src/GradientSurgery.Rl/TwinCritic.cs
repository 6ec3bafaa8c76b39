using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Rl;

/// <summary>
/// SAC's two Q-functions (clipped double Q, Fujimoto et al. 2018, as SAC uses them): two independent MLPs of
/// (observation, action); the target is built from the smaller of the two target critics' values.
/// </summary>
public sealed class TwinCritic : nn.Module<Tensor, Tensor, (Tensor Q1, Tensor Q2)>
{
    private readonly Sequential _q1;
    private readonly Sequential _q2;

    /// <summary>Two critics over observations of <paramref name="observationSize"/> and actions of <paramref name="actionSize"/> entries.</summary>
    public TwinCritic(int observationSize, int actionSize, IReadOnlyList<int> hidden) : base(nameof(TwinCritic))
    {
        _q1 = Mlp.Create(observationSize + actionSize, hidden, 1);
        _q2 = Mlp.Create(observationSize + actionSize, hidden, 1);
        RegisterComponents();
    }

    /// <summary>Both critics' values [batch] of each (observation, action) row.</summary>
    public override (Tensor Q1, Tensor Q2) forward(Tensor observations, Tensor actions)
    {
        var input = cat([observations, actions], 1);
        return (_q1.call(input).squeeze(-1), _q2.call(input).squeeze(-1));
    }
}
