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
