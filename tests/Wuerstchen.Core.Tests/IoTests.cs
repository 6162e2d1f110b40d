using System.Text;
using Wuerstchen.Core.IO;
using Xunit;

namespace Wuerstchen.Core.Tests;

public class NpyTests
{
    [Fact]
    public void Float32RoundTripsWithAnAlignedHeader()
    {
        var data = Enumerable.Range(0, 2 * 16 * 3 * 3).Select(i => i * 0.5f - 7f).ToArray();
        using var ms = new MemoryStream();
        Npy.WriteFloat32(ms, data, new[] { 2, 16, 3, 3 });
        var bytes = ms.ToArray();
        int headerLength = BitConverter.ToUInt16(bytes, 8);
        Assert.Equal(0, (10 + headerLength) % 64);
        Assert.Contains("'descr': '<f4'", Encoding.ASCII.GetString(bytes, 10, headerLength));
        ms.Position = 0;
        var back = Npy.Read(ms);
        Assert.Equal(new[] { 2, 16, 3, 3 }, back.Shape);
        Assert.Equal(data, back.Floats);
    }

    [Fact]
    public void ReadsTheParityExpectedFilesWrittenByNumpy()
    {
        var images = Npy.Read(Path.Combine(TestPaths.DataDir, "parity", "v1-small.images.npy"));
        Assert.Equal("|u1", images.Descr);
        Assert.Equal(new[] { 1, 512, 512, 3 }, images.Shape);
        var emb = Npy.Read(Path.Combine(TestPaths.DataDir, "parity", "v1-small.embeddings.npy"));
        Assert.Equal(new[] { 1, 16, 12, 12 }, emb.Shape);
        Assert.All(emb.Floats!, v => Assert.True(float.IsFinite(v)));
    }

    private static byte[] WithHeader(string header, int payload, byte major = 1)
    {
        using var ms = new MemoryStream();
        ms.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', major, 0 });
        var h = Encoding.ASCII.GetBytes(header);
        if (major == 1)
        {
            ms.Write(BitConverter.GetBytes((ushort)h.Length));
        }
        else
        {
            ms.Write(BitConverter.GetBytes((uint)h.Length));
        }

        ms.Write(h);
        ms.Write(new byte[payload]);
        return ms.ToArray();
    }

    [Theory]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100), }", "elements")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 16, 3, 3), }", "truncated")]
    [InlineData("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", "dtype")]
    [InlineData("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", "Fortran")]
    [InlineData("{'descr': '<f4', 'shape': (1,), }", "malformed")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", "malformed")]
    public void MalformedFilesFailClearlyBeforeAllocating(string header, string expected)
    {
        var ex = Assert.Throws<InvalidDataException>(() => Npy.Read(new MemoryStream(WithHeader(header, 16))));
        Assert.Contains(expected, ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void AnOversizedHeaderLengthIsRejectedWithoutReadingIt()
    {
        var bytes = new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 2, 0, 0xFF, 0xFF, 0xFF, 0x7F };
        var ex = Assert.Throws<InvalidDataException>(() => Npy.Read(new MemoryStream(bytes)));
        Assert.Contains("header", ex.Message);
    }

    [Fact]
    public void RandomBytesNeverCrashTheReader()
    {
        var rng = new Random(1234);
        var valid = new MemoryStream();
        Npy.WriteFloat32(valid, new float[48], new[] { 1, 16, 1, 3 });
        var template = valid.ToArray();
        for (int i = 0; i < 3000; i++)
        {
            byte[] bytes;
            if (i % 2 == 0)
            {
                bytes = new byte[rng.Next(0, 300)];
                rng.NextBytes(bytes);
            }
            else
            {
                bytes = (byte[])template.Clone();
                for (int k = 0; k < 1 + rng.Next(6); k++)
                {
                    bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
                }

                bytes = bytes.AsSpan(0, rng.Next(bytes.Length / 2, bytes.Length + 1)).ToArray();
            }

            try
            {
                var a = Npy.Read(new MemoryStream(bytes));
                Assert.True((a.Floats?.Length ?? a.Bytes!.Length) >= 0);
            }
            catch (InvalidDataException)
            {
                // the only acceptable failure
            }
        }
    }
}

public class PngAndFileTests
{
    [Fact]
    public void PngKeepsPixelsAndUnicodeParameters()
    {
        using var tmp = new TempFolder();
        var path = tmp["a.png"];
        var rgb = Enumerable.Range(0, 8 * 4 * 3).Select(i => (byte)(i * 7)).ToArray();
        var text = new Dictionary<string, string> { ["prompt"] = "Würstchen 🌭 über alles", ["seed"] = "42" };
        AtomicFile.Write(path, false, s => PngImage.Write(s, rgb, 8, 4, text));
        var back = PngImage.ReadText(path);
        Assert.Equal("Würstchen 🌭 über alles", back["prompt"]);
        Assert.Equal("42", back["seed"]);
        using var img = SixLabors.ImageSharp.Image.Load<SixLabors.ImageSharp.PixelFormats.Rgb24>(path);
        Assert.Equal(8, img.Width);
        Assert.Equal(rgb[3 * 9 + 1], img[1, 1].G);
    }

    [Fact]
    public void AtomicWriteLeavesNothingWhenTheWriterFails()
    {
        using var tmp = new TempFolder();
        var path = tmp["b.png"];
        var ex = Assert.Throws<WuerstchenException>(() => AtomicFile.Write(path, false, s =>
        {
            s.Write(new byte[1000]);
            throw new IOException("disk full (simulated)");
        }));
        Assert.Equal("OutputWriteFailed", ex.ErrorId);
        Assert.Equal(WuerstchenErrorKind.WriteError, ex.Kind);
        Assert.Contains("b.png", ex.Message);
        Assert.Contains("disk full", ex.Message);
        Assert.Empty(Directory.GetFiles(tmp.Path));
    }

    [Fact]
    public void AtomicWriteRefusesToOverwriteWithoutForce()
    {
        using var tmp = new TempFolder();
        var path = tmp["c.bin"];
        File.WriteAllText(path, "keep");
        var ex = Assert.Throws<WuerstchenException>(() => AtomicFile.Write(path, false, s => s.WriteByte(1)));
        Assert.Equal("OutputFileExists", ex.ErrorId);
        Assert.Equal("keep", File.ReadAllText(path));
        AtomicFile.Write(path, true, s => s.WriteByte(65));
        Assert.Equal("A", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(tmp.Path));
    }

    [Fact]
    public void WritersRacingForOneNameNeverReplaceEachOther()
    {
        using var tmp = new TempFolder();
        for (int round = 0; round < 50; round++)
        {
            var path = tmp[$"race-{round}.bin"];
            int won = 0, refused = 0;
            using var ready = new Barrier(4);
            var writers = Enumerable.Range(0, 4).Select(i => new Thread(() =>
            {
                try
                {
                    AtomicFile.Write(path, false, s =>
                    {
                        s.Write(new byte[4096 + i]);
                        ready.SignalAndWait(); // every writer is past the early existence check: the publish step decides
                    });
                    Interlocked.Increment(ref won);
                }
                catch (WuerstchenException ex) when (ex.ErrorId == "OutputFileExists")
                {
                    Interlocked.Increment(ref refused);
                }
            })).ToList();
            writers.ForEach(t => t.Start());
            writers.ForEach(t => t.Join());
            Assert.Equal(1, won);
            Assert.Equal(3, refused);
        }

        Assert.Equal(50, Directory.GetFiles(tmp.Path).Length); // no temporary file left
    }

    [Fact]
    public void EmbeddingFileRoundTripsDataAndMetadataButNoStream()
    {
        using var tmp = new TempFolder();
        var pipeline = ParityJobs.Pipeline();
        var embeddings = pipeline.RunPrior(new PriorSettings { Prompts = new[] { "a", "b" }, Width = 384, Height = 256, Seed = 9, PriorSteps = 3, NegativePrompt = "n" });
        var path = tmp["e.npy"];
        EmbeddingFile.Write(path, embeddings, false);
        Assert.True(File.Exists(tmp["e.json"]));
        var back = EmbeddingFile.Read(path);
        Assert.Equal(2, back.Count);
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(embeddings[i].Data, back[i].Data);
            Assert.Equal(embeddings[i].Shape, back[i].Shape);
            Assert.Equal(embeddings[i].Prompt, back[i].Prompt);
            Assert.Equal("n", back[i].NegativePrompt);
            Assert.Equal(9, back[i].Seed);
            Assert.Equal(384, back[i].Width);
            Assert.Equal(256, back[i].Height);
            Assert.Equal(3, back[i].PriorSteps);
            Assert.Null(back[i].Stream);
        }

        var raw = Npy.Read(path);
        Assert.Equal(new[] { 2, 16, 6, 9 }, raw.Shape);
    }

    [Fact]
    public void AnEmbeddingFileWithAWrongShapeIsRejected()
    {
        using var tmp = new TempFolder();
        var path = tmp["bad.npy"];
        using (var f = File.Create(path))
        {
            Npy.WriteFloat32(f, new float[8 * 9], new[] { 1, 8, 3, 3 });
        }

        var ex = Assert.Throws<WuerstchenException>(() => EmbeddingFile.Read(path));
        Assert.Equal("InvalidEmbeddingFile", ex.ErrorId);
        Assert.Contains("(1, 8, 3, 3)", ex.Message);
    }
}
