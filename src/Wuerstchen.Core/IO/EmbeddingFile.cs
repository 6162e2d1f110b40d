using System.Text.Json;
using System.Text.Json.Nodes;

namespace Wuerstchen.Core.IO;

/// <summary>
/// Embeddings on disk: one float32 [N,16,h,w] .npy (numpy-readable) plus a .json sidecar with each row's
/// metadata. Both are written atomically; imported embeddings carry no generator state.
/// </summary>
public static class EmbeddingFile
{
    public const string Format = "wuerstchen-embeddings";

    public static string SidecarPath(string npyPath) => Path.ChangeExtension(npyPath, ".json");

    public static void Write(string path, IReadOnlyList<WuerstchenEmbedding> items, bool overwrite)
    {
        var first = items[0];
        foreach (var e in items)
        {
            if (e.Shape.Length != 3 || !e.Shape.SequenceEqual(first.Shape) || e.Data.Length != first.Data.Length)
            {
                throw new WuerstchenException("EmbeddingSizeMismatch", WuerstchenErrorKind.InvalidArgument,
                    $"All embeddings in one file must have the same shape; got [{string.Join(",", first.Shape)}] and [{string.Join(",", e.Shape)}].", e);
            }
        }

        for (int i = 0; i < items.Count; i++)
        {
            // whatever the module writes, it reads back: each row passes the reader's checks before anything is written
            try
            {
                SidecarRow.Check(GenerationParameters.Of(items[i]));
            }
            catch (WuerstchenException ex)
            {
                throw new WuerstchenException(ex.ErrorId, WuerstchenErrorKind.InvalidArgument,
                    $"Embedding {i + 1} of {items.Count} ('{TextExcerpt.Of(items[i].Prompt, 40)}') cannot be written: {ex.Message}", items[i], ex);
            }
        }

        var sidecar = SidecarPath(path);
        var data = new float[items.Count * first.Data.Length];
        for (int i = 0; i < items.Count; i++)
        {
            items[i].Data.CopyTo(data, i * first.Data.Length);
        }

        var rows = new JsonArray();
        foreach (var e in items)
        {
            rows.Add(GenerationParameters.Of(e).ToSidecarRow());
        }

        var doc = new JsonObject
        {
            ["format"] = Format,
            ["version"] = 1,
            ["shape"] = new JsonArray(items.Count, first.Shape[0], first.Shape[1], first.Shape[2]),
            ["data_sha256"] = Hash(data), // pairs the sidecar with exactly this data (checked by Read)
            ["embeddings"] = rows,
        };

        var json = JsonSerializer.SerializeToUtf8Bytes(doc, JsonText.Indented);
        if (json.Length > MaxSidecarBytes)
        {
            throw new WuerstchenException("EmbeddingMetadataTooLarge", WuerstchenErrorKind.InvalidArgument,
                $"The metadata of these {items.Count} embeddings takes {BoundedFile.Size(json.Length)}; an embedding file's .json sidecar is read back up to "
                + $"{BoundedFile.Size(MaxSidecarBytes)}. Export fewer embeddings per file (e.g. one file per Get-WuerstchenEmbedding call), or shorter prompts.", path);
        }

        // the sidecar is published first: alone it is inert (nothing imports it), while a .npy alone would import as
        // rows with no prompt and seed 0. One writer of a pair at a time, so two -Force exports cannot cross.
        using var exclusive = PairLock.Acquire(Path.GetFullPath(path));
        AtomicFile.WriteAll(new (string, Action<Stream>)[]
        {
            (sidecar, s => s.Write(json)),
            (path, s => Npy.WriteFloat32(s, data, new[] { items.Count, first.Shape[0], first.Shape[1], first.Shape[2] })),
        }, overwrite);
    }

    /// <summary>SHA-256 of the float32 values as the .npy stores them (little-endian), in hex.</summary>
    private static string Hash(ReadOnlySpan<float> data) =>
        Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data))).ToLowerInvariant();

    /// <summary>
    /// Largest sidecar accepted, and written (<see cref="Write"/> refuses more): a row is about 1 KB, at most 150 KB with
    /// two prompts of <see cref="PromptText.MaxLength"/> characters and 1001 timesteps.
    /// </summary>
    public const long MaxSidecarBytes = 16L << 20;

    /// <summary>
    /// Reads an embedding file: the .npy header is checked (a float [N,16,h,w] whose data is exactly what the shape
    /// says) before any row is allocated, then each row is read into its own array; the sidecar, when present, names
    /// each row's parameters. Any problem is InvalidEmbeddingFile naming the file.
    /// </summary>
    /// <param name="warn">Told when the sidecar cannot be checked against the data (one of 0.4 or earlier, without data_sha256).</param>
    public static IReadOnlyList<WuerstchenEmbedding> Read(string path, ModelConfig? config = null, Action<string>? warn = null)
    {
        config ??= ModelConfig.Default;
        if (!File.Exists(path))
        {
            throw new WuerstchenException("EmbeddingFileNotFound", WuerstchenErrorKind.ObjectNotFound, $"The embedding file '{path}' does not exist.", path);
        }

        float[][] data;
        int[] shape;
        try
        {
            using var stream = BoundedFile.OpenRead(path, Npy.MaxFileBytes, "an embedding file", out _);
            var header = Npy.ReadHeader(stream);
            shape = CheckShape(path, header);
            data = new float[shape[0]][];
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = new float[shape[1] * shape[2] * shape[3]];
                Npy.ReadFloats(stream, header, data[i]);
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            throw new WuerstchenException("InvalidEmbeddingFile", WuerstchenErrorKind.InvalidData,
                $"'{path}' is not a valid embedding file: {ex.Message}", path, ex);
        }

        int n = shape[0], h = shape[2], w = shape[3];
        var rows = ReadSidecar(path, shape, data, warn);
        var size = ImageSize.FromPrior(w, h, config);
        var result = new WuerstchenEmbedding[n];
        for (int i = 0; i < n; i++)
        {
            var parameters = (rows?[i] ?? GenerationParameters.FromSidecarRow(null, i)) with
            {
                Width = size.OutputWidth,
                Height = size.OutputHeight,
                Source = "file:" + Path.GetFileName(path), // the file's name, not the user's folders
            };
            result[i] = parameters.ToEmbedding(new[] { 16, h, w }, data[i]); // imported: no generator stream
        }

        return result;
    }

    /// <summary>A float [N,16,h,w] (or [16,h,w], one row), from the header alone; a [16,h,w] header becomes [1,16,h,w].</summary>
    private static int[] CheckShape(string path, NpyHeader header)
    {
        var shape = header.Shape.Length == 3 ? new[] { 1 }.Concat(header.Shape).ToArray() : header.Shape;
        if (header.ItemSize == 1 || shape.Length != 4 || shape[0] < 1 || !EmbeddingShape.IsValidRow(shape.AsSpan(1)))
        {
            throw new WuerstchenException("InvalidEmbeddingFile", WuerstchenErrorKind.InvalidData,
                $"'{path}' holds a {header.Descr} array of shape {header.ShapeText}; an embedding file holds float [N,16,h,w].", path);
        }

        return shape;
    }

    /// <summary>
    /// A sidecar written with its data's hash must describe exactly that data: one left from an interrupted -Force
    /// re-export, or crossed with another writer's .npy, would give every row the wrong prompt and seed. A sidecar
    /// without the hash is read with a warning, not refused: every sidecar this module writes has had it since 0.5.0,
    /// but those of 0.4 and earlier have none, and files written by earlier versions keep reading back (the file
    /// format's promise); the warning says that it could not be checked and how to add it.
    /// </summary>
    private static void CheckPairing(JsonObject top, float[][] data, string npy, string sidecar, Action<string>? warn)
    {
        if (top["data_sha256"] is not { } node)
        {
            warn?.Invoke($"The metadata file '{TextExcerpt.Of(sidecar, 200)}' records no data_sha256 (it was written by version 0.4 or earlier, or by hand), so it cannot be "
                + $"checked to belong to the data in '{TextExcerpt.Of(Path.GetFileName(npy), 100)}'; its prompts and seeds are taken as they are. To add it, export "
                + "the embeddings again: Import-WuerstchenEmbedding x.npy | Export-WuerstchenEmbedding x.npy -Force.");
            return;
        }

        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var row in data)
        {
            hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(row.AsSpan()));
        }

        if (node is not JsonValue value || !value.TryGetValue<string>(out var expected)
            || !string.Equals(expected, Convert.ToHexString(hash.GetHashAndReset()), StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException("it was written for other data than the .npy beside it holds (an interrupted or concurrent export); export the embeddings again.");
        }
    }

    /// <summary>The sidecar's shape, when it records one (it always has), must be the .npy's.</summary>
    private static void CheckRecordedShape(JsonObject top, int[] shape)
    {
        if (top["shape"] is not { } node)
        {
            return;
        }

        var recorded = node is JsonArray a && a.All(d => d is JsonValue v && v.GetValueKind() == JsonValueKind.Number) ? node.ToJsonString() : null;
        var actual = "[" + string.Join(",", shape) + "]";
        if (recorded != actual)
        {
            throw new InvalidDataException($"its shape is {TextExcerpt.Of(node.ToJsonString(), 60)} but the .npy holds {actual}; they were not written together. Export the embeddings again.");
        }
    }

    /// <summary>Each row's parameters from the sidecar (null when there is none), all parsed here so any fault is this file's error.</summary>
    private static GenerationParameters[]? ReadSidecar(string path, int[] shape, float[][] data, Action<string>? warn)
    {
        var sidecar = SidecarPath(path);
        if (!File.Exists(sidecar))
        {
            return null;
        }

        int n = shape[0];
        try
        {
            var text = BoundedFile.ReadAllText(sidecar, MaxSidecarBytes, "an embedding sidecar");
            var node = JsonNode.Parse(text);
            JsonText.CheckUniqueKeys(text);
            if (node is not JsonObject top || top["format"] is not JsonValue format || !format.TryGetValue<string>(out var f) || f != Format
                || top["embeddings"] is not JsonArray rows)
            {
                throw new InvalidDataException($"it is not a '{Format}' sidecar.");
            }

            if (rows.Count != n)
            {
                throw new InvalidDataException($"it describes {rows.Count} embeddings but the .npy holds {n}.");
            }

            CheckRecordedShape(top, shape);
            CheckPairing(top, data, path, sidecar, warn);

            var result = new GenerationParameters[n];
            for (int i = 0; i < n; i++)
            {
                result[i] = GenerationParameters.FromSidecarRow(rows[i] ?? throw new InvalidDataException($"its row {i} is not a JSON object."), i);
            }

            return result;
        }
        catch (Exception ex) when (ex is JsonException or InvalidDataException or InvalidOperationException or FormatException or IOException or ArgumentException)
        {
            throw new WuerstchenException("InvalidEmbeddingFile", WuerstchenErrorKind.InvalidData,
                $"The metadata file '{TextExcerpt.Of(sidecar, 200)}' could not be read: {TextExcerpt.Of(ex.Message, 300)}", sidecar, ex);
        }
    }
}
