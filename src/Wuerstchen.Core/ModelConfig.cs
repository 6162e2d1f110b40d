using System.Globalization;
using System.Text.Json;

namespace Wuerstchen.Core;

/// <summary>
/// The constants of the model-folder contract. Defaults are Würstchen v2; a model_index.json in the
/// folder may override any of them (same key names) and add "name"/"version".
/// </summary>
public sealed record ModelConfig
{
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
    public string? Version { get; init; }

    public static ModelConfig Default { get; } = new();

    /// <summary>Reads model_index.json (if present) over the defaults.</summary>
    public static ModelConfig Load(string folder)
    {
        var path = Path.Combine(folder, "model_index.json");
        if (!File.Exists(path))
        {
            return Default with { Name = Path.GetFileName(Path.TrimEndingDirectorySeparator(folder)) };
        }

        try
        {
            using var stream = File.OpenRead(path);
            if (stream.Length > 1 << 20)
            {
                throw new InvalidDataException("model_index.json is larger than 1 MiB.");
            }

            using var doc = JsonDocument.Parse(stream);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException("the top level is not a JSON object.");
            }

            var c = Default;
            double D(string key, double fallback) => root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : fallback;
            int I(string key, int fallback) => root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : fallback;
            string? S(string key) => root.TryGetProperty(key, out var v) ? v.ValueKind switch
            {
                JsonValueKind.String => v.GetString(),
                JsonValueKind.Number => v.GetRawText(),
                _ => null,
            } : null;

            c = c with
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
                Name = S("name") ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(folder)),
                Version = S("version"),
            };
            c.Validate(path);
            return c;
        }
        catch (Exception ex) when (ex is JsonException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            throw new WuerstchenException("InvalidModelIndex", WuerstchenErrorKind.InvalidData,
                $"The model index '{path}' could not be read: {ex.Message}", path, ex);
        }
    }

    private void Validate(string path)
    {
        static bool Positive(double v) => double.IsFinite(v) && v > 0;
        if (!Positive(ResolutionMultiple) || !Positive(LatentDimScale) || !float.IsFinite(LatentMean) || !float.IsFinite(LatentStd)
            || !Positive(VqganScaleFactor) || !(SchedulerS >= 0 && SchedulerS < 1) || !Positive(SchedulerScaler)
            || MaxLength < 3 || MaxLength > 4096)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"a constant is out of range (resolution_multiple {ResolutionMultiple}, latent_dim_scale {LatentDimScale}, vqgan_scale_factor {VqganScaleFactor}, scheduler_s {SchedulerS}, scheduler_scaler {SchedulerScaler}, max_length {MaxLength})."));
        }
    }
}
