using System.Text.Json;
using Wuerstchen.Core.IO;

namespace Wuerstchen.Core.Tests;

/// <summary>The parity jobs (data/parity/jobs.json) as engine settings, and their expected outputs.</summary>
internal static class ParityJobs
{
    public static string Folder => Path.Combine(TestPaths.DataDir, "parity");

    public static IEnumerable<object[]> Names()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "jobs.json")));
        return doc.RootElement.EnumerateObject().Select(p => new object[] { p.Name }).ToArray();
    }

    public static (PriorSettings Prior, DecoderSettings Decoder) Load(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "jobs.json")));
        var j = doc.RootElement.GetProperty(name);
        float[]? List(string key) => j.TryGetProperty(key, out var v) ? v.EnumerateArray().Select(x => (float)x.GetDouble()).ToArray() : null;
        int Int(string key, int d) => j.TryGetProperty(key, out var v) ? v.GetInt32() : d;
        float Float(string key, float d) => j.TryGetProperty(key, out var v) ? (float)v.GetDouble() : d;
        var prior = new PriorSettings
        {
            Prompts = j.GetProperty("prompts").EnumerateArray().Select(p => p.GetString()!).ToArray(),
            NegativePrompt = j.TryGetProperty("negative", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null,
            ImagesPerPrompt = Int("n", 1),
            Seed = j.GetProperty("seed").GetInt64(),
            Width = j.GetProperty("width").GetInt32(),
            Height = j.GetProperty("height").GetInt32(),
            PriorSteps = Int("prior_steps", 60),
            PriorTimesteps = List("prior_timesteps"),
            PriorGuidanceScale = Float("prior_guidance", 4f),
        };
        var decoder = new DecoderSettings
        {
            DecoderSteps = Int("decoder_steps", 12),
            DecoderTimesteps = List("decoder_timesteps"),
            DecoderGuidanceScale = Float("decoder_guidance", 0f),
        };
        return (prior, decoder);
    }

    public static NpyArray Expected(string name, string what) => Npy.Read(Path.Combine(Folder, $"{name}.{what}.npy"));

    /// <summary>
    /// The networks the expected outputs were made with: data/parity/models when a parity set brings its own
    /// (reference.py can build other sets), else the bundled stand-in folder models/standin (the visible set).
    /// </summary>
    public static string Models => Directory.Exists(Path.Combine(Folder, "models")) ? Path.Combine(Folder, "models") : TestPaths.StandinModels;

    /// <summary>The variable that picks the provider of the parity jobs (scripts/gpu-check.sh sets Cuda).</summary>
    public const string ProviderVariable = "WUERSTCHEN_TEST_PROVIDER";

    /// <summary>
    /// Where the parity jobs run: the CPU unless WUERSTCHEN_TEST_PROVIDER says Cuda, so the same expected arrays
    /// judge the GPU. Cuda, not Auto: on a machine where CUDA does not load the jobs fail instead of passing on the CPU.
    /// </summary>
    public static ExecutionOptions Execution => new() { Provider = ProviderFrom(Environment.GetEnvironmentVariable(ProviderVariable)) };

    public static ExecutionProviderKind ProviderFrom(string? value) => string.IsNullOrWhiteSpace(value)
        ? ExecutionProviderKind.Cpu
        : Enum.TryParse<ExecutionProviderKind>(value.Trim(), ignoreCase: true, out var kind) && kind != ExecutionProviderKind.Auto
            ? kind
            : throw new ArgumentException($"{ProviderVariable}='{value}': use Cpu or Cuda.");

    /// <summary>A pipeline with its own session cache (its own buffers, tokenizers, device selector): nothing is shared between tests.</summary>
    public static WuerstchenPipeline Pipeline() => new(ModelFolder.Open(Models), Execution, new SessionCache());

    /// <summary>Appends a figure to the file WUERSTCHEN_TEST_REPORT names, if any (gpu-check.sh prints the worst).</summary>
    public static void Report(string line)
    {
        if (Environment.GetEnvironmentVariable("WUERSTCHEN_TEST_REPORT") is { Length: > 0 } path)
        {
            lock (ProviderVariable)
            {
                File.AppendAllText(path, $"{Execution.Provider} {line}{Environment.NewLine}");
            }
        }
    }
}
