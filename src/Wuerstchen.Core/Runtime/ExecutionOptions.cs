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

    public static ExecutionOptions Cpu { get; } = new() { Provider = ExecutionProviderKind.Cpu };
}
