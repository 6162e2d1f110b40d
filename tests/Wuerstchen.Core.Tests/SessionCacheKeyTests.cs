using Xunit;

namespace Wuerstchen.Core.Tests;

/// <summary>
/// Issue 21 point 9: the session cache keys a network file by what it is now (its target, size and time stamp, a
/// symbolic link followed as in the Hugging Face cache layout) and keeps one session per file and device.
/// </summary>
public class SessionCacheKeyTests
{
    private static readonly string Vqgan = Path.Combine(TestPaths.StandinModels, "vqgan", "model.onnx");
    private static readonly string Effnet = Path.Combine(TestPaths.StandinModels, "effnet", "model.onnx");

    private static void Touch(SessionCache cache, string path)
    {
        using var lease = cache.Acquire(NetworkKind.Vqgan, path, ExecutionOptions.Cpu);
    }

    [Fact]
    public void SessionCache_ANetworkFileChangedTenTimes_KeepsOneSession()
    {
        using var tmp = new TempFolder();
        var file = tmp["model.onnx"];
        File.Copy(Vqgan, file);
        var cache = new SessionCache();
        Touch(cache, file);
        for (int i = 1; i <= 10; i++)
        {
            File.Copy(Vqgan, file, overwrite: true);
            File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddMinutes(i));
            Touch(cache, file);
        }

        Assert.Equal(11, cache.LoadCount); // each change is loaded …
        Assert.Equal(1, cache.Count); // … and supersedes the session before it
    }

    [Fact]
    public void SessionCache_ASymlinkWhoseTargetIsReplaced_ServesTheNewNetwork()
    {
        using var tmp = new TempFolder();
        var blob = tmp["blob"];
        File.Copy(Vqgan, blob);
        var link = tmp["model.onnx"];
        File.CreateSymbolicLink(link, blob);
        var cache = new SessionCache();
        Touch(cache, link);
        File.Copy(Effnet, blob, overwrite: true); // the target changes; the link itself does not
        File.SetLastWriteTimeUtc(blob, DateTime.UtcNow.AddMinutes(1));
        Touch(cache, link);
        Assert.Equal(2, cache.LoadCount);
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public void ModelValidator_ASymlinkedNetworkFile_IsMeasuredByItsTarget()
    {
        using var copy = new ModelCopy();
        using var blobs = new TempFolder();
        var blob = blobs["vqgan-blob"];
        File.Move(copy.File_("vqgan/model.onnx"), blob);
        File.CreateSymbolicLink(copy.File_("vqgan/model.onnx"), blob);
        var results = ModelValidator.Check(ModelFolder.Open(copy.Path), ExecutionOptions.Cpu, new SessionCache());
        var vqgan = results.Single(r => r.Stage == "Vqgan");
        Assert.Equal(new FileInfo(blob).Length, vqgan.SizeBytes);
    }
}
