namespace GradientSurgery.Experiments.Toy;

/// <summary>One optimisation run on a toy landscape.</summary>
/// <param name="Method">The method's specification, e.g. <c>pcgrad</c>.</param>
/// <param name="DisplayName">The method's display name.</param>
/// <param name="Start">The start point.</param>
/// <param name="Steps">Adam steps taken.</param>
/// <param name="Trajectory">θ at recorded steps, from the start point (step 0) to the final θ.</param>
/// <param name="FinalLosses">L1 and L2 at the final θ.</param>
public sealed record ToyRun(
    string Method, string DisplayName, (double X, double Y) Start, int Steps,
    IReadOnlyList<(int Step, double X, double Y)> Trajectory, (double L1, double L2) FinalLosses)
{
    /// <summary>The final θ.</summary>
    public (double X, double Y) Final => (Trajectory[^1].X, Trajectory[^1].Y);
}
