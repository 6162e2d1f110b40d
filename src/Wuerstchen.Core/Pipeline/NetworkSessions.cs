namespace Wuerstchen.Core;

/// <summary>
/// The sessions of one model folder as the pipeline's stages use them: leased from a <see cref="SessionCache"/> on the
/// chosen device, each checked against its network's contract the first time a session is leased for it (not on every
/// run), and, with low memory, released as soon as the stage that used them is done.
/// </summary>
internal sealed class NetworkSessions
{
    private readonly ExecutionOptions _execution;
    private readonly SessionCache _cache;
    private readonly bool _lowMemory;

    public NetworkSessions(ModelFolder model, ExecutionOptions execution, SessionCache cache, Action<string>? warning, bool lowMemory)
    {
        Model = model;
        _execution = execution;
        _cache = cache;
        Warning = warning;
        _lowMemory = lowMemory;
    }

    public ModelFolder Model { get; }

    /// <summary>The work buffers of this cache's generations.</summary>
    public BufferPool Buffers => _cache.Buffers;

    /// <summary>Receives warnings (CUDA fallback, truncated prompts).</summary>
    public Action<string>? Warning { get; }

    /// <summary>Told before (Elapsed null) and after each lease whether the session had to be loaded, and how long it took.</summary>
    public Action<NetworkLoad>? Loading { get; init; }

    /// <summary>The session of one network, its ports checked against <paramref name="spec"/> (once per session and model).</summary>
    public SessionLease Lease(NetworkSpec spec)
    {
        var config = Model.Config;
        Loading?.Invoke(new NetworkLoad(spec.Kind, null, false, null));
        int loads = _cache.LoadCount;
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        var lease = _cache.Acquire(spec.Kind, Model.NetworkPath(spec.Kind), _execution, Warning);
        Loading?.Invoke(new NetworkLoad(spec.Kind, System.Diagnostics.Stopwatch.GetElapsedTime(start), _cache.LoadCount == loads, lease.Session.Provider));
        try
        {
            lease.EnsureChecked((spec, config), session => PortContract.Enforce(session, spec, config));
        }
        catch
        {
            lease.Dispose();
            throw;
        }

        return lease;
    }

    public SessionLease Lease(NetworkKind kind) => Lease(Model.Family.Required(kind));

    /// <summary>The text encoder behind a lease, with the tokenizer it reads.</summary>
    public TextEncoderNetwork TextEncoder(SessionLease lease, NetworkSpec spec) =>
        new(lease.Session, Model.Tokenizer(spec.Kind, _cache.Tokenizers), Model.Config.MaxLength);

    /// <summary>Low memory: drops the sessions of a finished stage's networks (the next call loads them again).</summary>
    public void Release(params NetworkKind[] kinds)
    {
        if (!_lowMemory)
        {
            return;
        }

        foreach (var kind in kinds)
        {
            _cache.Evict(Model.NetworkPath(kind));
        }
    }
}
