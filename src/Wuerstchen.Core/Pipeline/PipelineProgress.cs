namespace Wuerstchen.Core;

/// <summary>
/// Progress of a pipeline: which phase ("Prior", "Decoder", "VQGAN"), its step of its total, and the rows (images) it
/// works on. <see cref="IsLast"/> marks the last report of a call's work, so a caller need not know which phase ends it.
/// </summary>
public readonly record struct PipelineProgress(string Phase, int Step, int TotalSteps, int Rows)
{
    /// <summary>True on the last report of the call (the last image through the VQGAN for a decode; never for the prior alone).</summary>
    public bool IsLast { get; init; }
}

/// <summary>A network being loaded (Elapsed null) or loaded: how long it took, whether the session came from the cache, and on which provider.</summary>
public readonly record struct NetworkLoad(NetworkKind Network, TimeSpan? Elapsed, bool Cached, string? Provider);
