namespace Wuerstchen.Core;

/// <summary>
/// The one shape rule of an image embedding: [16, h, w] with 1 ≤ h, w ≤ 512 (the prior's latent channels; 512 latent
/// rows are far above the largest image size), for embeddings in memory and the rows of an embedding file.
/// </summary>
internal static class EmbeddingShape
{
    public const int Channels = 16;

    public const int MaxSide = 512;

    /// <summary>[16, h, w] with h and w in range.</summary>
    public static bool IsValidRow(ReadOnlySpan<int> shape) =>
        shape.Length == 3 && shape[0] == Channels && shape[1] >= 1 && shape[2] >= 1 && shape[1] <= MaxSide && shape[2] <= MaxSide;

    /// <summary>A valid row shape holding exactly <paramref name="values"/> values.</summary>
    public static bool IsValid(int[] shape, int values) => IsValidRow(shape) && (long)shape[0] * shape[1] * shape[2] == values;
}
