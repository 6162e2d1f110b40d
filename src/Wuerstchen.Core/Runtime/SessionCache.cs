using System.Collections.Concurrent;

namespace Wuerstchen.Core;

/// <summary>
/// What identifies a cached session: the model file as it is now and how it runs. The path is the one ONNX Runtime
/// opens; the stamp (target, size, time stamp) is the target's, symbolic links followed, and its external data's, so a
/// link whose target is replaced (the Hugging Face cache layout) or a re-exported .data loads afresh.
/// </summary>
internal readonly record struct SessionKey(string Path, string Target, long Length, long WriteTicks, long DataLength, long DataTicks, ExecutionOptions Execution)
{
    public static SessionKey For(string fullPath, ExecutionOptions execution)
    {
        var info = IO.BoundedFile.Resolve(fullPath);
        var data = IO.BoundedFile.Resolve(fullPath + ".data");
        return new SessionKey(fullPath, info.FullName, info.Length, info.LastWriteTimeUtc.Ticks,
            data.Exists ? data.Length : -1, data.Exists ? data.LastWriteTimeUtc.Ticks : 0, execution);
    }

    /// <summary>The same file on the same device, in another version: this one supersedes it.</summary>
    public bool Supersedes(SessionKey other) => other != this && other.Path == Path && other.Execution == Execution;
}

/// <summary>
/// Sessions shared across calls (and across runspaces), keyed by model file (path, size, time stamp), provider and
/// device, opened by this cache's own <see cref="DeviceSelector"/>. A lease keeps a session alive while it is used;
/// <see cref="Clear"/> drops every entry and disposes each session once its last lease ends. The module keeps one for
/// the process (<see cref="Shared"/>); tests and tools make their own, so nothing leaks from one to the next.
/// </summary>
public sealed class SessionCache
{
    private readonly ConcurrentDictionary<SessionKey, Entry> _entries = new();
    private readonly object _gate = new();
    private readonly IRunObserver? _observer;

    /// <param name="observer">Told the duration of every Run of this cache's sessions (the benchmark's counters); null: runs are not timed.</param>
    public SessionCache(IRunObserver? observer = null) => _observer = observer;

    /// <summary>The module's cache: one per process, shared by every runspace; its runs count in <see cref="RunStatistics"/>.</summary>
    public static SessionCache Shared { get; } = new(RunStatistics.Process);

    /// <summary>How this cache opens sessions: CUDA probe, fallback (warned once per device), failure classification.</summary>
    public DeviceSelector Devices { get; } = new();

    /// <summary>The work buffers of the generations that use this cache (latents, noise, bound tensors, pixels).</summary>
    public BufferPool Buffers { get; } = new();

    /// <summary>The tokenizers of the model folders that use this cache, each loaded once.</summary>
    public TokenizerCache Tokenizers { get; } = new();

    /// <summary>How many sessions were created (not served from the cache) — for tests and the benchmark.</summary>
    public int LoadCount => _loadCount;

    private int _loadCount;

    public int Count => _entries.Count;

    public SessionLease Acquire(NetworkKind kind, string path, ExecutionOptions execution, Action<string>? warn = null)
    {
        DeviceSelector.CheckFile(kind, path);
        var full = Path.GetFullPath(path);
        var key = SessionKey.For(full, execution);
        while (true)
        {
            bool loaded = false;
            var entry = _entries.GetOrAdd(key, _ => new Entry(() =>
            {
                Interlocked.Increment(ref _loadCount);
                loaded = true;
                return Devices.Open(kind, full, execution, warn, _observer);
            }));
            OnnxSession session;
            try
            {
                session = entry.Value;
                if (loaded)
                {
                    EvictSuperseded(key);
                }
            }
            catch
            {
                _entries.TryRemove(new KeyValuePair<SessionKey, Entry>(key, entry));
                throw;
            }

            lock (_gate)
            {
                if (entry.Evicted)
                {
                    continue; // cleared while loading: take a fresh one
                }

                entry.Leases++;
            }

            return new SessionLease(this, entry, session);
        }
    }

    /// <summary>Removes every session; those in use are disposed when released.</summary>
    public int Clear()
    {
        int removed = 0;
        foreach (var pair in _entries.ToArray())
        {
            if (_entries.TryRemove(pair))
            {
                removed++;
                lock (_gate)
                {
                    pair.Value.Evicted = true;
                    if (pair.Value.Leases == 0)
                    {
                        pair.Value.DisposeSession();
                    }
                }
            }
        }

        return removed;
    }

    /// <summary>Removes the sessions of one network file, on every device (low memory: after the stage that used it is done).</summary>
    public void Evict(string path)
    {
        var full = Path.GetFullPath(path);
        Remove(key => string.Equals(key.Path, full, StringComparison.Ordinal));
    }

    /// <summary>
    /// A file that changed is loaded afresh under its new stamp; the sessions of its earlier versions on the same device
    /// can never be served again, so they go (disposed once their last lease ends) instead of piling up.
    /// </summary>
    private void EvictSuperseded(SessionKey current) => Remove(current.Supersedes);

    private void Remove(Func<SessionKey, bool> which)
    {
        foreach (var pair in _entries.ToArray())
        {
            if (which(pair.Key) && _entries.TryRemove(pair))
            {
                lock (_gate)
                {
                    pair.Value.Evicted = true;
                    if (pair.Value.Leases == 0)
                    {
                        pair.Value.DisposeSession();
                    }
                }
            }
        }
    }

    internal void Release(Entry entry)
    {
        lock (_gate)
        {
            entry.Leases--;
            if (entry.Leases == 0 && entry.Evicted)
            {
                entry.DisposeSession();
            }
        }
    }

    internal sealed class Entry
    {
        private readonly Lazy<OnnxSession> _lazy;

        public Entry(Func<OnnxSession> factory) => _lazy = new Lazy<OnnxSession>(factory, LazyThreadSafetyMode.ExecutionAndPublication);

        public OnnxSession Value => _lazy.Value;

        public int Leases;

        public bool Evicted;

        /// <summary>The contracts this session has passed (checked once per session and contract, not per run).</summary>
        public readonly ConcurrentDictionary<object, bool> Checked = new();

        public void DisposeSession()
        {
            if (_lazy.IsValueCreated)
            {
                _lazy.Value.Dispose();
            }
        }
    }
}
