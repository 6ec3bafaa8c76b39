using ScottPlot;

namespace GradientSurgery.Cli.Plotting;

/// <summary>A grid of small line charts sharing one legend: one panel per quantity, one line per series.</summary>
internal static class LineChart
{
    /// <summary>
    /// One line of a panel. Lines of one <paramref name="ColorGroup"/> share a colour (by default each label has its own),
    /// and a <paramref name="Dashed"/> line tells a second kind apart within a group (e.g. PCGrad beside the mean on one
    /// architecture).
    /// </summary>
    public sealed record Series(string Label, double[] X, double[] Y, double[]? Spread = null, string? ColorGroup = null, bool Dashed = false);

    /// <summary>One panel of the grid; <paramref name="XLabel"/> overrides the grid's when panels of different x axes share a figure.</summary>
    public sealed record Panel(string Title, string YLabel, IReadOnlyList<Series> Lines, bool LogScale = false, string? XLabel = null);

    public static void Save(string path, IReadOnlyList<Panel> panels, string xLabel, int columns = 2, Alignment legend = Alignment.UpperRight)
    {
        var rows = (panels.Count + columns - 1) / columns;
        var multiplot = new Multiplot();
        multiplot.AddPlots(panels.Count);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(rows, columns);
        var palette = new ScottPlot.Palettes.Category10();
        var colorGroups = panels.SelectMany(p => p.Lines.Select(l => l.ColorGroup ?? l.Label)).Distinct().ToList();
        for (var k = 0; k < panels.Count; k++)
        {
            var plot = multiplot.GetPlot(k);
            var panel = panels[k];
            foreach (var series in panel.Lines)
            {
                var color = palette.GetColor(colorGroups.IndexOf(series.ColorGroup ?? series.Label));
                var y = panel.LogScale ? series.Y.Select(v => Math.Log10(Math.Max(v, 1e-12))).ToArray() : series.Y;
                if (series.Spread is { } spread && !panel.LogScale)
                {
                    var band = plot.Add.FillY(series.X, y.Zip(spread, (m, s) => m - s).ToArray(), y.Zip(spread, (m, s) => m + s).ToArray());
                    band.FillColor = color.WithAlpha(0.2);
                    band.LineWidth = 0;
                }
                var line = plot.Add.ScatterLine(series.X, y, color);
                line.LineWidth = 2;
                line.LinePattern = series.Dashed ? LinePattern.Dashed : LinePattern.Solid;
                line.LegendText = series.Label;
            }
            plot.Title(panel.Title);
            plot.XLabel(panel.XLabel ?? xLabel);
            plot.YLabel(panel.LogScale ? $"log10 {panel.YLabel}" : panel.YLabel);
            plot.ShowLegend(legend);
        }
        multiplot.SavePng(path, 520 * columns, 380 * rows);
    }
}
