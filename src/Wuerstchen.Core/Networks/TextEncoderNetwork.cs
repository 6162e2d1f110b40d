using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Wuerstchen.Core.Text;

namespace Wuerstchen.Core;

/// <summary>One output of a text-encoder run: <see cref="PerText"/> values per text, the last axis <see cref="Width"/> wide.</summary>
internal sealed record EncodedOutput(float[] Values, int PerText, int Width);

/// <summary>
/// A CLIP text encoder with its tokenizer: input_ids (+ attention_mask when the network declares it) → the requested
/// outputs, e.g. v2's last_hidden_state [B,L,D], or Stable Cascade's text_embeds [B,P] and pre_norm_hidden_state [B,L,D].
/// Owns its port names and the shape check of its outputs.
/// </summary>
internal sealed class TextEncoderNetwork
{
    private const string IdsInput = "input_ids";
    private const string MaskInput = "attention_mask";

    private readonly OnnxSession _session;
    private readonly ClipTokenizer _tokenizer;
    private readonly int _maxLength;

    public TextEncoderNetwork(OnnxSession session, ClipTokenizer tokenizer, int maxLength)
    {
        _session = session;
        _tokenizer = tokenizer;
        _maxLength = maxLength;
    }

    /// <summary>Encodes <paramref name="texts"/> in one batch; warns once per text that the tokenizer truncates.</summary>
    public Dictionary<string, EncodedOutput> Encode(IReadOnlyList<string> texts, IReadOnlyList<string> outputNames, Action<string>? warn, CancellationToken ct)
    {
        var session = _session;
        var tokenizer = _tokenizer;
        int maxLength = _maxLength;
        bool hasMask = session.HasInput(MaskInput);
        int b = texts.Count;
        var ids = new long[b * maxLength];
        var mask = new long[b * maxLength];
        for (int i = 0; i < b; i++)
        {
            var tok = tokenizer.Encode(texts[i]);
            if (tok.InputIds.Length != maxLength)
            {
                throw new WuerstchenException("InvalidTokenizer", WuerstchenErrorKind.InvalidData,
                    $"The tokenizer produced {tok.InputIds.Length} ids; the model expects {maxLength}.", tok.InputIds.Length);
            }

            if (tok.Truncated)
            {
                warn?.Invoke($"The prompt '{Shorten(texts[i])}' has {tok.TokenCount} tokens; only the first {maxLength - 2} are used. Dropped: '{Shorten(tok.TruncatedText ?? "")}'.");
            }

            tok.InputIds.CopyTo(ids, i * maxLength);
            tok.AttentionMask.CopyTo(mask, i * maxLength);
        }

        var shape = new long[] { b, maxLength };
        var inputs = new List<OrtValue>();
        try
        {
            inputs.Add(CreateIds(session.ElementType(IdsInput), ids, shape));
            var names = new List<string> { IdsInput };
            if (hasMask)
            {
                inputs.Add(CreateIds(session.ElementType(MaskInput), mask, shape));
                names.Add(MaskInput);
            }

            using var outputs = session.Run(names, inputs, outputNames.ToArray(), ct);
            var result = new Dictionary<string, EncodedOutput>(StringComparer.Ordinal);
            int k = 0;
            foreach (var output in outputs)
            {
                result[outputNames[k]] = Read(session, outputNames[k], output, b, maxLength);
                k++;
            }

            return result;
        }
        finally
        {
            foreach (var v in inputs)
            {
                v.Dispose();
            }
        }
    }

    /// <summary>A per-token output is [B, L, D]; a pooled one [B, P].</summary>
    private static EncodedOutput Read(OnnxSession session, string name, OrtValue output, int b, int maxLength)
    {
        var outShape = output.GetTensorTypeAndShape().Shape;
        bool perToken = outShape.Length == 3 && outShape[0] == b && outShape[1] == maxLength && outShape[2] >= 1;
        bool pooled = outShape.Length == 2 && outShape[0] == b && outShape[1] >= 1;
        if (!perToken && !pooled)
        {
            throw new WuerstchenException("ModelContractMismatch", WuerstchenErrorKind.InvalidData,
                $"The text encoder '{session.Path}' returned {name} of shape [{string.Join(",", outShape)}]; expected [{b},{maxLength},D] or [{b},P].", session.Path);
        }

        int width = (int)outShape[^1];
        int perText = perToken ? maxLength * width : width;
        var values = new float[b * perText];
        OnnxSession.ReadFloats(output, values);
        OutputChecks.EnsureFinite(values, session, $"as {name}");
        return new EncodedOutput(values, perText, width);
    }

    private static OrtValue CreateIds(TensorElementType type, long[] ids, long[] shape) =>
        type == TensorElementType.Int32
            ? OrtValue.CreateTensorValueFromMemory(ids.Select(v => (int)v).ToArray(), shape)
            : OrtValue.CreateTensorValueFromMemory(ids, shape);

    private static string Shorten(string s) => s.Length <= 80 ? s : s[..77] + "...";
}
