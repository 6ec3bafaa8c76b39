using GradientSurgery.Training;

namespace GradientSurgery.Distributed;

/// <summary>The data-parallel counterpart of <see cref="MethodCatalog.CreateStep"/>.</summary>
public static class DistributedSteps
{
    /// <summary>
    /// Builds the data-parallel training step of a catalog method on every rank; collective. Aggregators get a
    /// <see cref="DistributedAggregationStep"/>; loss weightings are not distributed yet.
    /// </summary>
    /// <exception cref="ArgumentException">A bad specification.</exception>
    /// <exception cref="NotSupportedException">A method that cannot be distributed (yet); thrown alike on every rank.</exception>
    public static IMultiTaskStep Create(string specification, long seed, MethodSetup setup, MpiCommunicator communicator)
    {
        ArgumentNullException.ThrowIfNull(setup);
        ArgumentNullException.ThrowIfNull(communicator);
        var entry = MethodCatalog.Resolve(specification);
        if (entry.Kind != MethodKind.Aggregator)
        {
            throw new NotSupportedException(
                $"'{entry.Name}' is a loss weighting; loss weightings are not distributed yet (docs/distributed.md). Train it in one process, or distribute an aggregator.");
        }
        var aggregator = MethodCatalog.CreateAggregator(specification, seed);
        var model = setup.Parameters.ToArray();
        return new DistributedAggregationStep(setup.CreateOptimizer(model), aggregator, setup.SharedParameters, communicator);
    }
}
