using System.Globalization;
using System.Reflection;
using System.Text.Json;

namespace Wuerstchen.Core;

/// <summary>One constant of the contract: its JSON type ("number" or "integer"), default and bounds.</summary>
internal sealed record ContractConstant(string Key, string Type, double? Min, double? Max, double? MinExclusive, double? MaxExclusive)
{
    /// <summary>The allowed range in words, e.g. "an integer from 3 to 4096".</summary>
    public string Describe()
    {
        var parts = new List<string>();
        string F(double v) => v.ToString(CultureInfo.InvariantCulture);
        if (Min is { } min) parts.Add($">= {F(min)}");
        if (MinExclusive is { } gt) parts.Add($"> {F(gt)}");
        if (Max is { } max) parts.Add($"<= {F(max)}");
        if (MaxExclusive is { } lt) parts.Add($"< {F(lt)}");
        var kind = Type == "integer" ? "an integer" : "a finite number";
        return parts.Count == 0 ? kind : $"{kind} {string.Join(" and ", parts)}";
    }

    public bool InRange(double v) =>
        (Min is not { } min || v >= min) && (Max is not { } max || v <= max)
        && (MinExclusive is not { } gt || v > gt) && (MaxExclusive is not { } lt || v < lt);
}

/// <summary>
/// The model-folder contract read from docs/spec/model-contract.json (embedded as a resource), the same file the
/// exporter reads, so key names, types and ranges are written once. Read once per process; immutable.
/// </summary>
internal sealed class ModelContract
{
    private static readonly Lazy<ModelContract> Loaded = new(Read);

    private ModelContract(IReadOnlyDictionary<string, ContractConstant> constants, IReadOnlyDictionary<string, string> metadata,
        IReadOnlyDictionary<string, ModelFamily> families, ModelFamily defaultFamily)
    {
        Constants = constants;
        MetadataTypes = metadata;
        Families = families;
        DefaultFamily = defaultFamily;
    }

    public static ModelContract Current => Loaded.Value;

    /// <summary>The constants a model_index.json may override, by key (every family has the same keys; defaults differ).</summary>
    public IReadOnlyDictionary<string, ContractConstant> Constants { get; }

    /// <summary>The families by the name model_index.json's "family" gives.</summary>
    public IReadOnlyDictionary<string, ModelFamily> Families { get; }

    /// <summary>The family of a folder whose model_index.json names none (folders exported before families existed).</summary>
    public ModelFamily DefaultFamily { get; }

    /// <summary>The other keys a model_index.json may hold, with their JSON type.</summary>
    public IReadOnlyDictionary<string, string> MetadataTypes { get; }

    private static ModelContract Read()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Wuerstchen.Core.model-contract.json")
            ?? throw new InvalidOperationException("The embedded model contract is missing from Wuerstchen.Core (a build error).");
        using var doc = JsonDocument.Parse(stream);
        var root = doc.RootElement;
        var defaultName = root.GetProperty("default_family").GetString()!;
        var family = root.GetProperty("families").GetProperty(defaultName);
        var families = root.GetProperty("families").EnumerateObject()
            .ToDictionary(f => f.Name, f => ModelFamily.Parse(f.Name, f.Value), StringComparer.Ordinal);
        var constants = new Dictionary<string, ContractConstant>(StringComparer.Ordinal);
        foreach (var c in family.GetProperty("constants").EnumerateObject())
        {
            double? N(string name) => c.Value.TryGetProperty(name, out var v) ? v.GetDouble() : null;
            constants[c.Name] = new ContractConstant(c.Name, c.Value.GetProperty("type").GetString()!, N("min"), N("max"), N("min_exclusive"), N("max_exclusive"));
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var m in root.GetProperty("model_index").GetProperty("metadata").EnumerateObject())
        {
            metadata[m.Name] = m.Value.GetProperty("type").GetString()!;
        }

        return new ModelContract(constants, metadata, families, families[defaultName]);
    }
}
