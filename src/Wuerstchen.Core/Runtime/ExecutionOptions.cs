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
    /// README "Performance at real size"): pre-packing copies every weight into a second, anonymous buffer at load.
    /// The text encoders and the prior are MatMul networks: without it they load 4–8× faster, their weights stay
    /// memory-mapped from model.onnx.data (pages the OS can drop and share, no second copy) and a step is no slower.
    /// The decoder, VQGAN and EfficientNet are convolutional: ONNX Runtime's Conv reorders its weights on every call
    /// when they are not pre-packed (the v2 decoder's step was 4× slower), so they keep it.
    /// </summary>
    public bool PrepacksWeights(NetworkKind kind) => Prepacking switch
    {
        Prepacking.On => true,
        Prepacking.Off => false,
        _ => kind is NetworkKind.Decoder or NetworkKind.Vqgan or NetworkKind.Effnet,
    };

    public static ExecutionOptions Cpu { get; } = new() { Provider = ExecutionProviderKind.Cpu };
}
