namespace GradientSurgery.Aggregation;

/// <summary>A Gramian weighting that may also use the task losses (e.g. MGDA's loss-based gradient normalisations).</summary>
public interface ILossAwareGramianWeighting : IGramianWeighting
{
    /// <summary>The weights from the Gramian and the current loss of every task.</summary>
    double[] Weights(double[,] gramian, IReadOnlyList<double> losses);
}
