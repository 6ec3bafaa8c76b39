namespace GradientSurgery.Experiments.Synthetic;

/// <summary>What one evaluation point of a synthetic run saw.</summary>
/// <param name="Step">Optimiser steps done.</param>
/// <param name="TrainLoss">Mean training loss per task over the steps since the previous record.</param>
/// <param name="TestLoss">Test MSE per task at this step.</param>
/// <param name="ConflictFraction">Mean fraction of task pairs whose shared gradients conflict (cos &lt; 0) over those steps.</param>
/// <param name="MeanCosine">Mean pairwise cosine over those steps.</param>
/// <param name="MagnitudeSimilarity">Mean pairwise gradient magnitude similarity Φ over those steps.</param>
/// <param name="Curvature">Mean pairwise curvature bounding measure ξ over those steps.</param>
public sealed record SyntheticRecord(
    int Step, double[] TrainLoss, double[] TestLoss, double ConflictFraction, double MeanCosine, double MagnitudeSimilarity, double Curvature);
