using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using Wuerstchen.Core.IO;
using Xunit;

namespace Wuerstchen.Core.Tests;

/// <summary>
/// Every file the module reads is checked before it is read: a regular file (a FIFO would block forever, a device
/// never ends), within its kind's size bound, and an .npy's shape × dtype equal to its data before anything is
/// allocated. Bad files give the reader's error id, quickly and without large allocations.
/// </summary>
public class BoundedReadTests
{
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(10);

    /// <summary>Runs <paramref name="action"/> on a worker; fails (and unblocks a FIFO reader) when it does not return in time.</summary>
    internal static T WithinTime<T>(Func<T> action, string? fifo = null)
    {
        var task = Task.Run(action);
        if (!task.Wait(Quick) && !task.IsCompleted)
        {
            if (fifo is not null)
            {
                using var unblock = new FileStream(fifo, FileMode.Open, FileAccess.Write); // the blocked reader gets EOF
            }

            Assert.Fail($"the read did not return within {Quick.TotalSeconds} s (it blocked on '{fifo}')");
        }

        return task.GetAwaiter().GetResult();
    }

    internal static void MakeFifo(string path)
    {
        var start = new ProcessStartInfo("mkfifo") { UseShellExecute = false };
        start.ArgumentList.Add(path);
        using var p = Process.Start(start)!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    private static WuerstchenException Caught(Action action, string? fifo = null) =>
        WithinTime(() => Assert.Throws<WuerstchenException>(action), fifo);

    /// <summary>A model folder holding the stand-in prior tokenizer (copied, so its files can be replaced).</summary>
    private static string TokenizerModel(TempFolder temp)
    {
        var tok = Directory.CreateDirectory(Path.Combine(temp.Path, "model", "prior_tokenizer")).FullName;
        foreach (var f in new[] { "vocab.json", "merges.txt" })
        {
            File.Copy(Path.Combine(TestPaths.StandinModels, "prior_tokenizer", f), Path.Combine(tok, f));
        }

        return Path.Combine(temp.Path, "model");
    }

    private static WuerstchenException TokenizerError(string model, string? fifo = null) =>
        Caught(() => ModelFolder.Open(model).Tokenizer(NetworkKind.PriorTextEncoder, new TokenizerCache()), fifo);

    [Theory]
    [InlineData("vocab.json")]
    [InlineData("merges.txt")]
    [InlineData("special_tokens_map.json")]
    public void TokenizerRefusesAFifoInsteadOfBlocking(string file)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var temp = new TempFolder();
        var model = TokenizerModel(temp);
        var path = Path.Combine(model, "prior_tokenizer", file);
        File.Delete(path);
        MakeFifo(path);
        var ex = TokenizerError(model, path);
        Assert.Equal("InvalidTokenizer", ex.ErrorId);
        Assert.Contains(file, ex.Message);
        Assert.Contains("not a regular file", ex.Message);
    }

    [Fact]
    public void ModelConfigRefusesAFifoModelIndexInsteadOfBlocking()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var temp = new TempFolder();
        var index = temp["model_index.json"];
        MakeFifo(index);
        var ex = Caught(() => ModelConfig.Load(temp.Path), index);
        Assert.Equal("InvalidModelIndex", ex.ErrorId);
        Assert.Contains("not a regular file", ex.Message);
    }

    [Fact]
    public void ANetworkFileThatIsAFifoIsRefusedAsNotARegularFile()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var temp = new TempFolder();
        var onnx = temp["model.onnx"];
        MakeFifo(onnx);
        var ex = Caught(() => new SessionCache().Acquire(NetworkKind.Vqgan, onnx, ExecutionOptions.Cpu).Dispose(), onnx);
        Assert.Equal("InvalidModelFile", ex.ErrorId);
        Assert.Contains("not a regular file (it is a FIFO", ex.Message);
    }

    [Fact]
    public void TokenizerRefusesAnOversizedVocabularyBeforeReadingIt()
    {
        using var temp = new TempFolder();
        var model = TokenizerModel(temp);
        var vocab = Path.Combine(model, "prior_tokenizer", "vocab.json");
        using (var f = File.Create(vocab))
        {
            f.SetLength(64L << 20); // sparse: no disk, no memory
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<WuerstchenException>(() => ModelFolder.Open(model).Tokenizer(NetworkKind.PriorTextEncoder, new TokenizerCache()));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal("InvalidTokenizer", ex.ErrorId);
        Assert.Contains("64 MiB", ex.Message);
        Assert.True(allocated < 8L << 20, $"{allocated} bytes allocated to refuse a 64 MiB vocab.json");
    }

    [Fact]
    public void TokenizerQuotesAShortVisibleExcerptOfABadMergesLine()
    {
        using var temp = new TempFolder();
        var model = TokenizerModel(temp);
        var merges = Path.Combine(model, "prior_tokenizer", "merges.txt");
        File.WriteAllText(merges, "#version: 0.2\ni n\n\u001b[31mred" + new string('x', 1_000_000) + "\n");
        var ex = TokenizerError(model);
        Assert.Equal("InvalidTokenizer", ex.ErrorId);
        Assert.Contains("line 3", ex.Message);
        Assert.DoesNotContain('\u001b', ex.Message);
        Assert.Contains("\\x1B[31mred", ex.Message);
        Assert.True(ex.Message.Length < 600, $"the message has {ex.Message.Length} characters");
    }

    [Fact]
    public void EmbeddingFileRefusesAFifoInsteadOfBlocking()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var temp = new TempFolder();
        var npy = temp["pipe.npy"];
        MakeFifo(npy);
        var ex = Caught(() => EmbeddingFile.Read(npy), npy);
        Assert.Equal("InvalidEmbeddingFile", ex.ErrorId);
        Assert.Contains("not a regular file", ex.Message);
    }

    private static void WriteNpy(string path, string descr, string shape, long dataBytes)
    {
        using var f = File.Create(path);
        var header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({shape}), }}";
        header += new string(' ', 63 - (header.Length + 10) % 64) + "\n";
        f.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 });
        f.Write(BitConverter.GetBytes((ushort)header.Length));
        f.Write(Encoding.ASCII.GetBytes(header));
        f.SetLength(f.Position + dataBytes); // sparse zeros
    }

    [Fact]
    public void EmbeddingFileChecksTheShapeBeforeAllocatingTheData()
    {
        using var temp = new TempFolder();
        var npy = temp["wide.npy"];
        WriteNpy(npy, "<f4", "1, 4, 2048, 2048", 64L << 20); // 64 MiB of float32 in a shape that is no embedding
        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<WuerstchenException>(() => EmbeddingFile.Read(npy));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal("InvalidEmbeddingFile", ex.ErrorId);
        Assert.Contains("(1, 4, 2048, 2048)", ex.Message);
        Assert.True(allocated < 4L << 20, $"{allocated} bytes allocated to refuse a 64 MiB file by its header");
    }

    [Fact]
    public void EmbeddingFileRefusesDataLongerThanItsShape()
    {
        using var temp = new TempFolder();
        var npy = temp["long.npy"];
        WriteNpy(npy, "<f4", "1, 16, 3, 3", 576 + 1000);
        var ex = Assert.Throws<WuerstchenException>(() => EmbeddingFile.Read(npy));
        Assert.Equal("InvalidEmbeddingFile", ex.ErrorId);
        Assert.Contains("576", ex.Message);
        Assert.Contains("1576", ex.Message);
    }

    [Fact]
    public void EmbeddingFileReadsFloat64WithoutAWholeFileBuffer()
    {
        using var temp = new TempFolder();
        var npy = temp["f8.npy"];
        WriteNpy(npy, "<f8", "4, 16, 128, 128", 4L * 16 * 128 * 128 * 8); // 8 MiB of float64 zeros → 4 MiB of float32
        long before = GC.GetAllocatedBytesForCurrentThread();
        var rows = EmbeddingFile.Read(npy);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(4, rows.Count);
        Assert.All(rows, r => Assert.Equal(16 * 128 * 128, r.Data.Length));
        Assert.True(allocated < 6L << 20, $"{allocated} bytes allocated for 4 MiB of float32 rows");
    }

    [Fact]
    public void ImageLoaderRefusesAFifoInsteadOfBlocking()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var temp = new TempFolder();
        var image = temp["pipe.png"];
        MakeFifo(image);
        var ex = Caught(() => ImageLoader.Identify(image), image);
        Assert.Equal("InvalidImageFile", ex.ErrorId);
        Assert.Contains("not a regular file", ex.Message);
    }

    /// <summary>A 64×64 PNG whose zTXt chunk inflates to <paramref name="textBytes"/> bytes.</summary>
    internal static byte[] PngWithTextBomb(long textBytes, string chunk = "zTXt")
    {
        using var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var zeros = new byte[1 << 20];
            Array.Fill(zeros, (byte)'a');
            for (long done = 0; done < textBytes; done += zeros.Length)
            {
                z.Write(zeros, 0, (int)Math.Min(zeros.Length, textBytes - done));
            }
        }

        using var png = new MemoryStream();
        PngImage.Write(png, new byte[64 * 64 * 3], 64, 64, Array.Empty<KeyValuePair<string, string>>());
        var bytes = png.ToArray();
        int iend = bytes.Length - 12; // IEND is the last chunk: insert the text chunk before it
        var head = chunk == "zTXt" ? Encoding.Latin1.GetBytes("Comment\0\0") : Encoding.Latin1.GetBytes("Comment\0\u0001\0\0\0");
        var data = head.Concat(compressed.ToArray()).ToArray();
        return bytes[..iend].Concat(Chunk(chunk, data)).Concat(bytes[iend..]).ToArray();
    }

    internal static byte[] Chunk(string type, byte[] data)
    {
        var typed = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        var result = new byte[12 + data.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(result, data.Length);
        typed.CopyTo(result, 4);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(result.AsSpan(8 + data.Length), Crc32(typed));
        return result;
    }

    private static uint Crc32(byte[] data)
    {
        uint c = uint.MaxValue;
        foreach (var b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
            }
        }

        return ~c;
    }

    [Theory]
    [InlineData("zTXt")]
    [InlineData("iTXt")]
    public void ImageLoaderDoesNotInflateTextChunks(string chunk)
    {
        using var temp = new TempFolder();
        var path = temp["text-bomb.png"];
        File.WriteAllBytes(path, PngWithTextBomb(32L << 20, chunk));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var (w, h) = ImageLoader.Identify(path);
        var pixels = ImageLoader.LoadNormalized(path, 64, 64);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal((64, 64), (w, h));
        Assert.Equal(3 * 64 * 64, pixels.Length);
        Assert.True(allocated < 8L << 20, $"{allocated} bytes allocated for a 64×64 image whose {chunk} inflates to 32 MiB");
    }

    [Fact]
    public void ReadParametersStopsAtABoundedTextChunk()
    {
        using var temp = new TempFolder();
        var path = temp["text-bomb.png"];
        File.WriteAllBytes(path, PngWithTextBomb(32L << 20));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.ThrowsAny<Exception>(() => ImageFile.ReadParameters(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.IsType<InvalidDataException>(ex);
        Assert.Contains("Comment", ex.Message);
        Assert.True(allocated < 8L << 20, $"{allocated} bytes allocated reading the parameters of a text bomb");
    }

    [Fact]
    public void ImageLoaderRefusesANegativeBmpWidthAsADamagedFile()
    {
        // a BMP header stores its width as a signed number; -8 gave the odd "ImageTooLarge: is -8×8 pixels; at most 16384 …"
        using var temp = new TempFolder();
        var path = temp["negative.bmp"];
        File.WriteAllBytes(path, Bmp(-8, 8, 8 * 8 * 3));
        var ex = Assert.Throws<WuerstchenException>(() => ImageLoader.Identify(path));
        Assert.Equal("InvalidImageFile", ex.ErrorId);
        Assert.Contains("-8", ex.Message);
        Assert.Contains("damaged", ex.Message);
        Assert.DoesNotContain("at most", ex.Message);
    }

    [Fact]
    public void ImageLoaderRefusesAHugeBmpHeaderAsImageTooLarge()
    {
        // ImageSharp refuses 100000×100000 itself ("bigger then the max allowed size"): the module's id and bounds, as for PNG
        using var temp = new TempFolder();
        var path = temp["huge.bmp"];
        File.WriteAllBytes(path, Bmp(100000, 100000, 16));
        var ex = Assert.Throws<WuerstchenException>(() => ImageLoader.Identify(path));
        Assert.Equal("ImageTooLarge", ex.ErrorId);
        Assert.Contains("16384", ex.Message);
    }

    /// <summary>A 24-bit BMP whose header says <paramref name="width"/>×<paramref name="height"/> (signed, as BMP stores them), with <paramref name="pixelBytes"/> of data.</summary>
    private static byte[] Bmp(int width, int height, int pixelBytes)
    {
        var bmp = new byte[54 + pixelBytes];
        Encoding.ASCII.GetBytes("BM").CopyTo(bmp, 0);
        BitConverter.GetBytes(bmp.Length).CopyTo(bmp, 2);
        BitConverter.GetBytes(54).CopyTo(bmp, 10); // pixels after the two headers
        BitConverter.GetBytes(40).CopyTo(bmp, 14); // BITMAPINFOHEADER
        BitConverter.GetBytes(width).CopyTo(bmp, 18);
        BitConverter.GetBytes(height).CopyTo(bmp, 22);
        BitConverter.GetBytes((short)1).CopyTo(bmp, 26);
        BitConverter.GetBytes((short)24).CopyTo(bmp, 28);
        return bmp;
    }
}
