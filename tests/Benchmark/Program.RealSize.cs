using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Wuerstchen.Core;

namespace Wuerstchen.Benchmark;

/// <summary>
/// The real-size mode (--model FOLDER): what a user's own machine needs for an exported folder. It reads the files
/// once (the floor for loading), loads each network through the engine's SessionCache (time, resident memory), then
/// generates and reports ms per prior and decoder step and the peak resident memory of the generation, with and
/// without LowMemory. --load-variants loads each network again with other ONNX Runtime session options, so a choice
/// of options rests on figures.
/// </summary>
internal static partial class Program
{
    private static int RunRealSize(Options o)
    {
        var model = ModelFolder.Open(o.RealModel!);
        var execution = new ExecutionOptions
        {
            Provider = o.Provider, DeviceId = o.Device, IntraOpThreads = o.Threads, Prepacking = o.Prepacking, Optimization = o.Optimization,
        };
        var kinds = model.Family.Networks.Select(n => n.Kind).Where(k => File.Exists(model.NetworkPath(k))).ToList();
        Console.WriteLine("== Wuerstchen benchmark: real-size model ==");
        Console.WriteLine($"machine: {System.Runtime.InteropServices.RuntimeInformation.OSDescription.Trim()}, {Environment.ProcessorCount} logical CPUs, "
            + $"{Bytes(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes)} memory, .NET {Environment.Version}, ONNX Runtime {OrtEnv.Instance().GetVersionString()}");
        Console.WriteLine($"model: {model.Root} ({model.Family.DisplayName}); run: {o.Width}×{o.Height}, 1 prompt × {o.Images} images, prior {o.PriorSteps} steps (guidance {F(o.PriorGuidance, 1)}), "
            + $"decoder {o.DecoderSteps} steps (guidance {F(o.DecoderGuidance, 1)}), provider {o.Provider}, intra-op threads {(o.Threads > 0 ? o.Threads.ToString() : "default")}, "
            + $"prepacking {o.Prepacking.ToString().ToLowerInvariant()}, optimization {o.Optimization}");

        ReadOnce(model, kinds);
        var prior = new PriorSettings
        {
            Prompts = new[] { o.Prompt }, Width = o.Width, Height = o.Height, ImagesPerPrompt = o.Images, Seed = o.Seed,
            PriorSteps = o.PriorSteps, PriorGuidanceScale = o.PriorGuidance,
        };
        var decoder = new DecoderSettings { DecoderSteps = o.DecoderSteps, DecoderGuidanceScale = o.DecoderGuidance };

        // the generation first, in a process that has loaded nothing yet: its peak is what a user's first image costs
        var cache = new SessionCache();
        Generation(model, execution, cache, prior, decoder, o.LowMemory
            ? "first generation with LowMemory (each stage's sessions released when it is done)"
            : "first generation (networks loaded on the way)", o.LowMemory);
        for (int i = 0; i < o.Repeat; i++)
        {
            Generation(model, execution, cache, prior, decoder, $"warm{i + 1} generation (sessions cached)", o.LowMemory);
        }

        cache.Clear();
        LoadEach(model, kinds, execution);
        if (o.LoadVariants)
        {
            LoadVariants(model, kinds, o.Threads);
        }

        return 0;
    }

    private static IEnumerable<string> NetworkFiles(ModelFolder model, NetworkKind kind)
    {
        var path = model.NetworkPath(kind);
        return new[] { path, path + ".data" }.Where(File.Exists);
    }

    /// <summary>Reads every network file once (the least any load can take; the page cache may already hold them).</summary>
    private static void ReadOnce(ModelFolder model, List<NetworkKind> kinds)
    {
        Console.WriteLine();
        Console.WriteLine("== reading the files once (16 MiB reads) ==");
        var buffer = new byte[16 << 20];
        long total = 0;
        var all = Stopwatch.StartNew();
        foreach (var kind in kinds)
        {
            long bytes = 0;
            var sw = Stopwatch.StartNew();
            foreach (var file in NetworkFiles(model, kind))
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
                int n;
                while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
                {
                    bytes += n;
                }
            }

            total += bytes;
            Console.WriteLine($"  {kind,-20} {Bytes(bytes),12} in {F(sw.Elapsed.TotalSeconds, 1),6} s ({F(bytes / 1e6 / Math.Max(1e-9, sw.Elapsed.TotalSeconds), 0)} MB/s)");
        }

        Console.WriteLine($"  {"all",-20} {Bytes(total),12} in {F(all.Elapsed.TotalSeconds, 1),6} s");
    }

    /// <summary>Each network through a fresh SessionCache, one at a time: load time and the resident memory it adds.</summary>
    private static void LoadEach(ModelFolder model, List<NetworkKind> kinds, ExecutionOptions execution)
    {
        Console.WriteLine();
        Console.WriteLine("== loading each network (the engine's session options), alone ==");
        Console.WriteLine($"  {"network",-20} {"files",12} {"load",9} {"resident after",15} {"of it anonymous",15} {"peak while loading",19}");
        foreach (var kind in kinds)
        {
            long files = NetworkFiles(model, kind).Sum(f => new FileInfo(f).Length);
            var cache = new SessionCache();
            Settle();
            long before = Native.ResidentBytes(), anonymous = Native.AnonymousBytes();
            Native.ResetPeakResident();
            var sw = Stopwatch.StartNew();
            using (cache.Acquire(kind, model.NetworkPath(kind), execution))
            {
                sw.Stop();
                Console.WriteLine($"  {kind,-20} {Bytes(files),12} {F(sw.Elapsed.TotalSeconds, 1),7} s {"+" + Bytes(Native.ResidentBytes() - before),15} {"+" + Bytes(Native.AnonymousBytes() - anonymous),15} {"+" + Bytes(Native.PeakResidentBytes() - before),19}");
            }

            cache.Clear();
        }
    }

    /// <summary>A full collection, then the freed native heap handed back to the OS, so that the next phase's growth is its own.</summary>
    private static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Native.TrimNativeHeap();
    }

    /// <summary>Resident now, as "anonymous + file-backed" (memory-mapped weights are file-backed: the OS can drop them).</summary>
    private static string Resident() => $"{Bytes(Native.ResidentBytes())} ({Bytes(Native.AnonymousBytes())} anonymous)";

    /// <summary>One generation: ms per prior and decoder step (steps 2..n: step 1 also loads and encodes the text), each
    /// network load on the way, and the peak resident memory of the whole call.</summary>
    private static void Generation(ModelFolder model, ExecutionOptions execution, SessionCache cache, PriorSettings prior,
        DecoderSettings decoder, string title, bool lowMemory)
    {
        Console.WriteLine();
        Console.WriteLine($"== {title} ==");
        Settle();
        long before = Native.ResidentBytes();
        Native.ResetPeakResident();
        var stamps = new List<(string Phase, long Time)>();
        var loads = new List<NetworkLoad>();
        var pipeline = new WuerstchenPipeline(model, execution, cache)
        {
            LowMemory = lowMemory,
            Progress = p => stamps.Add((p.Phase, Stopwatch.GetTimestamp())),
            Loading = l => { if (l.Elapsed is not null && !l.Cached) { loads.Add(l); } },
            Warning = w => Console.WriteLine("warning: " + w),
        };
        long start = Stopwatch.GetTimestamp();
        var images = pipeline.Generate(prior, decoder);
        var total = Stopwatch.GetElapsedTime(start);
        long peak = Native.PeakResidentBytes();
        foreach (var image in images)
        {
            image.Dispose();
        }

        foreach (var load in loads)
        {
            Console.WriteLine($"  load {load.Network,-20} {F(load.Elapsed!.Value.TotalSeconds, 1),7} s ({load.Provider})");
        }

        foreach (var phase in new[] { "Prior", "Decoder" })
        {
            var steps = StepTimes(stamps, phase);
            Console.WriteLine(steps.Count == 0
                ? $"  {phase.ToLowerInvariant()} step: n/a (give 2 or more steps)"
                : $"  {phase.ToLowerInvariant()} step: {StepMs(stamps, phase)} ms (median of steps 2..{steps.Count + 1}; min {F(steps[0], 0)}, max {F(steps[^1], 0)})");
        }

        Console.WriteLine($"  total {F(total.TotalSeconds, 1)} s; peak resident memory {Bytes(peak)} (resident before: {Bytes(before)}; now {Resident()})");
        Console.WriteLine($"SUMMARY {title.Split(' ')[0]} {(lowMemory ? "low-memory generation" : "generation")} {prior.Width}x{prior.Height}: {F(total.TotalSeconds, 1)} s, "
            + $"peak RSS {F(peak / 1073741824.0, 2)} GiB, loads {F(loads.Sum(l => l.Elapsed!.Value.TotalSeconds), 1)} s, prior step {StepMs(stamps, "Prior")} ms, decoder step {StepMs(stamps, "Decoder")} ms".Replace("(1 step) ms", "(1 step)"));
    }

    /// <summary>The intervals between consecutive progress reports of a phase, sorted (steps 2..n).</summary>
    private static List<double> StepTimes(List<(string Phase, long Time)> stamps, string phase)
    {
        var times = stamps.Where(s => s.Phase == phase).Select(s => s.Time).ToList();
        return times.Zip(times.Skip(1), (a, b) => Stopwatch.GetElapsedTime(a, b).TotalMilliseconds).OrderBy(t => t).ToList();
    }

    private static string StepMs(List<(string Phase, long Time)> stamps, string phase)
    {
        var steps = StepTimes(stamps, phase);
        return steps.Count == 0 ? "n/a (1 step)" : F(steps.Count % 2 == 1 ? steps[steps.Count / 2] : (steps[steps.Count / 2 - 1] + steps[steps.Count / 2]) / 2, 0);
    }

    /// <summary>Each network loaded with other session options (directly, not through the engine): load time and memory.</summary>
    private static void LoadVariants(ModelFolder model, List<NetworkKind> kinds, int threads)
    {
        var variants = new (string Name, Action<SessionOptions> Apply)[]
        {
            ("optimization all (engine)", _ => { }),
            ("optimization extended", s => s.GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED),
            ("optimization basic", s => s.GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC),
            ("optimization off", s => s.GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL),
            ("no prepacking", s => s.AddSessionConfigEntry("session.disable_prepacking", "1")),
            ("no CPU memory arena", s => s.EnableCpuMemArena = false),
            ("no prepacking, basic", s =>
            {
                s.AddSessionConfigEntry("session.disable_prepacking", "1");
                s.GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC;
            }),
        };
        Console.WriteLine();
        Console.WriteLine("== loading each network with other session options (CPU) ==");
        Console.WriteLine($"  {"network",-20} {"options",-28} {"load",9} {"resident after",15} {"of it anonymous",15} {"peak while loading",19}");
        foreach (var kind in kinds)
        {
            foreach (var (name, apply) in variants)
            {
                using var options = new SessionOptions
                {
                    GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
                    LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
                };
                if (threads > 0)
                {
                    options.IntraOpNumThreads = threads;
                }

                apply(options);
                Settle();
                long before = Native.ResidentBytes(), anonymous = Native.AnonymousBytes();
                Native.ResetPeakResident();
                var sw = Stopwatch.StartNew();
                using (new InferenceSession(model.NetworkPath(kind), options))
                {
                    sw.Stop();
                    Console.WriteLine($"  {kind,-20} {name,-28} {F(sw.Elapsed.TotalSeconds, 1),7} s {"+" + Bytes(Native.ResidentBytes() - before),15} {"+" + Bytes(Native.AnonymousBytes() - anonymous),15} {"+" + Bytes(Native.PeakResidentBytes() - before),19}");
                }
            }
        }
    }
}
