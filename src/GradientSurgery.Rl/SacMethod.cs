using GradientSurgery.Weighting;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Rl;

/// <summary>
/// A multi-task SAC variant by name: <c>mtsac</c>, <c>mhsac</c>, <c>single</c>, or any method of the catalog (with its
/// arguments, e.g. <c>cagrad:c=0.4</c>) applied to MT-SAC's actor and critic task losses, except the methods defined
/// only for non-negative losses (<see cref="MethodEntry.NeedsNonNegativeLosses"/>): the actor's loss takes either sign.
/// </summary>
/// <param name="Name">The canonical specification.</param>
/// <param name="Sharing">How the networks are shared.</param>
/// <param name="CatalogMethod">The catalog method applied to the task losses; null for the plain mean (or sum, for independent networks).</param>
public sealed record SacMethod(string Name, NetworkSharing Sharing, string? CatalogMethod)
{
    /// <summary>The names of the SAC variants that are not catalog methods.</summary>
    public static IReadOnlyList<string> Variants { get; } = ["mtsac", "mhsac", "single"];

    /// <summary>Parses a variant or a catalog method's specification.</summary>
    /// <exception cref="ArgumentException">Neither a variant nor a valid catalog specification; the message lists both.</exception>
    public static SacMethod Parse(string specification, long seed)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(specification);
        var name = specification.Trim().ToLowerInvariant();
        switch (name)
        {
            case "mtsac":
                return new SacMethod(name, NetworkSharing.OneHot, null);
            case "mhsac":
                return new SacMethod(name, NetworkSharing.MultiHead, null);
            case "single":
                return new SacMethod(name, NetworkSharing.Independent, null);
        }
        MethodEntry entry;
        try
        {
            entry = MethodCatalog.Validate(specification, seed);
        }
        catch (ArgumentException unknown)
        {
            throw new ArgumentException($"{unknown.Message} The SAC variants are {string.Join(", ", Variants)}; any method of the catalog runs on MT-SAC.", nameof(specification), unknown);
        }
        if (entry.NeedsNonNegativeLosses)
        {
            // Refused here rather than at the first update after the warm-up, minutes into the run.
            throw new ArgumentException(
                $"{entry.DisplayName} needs non-negative task losses, but SAC's actor loss α log π − min Q takes either sign. " +
                $"On SAC: the variants {string.Join(", ", Variants)}, every aggregator except DB-MTL, and the loss weightings {string.Join(", ", MethodCatalog.All.Where(m => m.Kind == MethodKind.LossWeighting && !m.NeedsNonNegativeLosses).Select(m => m.Name))}.",
                nameof(specification));
        }
        return new SacMethod(MethodCatalog.Canonical(specification), NetworkSharing.OneHot, MethodCatalog.Canonical(specification));
    }

    /// <summary>The update of one network (the actor or the twin critics) under this method, with its own Adam.</summary>
    /// <param name="network">The network; all of its parameters are trained.</param>
    /// <param name="taskCount">T.</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    /// <param name="seed">The method's randomness.</param>
    /// <param name="taskGradients">How an aggregator's task gradients are computed (ignored by the other methods).</param>
    public ITaskLossUpdate CreateUpdate(nn.Module network, int taskCount, double learningRate, long seed, TaskGradients taskGradients = TaskGradients.OnePass)
    {
        ArgumentNullException.ThrowIfNull(network);
        var parameters = network.parameters().ToArray();
        if (CatalogMethod is null)
        {
            // One SAC per task: each network's gradient is exactly its own task's; MT-SAC's is the batch mean.
            return new PlainUpdate(optim.Adam(parameters, learningRate), Sharing == NetworkSharing.Independent ? 1 : 1.0 / taskCount);
        }
        if (MethodCatalog.Resolve(CatalogMethod).Kind == MethodKind.Aggregator)
        {
            return new AggregatorUpdate(optim.Adam(parameters, learningRate), MethodCatalog.CreateAggregator(CatalogMethod, seed), network, parameters, taskGradients);
        }
        // The whole MT-SAC network is shared. (GradNorm, which would need its last shared layer, is refused by Parse.)
        var setup = new MethodSetup(parameters, parameters, taskCount, all => optim.Adam(all, learningRate));
        return new WeightingUpdate((Training.LossWeightingStep)MethodCatalog.CreateStep(CatalogMethod, seed, setup));
    }
}
