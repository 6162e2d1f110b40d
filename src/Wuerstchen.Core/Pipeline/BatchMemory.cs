namespace Wuerstchen.Core;

/// <summary>
/// What one call must hold at once, checked before anything is loaded or allocated. A diffusion stage samples all its
/// rows as one batch, so its buffers grow with the batch (images are decoded and written one at a time and do not).
/// Every count is computed in 64 bits: a request whose buffers would not fit one array, or whose estimate exceeds the
/// memory this process may use, is BatchTooLarge naming the estimate and what to lower, never an overflow later.
/// </summary>
internal static class BatchMemory
{
    /// <summary>
    /// The sampler's buffers in latent-batch units (SamplerBinding + the stage's latents): latents, sample in, output,
    /// the noise draw; with guidance the sample and output are twice the batch and the guidance adds two more.
    /// </summary>
    private static int SamplerCopies(bool guidance) => guidance ? 8 : 4;

    /// <summary>What the machine (or the container's limit) gives this process; a test may lower it.</summary>
    /// <summary>
    /// What the machine can give now: Linux's MemAvailable (free memory plus what the page cache can drop) where it can
    /// be read, capped by the runtime's limit (a container's); elsewhere that limit. The total alone let a request
    /// through that the memory other programs held made impossible.
    /// </summary>
    internal static long Available => Math.Min(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, MemAvailable() ?? long.MaxValue);

    private static long? MemAvailable()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal)
                    && long.TryParse(line["MemAvailable:".Length..].Trim().Split(' ')[0], System.Globalization.NumberStyles.Integer,
                        System.Globalization.CultureInfo.InvariantCulture, out long kib))
                {
                    return kib * 1024;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }

        return null;
    }

    /// <summary>Checks a one-shot generation (prior, then decoder) of <paramref name="rows"/> images.</summary>
    public static void CheckGeneration(int rows, LatentSize size, bool priorGuidance, bool decoderGuidance)
    {
        var prior = Prior(rows, size, priorGuidance);
        var decoder = Decoder(rows, size, decoderGuidance);
        // pooled buffers outlive their stage: both count
        Check(rows, size, prior.Bytes + decoder.Bytes, Math.Max(prior.Largest, decoder.Largest));
    }

    /// <summary>Checks the prior stage alone (Get-WuerstchenEmbedding).</summary>
    public static void CheckPrior(int rows, LatentSize size, bool guidance)
    {
        var (bytes, largest) = Prior(rows, size, guidance);
        Check(rows, size, bytes, largest);
    }

    /// <summary>Checks the decoder stage alone (ConvertFrom-WuerstchenEmbedding).</summary>
    public static void CheckDecoder(int rows, LatentSize size, bool guidance)
    {
        var (bytes, largest) = Decoder(rows, size, guidance);
        Check(rows, size, bytes, largest);
    }

    /// <summary>Bytes the prior stage holds at once, and its largest buffer in values.</summary>
    private static (long Bytes, long Largest) Prior(int rows, LatentSize size, bool guidance)
    {
        long perRow = 16L * size.PriorHeight * size.PriorWidth;
        long batch = (guidance ? 2L : 1L) * rows;
        // the sampler's buffers, the embeddings handed on, the text conditioning (77 tokens of at most 2048 values)
        return (4L * (rows * perRow * (SamplerCopies(guidance) + 1) + batch * 77 * 2048), batch * perRow);
    }

    /// <summary>Bytes the decoder stage holds at once, and its largest buffer in values.</summary>
    private static (long Bytes, long Largest) Decoder(int rows, LatentSize size, bool guidance)
    {
        long perRow = 4L * size.DecoderHeight * size.DecoderWidth;
        long embedding = 16L * size.PriorHeight * size.PriorWidth;
        long pixels = 3L * size.OutputHeight * size.OutputWidth;
        // the sampler's buffers and the embeddings' copy; then one image at a time: the VQGAN's input and float output
        // and two 8-bit images (one converting while the one before it is written)
        long bytes = 4L * rows * (perRow * SamplerCopies(guidance) + 2 * embedding) + 4L * (perRow + pixels) + 2 * pixels;
        return (bytes, (guidance ? 2L : 1L) * rows * perRow);
    }

    private static void Check(int rows, LatentSize size, long bytes, long largest)
    {
        long available = Available;
        if (bytes > available || largest > Array.MaxLength)
        {
            string array = largest > Array.MaxLength ? $" and a batch buffer of {largest:N0} values, more than one array holds ({Array.MaxLength:N0})," : "";
            throw new WuerstchenException("BatchTooLarge", WuerstchenErrorKind.InvalidArgument,
                $"{rows} images at {size.OutputWidth}×{size.OutputHeight} in one call need about {GiB(bytes)} at once before the networks' own memory{array} "
                + $"while this machine gives the process {GiB(available)}. Lower -ImagesPerPrompt, give fewer prompts (or embeddings) per call (pipe them, "
                + "one call per row), or lower -Width/-Height.", rows);
        }
    }

    private static string GiB(long bytes) => $"{bytes / (double)(1L << 30):0.0} GiB";
}
