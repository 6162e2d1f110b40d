using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Wuerstchen.TestSupport;

namespace Wuerstchen.Benchmark;

/// <summary>
/// The gpu-nets mode (Benchmark gpu-nets …, run by scripts/gpu-check.sh): per-step time of GPU-sized stand-ins of the
/// v2 prior and decoder whose FLOPs per call are the real networks' (<see cref="GpuStandIns"/>), in fp32 and fp16, with
/// the I/O bound three ways, and the achieved TFLOP/s against the card's peak and the peak device memory per network.
/// Plain ONNX Runtime sessions with the engine's CUDA options: this measures what the GPU gives the engine's networks,
/// not the engine's glue (the default mode does that).
/// </summary>
internal static class GpuNets
{
    public const string Usage = """
        usage: Benchmark gpu-nets [--provider Cuda|Cpu] [--device N] [--width N] [--height N] [--prior-batch N] [--decoder-batch N]
                                  [--repeat N] [--precision fp32|fp16|both] [--network prior|decoder|both] [--models DIR]
                                  [--peak-fp32 T] [--peak-tf32 T] [--peak-fp16 T] [--dry-run]
          GPU-sized stand-ins (FLOPs per call as the real v2 networks': prior 1.15 TFLOP per image at 24×24 latents, decoder
          2.9 TFLOP per image at 256×256), defaults 1024×1024, prior batch 2 (guidance), decoder batch 1, 10 timed calls after 3
          warm-up calls, both precisions and networks. Each is run with its I/O bound on the host (as the engine binds pinned
          host buffers), bound on the device (no copies), and with CUDA graphs (device I/O; CUDA only).
          --peak-*: the card's dense peak in TFLOP/s when it is not in the built-in table.
          --dry-run: 512×512, 1/8 of the widths, 2 timed calls: checks every step on any machine (with --provider Cpu) in seconds.
        """;

    private static readonly string[] Variants = { "host-io", "device-io", "cuda-graph" };

    // dense peaks (no sparsity) at boost clock, from NVIDIA's data sheets: FP32 (CUDA cores), TF32 and FP16 tensor cores
    private static readonly (string Match, double Fp32, double Tf32, double Fp16)[] PeakTable =
    {
        ("H200", 67, 495, 989), ("H100 NVL", 60, 418, 835), ("H100 PCIe", 51, 378, 756), ("H100", 67, 495, 989),
        ("A100", 19.5, 156, 312), ("L40S", 91.6, 183, 362), ("L40", 90.5, 90.5, 181), ("L4", 30.3, 60, 121),
        ("A10", 31.2, 62.5, 125), ("RTX 4090", 82.6, 82.6, 165),
    };

    private sealed class Settings
    {
        public bool Cuda = true;
        public int Device, Width = 1024, Height = 1024, PriorBatch = 2, DecoderBatch = 1, Repeat = 10;
        public double Scale = 1.0;
        public bool DryRun;
        public string[] Precisions = { "fp32", "fp16" };
        public string[] Networks = { "prior", "decoder" };
        public string? Folder;
        public (double Fp32, double Tf32, double Fp16)? Peak;
    }

    private sealed record Result(double MedianMs, double BestMs, TimeSpan Load, long PeakBytes);

    public static int Run(string[] args)
    {
        Settings s;
        try
        {
            s = Parse(args);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine(ex.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }

        if (s.Cuda && !CudaMemory.Available)
        {
            Console.Error.WriteLine("gpu-nets: --provider Cuda but the NVIDIA driver (libcuda) found no usable device; use --provider Cpu --dry-run to check the steps.");
            return 3;
        }

        var name = s.Cuda ? CudaMemory.DeviceName(s.Device) ?? "unknown GPU" : "CPU";
        var peak = s.Peak ?? (s.Cuda ? PeakTable.Where(p => name.Contains(p.Match, StringComparison.OrdinalIgnoreCase)).Select(p => ((double, double, double)?)(p.Fp32, p.Tf32, p.Fp16)).FirstOrDefault() : null);
        _ = CudaMemory.UsedBytes(s.Device); // creates the primary context now, so the first network's memory does not include it
        Console.WriteLine($"== gpu-nets: {name}, ONNX Runtime {OrtEnv.Instance().GetVersionString()}, {s.Width}×{s.Height}, provider {(s.Cuda ? "CUDA" : "CPU")}{(s.DryRun ? ", dry run (1/8 widths)" : "")} ==");
        Console.WriteLine(peak is { } p0 ? $"peak (dense, data sheet): FP32 {p0.Fp32}, TF32 {p0.Tf32}, FP16 {p0.Fp16} TFLOP/s" : "peak: not known for this device (--peak-fp32/--peak-tf32/--peak-fp16 set it)");
        int failures = 0;
        foreach (var network in s.Networks)
        {
            foreach (var precision in s.Precisions)
            {
                failures += MeasureNetwork(network, precision == "fp16", s, peak);
            }
        }

        return failures > 0 ? 1 : 0;
    }

    private static int MeasureNetwork(string network, bool fp16, Settings s, (double Fp32, double Tf32, double Fp16)? peak)
    {
        var folder = s.Folder ?? Path.Combine(Path.GetTempPath(), "wuerstchen-gpu-nets");
        var sw = Stopwatch.StartNew();
        var net = network == "prior"
            ? GpuStandIns.Prior(folder, s.Width, s.Height, s.PriorBatch, fp16, s.Scale)
            : GpuStandIns.Decoder(folder, s.Width, s.Height, s.DecoderBatch, fp16, s.Scale);
        string label = $"{network} {(fp16 ? "fp16" : "fp32")}";
        double real = (network == "prior" ? GpuStandIns.PriorFlopsPerImage * s.PriorBatch : GpuStandIns.DecoderFlopsPerImage * s.DecoderBatch) * s.Scale * s.Scale
            * (s.Width * (double)s.Height / (1024 * 1024));
        Console.WriteLine($"network {label}: {Tflop(net.Flops)} TFLOP per call (batch {net.Shape[0]}; the real v2 {network}'s ≈ {Tflop(real)}), {net.Structure}, "
            + $"{net.Parameters / 1e6:F1} M parameters ({Mb(new FileInfo(net.Path).Length)} file), written in {sw.Elapsed.TotalSeconds:F1} s");
        long peakBytes = 0;
        int failures = 0;
        foreach (var variant in Variants)
        {
            if (variant == "cuda-graph" && !s.Cuda)
            {
                Console.WriteLine($"SUMMARY step {label} {variant}: not run (CUDA graphs are a CUDA provider feature)");
                continue;
            }

            try
            {
                var r = Measure(net, variant, s);
                peakBytes = Math.Max(peakBytes, r.PeakBytes);
                Console.WriteLine($"SUMMARY step {label} {variant}: {r.MedianMs:F2} ms per call (median of {s.Repeat}, best {r.BestMs:F2}; session load {r.Load.TotalSeconds:F1} s), "
                    + Throughput(net.Flops, r.MedianMs, fp16, peak));
            }
            catch (OnnxRuntimeException ex)
            {
                failures++;
                Console.WriteLine($"SUMMARY step {label} {variant}: FAILED: {ex.Message.Split('\n')[0]}");
            }
        }

        Console.WriteLine($"SUMMARY memory {label}: peak {Mb(peakBytes)} {(s.Cuda ? "device memory in use (ONNX Runtime's arena, cuBLAS/cuDNN workspaces, weights)" : "resident memory added by the session (CPU)")}; "
            + $"weights {Mb(net.Parameters * (fp16 ? 2 : 4))} (shared by the blocks of a level; the real v2 {network}'s are ≈ 4 GB in fp32)");
        File.Delete(net.Path);
        return failures;
    }

    private static Result Measure(GpuNet net, string variant, Settings s)
    {
        long before = s.Cuda ? CudaMemory.UsedBytes(s.Device) ?? 0 : Native.ResidentBytes();
        if (!s.Cuda)
        {
            Native.ResetPeakResident();
        }

        using var options = SessionOptionsFor(s, graph: variant == "cuda-graph");
        var load = Stopwatch.StartNew();
        using var session = new InferenceSession(net.Path, options);
        load.Stop();
        using var binding = session.CreateIoBinding();
        using var run = new RunOptions();
        using var allocator = variant == "host-io" ? null : new OrtAllocator(session, s.Cuda
            ? new OrtMemoryInfo(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.ArenaAllocator, s.Device, OrtMemType.Default)
            : OrtMemoryInfo.DefaultInstance);
        long count = net.Shape.Aggregate(1L, (a, b) => a * b);
        // device I/O is left as allocated (not filled): dense GEMM time does not depend on the values
        using var input = allocator is null ? OrtValue.CreateTensorValueFromMemory(Noise(count), net.Shape) : OrtValue.CreateAllocatedTensorValue(allocator, TensorElementType.Float, net.Shape);
        using var output = allocator is null ? OrtValue.CreateTensorValueFromMemory(new float[count], net.Shape) : OrtValue.CreateAllocatedTensorValue(allocator, TensorElementType.Float, net.Shape);
        binding.BindInput("sample", input);
        binding.BindOutput("output", output);
        for (int i = 0; i < 3; i++)
        {
            session.RunWithBinding(run, binding); // warm-up: cuDNN/cuBLAS choices, arena growth, the CUDA graph capture
        }

        var times = new double[s.Repeat];
        for (int i = 0; i < times.Length; i++)
        {
            long start = Stopwatch.GetTimestamp();
            session.RunWithBinding(run, binding); // synchronous: Run waits for the device stream
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        Array.Sort(times);
        long peak = s.Cuda ? (CudaMemory.UsedBytes(s.Device) ?? 0) - before : Native.PeakResidentBytes() - before;
        return new Result(times[times.Length / 2], times[0], load.Elapsed, peak);
    }

    private static SessionOptions SessionOptionsFor(Settings s, bool graph)
    {
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        if (s.Cuda)
        {
            // the engine's CUDA settings (DeviceSelector), plus CUDA graphs for that variant
            using var cuda = new OrtCUDAProviderOptions();
            var settings = new Dictionary<string, string>
            {
                ["device_id"] = s.Device.ToString(CultureInfo.InvariantCulture),
                ["arena_extend_strategy"] = "kSameAsRequested",
                ["cudnn_conv_algo_search"] = "HEURISTIC",
                ["do_copy_in_default_stream"] = "1",
            };
            if (graph)
            {
                settings["enable_cuda_graph"] = "1";
            }

            cuda.UpdateOptions(settings);
            options.AppendExecutionProvider_CUDA(cuda);
        }

        return options;
    }

    private static string Throughput(double flops, double ms, bool fp16, (double Fp32, double Tf32, double Fp16)? peak)
    {
        double tflops = flops / (ms / 1000) / 1e12;
        var text = tflops >= 1 ? $"{tflops:F1} TFLOP/s" : $"{tflops * 1000:F1} GFLOP/s";
        if (peak is not { } p)
        {
            return text + " (no peak known for this device)";
        }

        return fp16
            ? text + $" = {100 * tflops / p.Fp16:F0} % of the FP16 tensor peak ({p.Fp16})"
            : text + $" = {100 * tflops / p.Tf32:F0} % of the TF32 tensor peak ({p.Tf32}), {100 * tflops / p.Fp32:F0} % of the FP32 peak ({p.Fp32})";
    }

    private static float[] Noise(long count)
    {
        var random = new Random(42);
        var data = new float[count];
        for (long i = 0; i < count; i++)
        {
            data[i] = (float)(random.NextDouble() * 2 - 1);
        }

        return data;
    }

    private static string Tflop(double flops) => (flops / 1e12).ToString(flops < 1e11 ? "F4" : "F2", CultureInfo.InvariantCulture);

    private static string Mb(long bytes) => bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):F2} GiB" : $"{bytes / 1048576.0:F0} MiB";

    private static Settings Parse(string[] args)
    {
        var s = new Settings();
        int? width = null, height = null, repeat = null;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            int Int() => int.Parse(Next(), CultureInfo.InvariantCulture);
            double Tf() => double.Parse(Next(), CultureInfo.InvariantCulture);
            string[] Pick(string value, params string[] allowed) => value == "both" ? allowed
                : allowed.Contains(value) ? new[] { value } : throw new ArgumentException($"'{value}': use {string.Join(", ", allowed)} or both.");
            switch (args[i].ToLowerInvariant())
            {
                case "--provider": s.Cuda = Next().ToLowerInvariant() switch { "cuda" => true, "cpu" => false, var v => throw new ArgumentException($"--provider '{v}': use Cuda or Cpu.") }; break;
                case "--device": s.Device = Int(); break;
                case "--width": width = Int(); break;
                case "--height": height = Int(); break;
                case "--prior-batch": s.PriorBatch = Math.Max(1, Int()); break;
                case "--decoder-batch": s.DecoderBatch = Math.Max(1, Int()); break;
                case "--repeat": repeat = Math.Max(1, Int()); break;
                case "--precision": s.Precisions = Pick(Next(), "fp32", "fp16"); break;
                case "--network": s.Networks = Pick(Next(), "prior", "decoder"); break;
                case "--models": s.Folder = Path.GetFullPath(Next()); break;
                case "--peak-fp32": s.Peak = (Tf(), s.Peak?.Tf32 ?? 0, s.Peak?.Fp16 ?? 0); break;
                case "--peak-tf32": s.Peak = (s.Peak?.Fp32 ?? 0, Tf(), s.Peak?.Fp16 ?? 0); break;
                case "--peak-fp16": s.Peak = (s.Peak?.Fp32 ?? 0, s.Peak?.Tf32 ?? 0, Tf()); break;
                case "--dry-run": s.DryRun = true; break;
                default: throw new ArgumentException($"Unknown argument '{args[i]}'.");
            }
        }

        s.Width = width ?? (s.DryRun ? 512 : 1024);
        s.Height = height ?? (s.DryRun ? 512 : 1024);
        s.Repeat = repeat ?? (s.DryRun ? 2 : 10);
        s.Scale = s.DryRun ? 0.125 : 1.0;
        if (s.Width % 128 != 0 || s.Height % 128 != 0 || s.Width < 128 || s.Height < 128)
        {
            throw new ArgumentException($"--width/--height {s.Width}×{s.Height}: use multiples of 128 (the decoder stand-in halves its tokens three times).");
        }

        return s;
    }
}
