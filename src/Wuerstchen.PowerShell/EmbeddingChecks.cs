using Wuerstchen.Core;
using Wuerstchen.Core.IO;

namespace Wuerstchen.PowerShell;

/// <summary>
/// Checks of piped embeddings before the engine sees them: an embedding built by hand or rebuilt from
/// Import-Clixml/ConvertFrom-Json can lack its shape or data, or disagree with itself; each is an error naming
/// what is wrong, never a raw .NET message.
/// </summary>
internal static class EmbeddingChecks
{
    public static void Check(WuerstchenEmbedding e)
    {
        PromptText.Check(e.Prompt, "The embedding's Prompt");
        PromptText.Check(e.NegativePrompt, "The embedding's NegativePrompt");
        if (e.Shape is null)
        {
            throw new WuerstchenException("EmbeddingShapeMissing", WuerstchenErrorKind.InvalidArgument,
                $"The embedding for '{TextExcerpt.Of(e.Prompt)}' has no Shape; an embedding needs Shape = 16, h, w (as Get-WuerstchenEmbedding or Import-WuerstchenEmbedding give it).", e);
        }

        if (e.Data is null)
        {
            throw new WuerstchenException("EmbeddingDataMissing", WuerstchenErrorKind.InvalidArgument,
                $"The embedding for '{TextExcerpt.Of(e.Prompt)}' has no Data; an embedding needs its 16·h·w float values.", e);
        }

        long expected = e.Shape.Length == 3 ? (long)e.Shape[0] * e.Shape[1] * e.Shape[2] : -1;
        if (e.Shape.Length != 3 || e.Shape.Any(d => d < 1) || expected != e.Data.Length)
        {
            throw new WuerstchenException("EmbeddingShapeMismatch", WuerstchenErrorKind.InvalidArgument,
                $"The embedding for '{TextExcerpt.Of(e.Prompt)}' has Shape [{string.Join(",", e.Shape)}] but {e.Data.Length} values; Shape must be three positive sizes (16, h, w) whose product is the number of values.", e);
        }
    }

    /// <summary>
    /// The image size an embedding states must be the one its Shape decodes to with this model (a hand-edited
    /// Width or Shape would otherwise give an image of another size than the object says); 0 means not stated.
    /// </summary>
    public static void CheckSize(WuerstchenEmbedding e, ModelConfig config)
    {
        var size = ImageSize.FromPrior(e.LatentWidth, e.LatentHeight, config);
        if ((e.Width != 0 && e.Width != size.OutputWidth) || (e.Height != 0 && e.Height != size.OutputHeight))
        {
            throw new WuerstchenException("EmbeddingSizeContradiction", WuerstchenErrorKind.InvalidArgument,
                $"The embedding for '{TextExcerpt.Of(e.Prompt)}' says {e.Width}×{e.Height} pixels, but its Shape [{string.Join(",", e.Shape)}] decodes to {size.OutputWidth}×{size.OutputHeight} with this model. Correct Width/Height (or Shape), or make the embedding again with Get-WuerstchenEmbedding.", e);
        }
    }

    /// <summary>
    /// The text an output name is made from: the prompt; for an embedding read from a .npy without its .json sidecar
    /// (no prompt known), the file's name, so 'fox.npy' gives 'fox-…png' rather than 'image-…png'. A bare .npy is told
    /// by what it lacks: a sidecar this module writes records the model, a bare file names none.
    /// </summary>
    public static string NameOf(WuerstchenEmbedding e)
    {
        if (string.IsNullOrEmpty(e.Prompt) && e.ModelName is null && e.Family is null
            && e.Source is { } source && source.StartsWith("file:", StringComparison.Ordinal))
        {
            return Path.GetFileNameWithoutExtension(source["file:".Length..]);
        }

        return e.Prompt ?? "";
    }
}
