using Microsoft.ML.OnnxRuntime.Tensors;

namespace Wuerstchen.Core;

public enum ModelCheckStatus
{
    Ok,
    Missing,
    Invalid,
}

/// <summary>One thing wrong with a stage: what was expected and what was found.</summary>
public sealed record ModelProblem(string ErrorId, string Message, string Path, string Expected, string Found);

/// <summary>The check of one stage of a model folder.</summary>
public sealed class ModelCheckResult
{
    public required string Stage { get; init; }
    public required string Path { get; init; }
    public ModelCheckStatus Status { get; internal set; } = ModelCheckStatus.Ok;
    public bool Optional { get; init; }
    public string? Provider { get; internal set; }
    public long SizeBytes { get; internal set; }
    public string? Inputs { get; internal set; }
    public string? Outputs { get; internal set; }

    /// <summary>Text width (text encoders), latent channels (diffusion stages) …</summary>
    public int? HiddenSize { get; internal set; }

    public List<ModelProblem> Problems { get; } = new();

    internal void Fail(string id, string message, string expected, string found, ModelCheckStatus status = ModelCheckStatus.Invalid)
    {
        Status = status;
        Problems.Add(new ModelProblem(id, message, Path, expected, found));
    }
}

/// <summary>
/// Checks a model folder against model-contract.md: files present, ONNX Runtime can open each network,
/// input/output names, ranks and element types, and hidden sizes that agree between each text encoder
/// and the network that reads its output.
/// </summary>
public static class ModelValidator
{
    private sealed record Port(string Name, bool Input, int Rank, TensorElementType[] Types, int Axis = -1, int Size = 0, bool Optional = false);

    private static readonly Dictionary<StageKind, Port[]> Contract = new()
    {
        [StageKind.PriorTextEncoder] = TextPorts(),
        [StageKind.DecoderTextEncoder] = TextPorts(),
        [StageKind.Prior] = new[]
        {
            new Port("sample", true, 4, OnnxStage.FloatTypes, 1, 16), new Port("timestep_ratio", true, 1, OnnxStage.FloatTypes),
            new Port("clip_text", true, 3, OnnxStage.FloatTypes), new Port("out_sample", false, 4, OnnxStage.FloatTypes, 1, 16),
        },
        [StageKind.Decoder] = new[]
        {
            new Port("sample", true, 4, OnnxStage.FloatTypes, 1, 4), new Port("timestep_ratio", true, 1, OnnxStage.FloatTypes),
            new Port("effnet", true, 4, OnnxStage.FloatTypes, 1, 16), new Port("clip_text", true, 3, OnnxStage.FloatTypes),
            new Port("out_sample", false, 4, OnnxStage.FloatTypes, 1, 4),
        },
        [StageKind.Vqgan] = new[] { new Port("sample", true, 4, OnnxStage.FloatTypes, 1, 4), new Port("image", false, 4, OnnxStage.FloatTypes, 1, 3) },
        [StageKind.Effnet] = new[] { new Port("image", true, 4, OnnxStage.FloatTypes, 1, 3), new Port("image_embeddings", false, 4, OnnxStage.FloatTypes, 1, 16) },
    };

    private static Port[] TextPorts() => new[]
    {
        new Port("input_ids", true, 2, OnnxStage.IdTypes, 1, 77), new Port("attention_mask", true, 2, OnnxStage.IdTypes, 1, 77, Optional: true),
        new Port("last_hidden_state", false, 3, OnnxStage.FloatTypes, 1, 77),
    };

    public static IReadOnlyList<ModelCheckResult> Check(ModelFolder model, ExecutionOptions execution, SessionCache? cache = null, Action<string>? warn = null, CancellationToken ct = default)
    {
        cache ??= SessionCache.Shared;
        var results = new List<ModelCheckResult>();
        bool priorHalf = Directory.Exists(Path.Combine(model.Root, "prior")) || Directory.Exists(Path.Combine(model.Root, "prior_text_encoder"));
        bool decoderHalf = Directory.Exists(Path.Combine(model.Root, "decoder")) || Directory.Exists(Path.Combine(model.Root, "decoder_text_encoder")) || Directory.Exists(Path.Combine(model.Root, "vqgan"));
        if (!priorHalf && !decoderHalf)
        {
            var r = new ModelCheckResult { Stage = "Folder", Path = model.Root };
            r.Fail("ModelFolderEmpty", $"'{model.Root}' holds neither the prior half (prior_tokenizer, prior_text_encoder, prior) nor the decoder half (decoder_tokenizer, decoder_text_encoder, decoder, vqgan) of a model folder. " + ModelFolder.HowToGetModels,
                "prior/ or decoder/ sub-folders", "none", ModelCheckStatus.Missing);
            results.Add(r);
            return results;
        }

        var widths = new Dictionary<StageKind, int?>();
        foreach (var (kind, half) in new[]
        {
            (StageKind.PriorTextEncoder, priorHalf), (StageKind.Prior, priorHalf),
            (StageKind.DecoderTextEncoder, decoderHalf), (StageKind.Decoder, decoderHalf), (StageKind.Vqgan, decoderHalf),
            (StageKind.Effnet, false),
        })
        {
            if (kind == StageKind.PriorTextEncoder && half)
            {
                results.Add(CheckTokenizer(model, true));
            }
            else if (kind == StageKind.DecoderTextEncoder && half)
            {
                results.Add(CheckTokenizer(model, false));
            }

            var path = model.NetworkPath(kind);
            bool optional = kind == StageKind.Effnet;
            if (!half && !optional)
            {
                continue;
            }

            var result = new ModelCheckResult { Stage = kind.ToString(), Path = path, Optional = optional };
            results.Add(result);
            if (!File.Exists(path))
            {
                result.Fail("ModelFileNotFound", optional
                        ? $"The optional effnet network '{path}' is absent: Get-WuerstchenEmbedding -ImagePath needs it."
                        : $"The {kind} network file '{path}' does not exist.", "model.onnx", "absent", ModelCheckStatus.Missing);
                continue;
            }

            result.SizeBytes = new FileInfo(path).Length + (File.Exists(path + ".data") ? new FileInfo(path + ".data").Length : 0);
            ct.ThrowIfCancellationRequested();
            try
            {
                using var lease = cache.Acquire(kind, path, execution, warn);
                var stage = lease.Stage;
                result.Provider = stage.Provider;
                result.Inputs = Describe(stage.Inputs);
                result.Outputs = Describe(stage.Outputs);
                CheckPorts(stage, result);
                if (kind is StageKind.PriorTextEncoder or StageKind.DecoderTextEncoder && result.Status == ModelCheckStatus.Ok)
                {
                    // the tokenizer pads to model_index.json's max_length; a text encoder with a fixed input length
                    // other than that fails on every run, so say so here
                    if (stage.FixedDimension("input_ids", 1) is { } inputLength && inputLength != model.Config.MaxLength)
                    {
                        result.Fail("MaxLengthMismatch",
                            $"model_index.json sets max_length {model.Config.MaxLength}, but the {kind} network '{path}' reads input_ids of fixed length {inputLength}. Set \"max_length\": {inputLength} in '{Path.Combine(model.Root, "model_index.json")}' or re-export the model.",
                            inputLength.ToString(), model.Config.MaxLength.ToString());
                        continue;
                    }

                    int? width = stage.FixedDimension("last_hidden_state", 2);
                    if (width is null)
                    {
                        // dynamic width: measure it by encoding the empty prompt
                        var tokenizer = model.Tokenizer(kind == StageKind.PriorTextEncoder);
                        width = TextEncoder.Encode(stage, tokenizer, new[] { "" }, model.Config.MaxLength, null, ct).Dim;
                    }

                    widths[kind] = width;
                    result.HiddenSize = width;
                }
                else if (kind is StageKind.Prior or StageKind.Decoder)
                {
                    result.HiddenSize = stage.FixedDimension("clip_text", 2);
                    var textKind = kind == StageKind.Prior ? StageKind.PriorTextEncoder : StageKind.DecoderTextEncoder;
                    if (widths.TryGetValue(textKind, out var te) && te is { } textWidth && result.HiddenSize is { } expected && expected != textWidth)
                    {
                        result.Fail("TextWidthMismatch",
                            $"The {kind} network '{path}' reads clip_text of width {expected}, but the text encoder '{model.NetworkPath(textKind)}' produces width {textWidth}.",
                            expected.ToString(), textWidth.ToString());
                    }
                }
            }
            catch (WuerstchenException ex)
            {
                result.Fail(ex.ErrorId, ex.Message, "a loadable ONNX model",
                    result.SizeBytes == 0 ? "an empty file (0 bytes)" : ex.ErrorId == "InvalidModelFile" ? $"{result.SizeBytes} bytes that ONNX Runtime cannot load" : ex.ErrorId, ex.ErrorId == "ModelFileNotFound" ? ModelCheckStatus.Missing : ModelCheckStatus.Invalid);
            }
        }

        return results;
    }

    private static ModelCheckResult CheckTokenizer(ModelFolder model, bool prior)
    {
        var folder = model.TokenizerFolder(prior);
        var result = new ModelCheckResult { Stage = prior ? "PriorTokenizer" : "DecoderTokenizer", Path = folder };
        try
        {
            var t = model.Tokenizer(prior).Encode("a photo of a cat");
            if (t.InputIds.Length != model.Config.MaxLength || t.InputIds[0] != model.Config.BosTokenId)
            {
                result.Fail("InvalidTokenizer", $"The tokenizer in '{folder}' does not produce [{model.Config.BosTokenId}, …] of length {model.Config.MaxLength}.",
                    $"{model.Config.MaxLength} ids starting with {model.Config.BosTokenId}", $"{t.InputIds.Length} ids starting with {(t.InputIds.Length > 0 ? t.InputIds[0] : -1)}");
            }
        }
        catch (WuerstchenException ex)
        {
            result.Fail(ex.ErrorId, ex.Message, "vocab.json and merges.txt", "missing or unreadable",
                ex.ErrorId == "TokenizerNotFound" ? ModelCheckStatus.Missing : ModelCheckStatus.Invalid);
        }

        return result;
    }

    /// <summary>
    /// Before a run: the stage must meet its contract (names, ranks, element types, fixed sizes). Throws the
    /// first problem, naming the file, the expected and the found value — the same check Test-WuerstchenModel makes.
    /// </summary>
    internal static void Enforce(OnnxStage stage)
    {
        var result = new ModelCheckResult { Stage = stage.Kind.ToString(), Path = stage.Path };
        CheckPorts(stage, result);
        if (result.Problems.Count > 0)
        {
            var p = result.Problems[0];
            throw new WuerstchenException(p.ErrorId, WuerstchenErrorKind.InvalidData, p.Message, stage.Path);
        }
    }

    private static void CheckPorts(OnnxStage stage, ModelCheckResult result)
    {
        foreach (var port in Contract[stage.Kind])
        {
            var map = port.Input ? stage.Inputs : stage.Outputs;
            string role = port.Input ? "input" : "output";
            if (!map.TryGetValue(port.Name, out var meta))
            {
                if (!port.Optional)
                {
                    result.Fail("ModelContractMismatch", $"The {stage.Kind} network '{stage.Path}' has no {role} '{port.Name}'; its {role}s are {string.Join(", ", map.Keys)}.",
                        $"{role} '{port.Name}'", string.Join(", ", map.Keys));
                }

                continue;
            }

            if (meta.Dimensions.Length != port.Rank)
            {
                result.Fail("ModelContractMismatch", $"The {stage.Kind} network '{stage.Path}' {role} '{port.Name}' has rank {meta.Dimensions.Length}; expected rank {port.Rank}.",
                    $"rank {port.Rank}", $"rank {meta.Dimensions.Length}");
                continue;
            }

            if (!port.Types.Contains(meta.ElementDataType))
            {
                result.Fail("ModelContractMismatch", $"The {stage.Kind} network '{stage.Path}' {role} '{port.Name}' has element type {meta.ElementDataType}; expected {string.Join(" or ", port.Types)}.",
                    string.Join(" or ", port.Types), meta.ElementDataType.ToString());
                continue;
            }

            if (port.Axis >= 0 && meta.Dimensions[port.Axis] > 0 && meta.Dimensions[port.Axis] != port.Size)
            {
                result.Fail("ModelContractMismatch", $"The {stage.Kind} network '{stage.Path}' {role} '{port.Name}' has size {meta.Dimensions[port.Axis]} on axis {port.Axis}; expected {port.Size}.",
                    port.Size.ToString(), meta.Dimensions[port.Axis].ToString());
            }
        }
    }

    private static string Describe(IReadOnlyDictionary<string, Microsoft.ML.OnnxRuntime.NodeMetadata> map) =>
        string.Join("; ", map.Select(p => $"{p.Key} {p.Value.ElementDataType} [{string.Join(",", p.Value.Dimensions.Select((d, i) => d > 0 ? d.ToString() : (p.Value.SymbolicDimensions.Length > i && p.Value.SymbolicDimensions[i].Length > 0 ? p.Value.SymbolicDimensions[i] : "?")))}]"));
}
