using System.Text.Json;
using System.Text.Json.Serialization;

namespace GradientSurgery.Tests.TestVectors;

/// <summary>One case of TestVectors/pcgrad/cases.json (schema in TestVectors/pcgrad/README.md).</summary>
public sealed class PCGradCase
{
    [JsonPropertyName("name")] public string Name { get; init; } = "";
    [JsonPropertyName("T")] public int T { get; init; }
    [JsonPropertyName("P")] public int P { get; init; }
    [JsonPropertyName("grads")] public double[][] Grads { get; init; } = [];
    [JsonPropertyName("orders")] public int[][] Orders { get; init; } = [];
    [JsonPropertyName("reduction")] public string Reduction { get; init; } = "";
    [JsonPropertyName("projected")] public double[][] Projected { get; init; } = [];
    [JsonPropertyName("expected")] public double[] Expected { get; init; } = [];
    [JsonPropertyName("diagnostics")] public CaseDiagnostics Diagnostics { get; init; } = new();

    public double Scale => Grads.SelectMany(g => g).Select(Math.Abs).DefaultIfEmpty(0).Max();

    public override string ToString() => Name;

    public static IReadOnlyList<PCGradCase> All { get; } = Load();

    public static IEnumerable<object[]> Names => All.Select(c => new object[] { c.Name });

    public static PCGradCase Named(string name) => All.Single(c => c.Name == name);

    private static IReadOnlyList<PCGradCase> Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "TestVectors", "pcgrad", "cases.json");
        using var stream = File.OpenRead(path);
        var file = JsonSerializer.Deserialize<CaseFile>(stream) ?? throw new InvalidDataException($"{path} is empty.");
        return file.Cases;
    }

    private sealed class CaseFile
    {
        [JsonPropertyName("cases")] public List<PCGradCase> Cases { get; init; } = [];
    }
}

public sealed class CaseDiagnostics
{
    [JsonPropertyName("cosine")] public double?[][] Cosine { get; init; } = [];
    [JsonPropertyName("magnitude_similarity")] public double?[][] MagnitudeSimilarity { get; init; } = [];
    [JsonPropertyName("curvature")] public double?[][] Curvature { get; init; } = [];
}
