namespace Wuerstchen.Core;

/// <summary>
/// Told the duration of every ONNX Runtime Run of the sessions a <see cref="SessionCache"/> creates. Optional: a cache
/// without an observer does not time its runs at all (the product's run path needs no counters).
/// </summary>
public interface IRunObserver
{
    /// <param name="ticks">Stopwatch ticks the Run call took.</param>
    void Ran(long ticks);
}

/// <summary>Count and summed duration of ONNX Runtime Run calls (the benchmark's overhead ratio); two interlocked adds per call.</summary>
public sealed class RunCounter : IRunObserver
{
    private long _ticks;
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    public TimeSpan Elapsed => TimeSpan.FromSeconds(Interlocked.Read(ref _ticks) / (double)System.Diagnostics.Stopwatch.Frequency);

    public void Reset()
    {
        Interlocked.Exchange(ref _ticks, 0);
        Interlocked.Exchange(ref _count, 0);
    }

    public void Ran(long ticks)
    {
        Interlocked.Add(ref _ticks, ticks);
        Interlocked.Increment(ref _count);
    }
}

/// <summary>
/// The run counter of the module's process-wide <see cref="SessionCache.Shared"/> (scripts and tests read it to see
/// whether networks ran, e.g. after Ctrl+C). Caches of their own (tests, the benchmark) count with their own
/// <see cref="RunCounter"/> or not at all.
/// </summary>
public static class RunStatistics
{
    internal static RunCounter Process { get; } = new();

    public static long Count => Process.Count;

    public static TimeSpan Elapsed => Process.Elapsed;

    public static void Reset() => Process.Reset();
}
