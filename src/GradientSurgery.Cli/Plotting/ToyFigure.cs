using GradientSurgery.Experiments.Toy;
using ScottPlot;

namespace GradientSurgery.Cli.Plotting;

/// <summary>
/// The toy figure: the landscape L1 + L2 as a heat map with contour lines, and the trajectories. With up to four
/// methods and one start they share one panel (Figure 1 of the paper); otherwise each method gets its own panel
/// with all of its starts, as in the CAGrad, Nash-MTL and FAMO papers.
/// </summary>
internal static class ToyFigure
{
    private const int GridSize = 240;

    public static void Save(IToyLandscape landscape, IReadOnlyList<ToyRun> runs, string path)
    {
        var methods = runs.Select(r => r.Method).Distinct().ToList();
        var starts = runs.Select(r => r.Start).Distinct().Count();
        if (methods.Count <= 4 && starts == 1)
        {
            var plot = Panel(landscape, runs, methods, colorBar: true);
            plot.Title($"{(landscape.Name == "paper" ? "PCGrad paper, Figure 1" : "CAGrad toy")}: L1 + L2, Adam trajectories (○ start, ◆ end)");
            plot.ShowLegend(Alignment.UpperLeft);
            plot.SavePng(path, 900, 760);
            return;
        }
        const int columns = 4;
        var rows = (methods.Count + columns - 1) / columns;
        var multiplot = new Multiplot();
        multiplot.AddPlots(methods.Count);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(rows, columns);
        for (var k = 0; k < methods.Count; k++)
        {
            var method = methods[k];
            var panel = Panel(landscape, [.. runs.Where(r => r.Method == method)], methods, colorBar: false, into: multiplot.GetPlot(k));
            panel.Title(runs.First(r => r.Method == method).DisplayName);
        }
        multiplot.SavePng(path, 380 * columns, 360 * rows);
    }

    private static Plot Panel(IToyLandscape landscape, IReadOnlyList<ToyRun> runs, List<string> methods, bool colorBar, Plot? into = null)
    {
        var (xMin, xMax, yMin, yMax) = landscape.Bounds;
        var plot = into ?? new Plot();
        var values = new double[GridSize, GridSize];
        var points = new Coordinates3d[GridSize, GridSize];
        for (var row = 0; row < GridSize; row++)
        {
            var y = yMax - (yMax - yMin) * row / (GridSize - 1);
            for (var column = 0; column < GridSize; column++)
            {
                var x = xMin + (xMax - xMin) * column / (GridSize - 1);
                var (l1, l2) = landscape.Losses(x, y);
                values[row, column] = l1 + l2;
                points[row, column] = new Coordinates3d(x, y, l1 + l2);
            }
        }
        var heatmap = plot.Add.Heatmap(values);
        heatmap.Extent = new CoordinateRect(xMin, xMax, yMin, yMax);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        var contours = plot.Add.ContourLines(points, 16);
        contours.LineColor = Colors.White.WithAlpha(0.45);
        contours.LabelStyle.IsVisible = false;
        if (colorBar)
        {
            plot.Add.ColorBar(heatmap).Label = "L1 + L2";
        }

        var palette = new ScottPlot.Palettes.Category10();
        foreach (var run in runs)
        {
            var color = palette.GetColor(methods.IndexOf(run.Method));
            var line = plot.Add.ScatterLine(run.Trajectory.Select(p => p.X).ToArray(), run.Trajectory.Select(p => p.Y).ToArray(), color);
            // Methods that follow the same path (Sum and Mean under Adam) stay visible: earlier ones are drawn wider.
            line.LineWidth = into is null ? Math.Max(1.5f, 6f - 1.2f * methods.IndexOf(run.Method)) : 2f;
            if (run.Start == runs.First(r => r.Method == run.Method).Start)
            {
                line.LegendText = run.DisplayName;
            }
            plot.Add.Marker(run.Start.X, run.Start.Y, MarkerShape.OpenCircle, 12, Colors.White);
            plot.Add.Marker(run.Final.X, run.Final.Y, MarkerShape.FilledDiamond, 11, color);
        }
        plot.XLabel("θ1");
        plot.YLabel("θ2");
        plot.Axes.SetLimits(xMin, xMax, yMin, yMax);
        return plot;
    }
}
