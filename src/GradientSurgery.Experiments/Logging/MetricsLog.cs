using System.Globalization;
using CsvHelper;
using TorchSharp.Modules;
using static TorchSharp.torch.utils.tensorboard;

namespace GradientSurgery.Experiments.Logging;

/// <summary>
/// Writes the same scalar metrics to a CSV file (one row per record, fixed columns) and to TensorBoard event
/// files (one run directory per distinct key, one scalar series per column), so that runs can be read in a
/// spreadsheet and compared in TensorBoard.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    private readonly StreamWriter _file;
    private readonly CsvWriter _csv;
    private readonly string? _tensorBoardDirectory;
    private readonly Dictionary<string, SummaryWriter> _tensorBoardRuns = [];
    private readonly string[] _columns;

    /// <summary>Creates the CSV (header written at once) and, if <paramref name="tensorBoardDirectory"/> is given, the event files.</summary>
    /// <param name="csvPath">The CSV file to create (its directory is created if needed).</param>
    /// <param name="keyColumns">Leading text columns that identify a row (e.g. method, seed); not sent to TensorBoard.</param>
    /// <param name="valueColumns">Numeric columns; each becomes a TensorBoard scalar tag.</param>
    /// <param name="tensorBoardDirectory">Where to write TensorBoard runs (a subdirectory per distinct key, e.g. pcgrad-seed1), or null for CSV only.</param>
    /// <param name="stepColumn">Name of the column between the keys and the values (e.g. step or epoch).</param>
    public MetricsLog(string csvPath, IReadOnlyList<string> keyColumns, IReadOnlyList<string> valueColumns, string? tensorBoardDirectory, string stepColumn = "step")
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(csvPath))!);
        KeyColumns = keyColumns;
        _columns = [.. valueColumns];
        _file = new StreamWriter(csvPath, append: false);
        _csv = CsvWriter.Create(_file, new CsvWriterOptions(), leaveOpen: true);
        foreach (var column in keyColumns.Append(stepColumn).Concat(valueColumns))
        {
            _csv.WriteField(column);
        }
        _csv.EndRecord();
        _csv.Flush();
        _tensorBoardDirectory = tensorBoardDirectory;
    }

    /// <summary>The leading key columns.</summary>
    public IReadOnlyList<string> KeyColumns { get; }

    /// <summary>Appends one row; <paramref name="values"/> follow the value columns (NaN for "not measured").</summary>
    /// <param name="keys">Values of the key columns.</param>
    /// <param name="step">The step (or epoch) the row describes.</param>
    /// <param name="values">Values of the value columns.</param>
    /// <param name="toTensorBoard">False to write the CSV row only (e.g. when replaying the history of a resumed run).</param>
    public void Write(IReadOnlyList<string> keys, int step, IReadOnlyList<double> values, bool toTensorBoard = true)
    {
        if (keys.Count != KeyColumns.Count || values.Count != _columns.Length)
        {
            throw new ArgumentException($"Expected {KeyColumns.Count} keys and {_columns.Length} values, got {keys.Count} and {values.Count}.");
        }
        foreach (var key in keys)
        {
            _csv.WriteField(key);
        }
        _csv.WriteField(step.ToString(CultureInfo.InvariantCulture));
        foreach (var value in values)
        {
            _csv.WriteField(double.IsNaN(value) ? "" : value.ToString("R", CultureInfo.InvariantCulture));
        }
        _csv.EndRecord();
        // Row by row on disk: a long run can be followed (and plotted) while it trains, and a killed one keeps its rows.
        _csv.Flush();
        if (toTensorBoard && _tensorBoardDirectory is not null)
        {
            // e.g. "pcgrad-seed1": the first key as is, the others prefixed with their column name.
            var run = keys.Count == 0 ? "." : string.Join("-", keys.Select((key, k) => k == 0 ? key : KeyColumns[k] + key));
            if (!_tensorBoardRuns.TryGetValue(run, out var writer))
            {
                writer = SummaryWriter(Path.Combine(_tensorBoardDirectory, run));
                _tensorBoardRuns[run] = writer;
            }
            for (var c = 0; c < _columns.Length; c++)
            {
                if (!double.IsNaN(values[c]))
                {
                    writer.add_scalar(_columns[c], (float)values[c], step);
                }
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _csv.Dispose();
        _file.Dispose();
        foreach (var writer in _tensorBoardRuns.Values)
        {
            (writer as IDisposable)?.Dispose();
        }
    }
}
