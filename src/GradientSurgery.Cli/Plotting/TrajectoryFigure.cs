using GradientSurgery.Environments;
using GradientSurgery.Experiments;
using ScottPlot;

namespace GradientSurgery.Cli.Plotting;

/// <summary>A task's recorded episodes seen from above (x, y) and from the side (x, z): the hand's path, the object's, and the goal.</summary>
internal static class TrajectoryFigure
{
    public static void Save(string path, ScriptedEvaluation.TaskResult task)
    {
        var views = new (string Title, Func<ScriptedEvaluation.Point, double> Horizontal, Func<ScriptedEvaluation.Point, double> Vertical, string XLabel, string YLabel)[]
        {
            ($"{task.Task}: top view", p => p.X, p => p.Y, "x", "y"),
            ($"{task.Task}: side view", p => p.X, p => p.Z, "x", "z"),
        };
        // A planar task (z always 0) has nothing to show from the side.
        var planar = task.Trajectories.All(t => t.Goal.Z == 0 && t.Hand.All(p => p.Z == 0) && (t.Object?.All(p => p.Z == 0) ?? true));
        views = planar ? views[..1] : views;
        var multiplot = new Multiplot();
        multiplot.AddPlots(views.Length);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(1, views.Length);
        var palette = new ScottPlot.Palettes.Category10();
        for (var v = 0; v < views.Length; v++)
        {
            var view = views[v];
            var plot = multiplot.GetPlot(v);
            for (var e = 0; e < task.Trajectories.Count; e++)
            {
                var trajectory = task.Trajectories[e];
                var color = palette.GetColor(e);
                var hand = plot.Add.ScatterLine(trajectory.Hand.Select(view.Horizontal).ToArray(), trajectory.Hand.Select(view.Vertical).ToArray(), color);
                hand.LineWidth = 2;
                hand.LegendText = $"episode {e + 1} hand{(trajectory.Success ? " (success)" : "")}";
                if (trajectory.Object is { } thing)
                {
                    var objectPath = plot.Add.ScatterLine(thing.Select(view.Horizontal).ToArray(), thing.Select(view.Vertical).ToArray(), color);
                    objectPath.LinePattern = LinePattern.Dashed;
                    objectPath.LegendText = $"episode {e + 1} object";
                }
                var goal = plot.Add.Marker(view.Horizontal(trajectory.Goal), view.Vertical(trajectory.Goal), MarkerShape.OpenCircle, 12, color);
                goal.LegendText = e == 0 ? "goal" : "";
                var start = plot.Add.Marker(view.Horizontal(trajectory.Hand[0]), view.Vertical(trajectory.Hand[0]), MarkerShape.FilledSquare, 7, color);
                start.LegendText = e == 0 ? "start" : "";
            }
            plot.Title(view.Title);
            plot.XLabel(view.XLabel);
            plot.YLabel(view.YLabel);
            plot.Axes.SquareUnits();
            plot.ShowLegend(Edge.Right);
        }
        AtomicFile.Write(path, temporary => multiplot.SavePng(temporary, 680 * views.Length, 480));
    }
}
