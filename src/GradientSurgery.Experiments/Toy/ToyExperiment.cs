namespace GradientSurgery.Experiments.Toy;

/// <summary>Runs every requested method from every start point of a toy landscape.</summary>
public static class ToyExperiment
{
    /// <summary>Runs each method (a specification of either kind, such as <c>pcgrad</c> or <c>famo</c>) from each start.</summary>
    /// <param name="landscape">The objective.</param>
    /// <param name="methods">Method specifications; each is created afresh (with <paramref name="seed"/>) for every start.</param>
    /// <param name="starts">Start points.</param>
    /// <param name="steps">Adam steps per run.</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    /// <param name="seed">Seed of the methods that draw random numbers.</param>
    /// <param name="progress">Called with (run index, steps done in that run).</param>
    /// <param name="epochSteps">Steps that form one epoch for loss weightings that work per epoch (DWA).</param>
    public static IReadOnlyList<ToyRun> Run(
        IToyLandscape landscape, IReadOnlyList<string> methods, IReadOnlyList<(double X, double Y)> starts,
        int steps, double learningRate, long seed, Action<int, int>? progress = null, int epochSteps = ToyOptimizer.DefaultEpochSteps)
    {
        ArgumentNullException.ThrowIfNull(methods);
        ArgumentNullException.ThrowIfNull(starts);
        var runs = new List<ToyRun>();
        foreach (var method in methods)
        {
            var info = MethodCatalog.Validate(method, seed);
            foreach (var start in starts)
            {
                var index = runs.Count;
                var trajectory = ToyOptimizer.Run(landscape, method, seed, start, steps, learningRate, epochSteps, done => progress?.Invoke(index, done));
                var final = trajectory[^1];
                runs.Add(new ToyRun(method, info.DisplayName, start, steps, trajectory, landscape.Losses(final.X, final.Y)));
            }
        }
        return runs;
    }
}
