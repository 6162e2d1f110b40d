using System.Diagnostics;
using System.Text;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Wuerstchen.Core.IO;
using Xunit;
using Xunit.Abstractions;

namespace Wuerstchen.Core.Tests;

/// <summary>
/// A fuzz pass over every reader of files the module did not write itself: mutations of good files (bit flips,
/// interesting bytes, cuts, repeats, insertions). Each must give a result or the reader's own error id — never another
/// exception type, a hang or a crash. Seeded, so a failure names the reader, the seed and the mutation to replay.
/// </summary>
public class ReaderFuzzTests
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(60);
    private readonly ITestOutputHelper _output;

    public ReaderFuzzTests(ITestOutputHelper output) => _output = output;

    /// <summary>Mutates <paramref name="seed"/>: 1–4 edits chosen by <paramref name="random"/>.</summary>
    internal static byte[] Mutate(byte[] seed, Random random)
    {
        var bytes = new List<byte>(seed);
        int edits = random.Next(1, 5);
        for (int e = 0; e < edits && bytes.Count > 0; e++)
        {
            int at = random.Next(bytes.Count);
            switch (random.Next(6))
            {
                case 0:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    bytes[at] = new byte[] { 0, 0xFF, 0x7F, 0x80, (byte)'9', (byte)'"', (byte)'\n', 0x1B }[random.Next(8)];
                    break;
                case 2:
                    bytes.RemoveRange(at, bytes.Count - at); // cut short
                    break;
                case 3:
                    int n = Math.Min(random.Next(1, 64), bytes.Count - at);
                    bytes.InsertRange(at, bytes.GetRange(at, n)); // repeat a run
                    break;
                case 4:
                    var junk = new byte[random.Next(1, 16)];
                    random.NextBytes(junk);
                    bytes.InsertRange(at, junk);
                    break;
                default:
                    bytes.RemoveRange(at, Math.Min(random.Next(1, 16), bytes.Count - at));
                    break;
            }
        }

        return bytes.ToArray();
    }

    /// <summary>
    /// Runs <paramref name="count"/> mutations of each seed file through <paramref name="read"/>; an exception other
    /// than a WuerstchenException with one of <paramref name="ids"/> fails the test with the case to replay.
    /// </summary>
    private void Fuzz(string reader, IReadOnlyList<byte[]> seeds, int count, Action<byte[]> read, params string[] ids)
    {
        var watch = Stopwatch.StartNew();
        int results = 0, errors = 0;
        var slowest = TimeSpan.Zero;
        int slowestCase = 0;
        for (int i = 0; i < count; i++)
        {
            var random = new Random(i);
            var input = Mutate(seeds[i % seeds.Count], random);
            var one = Stopwatch.StartNew();
            try
            {
                read(input);
                results++;
            }
            catch (WuerstchenException ex) when (ids.Contains(ex.ErrorId))
            {
                Assert.True(ex.Message.Length < 2000, $"{reader} #{i}: a {ex.Message.Length}-character message");
                Assert.DoesNotContain('\u001b', ex.Message);
                errors++;
            }
            catch (Exception ex)
            {
                Assert.Fail($"{reader} mutation #{i} (seed file {i % seeds.Count}, Random({i})): {ex.GetType().FullName}: {ex.Message}");
            }

            if (one.Elapsed > slowest)
            {
                (slowest, slowestCase) = (one.Elapsed, i);
            }

            Assert.True(one.Elapsed < TimeSpan.FromSeconds(15), $"{reader} mutation #{i} took {one.Elapsed.TotalSeconds:0.0} s (a hang?)");
        }

        _output.WriteLine($"{reader}: {count} mutations, {results} read, {errors} refused, {watch.Elapsed.TotalSeconds:0.0} s, slowest #{slowestCase} {slowest.TotalMilliseconds:0} ms");
        Assert.True(watch.Elapsed < Budget, $"{reader}: {count} mutations took {watch.Elapsed}");
        Assert.True(errors > 0, $"{reader}: no mutation was refused — the fuzzing does not reach the checks");
    }

    [Fact]
    public void EmbeddingFilesGiveEmbeddingsOrInvalidEmbeddingFile()
    {
        using var temp = new TempFolder();
        var rows = Enumerable.Range(0, 2).Select(i => new GenerationParameters { Prompt = "a cat " + i, Seed = 7 + i, Width = 128, Height = 128 }
            .ToEmbedding(new[] { 16, 3, 3 }, Enumerable.Range(0, 144).Select(v => v * 0.1f).ToArray())).ToList();
        var good = temp["good.npy"];
        EmbeddingFile.Write(good, rows, overwrite: false);
        var npy = File.ReadAllBytes(good);
        var sidecar = File.ReadAllBytes(EmbeddingFile.SidecarPath(good));
        var path = temp["fuzz.npy"];
        Fuzz(".npy", new[] { npy }, 1000, bytes =>
        {
            File.WriteAllBytes(path, bytes);
            File.Delete(EmbeddingFile.SidecarPath(path));
            EmbeddingFile.Read(path);
        }, "InvalidEmbeddingFile");
        File.WriteAllBytes(path, npy);
        Fuzz("sidecar", new[] { sidecar }, 1000, bytes =>
        {
            File.WriteAllBytes(EmbeddingFile.SidecarPath(path), bytes);
            EmbeddingFile.Read(path);
        }, "InvalidEmbeddingFile");
    }

    [Fact]
    public void ModelIndexesGiveAConfigOrInvalidModelIndex()
    {
        using var temp = new TempFolder();
        var seeds = new[]
        {
            "{ \"family\": \"stable-cascade\", \"name\": \"sc\", \"max_length\": 77, \"latent_mean\": 42.0, \"pad_token_id\": 0 }",
            "{ \"family\": \"wuerstchen-v2\", \"version\": \"1.2.0\", \"resolution_multiple\": 42.67, \"scheduler_s\": 0.008 }",
        }.Select(Encoding.UTF8.GetBytes).ToList();
        var path = temp["model_index.json"];
        Fuzz("model_index.json", seeds, 1000, bytes =>
        {
            File.WriteAllBytes(path, bytes);
            ModelConfig.Load(temp.Path);
        }, "InvalidModelIndex");
    }

    [Fact]
    public void TokenizerFilesGiveATokenizerOrInvalidTokenizer()
    {
        using var temp = new TempFolder();
        var folder = Directory.CreateDirectory(Path.Combine(temp.Path, "prior_tokenizer")).FullName;
        var (vocab, merges, map) = SmallTokenizer();
        var files = new[] { ("vocab.json", vocab), ("merges.txt", merges), ("special_tokens_map.json", map) };
        foreach (var (name, text) in files)
        {
            File.WriteAllText(Path.Combine(folder, name), text);
        }

        var model = ModelFolder.Open(temp.Path);
        Assert.Equal(77, model.Tokenizer(NetworkKind.PriorTextEncoder, new TokenizerCache()).Encode("a b c").InputIds.Length);
        foreach (var (name, text) in files)
        {
            var path = Path.Combine(folder, name);
            Fuzz(name, new[] { Encoding.UTF8.GetBytes(text) }, 500, bytes =>
            {
                File.WriteAllBytes(path, bytes);
                var ids = model.Tokenizer(NetworkKind.PriorTextEncoder, new TokenizerCache()).Encode("a photo of a cat").InputIds;
                Assert.Equal(77, ids.Length);
            }, "InvalidTokenizer", "TokenizerNotFound");
            File.WriteAllText(path, text);
        }
    }

    /// <summary>A byte-level vocabulary of 512 symbols, two merges and the special tokens: small enough to read 1,500 times.</summary>
    private static (string Vocab, string Merges, string Map) SmallTokenizer()
    {
        var vocab = new Dictionary<string, int>();
        for (int b = 0; b < 256; b++)
        {
            vocab[Text.ByteSymbols.ByteToUnicode[b].ToString()] = b;
            vocab[Text.ByteSymbols.ByteToUnicode[b] + "</w>"] = 256 + b;
        }

        vocab["ab"] = 512;
        vocab["ab</w>"] = 513;
        vocab["<|startoftext|>"] = 49406;
        vocab["<|endoftext|>"] = 49407;
        return (System.Text.Json.JsonSerializer.Serialize(vocab), "#version: 0.2\na b\na b</w>\n",
            "{ \"pad_token\": { \"content\": \"!\" }, \"bos_token\": \"<|startoftext|>\" }");
    }

    [Fact]
    public void ImagesGiveAnEncoderInputOrAnImageError()
    {
        using var temp = new TempFolder();
        var seeds = SeedImages();
        var path = temp["fuzz.img"];
        Fuzz("images", seeds, 1200, bytes =>
        {
            File.WriteAllBytes(path, bytes);
            var (w, h) = ImageLoader.Identify(path);
            Assert.True(w > 0 && h > 0);
            Assert.Equal(3 * 64 * 64, ImageLoader.LoadNormalized(path, 64, 64).Length);
        }, "InvalidImageFile", "ImageTooLarge");
    }

    [Fact]
    public void ImageParametersGiveADictionaryOrInvalidData()
    {
        using var temp = new TempFolder();
        var seeds = SeedImages();
        var path = temp["fuzz.img"];
        Fuzz("image parameters", seeds, 800, bytes =>
        {
            File.WriteAllBytes(path, bytes);
            try
            {
                ImageFile.ReadParameters(path);
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException)
            {
                // ReadParameters is a script-facing reader: these are its documented failures
                throw new WuerstchenException("InvalidImageFile", WuerstchenErrorKind.InvalidData, TextExcerpt.Of(ex.Message, 200), path, ex);
            }
        }, "InvalidImageFile");
    }

    /// <summary>16×16 images in every format the encoder reads, carrying parameters (PNG text, XMP), plus an animated GIF.</summary>
    private static List<byte[]> SeedImages()
    {
        var rgb = Enumerable.Range(0, 16 * 16 * 3).Select(i => (byte)(i * 7)).ToArray();
        var parameters = new Dictionary<string, string> { ["prompt"] = "a cat \u00e9\u4e16", ["seed"] = "42" };
        var seeds = new List<byte[]>();
        foreach (var format in new[] { ImageFileFormat.Png, ImageFileFormat.Jpeg, ImageFileFormat.WebP })
        {
            using var ms = new MemoryStream();
            ImageFile.Write(ms, rgb, 16, 16, parameters, format);
            seeds.Add(ms.ToArray());
        }

        using var image = Image.LoadPixelData<Rgb24>(rgb, 16, 16);
        foreach (var save in new Action<Stream>[] { s => image.SaveAsGif(s), s => image.SaveAsBmp(s), s => image.SaveAsTiff(s), s => image.SaveAsTga(s) })
        {
            using var ms = new MemoryStream();
            save(ms);
            seeds.Add(ms.ToArray());
        }

        var gif = new MemoryStream();
        using (var animated = image.Clone())
        {
            animated.Frames.AddFrame(image.Frames.RootFrame);
            animated.SaveAsGif(gif);
        }

        seeds.Add(gif.ToArray());
        seeds.Add(BoundedReadTests.PngWithTextBomb(4L << 20)); // zTXt that inflates past PngText's bound
        return seeds;
    }
}
