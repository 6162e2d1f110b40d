using Wuerstchen.Core.Text;

namespace Wuerstchen.Core;

/// <summary>A model folder per model-contract.md. Each cmdlet needs only the stages it runs.</summary>
public sealed class ModelFolder
{
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
        "Export the Würstchen v2 or Stable Cascade weights with 'models/export/export_wuerstchen.py' (see the README section 'Getting the real models'), then pass the folder with -ModelPath or set $env:WUERSTCHEN_MODEL_PATH. The small stand-in set 'models/standin' (no real pictures) works for trying the module.";

    public ModelFamily Family => Config.Family;

    /// <summary>The Würstchen v2 folder name of a network (the default family), for tools that only know v2 folders.</summary>
    public static string FolderName(NetworkKind kind) => ModelContract.Current.DefaultFamily.Required(kind).Folder;

    /// <summary>
    /// The file of a network. A network the family lets fall back to another (Stable Cascade's decoder text encoder,
    /// written only when the decoder repo's weights differ from the prior's) is the other's file when absent.
    /// </summary>
    public string NetworkPath(NetworkKind kind) => Path.Combine(Root, Resolve(Family.Required(kind)).Folder, "model.onnx");

    /// <summary>The network whose file serves <paramref name="spec"/>: itself, or its fallback when its own file is absent.</summary>
    public NetworkSpec Resolve(NetworkSpec spec) =>
        spec.Fallback is { } fallback && !File.Exists(Path.Combine(Root, spec.Folder, "model.onnx"))
            ? Family.ByFolder(fallback) ?? throw new InvalidOperationException($"The contract names an unknown fallback '{fallback}'.")
            : spec;

    public string TokenizerFolder(NetworkKind textEncoder) => Path.Combine(Root, Family.TokenizerFolder(textEncoder));

    /// <summary>
    /// The pad id: model_index.json's pad_token_id when it sets one, else the pad token the tokenizer folder's
    /// special_tokens_map.json names (looked up in vocab.json), else the family's default. It matters: the pad
    /// positions carry the pad token's embedding into a prior that reads all 77 positions (Stable Cascade's bigG
    /// tokenizer pads with "!", id 0; v2's with &lt;|endoftext|&gt;, 49407).
    /// </summary>
    private const long MaxSpecialTokensBytes = 1L << 20;

    private int PadTokenId(string folder)
    {
        if (Config.Gives("pad_token_id"))
        {
            return Config.PadTokenId;
        }

        // read errors surface through Tokenizer's catch as InvalidTokenizer
        var map = Path.Combine(folder, "special_tokens_map.json");
        if (!File.Exists(map))
        {
            return Config.PadTokenId;
        }

        using var doc = System.Text.Json.JsonDocument.Parse(IO.BoundedFile.ReadAllText(map, MaxSpecialTokensBytes, "a special_tokens_map.json"));
        if (doc.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object || !doc.RootElement.TryGetProperty("pad_token", out var pad))
        {
            return Config.PadTokenId;
        }

        var token = pad.ValueKind switch
        {
            System.Text.Json.JsonValueKind.String => pad.GetString(),
            System.Text.Json.JsonValueKind.Object when pad.TryGetProperty("content", out var c) && c.ValueKind == System.Text.Json.JsonValueKind.String => c.GetString(),
            _ => null,
        };
        return token is null ? Config.PadTokenId : ClipTokenizer.LookUpId(Path.Combine(folder, "vocab.json"), token) ?? Config.PadTokenId;
    }

    /// <summary>
    /// The tokenizer a text encoder (<see cref="NetworkKind.PriorTextEncoder"/> or <see cref="NetworkKind.DecoderTextEncoder"/>)
    /// reads, loaded once per <paramref name="cache"/> (default: the module's, <see cref="SessionCache.Shared"/>).
    /// </summary>
    public ClipTokenizer Tokenizer(NetworkKind textEncoder, TokenizerCache? cache = null)
    {
        var tokenizers = cache ?? SessionCache.Shared.Tokenizers;
        var folder = TokenizerFolder(textEncoder);
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

        var map = Path.Combine(folder, "special_tokens_map.json");
        var key = new TokenizerKey(folder, File.GetLastWriteTimeUtc(vocab).Ticks, File.GetLastWriteTimeUtc(merges).Ticks,
            File.Exists(map) ? File.GetLastWriteTimeUtc(map).Ticks : 0, Config.MaxLength, Config.BosTokenId, Config.EosTokenId,
            Config.Gives("pad_token_id") ? Config.PadTokenId : -1, Config.PadTokenId);
        try
        {
            return tokenizers.GetOrLoad(key, () => ClipTokenizer.FromFolder(folder, Config.MaxLength, Config.BosTokenId, Config.EosTokenId, PadTokenId(folder)));
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or System.Text.Json.JsonException or UnauthorizedAccessException or FormatException)
        {
            throw new WuerstchenException("InvalidTokenizer", WuerstchenErrorKind.InvalidData,
                $"The tokenizer in '{folder}' could not be read: {ex.Message}", folder, ex);
        }
    }
}
