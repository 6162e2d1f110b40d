namespace Wuerstchen.Core.IO.Jpeg;

/// <summary>
/// Why <see cref="JpegDecoder"/> gave no pixels. With <see cref="Unsupported"/> the file is a JPEG of a kind this
/// decoder does not reproduce (arithmetic coding, 12-bit or lossless, CMYK/YCCK …) and the caller may decode it another
/// way; otherwise the file is malformed, at a point where libjpeg-turbo stops with an error as well.
/// </summary>
internal sealed class JpegDecodeException : Exception
{
    private JpegDecodeException(string message, bool unsupported)
        : base(message) => Unsupported = unsupported;

    /// <summary>True for a valid JPEG of a kind the decoder refuses; false for a malformed file.</summary>
    public bool Unsupported { get; }

    public static JpegDecodeException Invalid(string message) => new(message, unsupported: false);

    public static JpegDecodeException NotSupported(string message) => new(message, unsupported: true);
}
