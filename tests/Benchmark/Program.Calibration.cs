using Wuerstchen.TestSupport;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;
using Wuerstchen.Core;
using Wuerstchen.Core.Noise;

namespace Wuerstchen.Benchmark;

/// <summary>The per-network calibration and the piece-by-piece re-timing of the glue.</summary>
internal static partial class Program
{
    /// <summary>Per-call time of each network on its own (plain ONNX Runtime sessions, the pipeline's batch sizes).</summary>
    private static void Calibrate(ModelFolder model, LatentSize size, Options o, bool cuda, CallResult measured)
    {
        Console.WriteLine("== per-call time of each network (plain ONNX Runtime session, 1 warm-up + median of 3) ==");
        int rows = o.Images;
        int pb = measured.PriorBatch, db = measured.DecoderBatch;
        var cases = new (NetworkKind Kind, int Batch, (string Name, long[] Shape, bool Ids)[] Inputs)[]
        {
            (NetworkKind.PriorTextEncoder, 2, new[] { ("input_ids", new long[] { 2, 77 }, true), ("attention_mask", new long[] { 2, 77 }, true) }),
            (NetworkKind.Prior, pb, new[]
            {
                ("sample", new long[] { pb, 16, size.PriorHeight, size.PriorWidth }, false), ("timestep_ratio", new long[] { pb }, false),
                ("clip_text", new long[] { pb, 77, o.Spec.PriorTextWidth }, false),
            }),
            (NetworkKind.DecoderTextEncoder, 1, new[] { ("input_ids", new long[] { 1, 77 }, true), ("attention_mask", new long[] { 1, 77 }, true) }),
            (NetworkKind.Decoder, db, new[]
            {
                ("sample", new long[] { db, 4, size.DecoderHeight, size.DecoderWidth }, false), ("timestep_ratio", new long[] { db }, false),
                ("effnet", new long[] { db, 16, size.PriorHeight, size.PriorWidth }, false), ("clip_text", new long[] { db, 77, o.Spec.DecoderTextWidth }, false),
            }),
            (NetworkKind.Vqgan, 1, new[] { ("sample", new long[] { 1, 4, size.DecoderHeight, size.DecoderWidth }, false) }),
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
                if (t == 1 && kind is not (NetworkKind.Prior or NetworkKind.Decoder))
                {
                    continue;
                }

                var ms = TimeNetwork(model.NetworkPath(kind), inputs, cuda, o.Device, t);
                line += $"  {ms,8:F1} ms/call ({(cuda ? "CUDA" : t > 0 ? $"{t} thread{(t > 1 ? "s" : "")}" : $"default threads")})";
                if (t == 1 && kind is NetworkKind.Prior or NetworkKind.Decoder && (long)o.Width * o.Height >= 1024 * 1024)
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
}
