using Wuerstchen.Core.IO;
using Wuerstchen.Core.IO.Jpeg;

namespace Wuerstchen.Benchmark;

/// <summary>
/// `Benchmark jpeg-sweep FOLDER`: the local JPEG sweep (tests/Wuerstchen.Core.Tests/data/jpeg/sweep.py writes NNNN.jpg
/// and Pillow's decode NNNN.rgb into FOLDER). Every file must decode to exactly Pillow's bytes; prints the count and the
/// first differences, exit 1 if any. A command, not a test: its inputs are generated locally, so CI has none to read
/// (CI's JPEG checks are the committed fixtures in JpegDecoderTests).
/// </summary>
internal static class JpegSweep
{
    public static int Run(string[] args)
    {
        if (args.Length != 1 || !Directory.Exists(args[0]))
        {
            Console.Error.WriteLine("usage: Benchmark jpeg-sweep FOLDER   (a folder sweep.py wrote)");
            return 2;
        }

        var files = Directory.GetFiles(args[0], "*.jpg").OrderBy(f => f, StringComparer.Ordinal).ToList();
        var failures = new List<string>();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        foreach (var file in files)
        {
            var expected = File.ReadAllBytes(Path.ChangeExtension(file, ".rgb"));
            try
            {
                var image = JpegDecoder.Decode(File.ReadAllBytes(file), ImageLoader.MaxPixels);
                int differing = image.Rgb.Length == expected.Length ? expected.Where((b, i) => b != image.Rgb[i]).Count() : -1;
                if (differing != 0)
                {
                    failures.Add($"{Path.GetFileName(file)}: " + (differing < 0 ? $"{image.Rgb.Length} bytes, expected {expected.Length}" : $"{differing} of {expected.Length} bytes differ"));
                }
            }
            catch (JpegDecodeException ex)
            {
                failures.Add($"{Path.GetFileName(file)}: {(ex.Unsupported ? "refused" : "invalid")}: {ex.Message}");
            }
        }

        Console.WriteLine($"SUMMARY jpeg-sweep: {files.Count} JPEGs, {files.Count - failures.Count} byte-identical to Pillow, {watch.Elapsed.TotalSeconds:0.0} s");
        foreach (var failure in failures.Take(40))
        {
            Console.WriteLine(failure);
        }

        return failures.Count == 0 && files.Count > 0 ? 0 : 1;
    }
}
