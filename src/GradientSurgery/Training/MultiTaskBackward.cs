using System.Diagnostics;
using GradientSurgery.Aggregation;
using GradientSurgery.Diagnostics;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GradientSurgery.Training;

/// <summary>
/// The multi-task counterpart of <c>loss.backward()</c>: from T scalar losses it fills <c>.grad</c> so that
/// <c>optimizer.step()</c> performs gradient surgery on the shared parameters.
/// </summary>
/// <remarks>
/// <para>
/// losses → per-task Jacobian J (T×P) of the shared parameters (<see cref="TaskJacobianBuilder"/>) → Gramian,
/// which also checks every gradient (<see cref="GradientChecks"/>) → weights (<see cref="GramianWeighting"/>) →
/// <c>.grad</c> (<see cref="ParameterLayout"/>, <see cref="HeadGradients"/>). Shared parameters receive the
/// aggregator's update of J. Every task-specific parameter (a head) receives exactly
/// its own task's gradient, never a projected or averaged one; a non-shared parameter that more than one
/// task's loss depends on is refused, because it would silently escape the surgery.
/// </para>
/// <para>
/// Gradients are accumulated into <c>.grad</c>, as <c>loss.backward()</c> does; zero them between steps
/// (<see cref="AggregationStep"/> does). Nothing is written unless every check passes. All temporaries live
/// in a dispose scope, so repeated calls do not grow native memory; the T×P Jacobian's storage is kept between
/// calls (aggregators must not hold on to the Jacobian tensor after <c>Aggregate</c> returns) and freed by
/// <see cref="Dispose"/>. An instance is not thread-safe.
/// </para>
/// </remarks>
public sealed class MultiTaskBackward : IDisposable
{
    private readonly ParameterLayout _layout;
    private readonly TaskJacobianBuilder _jacobian;

    /// <summary>Creates the backward for one model.</summary>
    /// <param name="aggregator">Combines the shared-parameter Jacobian into one update (e.g. <see cref="PCGrad"/>).</param>
    /// <param name="sharedParameters">The parameters every task depends on (the trunk). Same dtype and device.</param>
    /// <param name="taskSpecificParameters">
    /// All other trainable parameters (the heads). Each receives its own task's gradient.
    /// </param>
    /// <param name="taskParameters">
    /// Optionally, task i's own parameters in list i (a subset of <paramref name="taskSpecificParameters"/>): each
    /// receives its owner's gradient only, even when other tasks' losses read it (cross-stitch columns). Without it, a
    /// task-specific parameter that two tasks reach is refused.
    /// </param>
    public MultiTaskBackward(
        IAggregator aggregator, IEnumerable<Parameter> sharedParameters, IEnumerable<Parameter> taskSpecificParameters,
        IReadOnlyList<IEnumerable<Parameter>>? taskParameters = null)
    {
        ArgumentNullException.ThrowIfNull(aggregator);
        Aggregator = aggregator;
        _layout = new ParameterLayout(sharedParameters, taskSpecificParameters, taskParameters);
        _jacobian = new TaskJacobianBuilder(_layout);
    }

    /// <summary>The aggregator applied to the shared parameters' Jacobian.</summary>
    public IAggregator Aggregator { get; }

    /// <summary>Number of shared scalar parameters P (the Jacobian's width).</summary>
    public long SharedParameterCount => _layout.SharedSize;

    /// <summary>
    /// Parameters path: T vector-Jacobian products of the losses with respect to the shared (and
    /// task-specific) parameters, each through the whole graph.
    /// </summary>
    public StepReport Backward(IReadOnlyList<Tensor> losses) => Run(losses, features: null);

    /// <summary>
    /// Features path, for a shared trunk followed by task heads (like TorchJD's <c>mtl_backward</c>): each
    /// task's gradient with respect to the trunk's output <paramref name="sharedFeatures"/> is taken through
    /// its head, then T vector-Jacobian products run through the trunk only; the trunk's graph is freed after
    /// the last one. Gives the same result as the parameters path.
    /// </summary>
    public StepReport Backward(IReadOnlyList<Tensor> losses, Tensor sharedFeatures)
    {
        ArgumentNullException.ThrowIfNull(sharedFeatures);
        return Run(losses, [sharedFeatures]);
    }

    /// <summary>Features path with several shared feature tensors (e.g. a trunk with multiple outputs).</summary>
    public StepReport Backward(IReadOnlyList<Tensor> losses, IReadOnlyList<Tensor> sharedFeatures)
    {
        ArgumentNullException.ThrowIfNull(sharedFeatures);
        if (sharedFeatures.Count == 0)
        {
            throw new ArgumentException("At least one shared feature tensor is needed for the features path.", nameof(sharedFeatures));
        }
        return Run(losses, sharedFeatures);
    }

    /// <summary>Frees the reusable Jacobian storage.</summary>
    public void Dispose() => _jacobian.Dispose();

    private StepReport Run(IReadOnlyList<Tensor> losses, IReadOnlyList<Tensor>? features)
    {
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        var lossValues = GradientChecks.LossValues(losses, _layout);
        losses = Transformed(losses, lossValues);
        var heads = new HeadGradients(_layout);
        var weighting = Aggregator as GramianWeighting;
        TimeSpan gradientTime;
        double[,] gramian;
        double[]? weights = null;
        Tensor update;
        var conflictScope = GradientScope.SharedParameters;
        if (features is not null && weighting is { UsesRepresentationGramian: true })
        {
            // MGDA-UB: weights from the representation's Gramian, then one pass through the trunk.
            var featureGradients = _jacobian.FeatureGradients(losses, features, heads);
            gradientTime = clock.Elapsed;
            gramian = GradientChecks.FiniteGramian(TaskJacobianBuilder.Flatten(featureGradients), "the shared features");
            heads.EnsureFinite();
            conflictScope = GradientScope.SharedFeatures;
            weights = weighting.Weights(new GramianContext(CheckedGramian.From(gramian), lossValues, conflictScope));
            var beforeTrunk = clock.Elapsed;
            update = _jacobian.ThroughTrunk(features, featureGradients, weights);
            // The single pass through the trunk is gradient work, not surgery.
            gradientTime += clock.Elapsed - beforeTrunk;
        }
        else
        {
            var jacobian = TaskJacobian(losses, features, heads);
            gradientTime = clock.Elapsed;
            gramian = GradientChecks.FiniteGramian(jacobian, "the shared parameters");
            heads.EnsureFinite();
            (update, weights) = JacobianAggregation.Apply(Aggregator, jacobian, gramian, lossValues);
        }
        var conflicts = ConflictReport.FromGramian(gramian);
        _layout.AccumulateShared(update);
        heads.Accumulate();
        return new StepReport(lossValues, weights, conflicts, conflictScope, new StepTimings(gradientTime, clock.Elapsed - gradientTime));
    }

    /// <summary>The shared parameters' layout, for the distributed backward, which writes <c>.grad</c> itself.</summary>
    internal ParameterLayout Layout => _layout;

    /// <summary>
    /// The T×P task Jacobian of these losses (the reusable buffer, valid until the next call), with the heads'
    /// gradients collected into <paramref name="heads"/>; nothing is checked for finiteness and nothing is written.
    /// The distributed backward builds each rank's shard Jacobian with it.
    /// </summary>
    internal Tensor TaskJacobian(IReadOnlyList<Tensor> losses, IReadOnlyList<Tensor>? features, HeadGradients heads) =>
        features is null ? _jacobian.ByParameters(losses, heads) : _jacobian.ByFeatures(losses, features, heads);

    /// <summary>The losses the aggregator is defined on: its transform of them (DB-MTL's log L_i), or the losses themselves.</summary>
    private IReadOnlyList<Tensor> Transformed(IReadOnlyList<Tensor> losses, double[] lossValues)
    {
        if (Aggregator is not ILossTransform transform)
        {
            return losses;
        }
        Tensor[] transformed = [.. losses.Select(transform.Transform)];
        try
        {
            GradientChecks.LossValues(transformed, _layout);
        }
        catch (ArithmeticException notFinite)
        {
            throw new ArithmeticException($"{notFinite.Message} (after {Aggregator.GetType().Name}'s loss transform; raw losses {string.Join(", ", lossValues)})", notFinite);
        }
        return transformed;
    }

}
