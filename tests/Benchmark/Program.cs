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
internal static class Program
{
    private const double OverheadTarget = 1.02;
    private const double CacheSpeedupTarget = 20.0;

    /// <summary>The Run timings of the measured cache's sessions (the product's caches do not time their runs).</summary>
    private static readonly RunCounter Runs = new();

    private static int Main(string[] args)
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
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
            return Run(o);
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
        using (var lease = cache.Acquire(StageKind.Prior, model.NetworkPath(StageKind.Prior), execution, Warn))
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
        foreach (StageKind kind in Enum.GetValues<StageKind>())
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
        var stages = new[] { StageKind.PriorTextEncoder, StageKind.Prior, StageKind.DecoderTextEncoder, StageKind.Decoder, StageKind.Vqgan };
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
            Progress = p => snapshots.Add(Take(p.Stage, p.Step)),
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

    private static TimeSpan AcquireAll(SessionCache cache, ModelFolder model, StageKind[] stages, ExecutionOptions execution, Action<string> warn)
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

    /// <summary>Per-call time of each network on its own (plain ONNX Runtime sessions, the pipeline's batch sizes).</summary>
    private static void Calibrate(ModelFolder model, LatentSize size, Options o, bool cuda, CallResult measured)
    {
        Console.WriteLine("== per-call time of each network (plain ONNX Runtime session, 1 warm-up + median of 3) ==");
        int rows = o.Images;
        int pb = measured.PriorBatch, db = measured.DecoderBatch;
        var cases = new (StageKind Kind, int Batch, (string Name, long[] Shape, bool Ids)[] Inputs)[]
        {
            (StageKind.PriorTextEncoder, 2, new[] { ("input_ids", new long[] { 2, 77 }, true), ("attention_mask", new long[] { 2, 77 }, true) }),
            (StageKind.Prior, pb, new[]
            {
                ("sample", new long[] { pb, 16, size.PriorHeight, size.PriorWidth }, false), ("timestep_ratio", new long[] { pb }, false),
                ("clip_text", new long[] { pb, 77, o.Spec.PriorTextWidth }, false),
            }),
            (StageKind.DecoderTextEncoder, 1, new[] { ("input_ids", new long[] { 1, 77 }, true), ("attention_mask", new long[] { 1, 77 }, true) }),
            (StageKind.Decoder, db, new[]
            {
                ("sample", new long[] { db, 4, size.DecoderHeight, size.DecoderWidth }, false), ("timestep_ratio", new long[] { db }, false),
                ("effnet", new long[] { db, 16, size.PriorHeight, size.PriorWidth }, false), ("clip_text", new long[] { db, 77, o.Spec.DecoderTextWidth }, false),
            }),
            (StageKind.Vqgan, 1, new[] { ("sample", new long[] { 1, 4, size.DecoderHeight, size.DecoderWidth }, false) }),
        };
        var threads = new List<int> { o.Threads };
        if (!cuda && o.Threads != 1)
        {
            threads.Add(1);
        }

        foreach (var (kind, batch, inputs) in cases)
        {
            var line = $"  {ModelFolder.FolderName(kind),-22} batch {batch,-2} [{string.Join(",", inputs[0].Shape)}]";
            foreach (int t in threads)
            {
                if (t == 1 && kind is not (StageKind.Prior or StageKind.Decoder))
                {
                    continue;
                }

                var ms = TimeNetwork(model.NetworkPath(kind), inputs, cuda, o.Device, t);
                line += $"  {ms,8:F1} ms/call ({(cuda ? "CUDA" : t > 0 ? $"{t} thread{(t > 1 ? "s" : "")}" : $"default threads")})";
                if (t == 1 && kind is StageKind.Prior or StageKind.Decoder && (long)o.Width * o.Height >= 1024 * 1024)
                {
                    // the stand-ins are sized so that a call at 1024² costs at least 50 ms on one core
                    line += ms >= 50 ? " ≥ 50 ms on one core" : " < 50 ms on one core: make it heavier (--prior-channels/--decoder-channels)";
                }
            }

            Console.WriteLine(line);
        }
    }

    private static double TimeNetwork(string path, (string Name, long[] Shape, bool Ids)[] inputs, bool cuda, int device, int threads)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        if (threads > 0)
        {
            options.IntraOpNumThreads = threads;
        }

        if (cuda)
        {
            // as SessionFactory configures it
            using var provider = new OrtCUDAProviderOptions();
            provider.UpdateOptions(new Dictionary<string, string>
            {
                ["device_id"] = device.ToString(CultureInfo.InvariantCulture),
                ["arena_extend_strategy"] = "kSameAsRequested",
                ["cudnn_conv_algo_search"] = "HEURISTIC",
                ["do_copy_in_default_stream"] = "1",
            });
            options.AppendExecutionProvider_CUDA(provider);
        }

        using var session = new InferenceSession(path, options);
        var values = new List<OrtValue>();
        var random = new Random(1);
        foreach (var (_, shape, ids) in inputs)
        {
            long n = shape.Aggregate(1L, (a, b) => a * b);
            values.Add(ids
                ? OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, (int)n).Select(i => (long)(i % 77 < 8 ? 49406 + random.Next(1000) : 49407)).ToArray(), shape)
                : OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, (int)n).Select(_ => (float)random.NextDouble()).ToArray(), shape));
        }

        var names = inputs.Select(i => i.Name).ToArray();
        var outputs = session.OutputMetadata.Keys.ToArray();
        using var runOptions = new RunOptions();
        var times = new List<double>();
        for (int i = 0; i < 4; i++)
        {
            long start = Stopwatch.GetTimestamp();
            using (var result = session.Run(runOptions, names, values, outputs))
            {
            }

            if (i > 0)
            {
                times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        }

        values.ForEach(v => v.Dispose());
        times.Sort();
        return times[times.Count / 2];
    }

    /// <summary>Times the per-step work of the sampler that does not run a network, through the engine's public API.</summary>
    private static void ProfileGlue(LatentSize size, Options o, CallResult measured)
    {
        Console.WriteLine("== glue per sampler step, re-timed piece by piece (public API, same sizes) ==");
        int rows = o.Images;
        foreach (var (name, perRow, batch, steps) in new[]
        {
            ("prior", 16 * size.PriorHeight * size.PriorWidth, measured.PriorBatch, o.PriorSteps),
            ("decoder", 4 * size.DecoderHeight * size.DecoderWidth, measured.DecoderBatch, o.DecoderSteps),
        })
        {
            int n = rows * perRow;
            var generator = new TorchGenerator(1);
            var draw = new float[n];
            var x = new float[n];
            var eps = new float[n];
            var sample = new float[(long)batch * perRow];
            generator.Randn(x);
            generator.Randn(eps);
            var scheduler = new DdpmWuerstchenScheduler();
            var c = scheduler.Coefficients(0.5f, 0.25f);
            double randn = Median(() => generator.Randn(draw));
            double step = Median(() => DdpmWuerstchenScheduler.Step(x, eps, draw, c));
            double copy = Median(() =>
            {
                for (int k = 0; k < batch / rows; k++)
                {
                    x.AsSpan().CopyTo(sample.AsSpan(k * n));
                }
            });
            Console.WriteLine($"  {name,-8} {n,9} values/draw: torch randn {randn,7:F2} ms, scheduler step {step,6:F2} ms, latents → input copy ({batch / rows}×) {copy,6:F2} ms  → {randn + step + copy,7:F2} ms per step");
        }

        double fault = Native.FirstTouchMicroseconds();
        if (fault > 0)
        {
            Console.WriteLine($"  first touch of fresh memory: {fault:F2} µs per 4 KiB page ({fault * 256 / 1000:F1} ms per MiB); the warm call had {measured.Faults} minor page faults ≈ {measured.Faults * fault / 1000:F0} ms");
        }
    }

    private static double Median(Action action)
    {
        action();
        var times = new double[5];
        for (int i = 0; i < times.Length; i++)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        Array.Sort(times);
        return times[2];
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

    [DllImport("libc.so.6", EntryPoint = "getrusage")]
    private static extern int GetRusage(int who, long* usage);
}

internal sealed class Options
{
    public ExecutionProviderKind Provider { get; private set; } = ExecutionProviderKind.Auto;
    public int Device { get; private set; }
    public int Threads { get; private set; }
    public int Width { get; private set; } = 1024;
    public int Height { get; private set; } = 1024;
    public int Images { get; private set; } = 4;
    public string Prompt { get; private set; } = "Anthropomorphic cat dressed as a fire fighter";
    public long Seed { get; private set; } = 42;
    public int PriorSteps { get; private set; } = 8;
    public float PriorGuidance { get; private set; } = 4f;
    public int DecoderSteps { get; private set; } = 4;
    public float DecoderGuidance { get; private set; }
    public int Repeat { get; private set; } = 5;
    public string? ModelDir { get; private set; }
    public string? TokenizerDir { get; private set; }
    public bool NoCalibrate { get; private set; }
    public bool NoProfile { get; private set; }
    public bool Strict { get; private set; }
    public bool NoCollect { get; private set; }
    public bool Help { get; private set; }
    public StandInSpec Spec { get; private set; } = new();

    public const string Usage = """
        usage: Benchmark [--provider Auto|Cpu|Cuda] [--device N] [--threads N] [--quick]
                         [--width N] [--height N] [--images N] [--prompt TEXT] [--seed N]
                         [--prior-steps N] [--prior-guidance G] [--decoder-steps N] [--decoder-guidance G]
                         [--repeat N] [--models DIR] [--tokenizers DIR] [--no-calibrate] [--no-profile] [--no-gc] [--strict]
                         [--prior-channels N] [--prior-layers N] [--decoder-channels N] [--decoder-layers N] [--decoder-kernel 1|3]
          defaults: Auto (CUDA when it loads, else CPU), 1024×1024, 4 images, prior 8 steps guidance 4, decoder 4 steps guidance 0,
                    5 warm calls after the cold one (figures: their median); --quick = 512×512, 1 image. --strict exits 1 when a target is missed;
              --no-gc skips the full garbage collection before each call.
        """;

    public static Options Parse(string[] args)
    {
        var o = new Options();
        bool quick = false;
        int? width = null, height = null, images = null;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i].ToLowerInvariant();
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            int Int() => int.Parse(Next(), CultureInfo.InvariantCulture);
            float Float() => float.Parse(Next(), CultureInfo.InvariantCulture);
            switch (a)
            {
                case "--provider": o.Provider = Enum.Parse<ExecutionProviderKind>(Next(), ignoreCase: true); break;
                case "--device": o.Device = Int(); break;
                case "--threads": o.Threads = Int(); break;
                case "--quick": quick = true; break;
                case "--width": width = Int(); break;
                case "--height": height = Int(); break;
                case "--images": images = Int(); break;
                case "--prompt": o.Prompt = Next(); break;
                case "--seed": o.Seed = long.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--prior-steps": o.PriorSteps = Int(); break;
                case "--prior-guidance": o.PriorGuidance = Float(); break;
                case "--decoder-steps": o.DecoderSteps = Int(); break;
                case "--decoder-guidance": o.DecoderGuidance = Float(); break;
                case "--repeat": o.Repeat = Math.Max(1, Int()); break;
                case "--models": o.ModelDir = Path.GetFullPath(Next()); break;
                case "--tokenizers": o.TokenizerDir = Path.GetFullPath(Next()); break;
                case "--no-calibrate": o.NoCalibrate = true; break;
                case "--no-profile": o.NoProfile = true; break;
                case "--strict": o.Strict = true; break;
                case "--no-gc": o.NoCollect = true; break;
                case "--prior-channels": o.Spec = o.Spec with { PriorChannels = Int() }; break;
                case "--prior-layers": o.Spec = o.Spec with { PriorLayers = Int() }; break;
                case "--decoder-channels": o.Spec = o.Spec with { DecoderChannels = Int() }; break;
                case "--decoder-layers": o.Spec = o.Spec with { DecoderLayers = Int() }; break;
                case "--decoder-kernel": o.Spec = o.Spec with { DecoderKernel = Int() is 3 ? 3 : 1 }; break;
                case "-h" or "--help" or "-?": o.Help = true; break;
                default: throw new ArgumentException($"Unknown argument '{args[i]}'.");
            }
        }

        o.Width = width ?? (quick ? 512 : 1024);
        o.Height = height ?? (quick ? 512 : 1024);
        o.Images = images ?? (quick ? 1 : 4);
        if (o.PriorSteps < 1 || o.DecoderSteps < 1)
        {
            throw new ArgumentException("--prior-steps and --decoder-steps must be at least 1.");
        }

        return o;
    }
}
