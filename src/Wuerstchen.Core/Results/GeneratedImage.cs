namespace Wuerstchen.Core;

/// <summary>
/// One decoded image: 8-bit RGB, row-major, 3 bytes a pixel. Disposing it gives the pixel buffer back to
/// the engine's pool for the next generation (optional; <see cref="Pixels"/> may not be used afterwards).
/// </summary>
public sealed class GeneratedImage : IDisposable
{
    private byte[]? _pixels;

    public required byte[] Pixels
    {
        get => _pixels ?? throw new ObjectDisposedException(nameof(GeneratedImage), "The image's pixels were given back with Dispose.");
        init => _pixels = value;
    }

    /// <summary>The pool the pixels came from (null: not pooled).</summary>
    internal BufferPool? Pool { get; init; }

    public void Dispose() => Pool?.Return(Interlocked.Exchange(ref _pixels, null));

    public required int Width { get; init; }
    public required int Height { get; init; }
    public required WuerstchenEmbedding Embedding { get; init; }

    /// <summary>The seed the decoder noise came from (the embedding's, or an explicit decoder seed).</summary>
    public required long Seed { get; init; }

    public required DecoderSettings Decoder { get; init; }
    public string? ModelName { get; init; }

    /// <summary>The family of the model that decoded it ("wuerstchen-v2", "stable-cascade").</summary>
    public string? ModelFamily { get; init; }

    /// <summary>Generation parameters for PNG text chunks (invariant formatting).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Parameters() => GenerationParameters.Of(this).ToPngText();
}
