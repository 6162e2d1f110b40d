using Wuerstchen.Core;
using Wuerstchen.Core.IO;

namespace Wuerstchen.PowerShell;

/// <summary>
/// The one place images are written: each file atomically on the worker thread, emitted (as the provider's
/// FileInfo with the generation parameters) as soon as it is written, so a long batch streams.
/// </summary>
internal static class ImageWriter
{
    /// <summary>
    /// Saves each image with a target (null targets were declined by -WhatIf/-Confirm) as the engine yields it, and
    /// gives its pixels back before the next is decoded, so a batch holds one or two images, not all of them. A
    /// default-named image whose name was taken meanwhile (another runspace writing into the same folder) gets the next
    /// free name from <paramref name="outputs"/>; after Ctrl+C no further image is written. <paramref name="quality"/>
    /// is the JPEG/WebP quality (PNG ignores it). Returns how many were written.
    /// </summary>
    public static int WriteAll(IEnumerable<GeneratedImage> images, IReadOnlyList<string?> targets, bool force,
        OutputPaths outputs, EngineContext context, int quality = ImageFormats.DefaultQuality)
    {
        int written = 0, i = 0;
        foreach (var image in images)
        {
            using (image) // written: the pixel buffer goes back to the engine's pool for the next image
            {
                if (targets[i++] is { } path)
                {
                    context.Cancellation.ThrowIfCancellationRequested();
                    written += WriteOne(image, path, force, outputs, context, quality) ? 1 : 0;
                }
            }
        }

        return written;
    }

    private static bool WriteOne(GeneratedImage image, string path, bool force, OutputPaths outputs, EngineContext context, int quality)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                // the extension picks the format (PNG text chunks, or XMP in JPEG/WebP); written atomically
                ImageFile.Save(path, force, image.Pixels, image.Width, image.Height, image.Parameters(), quality);
                break;
            }
            catch (WuerstchenException ex) when (ex.ErrorId == "OutputFileExists" && attempt < 1000 && outputs.NextFree(path) is { } next)
            {
                path = next;
            }
            catch (WuerstchenException ex)
            {
                context.WriteError(ex);
                return false;
            }
        }

        context.WriteVerbose($"Wrote '{path}'.");
        context.WriteFile(path, Properties(image));
        return true;
    }

    /// <summary>The generation parameters an image's output object carries (so a run can be repeated or filtered):
    /// the engine's one record, the same that fills the PNG text and XMP.</summary>
    public static IReadOnlyList<KeyValuePair<string, object?>> Properties(GeneratedImage image) =>
        GenerationParameters.Of(image).ToOutputProperties().Append(new("Skipped", false)).ToArray();
}
