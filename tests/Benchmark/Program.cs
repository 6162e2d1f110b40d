using Wuerstchen.TestSupport;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;
using Wuerstchen.Core;
using Wuerstchen.Core.Noise;

namespace Wuerstchen.Benchmark;

/// <summary>
/// The benchmark of the engine: WuerstchenPipeline.Generate on heavy stand-in networks, timed end to end
/// against the summed time inside ONNX Runtime Run (a RunCounter on the benchmark's SessionCache), with the glue broken down by phase,
/// allocations per sampler step, start-up with a fresh and a warm SessionCache, and peak memory.
/// </summary>
internal static partial class Program
{
    private const double OverheadTarget = 1.02;
    private const double CacheSpeedupTarget = 20.0;

    /// <summary>The Run timings of the measured cache's sessions (the product's caches do not time their runs).</summary>
    private static readonly RunCounter Runs = new();

    private static int Main(string[] args)
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        if (args.Length > 0 && args[0] == "gpu-nets")
        {
            return GpuNets.Run(args[1..]); // its own options (Program.GpuNets.cs)
        }

        if (args.Length > 0 && args[0] == "jpeg-sweep")
        {
            return JpegSweep.Run(args[1..]); // Program.JpegSweep.cs
        }

        Options o;
        try
        {
            o = Options.Parse(args);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine(ex.Message);
            Console.Error.WriteLine(Options.Usage);
            return 2;
        }

        if (o.Help)
        {
            Console.WriteLine(Options.Usage);
            return 0;
        }

        try
        {
            return o.RealModel is null ? Run(o) : RunRealSize(o);
        }
        catch (WuerstchenException ex)
        {
            Console.Error.WriteLine($"benchmark failed: [{ex.ErrorId}] {ex.Message}");
            return 1;
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine($"benchmark failed: {ex.Message}");
            return 2;
        }
    }

    /// <summary>The benchmark in the order it prints (~70 lines: the settings and the calls it reports on, then one helper per section).</summary>
    private static int Run(Options o)
    {
        var modelDir = WriteStandIns(o);
        var model = ModelFolder.Open(modelDir);
        var size = ImageSize.Compute(o.Width, o.Height, model.Config);
        var execution = new ExecutionOptions { Provider = o.Provider, DeviceId = o.Device, IntraOpThreads = o.Threads };
        var warnings = new HashSet<string>();
        void Warn(string s)
        {
            if (warnings.Add(s))
            {
                Console.WriteLine("warning: " + s);
            }
        }

        var prior = new PriorSettings
        {
            Prompts = new[] { o.Prompt },
            Width = o.Width,
            Height = o.Height,
            ImagesPerPrompt = o.Images,
            Seed = o.Seed,
            PriorSteps = o.PriorSteps,
            PriorGuidanceScale = o.PriorGuidance,
        };
        var decoder = new DecoderSettings { DecoderSteps = o.DecoderSteps, DecoderGuidanceScale = o.DecoderGuidance };
        int samplerSteps = o.PriorSteps + o.DecoderSteps;

        // call 1: a fresh SessionCache (the first call of a process: sessions are loaded); call 2…: the same cache, warm
        var cache = new SessionCache(Runs);
        var calls = new List<CallResult>();
        for (int call = 1; call <= 1 + o.Repeat; call++)
        {
            var r = Measure(model, execution, cache, prior, decoder, Warn, !o.NoCollect);
            calls.Add(r);
            Console.WriteLine($"call {call}: {Ms(r.Total)} end to end, {Ms(r.RunTime)} inside Run ({r.RunCount} runs), ratio {F(r.Ratio, 3)}, sessions loaded so far {cache.LoadCount}, digest {r.Digest[..16]}");
        }

        string provider;
        using (var lease = cache.Acquire(NetworkKind.Prior, model.NetworkPath(NetworkKind.Prior), execution, Warn))
        {
            provider = lease.Session.Provider;
        }

        var first = calls[0];
        var measured = calls.Skip(1).OrderBy(c => c.Ratio).ElementAt((calls.Count - 1) / 2); // the median warm call
        bool deterministic = calls.All(c => c.Digest == first.Digest);
        PrintWarmCall(measured, provider, samplerSteps);
        double speedup = PrintStartupAndMemory(calls, first, measured, deterministic);
        CheckSessionsAndContract(model, cache, execution, Warn);
        if (!o.NoCalibrate)
        {
            Console.WriteLine();
            Calibrate(model, size, o, provider == "CUDA", measured);
        }

        if (!o.NoProfile)
        {
            Console.WriteLine();
            ProfileGlue(size, o, measured);
        }

        Console.WriteLine();
        bool overheadOk = measured.Ratio <= OverheadTarget;
        bool cacheOk = speedup >= CacheSpeedupTarget;
        Console.WriteLine($"{(overheadOk ? "PASS" : "FAIL")}: overhead ratio {F(measured.Ratio, 3)} (target ≤ {F(OverheadTarget, 2)})");
        Console.WriteLine($"{(cacheOk ? "PASS" : "FAIL")}: cache speedup {F(speedup, 1)}x (target ≥ {F(CacheSpeedupTarget, 0)}x)");
        if (!deterministic)
        {
            Console.WriteLine("FAIL: the calls gave different pixels");
        }

        return o.Strict && !(overheadOk && cacheOk && deterministic) ? 1 : 0;
    }

    /// <summary>Prints the header and writes the heavy stand-in networks; returns their folder.</summary>
    private static string WriteStandIns(Options o)
    {
        var root = RepositoryRoot();
        var modelDir = o.ModelDir ?? (root is not null ? Path.Combine(root, "out", "bench-models") : Path.Combine(Path.GetTempPath(), "wuerstchen-bench-models"));
        var tokenizers = o.TokenizerDir ?? (root is not null ? Path.Combine(root, "models", "standin") : null)
            ?? throw new ArgumentException("Cannot find models/standin for the tokenizers; pass --tokenizers <folder>.");

        Console.WriteLine("== Wuerstchen benchmark ==");
        Console.WriteLine($"machine: {RuntimeInformation.OSDescription.Trim()}, {RuntimeInformation.OSArchitecture}, {Environment.ProcessorCount} logical CPUs, .NET {Environment.Version}, ONNX Runtime {OrtEnv.Instance().GetVersionString()}");
        Console.WriteLine($"run: {o.Width}×{o.Height}, 1 prompt × {o.Images} images, prior {o.PriorSteps} steps (guidance {F(o.PriorGuidance, 1)}), decoder {o.DecoderSteps} steps (guidance {F(o.DecoderGuidance, 1)}), provider {o.Provider}, intra-op threads {(o.Threads > 0 ? o.Threads.ToString() : "default")}");

        var sw = Stopwatch.StartNew();
        StandInModels.Write(modelDir, tokenizers, o.Spec);
        Console.WriteLine($"stand-in networks: {o.Spec} → {modelDir} (written in {sw.Elapsed.TotalSeconds:F1} s)");
        foreach (NetworkKind kind in Enum.GetValues<NetworkKind>())
        {
            var file = new FileInfo(Path.Combine(modelDir, ModelFolder.FolderName(kind), "model.onnx"));
            Console.WriteLine($"  {ModelFolder.FolderName(kind),-22} {file.Length / 1048576.0,7:F2} MB");
        }

        return modelDir;
    }

    /// <summary>The warm call's phases, the overhead ratio, the glue and the allocations per sampler step.</summary>
    private static void PrintWarmCall(CallResult measured, string provider, int samplerSteps)
    {
        Console.WriteLine();
        Console.WriteLine($"== warm call (provider {provider}) ==");
        Console.WriteLine($"{"phase",-52} {"wall",10} {"in Run",10} {"runs",5} {"glue",10} {"managed alloc",14} {"page faults",12} {"GC pauses",10}");
        foreach (var p in measured.Phases)
        {
            Console.WriteLine($"{p.Name,-52} {Ms(p.Wall),10} {Ms(p.Run),10} {p.Runs,5} {Ms(p.Wall - p.Run),10} {Bytes(p.Allocated),14} {p.Faults,12} {Ms(p.GcPause),10}");
        }

        var total = measured.Total;
        var glue = total - measured.RunTime;
        Console.WriteLine($"{"total",-52} {Ms(total),10} {Ms(measured.RunTime),10} {measured.RunCount,5} {Ms(glue),10} {Bytes(measured.Allocated),14} {measured.Faults,12} {Ms(measured.GcPause),10}");
        Console.WriteLine();

        var priorLoop = measured.Phases.FirstOrDefault(p => p.Key == "prior-loop");
        var decoderLoop = measured.Phases.FirstOrDefault(p => p.Key == "decoder-loop");
        Console.WriteLine($"end-to-end (Generate): {Ms(total)}");
        Console.WriteLine($"inside ONNX Runtime Run: {Ms(measured.RunTime)} in {measured.RunCount} calls");
        Console.WriteLine($"overhead ratio: {F(measured.Ratio, 3)}");
        Console.WriteLine($"glue per sampler step: {Ms(glue / samplerSteps)} ((end-to-end − inside Run) / {samplerSteps} steps)");
        if (priorLoop is { Steps: > 0 })
        {
            Console.WriteLine($"  prior loop, steady state: {Ms((priorLoop.Wall - priorLoop.Run) / priorLoop.Steps)} glue and {Bytes(priorLoop.Allocated / priorLoop.Steps)} managed per step; {Ms(priorLoop.Run / priorLoop.Runs)} per prior Run (batch {measured.PriorBatch})");
        }

        if (decoderLoop is { Steps: > 0 })
        {
            Console.WriteLine($"  decoder loop, steady state: {Ms((decoderLoop.Wall - decoderLoop.Run) / decoderLoop.Steps)} glue and {Bytes(decoderLoop.Allocated / decoderLoop.Steps)} managed per step; {Ms(decoderLoop.Run / decoderLoop.Runs)} per decoder Run (batch {measured.DecoderBatch})");
        }

        Console.WriteLine($"managed bytes allocated per sampler step: {Bytes(measured.Allocated / samplerSteps)} (whole call / {samplerSteps} steps; thread-local {Bytes(measured.AllocatedThread / samplerSteps)})");

    }

    /// <summary>Start-up with a fresh and a warm cache, memory, determinism; returns the cache speedup.</summary>
    private static double PrintStartupAndMemory(List<CallResult> calls, CallResult first, CallResult measured, bool deterministic)
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        long peakWorkingSet = process.PeakWorkingSet64;
        var gcInfo = GC.GetGCMemoryInfo();
        // start-up: time to the first completed prior step, less the time spent inside Run until then
        // (text encoder and the first prior call), with a fresh cache (call 1) and a warm one (call 2)
        double speedup = first.StartupGlue.Ticks / (double)Math.Max(1, measured.StartupGlue.Ticks);
        Console.WriteLine($"start-up, call 1 (fresh SessionCache): {Ms(first.StartupGlue)} to the first prior step outside Run ({Ms(first.TimeToFirstStep)} with Run)");
        Console.WriteLine($"start-up, call 2 (cached sessions):    {Ms(measured.StartupGlue)} to the first prior step outside Run ({Ms(measured.TimeToFirstStep)} with Run)");
        Console.WriteLine($"cache speedup: {F(speedup, 1)}x");
        Console.WriteLine($"peak working set: {Bytes(peakWorkingSet)}; GC heap after the calls: {Bytes(gcInfo.HeapSizeBytes)} (committed {Bytes(gcInfo.TotalCommittedBytes)}); largest GC heap seen at a step: {Bytes(calls.Max(c => c.PeakManaged))}");
        Console.WriteLine($"deterministic: {(deterministic ? "yes" : "NO")} (digest of pixels and embeddings {first.Digest})");

        return speedup;
    }

    /// <summary>Session acquisition through a fresh and the warm cache, and the stand-ins against the model contract.</summary>
    private static void CheckSessionsAndContract(ModelFolder model, SessionCache cache, ExecutionOptions execution, Action<string> Warn)
    {
        // sessions alone: all five networks through a fresh cache, then through the warm one
        var stages = new[] { NetworkKind.PriorTextEncoder, NetworkKind.Prior, NetworkKind.DecoderTextEncoder, NetworkKind.Decoder, NetworkKind.Vqgan };
        var fresh = new SessionCache();
        var coldAcquire = AcquireAll(fresh, model, stages, execution, Warn);
        var warmAcquire = AcquireAll(cache, model, stages, execution, Warn);
        Console.WriteLine($"session acquisition of the 5 networks: {Ms(coldAcquire)} fresh, {Ms(warmAcquire, 3)} cached ({F(coldAcquire.Ticks / (double)Math.Max(1, warmAcquire.Ticks), 0)}×)");

        // the stand-ins against the model contract, as Test-WuerstchenModel checks a folder
        var checks = ModelValidator.Check(model, execution, fresh, Warn);
        var bad = checks.Where(c => c.Status != ModelCheckStatus.Ok).ToList();
        Console.WriteLine(bad.Count == 0
            ? $"model contract check: {checks.Count} networks Ok ({string.Join(", ", checks.Select(c => c.Stage))})"
            : "model contract check FAILED: " + string.Join("; ", bad.Select(c => $"{c.Stage} {c.Status}: {string.Join(" ", c.Problems.Select(p => p.Message))}")));
        fresh.Clear();

    }

    private readonly record struct Snapshot(string Stage, int Step, long Timestamp, TimeSpan Run, long Runs, long AllocatedThread, long Allocated, long Managed, long Faults, TimeSpan GcPause);

    private sealed record Phase(string Key, string Name, TimeSpan Wall, TimeSpan Run, long Runs, long Allocated, long Faults, TimeSpan GcPause, int Steps);

    private sealed record CallResult(TimeSpan Total, TimeSpan RunTime, long RunCount, long Allocated, long AllocatedThread, long Faults, TimeSpan GcPause, TimeSpan TimeToFirstStep,
        TimeSpan StartupGlue, List<Phase> Phases, string Digest, long PeakManaged, int PriorBatch, int DecoderBatch)
    {
        public double Ratio => Total.Ticks / (double)Math.Max(1, RunTime.Ticks);
    }

    /// <summary>One Generate call with a snapshot (time, Run statistics, allocations) at every progress report.</summary>
    private static CallResult Measure(ModelFolder model, ExecutionOptions execution, SessionCache cache, PriorSettings prior, DecoderSettings decoder, Action<string> warn, bool collect)
    {
        if (collect)
        {
            // every call starts from the same managed heap (the freed memory of the last call may go back to the OS)
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
        }

        var snapshots = new List<Snapshot>(256);
        Snapshot Take(string stage, int step) => new(stage, step, Stopwatch.GetTimestamp(), Runs.Elapsed, Runs.Count,
            GC.GetAllocatedBytesForCurrentThread(), GC.GetTotalAllocatedBytes(true), GC.GetTotalMemory(false), Native.MinorFaults(), GC.GetTotalPauseDuration());
        var pipeline = new WuerstchenPipeline(model, execution, cache)
        {
            Warning = warn,
            Progress = p => snapshots.Add(Take(p.Phase, p.Step)),
        };

        Runs.Reset();
        var start = Take("start", 0);
        var images = pipeline.Generate(prior, decoder);
        var end = Take("end", 0);

        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var image in images)
        {
            sha.AppendData(image.Pixels);
            sha.AppendData(MemoryMarshal.AsBytes(image.Embedding.Data.AsSpan()));
            image.Dispose(); // as the cmdlets do once an image is written: its pixel buffer is reused next call
        }

        var digest = Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
        var priorSteps = snapshots.Where(s => s.Stage == "Prior").ToList();
        var decoderSteps = snapshots.Where(s => s.Stage == "Decoder").ToList();
        var vqgan = snapshots.Where(s => s.Stage == "VQGAN").ToList();
        var phases = new List<Phase>();
        void Add(string key, string name, Snapshot a, Snapshot b, int steps) => phases.Add(new Phase(key, name,
            Stopwatch.GetElapsedTime(a.Timestamp, b.Timestamp), b.Run - a.Run, b.Runs - a.Runs, b.Allocated - a.Allocated, b.Faults - a.Faults, b.GcPause - a.GcPause, steps));

        Add("startup", "start-up: tokenize, text encoder, prior step 1", start, priorSteps[0], 1);
        Add("prior-loop", $"prior steps 2..{priorSteps.Count}", priorSteps[0], priorSteps[^1], priorSteps.Count - 1);
        Add("between", "embeddings, decoder noise + text encoder, step 1", priorSteps[^1], decoderSteps[0], 1);
        Add("decoder-loop", $"decoder steps 2..{decoderSteps.Count}", decoderSteps[0], decoderSteps[^1], decoderSteps.Count - 1);
        Add("vqgan", $"VQGAN and 8-bit RGB ({vqgan.Count} images)", decoderSteps[^1], vqgan[^1], 0);
        Add("tail", "results", vqgan[^1], end, 0);

        int rows = images.Count;
        return new CallResult(
            Stopwatch.GetElapsedTime(start.Timestamp, end.Timestamp),
            end.Run - start.Run,
            end.Runs - start.Runs,
            end.Allocated - start.Allocated,
            end.AllocatedThread - start.AllocatedThread,
            end.Faults - start.Faults,
            end.GcPause - start.GcPause,
            Stopwatch.GetElapsedTime(start.Timestamp, priorSteps[0].Timestamp),
            Stopwatch.GetElapsedTime(start.Timestamp, priorSteps[0].Timestamp) - (priorSteps[0].Run - start.Run),
            phases,
            digest,
            snapshots.Max(s => s.Managed),
            prior.PriorGuidanceScale > 1f ? 2 * rows : rows,
            decoder.DecoderGuidanceScale > 1f ? 2 * rows : rows);
    }

    private static TimeSpan AcquireAll(SessionCache cache, ModelFolder model, NetworkKind[] stages, ExecutionOptions execution, Action<string> warn)
    {
        var leases = new List<SessionLease>();
        long start = Stopwatch.GetTimestamp();
        foreach (var kind in stages)
        {
            leases.Add(cache.Acquire(kind, model.NetworkPath(kind), execution, warn));
        }

        var elapsed = Stopwatch.GetElapsedTime(start);
        leases.ForEach(l => l.Dispose());
        return elapsed;
    }

    private static string? RepositoryRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Wuerstchen.PowerShell.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        return null;
    }

    private static string F(double v, int decimals) => v.ToString("F" + decimals, CultureInfo.InvariantCulture);

    private static string Ms(TimeSpan t, int decimals = 1) => F(t.TotalMilliseconds, decimals) + " ms";

    private static string Bytes(long b) => b switch
    {
        < 0 => "-" + Bytes(-b),
        < 10 * 1024 => $"{b} B",
        < 10L * 1024 * 1024 => $"{b / 1024.0:F1} KiB",
        _ => $"{b / 1048576.0:F1} MiB",
    };
}
