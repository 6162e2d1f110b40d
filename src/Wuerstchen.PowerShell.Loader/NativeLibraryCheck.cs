using System.Runtime.InteropServices;

namespace Wuerstchen.PowerShell.Loading;

/// <summary>
/// A cheap look at a native library before it is loaded: loading a wrong one cannot be undone (ONNX Runtime's managed
/// part caches the failure for the process) and a truncated one can crash the process when the loader maps it. The
/// header must say this OS's format and this process's architecture, and the file must be of a plausible size. It
/// cannot prove a library whole; it catches a 0-byte or cut-short file, another OS's or CPU's build, and a text file.
/// </summary>
internal static class NativeLibraryCheck
{
    /// <summary>ONNX Runtime's core library is 15–30 MB in every build; a few MB is certainly a cut-short copy.</summary>
    private const long MinimumBytes = 4L << 20;

    /// <summary>Why the file cannot be this process's ONNX Runtime library, or null when it may be.</summary>
    public static string? Problem(string path)
    {
        long length = new FileInfo(path).Length;
        if (length < MinimumBytes)
        {
            return $"{Path.GetFileName(path)} is {length} bytes, far less than an ONNX Runtime library (a damaged or cut-short copy: reinstall it)";
        }

        var header = new byte[512];
        int read;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            read = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        }

        string? machine = OperatingSystem.IsWindows() ? PeMachine(header, read) : ElfMachine(header, read);
        string expected = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        return machine switch
        {
            null => $"{Path.GetFileName(path)} is not a {(OperatingSystem.IsWindows() ? "Windows (PE)" : "Linux (ELF)")} library",
            _ when machine != expected => $"{Path.GetFileName(path)} is built for {machine}, this process runs on {expected}",
            _ => null,
        };
    }

    private static string? ElfMachine(byte[] h, int n)
    {
        if (n < 20 || h[0] != 0x7F || h[1] != (byte)'E' || h[2] != (byte)'L' || h[3] != (byte)'F')
        {
            return null;
        }

        return BitConverter.ToUInt16(h, 18) switch { 0x3E => "x64", 0xB7 => "arm64", 0x03 => "x86", 0x28 => "arm", var m => $"machine 0x{m:X}" };
    }

    private static string? PeMachine(byte[] h, int n)
    {
        if (n < 64 || h[0] != (byte)'M' || h[1] != (byte)'Z')
        {
            return null;
        }

        int pe = BitConverter.ToInt32(h, 0x3C);
        if (pe < 0 || pe + 6 > n || h[pe] != (byte)'P' || h[pe + 1] != (byte)'E')
        {
            return null;
        }

        return BitConverter.ToUInt16(h, pe + 4) switch { 0x8664 => "x64", 0xAA64 => "arm64", 0x14C => "x86", var m => $"machine 0x{m:X}" };
    }
}
