using static TorchSharp.torch;

namespace GradientSurgery.Rl;

/// <summary>
/// SAC's two Q-functions (clipped double Q, Fujimoto et al. 2018, as SAC uses them): two independent networks of
/// (observation, action), each row valued for its task; the target is built from the smaller of the two target
/// critics' values.
/// </summary>
public sealed class TwinCritic : nn.Module<Tensor, Tensor, Tensor, (Tensor Q1, Tensor Q2)>
{
    private readonly MultiTaskMlp _q1;
    private readonly MultiTaskMlp _q2;

    /// <summary>Two critics for <paramref name="taskCount"/> tasks over observations of <paramref name="observationSize"/> and actions of <paramref name="actionSize"/> entries.</summary>
    public TwinCritic(NetworkSharing sharing, int taskCount, int observationSize, int actionSize, IReadOnlyList<int> hidden) : base(nameof(TwinCritic))
    {
        _q1 = new MultiTaskMlp(sharing, taskCount, observationSize + actionSize, hidden, 1);
        _q2 = new MultiTaskMlp(sharing, taskCount, observationSize + actionSize, hidden, 1);
        RegisterComponents();
    }

    /// <summary>Both critics' values [batch] of each (observation, action) row for its task.</summary>
    public override (Tensor Q1, Tensor Q2) forward(Tensor observations, Tensor actions, Tensor taskIds)
    {
        var input = cat([observations, actions], 1);
        return (_q1.call(input, taskIds).squeeze(-1), _q2.call(input, taskIds).squeeze(-1));
    }
}
