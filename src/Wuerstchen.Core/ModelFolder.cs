using System.Collections.Concurrent;
using Wuerstchen.Core.Text;

namespace Wuerstchen.Core;

/// <summary>A model folder per model-contract.md. Each cmdlet needs only the stages it runs.</summary>
public sealed class ModelFolder
{
    private static readonly ConcurrentDictionary<string, Lazy<ClipTokenizer>> Tokenizers = new();

    private ModelFolder(string root, ModelConfig config)
    {
        Root = root;
        Config = config;
    }

    public string Root { get; }

    public ModelConfig Config { get; }

    public string Name => Config.Name ?? Path.GetFileName(Root);

    /// <summary>
    /// Opens a folder, failing with a message that says how to get models when there is none. <paramref name="warn"/>
    /// receives the model index's warnings (unknown keys).
    /// </summary>
    public static ModelFolder Open(string path, Action<string>? warn = null)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new WuerstchenException("ModelNotFound", WuerstchenErrorKind.ObjectNotFound,
                "No model folder was given. " + HowToGetModels, path);
        }

        var full = Path.GetFullPath(path);
        if (!Directory.Exists(full))
        {
            throw new WuerstchenException("ModelNotFound", WuerstchenErrorKind.ObjectNotFound,
                $"The model folder '{full}' does not exist. " + HowToGetModels, path);
        }

        return new ModelFolder(Path.TrimEndingDirectorySeparator(full), ModelConfig.Load(full, warn));
    }

    public const string HowToGetModels =
        "Export the Würstchen v2 weights with 'models/export/export_wuerstchen.py' (see the README section 'Getting the real models'), then pass the folder with -ModelPath or set $env:WUERSTCHEN_MODEL_PATH. The small stand-in set 'models/standin' (no real pictures) works for trying the module.";

    public static string FolderName(StageKind kind) => kind switch
    {
        StageKind.PriorTextEncoder => "prior_text_encoder",
        StageKind.Prior => "prior",
        StageKind.DecoderTextEncoder => "decoder_text_encoder",
        StageKind.Decoder => "decoder",
        StageKind.Vqgan => "vqgan",
        StageKind.Effnet => "effnet",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public string NetworkPath(StageKind kind) => Path.Combine(Root, FolderName(kind), "model.onnx");

    public string TokenizerFolder(bool prior) => Path.Combine(Root, prior ? "prior_tokenizer" : "decoder_tokenizer");

    /// <summary>The tokenizer of one half, loaded once per process.</summary>
    public ClipTokenizer Tokenizer(bool prior)
    {
        var folder = TokenizerFolder(prior);
        var vocab = Path.Combine(folder, "vocab.json");
        var merges = Path.Combine(folder, "merges.txt");
        foreach (var f in new[] { vocab, merges })
        {
            if (!File.Exists(f))
            {
                throw new WuerstchenException("TokenizerNotFound", WuerstchenErrorKind.ObjectNotFound,
                    $"The tokenizer file '{f}' does not exist. " + HowToGetModels, f);
            }
        }

        var key = string.Join("|", folder, File.GetLastWriteTimeUtc(vocab).Ticks, File.GetLastWriteTimeUtc(merges).Ticks,
            Config.MaxLength, Config.BosTokenId, Config.EosTokenId, Config.PadTokenId);
        var lazy = Tokenizers.GetOrAdd(key, _ => new Lazy<ClipTokenizer>(
            () => ClipTokenizer.FromFolder(folder, Config.MaxLength, Config.BosTokenId, Config.EosTokenId, Config.PadTokenId)));
        try
        {
            return lazy.Value;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or System.Text.Json.JsonException or UnauthorizedAccessException or FormatException)
        {
            Tokenizers.TryRemove(key, out _);
            throw new WuerstchenException("InvalidTokenizer", WuerstchenErrorKind.InvalidData,
                $"The tokenizer in '{folder}' could not be read: {ex.Message}", folder, ex);
        }
    }
}
