using Microsoft.ML.OnnxRuntime;

namespace Wuerstchen.Core;

public enum ExecutionProviderKind
{
    /// <summary>CUDA when it loads, else the CPU with a warning naming what was missing.</summary>
    Auto,
    Cuda,
    Cpu,
}

/// <summary>ONNX Runtime's weight pre-packing at session load: Auto decides per network (<see cref="ExecutionOptions.PrepacksWeights"/>).</summary>
public enum Prepacking
{
    Auto,
    On,
    Off,
}

/// <summary>How sessions are created. Part of the session-cache key.</summary>
public sealed record ExecutionOptions
{
    public ExecutionProviderKind Provider { get; init; } = ExecutionProviderKind.Auto;

    public int DeviceId { get; init; }

    /// <summary>CUDA memory-arena limit in bytes (0 = no limit).</summary>
    public long GpuMemoryLimit { get; init; }

    /// <summary>CPU intra-op threads (0 = ONNX Runtime's default).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Whether ONNX Runtime pre-packs weights at load (see <see cref="Prepacking"/>).</summary>
    public Prepacking Prepacking { get; init; } = Prepacking.Auto;

    /// <summary>ONNX Runtime's graph optimisation level for new sessions.</summary>
    public GraphOptimizationLevel Optimization { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>
    /// Whether a session of <paramref name="kind"/> pre-packs its weights. Auto (measured on the real-size v2 networks,
    /// README "Real size: session options"): pre-packing copies every weight into a second, anonymous buffer at load.
    /// A text encoder runs once per call: without it the v2 text encoders load in 0.6 s instead of 11 s and their
    /// weights stay memory-mapped from model.onnx.data (pages the OS can share and drop). The diffusion networks run
    /// at every step: the prior's step was 9 % faster pre-packed (3.13 s against 3.42 s at 512²), and the
    /// convolutional decoder's 4× faster (ONNX Runtime's Conv reorders unpacked weights on every call); the VQGAN and
    /// EfficientNet are convolutional too.
    /// </summary>
    public bool PrepacksWeights(NetworkKind kind) => Prepacking switch
    {
        Prepacking.On => true,
        Prepacking.Off => false,
        _ => kind is not (NetworkKind.PriorTextEncoder or NetworkKind.DecoderTextEncoder),
    };

    public static ExecutionOptions Cpu { get; } = new() { Provider = ExecutionProviderKind.Cpu };
}
