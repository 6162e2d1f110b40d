using Wuerstchen.TestSupport;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;
using Wuerstchen.Core;
using Wuerstchen.Core.Noise;

namespace Wuerstchen.Benchmark;

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

    /// <summary>--model: an exported model folder measured at its real size (load, steps, memory) instead of the stand-ins.</summary>
    public string? RealModel { get; private set; }

    /// <summary>--low-memory: the real-size mode also generates with LowMemory (each stage's sessions released when it is done).</summary>
    public bool LowMemory { get; private set; }

    /// <summary>--load-variants: the real-size mode also loads each network with other ONNX Runtime session options.</summary>
    public bool LoadVariants { get; private set; }

    /// <summary>--prepacking auto|on|off and --optimization all|extended|basic|off: the engine's session options for this run.</summary>
    public Prepacking Prepacking { get; private set; } = Prepacking.Auto;

    public GraphOptimizationLevel Optimization { get; private set; } = GraphOptimizationLevel.ORT_ENABLE_ALL;
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
                         [--model EXPORTED_FOLDER [--low-memory] [--load-variants]] [--prepacking auto|on|off] [--optimization all|extended|basic|off]
                         [--prior-channels N] [--prior-layers N] [--decoder-channels N] [--decoder-layers N] [--decoder-kernel 1|3]
          defaults: Auto (CUDA when it loads, else CPU), 1024×1024, 4 images, prior 8 steps guidance 4, decoder 4 steps guidance 0,
                    5 warm calls after the cold one (figures: their median); --quick = 512×512, 1 image. --strict exits 1 when a target is missed;
              --no-gc skips the full garbage collection before each call.
          --model: measure a real exported folder instead of the stand-ins: reading its files once, each network's load time and
                   memory, ms per prior and decoder step and the peak resident memory of one generation (defaults then: 512×512,
                   1 image, prior 3 steps, decoder 3 steps; --repeat N warm generations after the first); --low-memory generates
                   with LowMemory instead (run it as its own process: memory figures are per process); --load-variants
                   loads each network with other session options too.
        """;

    public static Options Parse(string[] args)
    {
        var o = new Options();
        bool quick = false;
        int? width = null, height = null, images = null, repeat = null;
        (int? prior, int? decoder) steps = (null, null);
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i].ToLowerInvariant();
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            string option = args[i];
            int Int() => int.TryParse(Next(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0
                ? v : throw new ArgumentException($"{option} takes a whole number of 0 or more, not '{args[i]}'.");
            float Float() => float.TryParse(Next(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && float.IsFinite(v)
                ? v : throw new ArgumentException($"{option} takes a number such as 4.5, not '{args[i]}'.");
            switch (a)
            {
                case "--provider": o.Provider = Next().ToLowerInvariant() switch
                {
                    "auto" => ExecutionProviderKind.Auto, "cpu" => ExecutionProviderKind.Cpu, "cuda" => ExecutionProviderKind.Cuda,
                    var v => throw new ArgumentException($"--provider takes Auto, Cpu or Cuda, not '{v}'."),
                }; break;
                case "--device": o.Device = Int(); break;
                case "--threads": o.Threads = Int(); break;
                case "--quick": quick = true; break;
                case "--width": width = Int(); break;
                case "--height": height = Int(); break;
                case "--images": images = Int(); break;
                case "--prompt": o.Prompt = Next(); break;
                case "--seed": o.Seed = long.TryParse(Next(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed) ? seed : throw new ArgumentException($"--seed takes a whole number, not '{args[i]}'."); break;
                case "--prior-steps": o.PriorSteps = Int(); steps.prior = o.PriorSteps; break;
                case "--prior-guidance": o.PriorGuidance = Float(); break;
                case "--decoder-steps": o.DecoderSteps = Int(); steps.decoder = o.DecoderSteps; break;
                case "--decoder-guidance": o.DecoderGuidance = Float(); break;
                case "--repeat": o.Repeat = Math.Max(0, Int()); repeat = o.Repeat; break;
                case "--models": o.ModelDir = Path.GetFullPath(Next()); break;
                case "--tokenizers": o.TokenizerDir = Path.GetFullPath(Next()); break;
                case "--model": o.RealModel = Path.GetFullPath(Next()); break;
                case "--low-memory": o.LowMemory = true; break;
                case "--load-variants": o.LoadVariants = true; break;
                case "--prepacking": o.Prepacking = Next().ToLowerInvariant() switch
                {
                    "auto" => Prepacking.Auto, "on" => Prepacking.On, "off" => Prepacking.Off,
                    var v => throw new ArgumentException($"--prepacking takes auto, on or off, not '{v}'."),
                }; break;
                case "--optimization": o.Optimization = Next().ToLowerInvariant() switch
                {
                    "all" => GraphOptimizationLevel.ORT_ENABLE_ALL, "extended" => GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                    "basic" => GraphOptimizationLevel.ORT_ENABLE_BASIC, "off" => GraphOptimizationLevel.ORT_DISABLE_ALL,
                    var v => throw new ArgumentException($"--optimization takes all, extended, basic or off, not '{v}'."),
                }; break;
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

        bool small = quick || o.RealModel is not null;
        o.Width = width ?? (small ? 512 : 1024);
        o.Height = height ?? (small ? 512 : 1024);
        o.Images = images ?? (small ? 1 : 4);
        if (o.RealModel is not null)
        {
            o.PriorSteps = steps.prior ?? 3;
            o.DecoderSteps = steps.decoder ?? 3;
            o.Repeat = repeat ?? 0;
        }
        else
        {
            o.Repeat = Math.Max(1, o.Repeat); // the stand-in mode reports the median of the warm calls
        }
        if (o.PriorSteps < 1 || o.DecoderSteps < 1)
        {
            throw new ArgumentException("--prior-steps and --decoder-steps must be at least 1.");
        }

        return o;
    }
}
