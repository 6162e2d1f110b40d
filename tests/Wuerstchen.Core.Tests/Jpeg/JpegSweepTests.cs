using Wuerstchen.Core.IO;
using Wuerstchen.Core.IO.Jpeg;
using Xunit;
using Xunit.Abstractions;

namespace Wuerstchen.Core.Tests.Jpeg;

/// <summary>
/// The local sweep (not run in CI, where the variable is unset and this passes without reading anything): every
/// NNNN.jpg in the folder WUERSTCHEN_JPEG_SWEEP names must decode to exactly the bytes of NNNN.rgb, Pillow's decode
/// (data/jpeg/sweep.py writes them).
/// </summary>
public class JpegSweepTests
{
    private readonly ITestOutputHelper _output;

    public JpegSweepTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void Local_sweep_decodes_byte_identical_to_Pillow()
    {
        var folder = Environment.GetEnvironmentVariable("WUERSTCHEN_JPEG_SWEEP");
        if (string.IsNullOrEmpty(folder))
        {
            _output.WriteLine("WUERSTCHEN_JPEG_SWEEP is not set: nothing to sweep");
            return;
        }

        var files = Directory.GetFiles(folder, "*.jpg").OrderBy(f => f, StringComparer.Ordinal).ToList();
        var failures = new List<string>();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        foreach (var file in files)
        {
            var expected = File.ReadAllBytes(Path.ChangeExtension(file, ".rgb"));
            try
            {
                var image = JpegDecoder.Decode(File.ReadAllBytes(file), ImageLoader.MaxPixels);
                if (!image.Rgb.AsSpan().SequenceEqual(expected))
                {
                    failures.Add($"{Path.GetFileName(file)}: {JpegTestData.Differences(expected, image.Rgb, image.Width)}");
                }
            }
            catch (JpegDecodeException ex)
            {
                failures.Add($"{Path.GetFileName(file)}: {(ex.Unsupported ? "refused" : "invalid")}: {ex.Message}");
            }
        }

        _output.WriteLine($"{files.Count} JPEGs, {files.Count - failures.Count} byte-identical, {watch.Elapsed.TotalSeconds:0.0} s");
        foreach (var failure in failures.Take(40))
        {
            var how = Path.Combine(folder, failure[..failure.IndexOf('.')] + ".txt");
            _output.WriteLine(failure + (File.Exists(how) ? "  [" + File.ReadAllText(how).Trim().Replace('\n', ';') + "]" : ""));
        }

        Assert.Empty(failures);
    }
}
