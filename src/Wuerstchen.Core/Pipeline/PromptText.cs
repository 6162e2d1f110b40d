namespace Wuerstchen.Core;

/// <summary>
/// What a prompt may be, checked wherever one comes in (the command line, a CSV cell, an embedding object, a sidecar or
/// an image's metadata read back) before any work is done on it.
/// </summary>
public static class PromptText
{
    /// <summary>
    /// The longest prompt or negative prompt, in characters (UTF-16 code units). The text encoders read only the first 75
    /// tokens (about 300 characters) and the rest is dropped with a warning, so this only refuses what no one means: a
    /// 5-million-character prompt took 11 s and 550 MB to tokenize before. 10,000 is also the limit of Stability AI's own
    /// API for its models, and it bounds what an image's text and an embedding's sidecar can hold (they read back).
    /// </summary>
    public const int MaxLength = 10_000;

    /// <summary>
    /// Refuses a text longer than <see cref="MaxLength"/> (PromptTooLong) or holding NUL (InvalidPrompt): a prompt is
    /// stored in the image's PNG text or XMP, neither of which can hold NUL (PNG ends a keyword with it; XML forbids it).
    /// The length is checked first, so a huge text is refused without being scanned.
    /// </summary>
    public static void Check(string? text, string name)
    {
        if (text is null)
        {
            return;
        }

        if (text.Length > MaxLength)
        {
            throw new WuerstchenException("PromptTooLong", WuerstchenErrorKind.InvalidArgument,
                $"{name} has {text.Length} characters ('{IO.TextExcerpt.Of(text, 40)}'); at most {MaxLength} are taken. The text encoders read only "
                + "its first 75 tokens (about 300 characters): shorten it.", text);
        }

        int at = text.IndexOf('\0');
        if (at >= 0)
        {
            throw new WuerstchenException("InvalidPrompt", WuerstchenErrorKind.InvalidArgument,
                $"{name} contains a NUL character (U+0000) at position {at + 1} ('{IO.TextExcerpt.Of(text)}'); an image's text cannot hold it. Remove it from the prompt (or the CSV cell).", text);
        }
    }
}
