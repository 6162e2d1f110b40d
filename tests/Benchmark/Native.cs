using Wuerstchen.TestSupport;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;
using Wuerstchen.Core;
using Wuerstchen.Core.Noise;

namespace Wuerstchen.Benchmark;

/// <summary>Linux process counters without managed allocations (so they can be read inside the measured loops).</summary>
internal static unsafe class Native
{
    private static bool _unavailable = !OperatingSystem.IsLinux();

    /// <summary>Minor page faults of the process so far (getrusage ru_minflt), or 0 where unavailable.</summary>
    public static long MinorFaults()
    {
        if (_unavailable)
        {
            return 0;
        }

        try
        {
            // struct rusage: ru_utime, ru_stime (2 × struct timeval = 4 longs), ru_maxrss, ru_ixrss, ru_idrss, ru_isrss, ru_minflt, …
            long* usage = stackalloc long[32];
            return GetRusage(0, usage) == 0 ? usage[8] : 0;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            _unavailable = true;
            return 0;
        }
    }

    /// <summary>Cost of faulting in fresh pages: 64 MiB from the OS (mmap'ed by malloc), one write per 4 KiB page.</summary>
    public static double FirstTouchMicroseconds()
    {
        const int Size = 64 << 20;
        var best = double.MaxValue;
        for (int round = 0; round < 3; round++)
        {
            byte* p = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc(Size);
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < Size; i += 4096)
            {
                p[i] = 1;
            }

            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalMilliseconds * 1000 / (Size / 4096));
            System.Runtime.InteropServices.NativeMemory.Free(p);
        }

        return best;
    }

    /// <summary>Resets the process's peak resident set (VmHWM) so that the next phase's peak is its own (Linux; false elsewhere).</summary>
    public static bool ResetPeakResident()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Peak resident bytes since the last reset (VmHWM), else the process's peak working set.</summary>
    public static long PeakResidentBytes() => StatusBytes("VmHWM:") ?? System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64;

    /// <summary>Anonymous resident bytes now (RssAnon: heap, arenas, pre-packed weights; not memory-mapped files), else 0.</summary>
    public static long AnonymousBytes() => StatusBytes("RssAnon:") ?? 0;

    /// <summary>glibc's malloc_trim(0): freed heap pages go back to the OS (no-op elsewhere).</summary>
    public static void TrimNativeHeap()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        try
        {
            MallocTrim(0);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
        }
    }

    [DllImport("libc.so.6", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

    /// <summary>Resident bytes now (VmRSS), else the working set.</summary>
    public static long ResidentBytes() => StatusBytes("VmRSS:") ?? Environment.WorkingSet;

    private static long? StatusBytes(string key)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(key, StringComparison.Ordinal))
            {
                return long.Parse(line[key.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }

        return null;
    }

    [DllImport("libc.so.6", EntryPoint = "getrusage")]
    private static extern int GetRusage(int who, long* usage);
}
