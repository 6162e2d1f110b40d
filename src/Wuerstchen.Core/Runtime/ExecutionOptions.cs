using Microsoft.ML.OnnxRuntime;

namespace Wuerstchen.Core;

public enum ExecutionProviderKind
{
    /// <summary>CUDA when it loads, else the CPU with a warning naming what was missing.</summary>
    Auto,
    Cuda,
    Cpu,
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

    /// <summary>
    /// Whether ONNX Runtime may pre-pack weights at load (its "session.disable_prepacking" entry turned off). Pre-packing
    /// copies every MatMul/Conv weight into a second, anonymous buffer; without it the weights stay memory-mapped from
    /// model.onnx.data (see README: Performance, real size, for the figures this default rests on).
    /// </summary>
    public bool Prepacking { get; init; } = DefaultPrepacking;

    /// <summary>ONNX Runtime's graph optimisation level for new sessions.</summary>
    public GraphOptimizationLevel Optimization { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    public const bool DefaultPrepacking = true;

    public static ExecutionOptions Cpu { get; } = new() { Provider = ExecutionProviderKind.Cpu };
}
