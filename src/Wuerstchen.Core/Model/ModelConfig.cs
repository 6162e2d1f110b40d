using System.Text.Json;

namespace Wuerstchen.Core;

/// <summary>
/// The constants of the model-folder contract and the folder's family. Defaults are the family's (Würstchen v2 when
/// model_index.json names none); a model_index.json in the folder may override any of them (same key names) and
/// add "name"/"version".
/// </summary>
public sealed record ModelConfig
{
    /// <summary>The model family the folder holds (model_index.json "family"; Würstchen v2 when absent).</summary>
    public ModelFamily Family { get; init; } = ModelContract.Current.DefaultFamily;

    public double ResolutionMultiple { get; init; } = 42.67;
    public double LatentDimScale { get; init; } = 10.67;
    public float LatentMean { get; init; } = 42.0f;
    public float LatentStd { get; init; } = 1.0f;
    public float VqganScaleFactor { get; init; } = 0.3764f;
    public double SchedulerS { get; init; } = 0.008;
    public double SchedulerScaler { get; init; } = 1.0;
    public int MaxLength { get; init; } = 77;
    public int BosTokenId { get; init; } = 49406;
    public int EosTokenId { get; init; } = 49407;
    public int PadTokenId { get; init; } = 49407;
    public string? Name { get; init; }

    /// <summary>The constants model_index.json set itself, sorted and comma-separated (a string, so records compare by value).</summary>
    public string GivenKeys { get; init; } = "";

    /// <summary>Whether model_index.json set this constant itself (the others are the family's defaults).</summary>
    public bool Gives(string key) => GivenKeys.Split(',').Contains(key);
    public string? Version { get; init; }

    /// <summary>
    /// model_index.json's "feature_extractor" (how image prompts are prepared for the image encoder: transformers'
    /// CLIPImageProcessor settings), as its JSON text, checked when the folder is read; null when the folder has none.
    /// Text rather than the parsed settings so that configs still compare by value.
    /// </summary>
    public string? FeatureExtractorJson { get; init; }

    /// <summary>The image-prompt preprocessing of this folder, or null when model_index.json gives none.</summary>
    public Preprocessing.ClipImageSettings? ImageSettings()
    {
        if (FeatureExtractorJson is null)
        {
            return null;
        }

        using var doc = JsonDocument.Parse(FeatureExtractorJson);
        return Preprocessing.ClipImageSettings.FromJson(doc.RootElement);
    }

    /// <summary>The default family's constants, from the contract (the literals above are the same values).</summary>
    public static ModelConfig Default { get; } = For(ModelContract.Current.DefaultFamily);

    /// <summary>The contract's defaults for a family (its constants, e.g. Stable Cascade's pad id 0 and no prior transform).</summary>
    public static ModelConfig For(ModelFamily family)
    {
        var d = family.ConstantDefaults;
        return new ModelConfig
        {
            Family = family,
            ResolutionMultiple = d["resolution_multiple"],
            LatentDimScale = d["latent_dim_scale"],
            LatentMean = (float)d["latent_mean"],
            LatentStd = (float)d["latent_std"],
            VqganScaleFactor = (float)d["vqgan_scale_factor"],
            SchedulerS = d["scheduler_s"],
            SchedulerScaler = d["scheduler_scaler"],
            MaxLength = (int)d["max_length"],
            BosTokenId = (int)d["bos_token_id"],
            EosTokenId = (int)d["eos_token_id"],
            PadTokenId = (int)d["pad_token_id"],
        };
    }

    /// <summary>
    /// Reads model_index.json (if present) over the defaults. Every key is checked against the contract
    /// (docs/spec/model-contract.json): a constant of the wrong type or out of range, or a metadata key of the wrong
    /// type, is an InvalidModelIndex error naming the key and the value; an unknown key (often a typo) is a warning.
    /// </summary>
    /// <summary>Largest model_index.json read (the exporter writes about 1 KB).</summary>
    public const long MaxIndexBytes = 1L << 20;

    public static ModelConfig Load(string folder, Action<string>? warn = null)
    {
        var path = Path.Combine(folder, "model_index.json");
        var folderName = Path.GetFileName(Path.TrimEndingDirectorySeparator(folder));
        if (!File.Exists(path))
        {
            return Default with { Name = folderName }; // no model_index.json: a v2 folder (written before model indexes existed)
        }

        JsonDocument doc;
        try
        {
            var text = IO.BoundedFile.ReadAllText(path, MaxIndexBytes, "a model_index.json");
            doc = JsonDocument.Parse(text);
            IO.JsonText.CheckUniqueKeys(text); // a repeated "family" or constant: which one is meant?
        }
        catch (Exception ex) when (ex is JsonException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            throw new WuerstchenException("InvalidModelIndex", WuerstchenErrorKind.InvalidData,
                $"The model index '{path}' could not be read: {ex.Message}", path, ex);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Invalid(path, $"the top level is {root.ValueKind.ToString().ToLowerInvariant()}, not a JSON object.", path);
            }

            var values = CheckKeys(root, path, warn);
            double D(string key, double fallback) => values.TryGetValue(key, out var v) ? v : fallback;
            int I(string key, int fallback) => values.TryGetValue(key, out var v) ? (int)v : fallback;
            string? S(string key) => root.TryGetProperty(key, out var v) ? v.GetString() : null;
            var c = For(FamilyOf(S("family"), path));
            return CheckSizes(path, c with
            {
                ResolutionMultiple = D("resolution_multiple", c.ResolutionMultiple),
                LatentDimScale = D("latent_dim_scale", c.LatentDimScale),
                LatentMean = (float)D("latent_mean", c.LatentMean),
                LatentStd = (float)D("latent_std", c.LatentStd),
                VqganScaleFactor = (float)D("vqgan_scale_factor", c.VqganScaleFactor),
                SchedulerS = D("scheduler_s", c.SchedulerS),
                SchedulerScaler = D("scheduler_scaler", c.SchedulerScaler),
                MaxLength = I("max_length", c.MaxLength),
                BosTokenId = I("bos_token_id", c.BosTokenId),
                EosTokenId = I("eos_token_id", c.EosTokenId),
                PadTokenId = I("pad_token_id", c.PadTokenId),
                Name = S("name") ?? folderName,
                GivenKeys = string.Join(",", values.Keys.Order(StringComparer.Ordinal)),
                Version = S("version"),
                FeatureExtractorJson = FeatureExtractor(root, path),
            });
        }
    }

    /// <summary>
    /// Each constant is in its range, yet together they could still rule out every size (and the size error would then
    /// suggest sizes that fail the same way): at least one image size of 128 to 4096 pixels must work.
    /// </summary>
    private static ModelConfig CheckSizes(string path, ModelConfig c)
    {
        for (int side = ImageSize.Min; side <= ImageSize.Max; side += c.Family.Sizes.Step)
        {
            if (ImageSize.IsValid(side, c))
            {
                return c;
            }
        }

        throw Invalid(path, $"with resolution_multiple {c.ResolutionMultiple.ToString(System.Globalization.CultureInfo.InvariantCulture)} and latent_dim_scale {c.LatentDimScale.ToString(System.Globalization.CultureInfo.InvariantCulture)} no image size from {ImageSize.Min} to {ImageSize.Max} pixels gives a decoder latent the {c.Family.DisplayName} decoder takes.", path);
    }

    /// <summary>The feature_extractor object's text, checked now so that Test-WuerstchenModel reports a bad one.</summary>
    private static string? FeatureExtractor(JsonElement root, string path)
    {
        if (!root.TryGetProperty("feature_extractor", out var fe))
        {
            return null;
        }

        Preprocessing.ClipImageSettings.FromJson(fe, path); // an InvalidModelIndex error naming the key and value
        return fe.GetRawText();
    }

    private static ModelFamily FamilyOf(string? name, string path)
    {
        var families = ModelContract.Current.Families;
        if (name is null)
        {
            return ModelContract.Current.DefaultFamily;
        }

        return families.TryGetValue(name, out var family) ? family
            : throw Invalid(path, $"the key 'family' holds \"{IO.TextExcerpt.Of(name)}\", which this module does not know; it knows {string.Join(", ", families.Keys.Select(k => $"\"{k}\""))}. A newer module may support it.", name);
    }

    /// <summary>Checks each key against the contract; returns the constants' values by key.</summary>
    private static Dictionary<string, double> CheckKeys(JsonElement root, string path, Action<string>? warn)
    {
        var contract = ModelContract.Current;
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var p in root.EnumerateObject())
        {
            if (contract.Constants.TryGetValue(p.Name, out var constant))
            {
                bool number = p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetDouble(out var v) && double.IsFinite(v);
                bool integer = number && p.Value.TryGetInt32(out _);
                v = number ? p.Value.GetDouble() : double.NaN;
                if (!(constant.Type == "integer" ? integer : number) || !constant.InRange(v))
                {
                    throw Invalid(path, $"the key '{p.Name}' holds {Shown(p.Value)}; it must be {constant.Describe()}.", p.Value.GetRawText());
                }

                values[p.Name] = v;
            }
            else if (contract.MetadataTypes.TryGetValue(p.Name, out var type))
            {
                if (!HasType(p.Value, type))
                {
                    throw Invalid(path, $"the key '{p.Name}' holds {Shown(p.Value)}; it must be a JSON {type}.", p.Value.GetRawText());
                }
            }
            else
            {
                warn?.Invoke($"The model index '{path}' has the unknown key '{IO.TextExcerpt.Of(p.Name)}', which is ignored (a typo?). Known keys: {string.Join(", ", contract.Constants.Keys.Concat(contract.MetadataTypes.Keys))}.");
            }
        }

        return values;
    }

    private static bool HasType(JsonElement value, string type) => type switch
    {
        "string" => value.ValueKind == JsonValueKind.String,
        "object" => value.ValueKind == JsonValueKind.Object,
        "array" => value.ValueKind == JsonValueKind.Array,
        "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _),
        "number" => value.ValueKind == JsonValueKind.Number,
        _ => true,
    };

    /// <summary>The value as one short line for a message (an object value can span many lines).</summary>
    private static string Shown(JsonElement value)
    {
        var text = string.Join(" ", value.GetRawText().Split(new[] { '\r', '\n' }, StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()));
        return IO.TextExcerpt.Of(text);
    }

    private static WuerstchenException Invalid(string path, string what, object target) =>
        new("InvalidModelIndex", WuerstchenErrorKind.InvalidData,
            $"The model index '{path}' is invalid: {what} Fix or remove the key (model-contract.md lists the keys), or re-export the model.", target);
}
