using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace GradientSurgery.Experiments.Synthetic;

/// <summary>A shared MLP trunk (input → hidden → ReLU → features → ReLU) followed by one linear head per task.</summary>
public sealed class SyntheticModel : Module<Tensor, Tensor[]>
{
    private readonly Sequential _trunk;
    private readonly ModuleList<Linear> _heads;

    /// <summary>Creates the model; its initial weights come from the global torch seed.</summary>
    public SyntheticModel(SyntheticConfig config) : base(nameof(SyntheticModel))
    {
        ArgumentNullException.ThrowIfNull(config);
        _trunk = Sequential(Linear(config.InputSize, config.HiddenSize), ReLU(), Linear(config.HiddenSize, config.FeatureSize), ReLU());
        _heads = new ModuleList<Linear>([.. Enumerable.Range(0, config.Tasks).Select(_ => Linear(config.FeatureSize, config.OutputSize))]);
        RegisterComponents();
    }

    /// <summary>The trunk's parameters: the shared parameters of the surgery.</summary>
    public IEnumerable<Parameter> SharedParameters => _trunk.parameters();

    /// <summary>The weight of the trunk's last linear layer (hidden → features): the shared layer GradNorm balances.</summary>
    public Parameter LastSharedLayerWeight => _trunk.children().OfType<TorchSharp.Modules.Linear>().Last().weight!;

    /// <summary>The shared features of a batch.</summary>
    public Tensor Features(Tensor inputs) => _trunk.forward(inputs);

    /// <summary>Each head's prediction from the shared features.</summary>
    public Tensor[] Heads(Tensor features) => [.. _heads.Select(h => h.forward(features))];

    /// <inheritdoc />
    public override Tensor[] forward(Tensor inputs) => Heads(Features(inputs));
}
