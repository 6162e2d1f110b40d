namespace Wuerstchen.Core;

/// <summary>
/// Checks a model folder against its family's contract (docs/spec/model-contract.json): files present, ONNX Runtime
/// can open each network, input/output names, ranks, element types and fixed sizes, and widths that agree between
/// each text encoder output and the network input it feeds.
/// </summary>
public static class ModelValidator
{
    public static IReadOnlyList<ModelCheckResult> Check(ModelFolder model, ExecutionOptions execution, SessionCache? cache = null, Action<string>? warn = null, CancellationToken ct = default)
    {
        cache ??= SessionCache.Shared;
        var family = model.Family;
        var results = new List<ModelCheckResult>();
        if (ForeignLayout.Describe(model) is { } foreign)
        {
            results.Add(foreign);
            return results;
        }

        bool Present(NetworkSpec n) => Directory.Exists(Path.Combine(model.Root, n.Folder));
        bool priorHalf = family.Networks.Any(n => n.Half == "prior" && Present(n));
        bool decoderHalf = family.Networks.Any(n => n.Half == "decoder" && !n.Optional && Present(n));
        if (!priorHalf && !decoderHalf)
        {
            var r = new ModelCheckResult { Stage = "Folder", Path = model.Root };
            string Folders(string half) => string.Join(", ", family.Networks.Where(n => n.Half == half || n.Half == "both").Where(n => !n.Optional).Select(n => n.Folder));
            r.Fail("ModelFolderEmpty", $"'{model.Root}' holds neither the prior half ({Folders("prior")}) nor the decoder half ({Folders("decoder")}) of a {family.DisplayName} model folder. " + ModelFolder.HowToGetModels,
                "prior/ or decoder/ sub-folders", "none", ModelCheckStatus.Missing);
            r.Family = family.Name;
            results.Add(r);
            return results;
        }

        var widths = new Dictionary<(string Folder, string Output), int>();
        var tokenizersChecked = new HashSet<string>();
        foreach (var network in family.Networks)
        {
            bool needed = network.Half switch { "both" => true, "prior" => priorHalf, _ => decoderHalf };
            if (network.Optional ? network.Kind != NetworkKind.Effnet && !Present(network) : !needed)
            {
                continue; // a network that falls back to another (Stable Cascade's decoder text encoder) is only checked when present
            }

            if (network.Tokenizer is { } tok && tokenizersChecked.Add(tok))
            {
                results.Add(CheckTokenizer(model, network.Kind, tok, cache.Tokenizers));
            }

            results.Add(CheckNetwork(model, network, execution, cache, widths, warn, ct));
        }

        results.ForEach(r => r.Family = family.Name);
        return results;
    }

    /// <summary>"prior_text_encoder" → "PriorTextEncoder": the name a check result shows.</summary>
    internal static string Display(string folder) =>
        string.Concat(folder.Split('_').Select(w => w.Length == 0 ? w : char.ToUpperInvariant(w[0]) + w[1..]));

    private static ModelCheckResult CheckNetwork(ModelFolder model, NetworkSpec network, ExecutionOptions execution, SessionCache cache,
        Dictionary<(string, string), int> widths, Action<string>? warn, CancellationToken ct)
    {
        var path = Path.Combine(model.Root, network.Folder, "model.onnx");
        bool optional = network.Optional;
        var result = new ModelCheckResult { Stage = Display(network.Folder), Path = path, Optional = optional };
        if (IO.BoundedFile.NotAFile(path) is { } why)
        {
            result.Fail("InvalidModelFile", $"The {network.Folder} network file '{IO.TextExcerpt.Of(path, 200)}' {why}; a network is a model.onnx file: re-export or re-copy it.",
                "a loadable ONNX model", Directory.Exists(path) ? "a folder" : "a loop of symbolic links", ModelCheckStatus.Invalid);
            return result;
        }

        if (!File.Exists(path))
        {
            result.Fail("ModelFileNotFound", optional
                    ? $"The optional {network.Folder} network '{path}' is absent: Get-WuerstchenEmbedding -ImagePath needs it."
                    : $"The {network.Folder} network file '{path}' does not exist.", "model.onnx", "absent", ModelCheckStatus.Missing);
            return result;
        }

        // measured by the targets: in the Hugging Face cache layout model.onnx is a link of a few bytes
        result.SizeBytes = IO.BoundedFile.Resolve(path).Length + (File.Exists(path + ".data") ? IO.BoundedFile.Resolve(path + ".data").Length : 0);
        ct.ThrowIfCancellationRequested();
        try
        {
            using var lease = cache.Acquire(network.Kind, path, execution, warn);
            var session = lease.Session;
            result.Provider = session.Provider;
            result.Inputs = Describe(session.Inputs);
            result.Outputs = Describe(session.Outputs);
            PortContract.Check(session, network, model.Config, result);
            if (result.Status != ModelCheckStatus.Ok)
            {
                return result;
            }

            if (network.Kind is NetworkKind.PriorTextEncoder or NetworkKind.DecoderTextEncoder)
            {
                MeasureTextWidths(model, network, session, result, widths, cache.Tokenizers, ct);
            }
            else if (network.Kind is NetworkKind.Prior or NetworkKind.Decoder)
            {
                CheckTextWidths(model, network, session, result, widths);
            }
            else if (network.Kind is NetworkKind.ImageEncoder)
            {
                // the feature extractor must make the input size the encoder was exported for (a WuerstchenException if not)
                ImageEncoderNetwork.CheckSettings(session, model.Config.ImageSettings() ?? throw new WuerstchenException("FeatureExtractorNotFound",
                    WuerstchenErrorKind.InvalidData, $"The model folder '{model.Root}' has an image encoder but its model_index.json has no 'feature_extractor' (how images are prepared for it); re-export the model with the current exporter.", model.Root));
            }
        }
        catch (WuerstchenException ex)
        {
            result.Fail(ex.ErrorId, ex.Message, "a loadable ONNX model",
                result.SizeBytes == 0 ? "an empty file (0 bytes)" : ex.ErrorId == "InvalidModelFile" ? $"{result.SizeBytes} bytes that ONNX Runtime cannot load" : ex.ErrorId, ex.ErrorId == "ModelFileNotFound" ? ModelCheckStatus.Missing : ModelCheckStatus.Invalid);
        }

        return result;
    }

    /// <summary>Each output's last-axis width: fixed in the graph, or measured by encoding the empty prompt.</summary>
    private static void MeasureTextWidths(ModelFolder model, NetworkSpec network, OnnxSession session, ModelCheckResult result,
        Dictionary<(string, string), int> widths, TokenizerCache tokenizers, CancellationToken ct)
    {
        var names = network.Outputs.Select(o => o.Name).Where(session.Outputs.ContainsKey).ToList();
        var fixedWidths = names.ToDictionary(n => n, n => session.FixedDimension(n, session.Outputs[n].Dimensions.Length - 1));
        if (fixedWidths.Values.Any(w => w is null))
        {
            var measured = new TextEncoderNetwork(session, model.Tokenizer(network.Kind, tokenizers), model.Config.MaxLength).Encode(new[] { "" }, names, null, ct);
            foreach (var n in names)
            {
                fixedWidths[n] = measured[n].Width;
            }
        }

        foreach (var n in names)
        {
            widths[(network.Folder, n)] = fixedWidths[n]!.Value;
        }

        // the per-token width (v2: last_hidden_state; Stable Cascade: the pre-norm state) is what "hidden size" means
        var perToken = network.Outputs.FirstOrDefault(o => o.Rank == 3) ?? network.Outputs[0];
        result.HiddenSize = widths.TryGetValue((network.Folder, perToken.Name), out var w) ? w : null;
    }

    private static void CheckTextWidths(ModelFolder model, NetworkSpec network, OnnxSession session, ModelCheckResult result, Dictionary<(string, string), int> widths)
    {
        foreach (var port in network.Inputs.Where(p => p.Feed == "text"))
        {
            int? expected = session.FixedDimension(port.Name, port.Rank - 1);
            if (port.Rank == 3 && port.Shape[1] is "$max_length")
            {
                result.HiddenSize ??= expected;
            }

            var encoder = model.Resolve(model.Family.ByFolder(port.TextEncoder!)!);
            if (expected is { } e && widths.TryGetValue((encoder.Folder, port.Output!), out var textWidth) && e != textWidth)
            {
                result.Fail("TextWidthMismatch",
                    $"The {network.Folder} network '{session.Path}' reads {port.Name} of width {e}, but the text encoder '{Path.Combine(model.Root, encoder.Folder, "model.onnx")}' produces {port.Output} of width {textWidth}.",
                    e.ToString(), textWidth.ToString());
            }
        }
    }

    private static ModelCheckResult CheckTokenizer(ModelFolder model, NetworkKind textEncoder, string folderName, TokenizerCache tokenizers)
    {
        var folder = model.TokenizerFolder(textEncoder);
        var result = new ModelCheckResult { Stage = Display(folderName), Path = folder };
        try
        {
            // the tokenizer's files (vocab.json, merges.txt …), as a network's size is its file's
            result.SizeBytes = Directory.Exists(folder) ? new DirectoryInfo(folder).EnumerateFiles().Sum(f => f.Length) : 0;
            var t = model.Tokenizer(textEncoder, tokenizers).Encode("a photo of a cat");
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

    private static string Describe(IReadOnlyDictionary<string, Microsoft.ML.OnnxRuntime.NodeMetadata> map) =>
        string.Join("; ", map.Select(p => $"{p.Key} {p.Value.ElementDataType} [{string.Join(",", p.Value.Dimensions.Select((d, i) => d > 0 ? d.ToString() : (p.Value.SymbolicDimensions.Length > i && p.Value.SymbolicDimensions[i].Length > 0 ? p.Value.SymbolicDimensions[i] : "?")))}]"));
}
