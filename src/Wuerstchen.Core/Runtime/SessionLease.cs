namespace Wuerstchen.Core;

/// <summary>A session in use; dispose to release it back to the cache.</summary>
public sealed class SessionLease : IDisposable
{
    private SessionCache? _cache;
    private readonly SessionCache.Entry _entry;

    internal SessionLease(SessionCache cache, SessionCache.Entry entry, OnnxSession session)
    {
        _cache = cache;
        _entry = entry;
        Session = session;
    }

    /// <summary>The ONNX Runtime session of the leased network.</summary>
    public OnnxSession Session { get; }

    /// <summary>
    /// Runs <paramref name="check"/> on the session the first time it is leased for <paramref name="contract"/> (a
    /// session's ports cannot change while it lives, so a passed check holds for every later run); a failed check
    /// throws and is tried again on the next lease.
    /// </summary>
    internal void EnsureChecked(object contract, Action<OnnxSession> check)
    {
        if (_entry.Checked.ContainsKey(contract))
        {
            return;
        }

        check(Session);
        _entry.Checked.TryAdd(contract, true);
    }

    public void Dispose() => Interlocked.Exchange(ref _cache, null)?.Release(_entry);
}
