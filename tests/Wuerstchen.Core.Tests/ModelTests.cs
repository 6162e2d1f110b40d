using System.Text;
using Wuerstchen.Core.IO;
using Xunit;

namespace Wuerstchen.Core.Tests;

/// <summary>Makes a private copy of the stand-in model folder for tests that break it.</summary>
internal sealed class ModelCopy : IDisposable
{
    private readonly TempFolder _tmp = new();

    public ModelCopy()
    {
        foreach (var file in Directory.GetFiles(TestPaths.StandinModels, "*", SearchOption.AllDirectories))
        {
            var target = System.IO.Path.Combine(_tmp.Path, System.IO.Path.GetRelativePath(TestPaths.StandinModels, file));
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    public string Path => _tmp.Path;

    public string File_(string relative) => System.IO.Path.Combine(_tmp.Path, relative);

    /// <summary>Renames a tensor by a same-length byte replacement (keeps the protobuf valid).</summary>
    public void RenameTensor(string relative, string from, string to)
    {
        Assert.Equal(from.Length, to.Length);
        var path = File_(relative);
        var bytes = File.ReadAllBytes(path);
        var a = Encoding.ASCII.GetBytes(from);
        var b = Encoding.ASCII.GetBytes(to);
        int count = 0;
        for (int i = 0; i <= bytes.Length - a.Length; i++)
        {
            if (bytes.AsSpan(i, a.Length).SequenceEqual(a))
            {
                b.CopyTo(bytes, i);
                count++;
            }
        }

        Assert.True(count > 0);
        File.WriteAllBytes(path, bytes);
    }

    public void Dispose() => _tmp.Dispose();
}

public class ModelTests
{
    [Fact]
    public void ModelIndexOverridesConstants()
    {
        using var tmp = new TempFolder();
        File.WriteAllText(tmp["model_index.json"], "{\"name\": \"mine\", \"version\": \"2\", \"vqgan_scale_factor\": 0.5, \"latent_mean\": 40}");
        var c = ModelConfig.Load(tmp.Path);
        Assert.Equal("mine", c.Name);
        Assert.Equal("2", c.Version);
        Assert.Equal(0.5f, c.VqganScaleFactor);
        Assert.Equal(40f, c.LatentMean);
        Assert.Equal(42.67, c.ResolutionMultiple);
    }

    [Fact]
    public void ABrokenModelIndexNamesTheFile()
    {
        using var tmp = new TempFolder();
        File.WriteAllText(tmp["model_index.json"], "{ not json");
        var ex = Assert.Throws<WuerstchenException>(() => ModelConfig.Load(tmp.Path));
        Assert.Equal("InvalidModelIndex", ex.ErrorId);
        Assert.Contains("model_index.json", ex.Message);
    }

    [Fact]
    public void AMissingFolderSaysHowToGetModels()
    {
        var ex = Assert.Throws<WuerstchenException>(() => ModelFolder.Open("/nonexistent/wuerstchen-models"));
        Assert.Equal("ModelNotFound", ex.ErrorId);
        Assert.Equal(WuerstchenErrorKind.ObjectNotFound, ex.Kind);
        Assert.Contains("/nonexistent/wuerstchen-models", ex.Message);
        Assert.Contains("export_wuerstchen.py", ex.Message);
    }

    [Fact]
    public void SessionsAreCachedAndClearedSafely()
    {
        var cache = new SessionCache();
        var path = Path.Combine(TestPaths.StandinModels, "vqgan", "model.onnx");
        using (var a = cache.Acquire(NetworkKind.Vqgan, path, ExecutionOptions.Cpu))
        using (var b = cache.Acquire(NetworkKind.Vqgan, path, ExecutionOptions.Cpu))
        {
            Assert.Same(a.Session, b.Session);
            Assert.Equal(1, cache.LoadCount);
            Assert.Equal(1, cache.Clear());
            // still usable while leased
            Assert.True(a.Session.HasInput("sample"));
        }

        using var c = cache.Acquire(NetworkKind.Vqgan, path, ExecutionOptions.Cpu);
        Assert.Equal(2, cache.LoadCount);
        Assert.Equal("CPU", c.Session.Provider);
    }

    [Fact]
    public void ConcurrentAcquireLoadsOnce()
    {
        var cache = new SessionCache();
        var path = Path.Combine(TestPaths.StandinModels, "prior", "model.onnx");
        Parallel.For(0, 16, _ =>
        {
            using var lease = cache.Acquire(NetworkKind.Prior, path, ExecutionOptions.Cpu);
            Assert.True(lease.Session.HasInput("clip_text"));
        });
        Assert.Equal(1, cache.LoadCount);
    }

    [Fact]
    public void CudaRequestedWithoutCudaFailsWithInstructions()
    {
        // device 63: no machine here has 64 GPUs, so CUDA fails for it on every machine (no driver, or no such
        // device) and the test asserts the same everywhere; its own selector: no probe or warning of another test.
        // These tests run on the GPU build of ONNX Runtime (Wuerstchen.Core references Microsoft.ML.OnnxRuntime.Gpu.*).
        var devices = new DeviceSelector();
        var vqgan = Path.Combine(TestPaths.StandinModels, "vqgan", "model.onnx");
        var cuda = new ExecutionOptions { Provider = ExecutionProviderKind.Cuda, DeviceId = 63 };
        var ex = Assert.Throws<WuerstchenException>(() => devices.Open(NetworkKind.Vqgan, vqgan, cuda));
        Assert.Equal("CudaUnavailable", ex.ErrorId);
        Assert.Equal(WuerstchenErrorKind.NotInstalled, ex.Kind);
        Assert.Equal(63, ex.Target);
        Assert.Contains("device 63: " + DeviceSelector.NoDeviceOrDriver, ex.Message);
        Assert.Contains(DeviceSelector.DriverHelp, ex.Message);
        Assert.DoesNotContain("entry point", ex.Message);
        var (count, problem) = CudaDriver.Probe();
        Assert.Contains(count == 0 ? problem! : $"there is no device 63 (the driver reports {count}", ex.Message);
        var warnings = new List<string>();
        var auto = cuda with { Provider = ExecutionProviderKind.Auto };
        using var first = devices.Open(NetworkKind.Vqgan, vqgan, auto, warnings.Add);
        using var again = devices.Open(NetworkKind.Prior, Path.Combine(TestPaths.StandinModels, "prior", "model.onnx"), auto, warnings.Add);
        Assert.Equal("CPU", first.Provider);
        Assert.Equal("CPU", again.Provider);
        var warning = Assert.Single(warnings); // once per selector and device
        Assert.StartsWith(DeviceSelector.CudaFallbackStart + DeviceSelector.NoDeviceOrDriver, warning);
        Assert.Contains("cuDNN", warning);
    }

    [Fact]
    public void EachCudaReasonHasItsOwnHelp()
    {
        var devices = new DeviceSelector { NoGpuRuntimeHelp = "host help" };
        Assert.Equal("host help", devices.HelpFor(DeviceSelector.NoGpuRuntime + ": the ONNX Runtime loaded is its CPU build"));
        Assert.Equal(DeviceSelector.DriverHelp, devices.HelpFor(DeviceSelector.NoDeviceOrDriver + ": x"));
        Assert.Equal(DeviceSelector.CudaHelp, devices.HelpFor(DeviceSelector.ProviderFailed + ": x"));
        Assert.Equal(DeviceSelector.CudaHelp, devices.HelpFor("anything else"));
        Assert.Null(DeviceSelector.Summary("anything else"));
    }

    [Fact]
    public void TheStandInFolderPassesValidation()
    {
        var results = ModelValidator.Check(ModelFolder.Open(TestPaths.StandinModels), ExecutionOptions.Cpu, new SessionCache());
        Assert.All(results, r => Assert.True(r.Status == ModelCheckStatus.Ok, $"{r.Stage}: {string.Join("; ", r.Problems.Select(p => p.Message))}"));
        Assert.Equal(8, results.Single(r => r.Stage == "PriorTextEncoder").HiddenSize);
        Assert.Equal(6, results.Single(r => r.Stage == "DecoderTextEncoder").HiddenSize);
        Assert.Contains(results, r => r.Stage == "Effnet");
    }

    [Fact]
    public void BrokenFoldersNameTheFileAndWhatWasExpected()
    {
        using var copy = new ModelCopy();
        File.Delete(copy.File_("prior/model.onnx"));
        File.WriteAllBytes(copy.File_("decoder/model.onnx"), Array.Empty<byte>());
        File.WriteAllBytes(copy.File_("vqgan/model.onnx"), Encoding.ASCII.GetBytes("this is not an onnx model at all"));
        copy.RenameTensor("effnet/model.onnx", "image_embeddings", "image_embeddingX");
        File.Copy(copy.File_("decoder_text_encoder/model.onnx"), copy.File_("prior_text_encoder/model.onnx"), true);
        var results = ModelValidator.Check(ModelFolder.Open(copy.Path), ExecutionOptions.Cpu, new SessionCache());

        var prior = results.Single(r => r.Stage == "Prior");
        Assert.Equal(ModelCheckStatus.Missing, prior.Status);
        Assert.Contains(prior.Problems, p => p.ErrorId == "ModelFileNotFound" && p.Message.Contains("prior"));

        var decoder = results.Single(r => r.Stage == "Decoder");
        Assert.Contains(decoder.Problems, p => p.ErrorId == "InvalidModelFile" && p.Message.Contains("empty"));

        var vqgan = results.Single(r => r.Stage == "Vqgan");
        Assert.Contains(vqgan.Problems, p => p.ErrorId == "InvalidModelFile" && p.Path.EndsWith("model.onnx"));

        var effnet = results.Single(r => r.Stage == "Effnet");
        Assert.Contains(effnet.Problems, p => p.ErrorId == "ModelContractMismatch" && p.Expected.Contains("image_embeddings") && p.Found.Contains("image_embeddingX"));
    }

    [Fact]
    public void ATextEncoderWhoseWidthDisagreesWithThePriorIsReported()
    {
        using var copy = new ModelCopy();
        File.Copy(copy.File_("decoder_text_encoder/model.onnx"), copy.File_("prior_text_encoder/model.onnx"), true);
        var results = ModelValidator.Check(ModelFolder.Open(copy.Path), ExecutionOptions.Cpu, new SessionCache());
        var prior = results.Single(r => r.Stage == "Prior");
        var problem = Assert.Single(prior.Problems);
        Assert.Equal("TextWidthMismatch", problem.ErrorId);
        Assert.Equal("8", problem.Expected);
        Assert.Equal("6", problem.Found);

        var pipeline = new WuerstchenPipeline(ModelFolder.Open(copy.Path), ExecutionOptions.Cpu, new SessionCache());
        var ex = Assert.Throws<WuerstchenException>(() => pipeline.RunPrior(new PriorSettings { Prompts = new[] { "x" }, Width = 256, Height = 256, PriorSteps = 2 }));
        Assert.Equal("TextWidthMismatch", ex.ErrorId);
    }

    [Fact]
    public void AWrongInputNameFailsTheRunWithTheContractName()
    {
        using var copy = new ModelCopy();
        copy.RenameTensor("prior/model.onnx", "timestep_ratio", "timestep_ratiX");
        var pipeline = new WuerstchenPipeline(ModelFolder.Open(copy.Path), ExecutionOptions.Cpu, new SessionCache());
        var ex = Assert.Throws<WuerstchenException>(() => pipeline.RunPrior(new PriorSettings { Prompts = new[] { "x" }, Width = 256, Height = 256, PriorSteps = 2 }));
        Assert.Equal("ModelContractMismatch", ex.ErrorId);
        Assert.Contains("timestep_ratio", ex.Message);
        Assert.Contains("prior", ex.Message);
    }

    [Fact]
    public void AnImageBecomesAnEmbeddingThatDecodes()
    {
        using var tmp = new TempFolder();
        var path = tmp["in.png"];
        var rgb = new byte[300 * 200 * 3];
        for (int i = 0; i < rgb.Length; i++)
        {
            rgb[i] = (byte)((i / 3 % 300) * 255 / 300);
        }

        AtomicFile.Write(path, false, s => PngImage.Write(s, rgb, 300, 200, Array.Empty<KeyValuePair<string, string>>()));
        var pipeline = ParityJobs.Pipeline();
        var e = pipeline.EncodeImage(path, null, null, 5);
        // 300×200 (3:2) is encoded at 1152×768, its aspect ratio at about 1024² pixels (ImageFit) → prior latent 18×27
        Assert.Equal(new[] { 16, 18, 27 }, e.Shape);
        Assert.Equal(1152, e.Width);
        Assert.Equal(768, e.Height);
        Assert.Null(e.Stream);
        Assert.All(e.Data, v => Assert.True(float.IsFinite(v)));
        var e2 = pipeline.EncodeImage(path, 512, 384, 5);
        Assert.Equal(new[] { 16, 9, 12 }, e2.Shape);
        var images = pipeline.RunDecoder(new[] { e2 }, new DecoderSettings { DecoderSteps = 2 });
        Assert.Equal(512, images[0].Width);
        Assert.Equal(384, images[0].Height);
    }

    [Fact]
    public void ACameraPhotoIsEncodedTheWayUpItIsShown()
    {
        using var tmp = new TempFolder();
        var path = tmp["rotated.png"];
        using (var image = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(600, 200))
        {
            image.Metadata.ExifProfile = new SixLabors.ImageSharp.Metadata.Profiles.Exif.ExifProfile();
            image.Metadata.ExifProfile.SetValue(SixLabors.ImageSharp.Metadata.Profiles.Exif.ExifTag.Orientation, (ushort)6); // 90° clockwise
            SixLabors.ImageSharp.ImageExtensions.SaveAsPng(image, path);
        }

        Assert.Equal((200, 600), ImageLoader.Identify(path));
        var e = ParityJobs.Pipeline().EncodeImage(path, null, null, 1);
        // shown 200 wide and 600 high: 1:3 at about 1024² is 640×1920 → prior latent 45 high, 15 wide
        Assert.Equal(new[] { 16, 45, 15 }, e.Shape);
        Assert.Equal(640, e.Width);
        Assert.Equal(1920, e.Height);
    }

    [Fact]
    public void CorruptAndHugeImagesAreRejectedBeforeDecoding()
    {
        using var tmp = new TempFolder();
        File.WriteAllBytes(tmp["junk.png"], Encoding.ASCII.GetBytes("\x89PNG\r\n\x1a\n garbage"));
        var ex = Assert.Throws<WuerstchenException>(() => ImageLoader.Identify(tmp["junk.png"]));
        Assert.Equal("InvalidImageFile", ex.ErrorId);

        // a PNG header claiming 100000×100000 pixels (a decompression bomb)
        var bomb = new MemoryStream();
        bomb.Write(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, (byte)'I', (byte)'H', (byte)'D', (byte)'R' });
        var ihdr = new byte[] { 0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0, 8, 2, 0, 0, 0 };
        bomb.Write(ihdr);
        var crcInput = new byte[] { (byte)'I', (byte)'H', (byte)'D', (byte)'R' }.Concat(ihdr).ToArray();
        var crc = Crc32(crcInput);
        bomb.Write(new[] { (byte)(crc >> 24), (byte)(crc >> 16), (byte)(crc >> 8), (byte)crc });
        File.WriteAllBytes(tmp["bomb.png"], bomb.ToArray());
        var ex2 = Assert.Throws<WuerstchenException>(() => ImageLoader.LoadNormalized(tmp["bomb.png"], 96, 96));
        Assert.Contains(ex2.ErrorId, new[] { "ImageTooLarge", "InvalidImageFile" });
        Assert.Contains("bomb.png", ex2.Message);
    }

    private static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (var b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            }
        }

        return ~crc;
    }
}
