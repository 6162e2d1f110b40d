using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace Wuerstchen.Core;

/// <summary>
/// Creates ONNX Runtime sessions with a validated device choice: CUDA when asked for (or on Auto when
/// it loads), else the CPU provider. GetAvailableProviders() lists CUDA even when its libraries cannot
/// load, so CUDA is tested by appending the provider and catching.
/// </summary>
public static class SessionFactory
{
    private static readonly ConcurrentDictionary<int, string?> CudaProbe = new();
    private static readonly ConcurrentDictionary<int, bool> FallbackWarned = new();

    /// <summary>Null when the CUDA provider can be appended for the device, else the reason it cannot.</summary>
    public static string? CudaUnavailableReason(int deviceId) => CudaProbe.GetOrAdd(deviceId, static id =>
    {
        // ONNX Runtime logs a failed provider load as an error on stderr; the caller reports it as a warning instead
        var env = OrtEnv.Instance();
        var level = env.EnvLogLevel;
        try
        {
            env.EnvLogLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;
            using var options = new SessionOptions();
            options.AppendExecutionProvider_CUDA(id);
            return null;
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException or TypeInitializationException)
        {
            // ONNX Runtime's message only says a shared library failed to load; name the ones that are missing
            var missing = MissingCudaLibraries();
            return missing.Count > 0
                ? $"missing: {string.Join(", ", missing)} ({FirstLine(ex.Message)})"
                : FirstLine(ex.Message);
        }
        finally
        {
            env.EnvLogLevel = level;
        }
    });

    /// <summary>The NVIDIA libraries the CUDA provider of ONNX Runtime 1.31 loads, by the names this OS gives them.</summary>
    public static IReadOnlyList<string> CudaLibraries => OperatingSystem.IsWindows()
        ? new[] { "nvcuda.dll", "cudart64_13.dll", "cublas64_13.dll", "cublasLt64_13.dll", "cudnn64_9.dll" }
        : new[] { "libcuda.so.1", "libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13", "libcudnn.so.9" };

    /// <summary>Which of <see cref="CudaLibraries"/> cannot be loaded from the library path.</summary>
    public static IReadOnlyList<string> MissingCudaLibraries()
    {
        var missing = new List<string>();
        foreach (var name in CudaLibraries)
        {
            if (NativeLibrary.TryLoad(name, out var handle))
            {
                NativeLibrary.Free(handle);
            }
            else
            {
                missing.Add(name);
            }
        }

        return missing;
    }

    public const string CudaHelp =
        "The CUDA execution provider of ONNX Runtime 1.31 needs an NVIDIA driver, the CUDA 13 runtime (cudart, cublas, cublasLt, cufft, curand) and cuDNN 9 on the library path (LD_LIBRARY_PATH on Linux, PATH on Windows).";

    /// <summary>Opens one network, checking the file first so a missing, empty or corrupt file gives a clear error.</summary>
    public static OnnxStage Create(StageKind kind, string path, ExecutionOptions execution, Action<string>? warn = null)
    {
        CheckFile(kind, path);
        string? cudaError = null;
        if (execution.Provider != ExecutionProviderKind.Cpu)
        {
            cudaError = CudaUnavailableReason(execution.DeviceId);
            if (cudaError is null)
            {
                try
                {
                    return Open(kind, path, execution, useCuda: true);
                }
                catch (WuerstchenException ex) when (ex.ErrorId == "CudaUnavailable")
                {
                    cudaError = ex.Message;
                }
            }

            if (execution.Provider == ExecutionProviderKind.Cuda)
            {
                throw new WuerstchenException("CudaUnavailable", WuerstchenErrorKind.NotInstalled,
                    $"The CUDA execution provider could not be used for device {execution.DeviceId}: {cudaError} {CudaHelp}", execution.DeviceId);
            }

            if (FallbackWarned.TryAdd(execution.DeviceId, true))
            {
                // once per process and device: every later session falls back the same way
                warn?.Invoke($"CUDA is not available ({FirstLine(cudaError)}); running on the CPU, which is far slower. {CudaHelp}");
            }
        }

        return Open(kind, path, execution, useCuda: false);
    }

    private static string FirstLine(string? s) => (s ?? "unknown reason").Split('\n')[0].Trim();

    internal static void CheckFile(StageKind kind, string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new WuerstchenException("ModelFileNotFound", WuerstchenErrorKind.ObjectNotFound,
                $"The {kind} network file '{path}' does not exist. A model folder needs the files listed in the model contract (see README: 'Getting the models').", path);
        }

        if (info.Length == 0)
        {
            throw new WuerstchenException("InvalidModelFile", WuerstchenErrorKind.InvalidData,
                $"The {kind} network file '{path}' is empty (0 bytes); re-export or re-copy it.", path);
        }
    }

    private static OnnxStage Open(StageKind kind, string path, ExecutionOptions execution, bool useCuda)
    {
        var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        try
        {
            if (execution.IntraOpThreads > 0)
            {
                options.IntraOpNumThreads = execution.IntraOpThreads;
            }

            if (useCuda)
            {
                try
                {
                    using var cuda = new OrtCUDAProviderOptions();
                    var settings = new Dictionary<string, string>
                    {
                        ["device_id"] = execution.DeviceId.ToString(CultureInfo.InvariantCulture),
                        // grow the arena by what is requested, not by powers of two: keeps memory bounded
                        ["arena_extend_strategy"] = "kSameAsRequested",
                        ["cudnn_conv_algo_search"] = "HEURISTIC",
                        ["do_copy_in_default_stream"] = "1",
                    };
                    if (execution.GpuMemoryLimit > 0)
                    {
                        settings["gpu_mem_limit"] = execution.GpuMemoryLimit.ToString(CultureInfo.InvariantCulture);
                    }

                    cuda.UpdateOptions(settings);
                    options.AppendExecutionProvider_CUDA(cuda);
                }
                catch (OnnxRuntimeException ex)
                {
                    throw new WuerstchenException("CudaUnavailable", WuerstchenErrorKind.NotInstalled, ex.Message, execution.DeviceId, ex);
                }
            }

            InferenceSession session;
            try
            {
                session = new InferenceSession(path, options);
            }
            catch (OnnxRuntimeException ex) when (useCuda && LooksLikeCudaLoadFailure(ex.Message))
            {
                throw new WuerstchenException("CudaUnavailable", WuerstchenErrorKind.NotInstalled, ex.Message, execution.DeviceId, ex);
            }
            catch (OnnxRuntimeException ex)
            {
                throw new WuerstchenException("InvalidModelFile", WuerstchenErrorKind.InvalidData,
                    $"ONNX Runtime could not load the {kind} network '{path}': {FirstLine(ex.Message)}", path, ex);
            }

            return new OnnxStage(kind, path, session, useCuda ? "CUDA" : "CPU");
        }
        finally
        {
            options.Dispose();
        }
    }

    private static bool LooksLikeCudaLoadFailure(string message) =>
        message.Contains("CUDA", StringComparison.OrdinalIgnoreCase) || message.Contains("cudnn", StringComparison.OrdinalIgnoreCase)
        || message.Contains("libcu", StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// Sessions shared across calls (and across runspaces) for the life of the process, keyed by model file
/// (path, size, time stamp), provider and device. A lease keeps a session alive while it is used;
/// <see cref="Clear"/> drops every entry and disposes each session once its last lease ends.
/// </summary>
public sealed class SessionCache
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new();
    private readonly object _gate = new();

    public static SessionCache Shared { get; } = new();

    /// <summary>How many sessions were created (not served from the cache) — for tests and the benchmark.</summary>
    public int LoadCount => _loadCount;

    private int _loadCount;

    public int Count => _entries.Count;

    public SessionLease Acquire(StageKind kind, string path, ExecutionOptions execution, Action<string>? warn = null)
    {
        SessionFactory.CheckFile(kind, path);
        var full = Path.GetFullPath(path);
        var info = new FileInfo(full);
        var key = string.Join("|", full, info.Length.ToString(CultureInfo.InvariantCulture),
            info.LastWriteTimeUtc.Ticks.ToString(CultureInfo.InvariantCulture), execution.Provider, execution.DeviceId,
            execution.GpuMemoryLimit.ToString(CultureInfo.InvariantCulture), execution.IntraOpThreads);
        while (true)
        {
            var entry = _entries.GetOrAdd(key, _ => new Entry(() =>
            {
                Interlocked.Increment(ref _loadCount);
                return SessionFactory.Create(kind, full, execution, warn);
            }));
            OnnxStage stage;
            try
            {
                stage = entry.Value;
            }
            catch
            {
                _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
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

            return new SessionLease(this, entry, stage);
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
                        pair.Value.DisposeStage();
                    }
                }
            }
        }

        return removed;
    }

    /// <summary>Removes the sessions of one model file (used by -LowMemory after a stage is done).</summary>
    public void Evict(string path)
    {
        var full = Path.GetFullPath(path) + "|";
        foreach (var pair in _entries.ToArray())
        {
            if (pair.Key.StartsWith(full, StringComparison.Ordinal) && _entries.TryRemove(pair))
            {
                lock (_gate)
                {
                    pair.Value.Evicted = true;
                    if (pair.Value.Leases == 0)
                    {
                        pair.Value.DisposeStage();
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
                entry.DisposeStage();
            }
        }
    }

    internal sealed class Entry
    {
        private readonly Lazy<OnnxStage> _lazy;

        public Entry(Func<OnnxStage> factory) => _lazy = new Lazy<OnnxStage>(factory, LazyThreadSafetyMode.ExecutionAndPublication);

        public OnnxStage Value => _lazy.Value;

        public int Leases;

        public bool Evicted;

        /// <summary>The contracts this session has passed (checked once per session and contract, not per run).</summary>
        public readonly ConcurrentDictionary<object, bool> Checked = new();

        public void DisposeStage()
        {
            if (_lazy.IsValueCreated)
            {
                _lazy.Value.Dispose();
            }
        }
    }
}

/// <summary>A session in use; dispose to release it back to the cache.</summary>
public sealed class SessionLease : IDisposable
{
    private SessionCache? _cache;
    private readonly SessionCache.Entry _entry;

    internal SessionLease(SessionCache cache, SessionCache.Entry entry, OnnxStage stage)
    {
        _cache = cache;
        _entry = entry;
        Stage = stage;
    }

    public OnnxStage Stage { get; }

    /// <summary>
    /// Runs <paramref name="check"/> on the session the first time it is leased for <paramref name="contract"/> (a
    /// session's ports cannot change while it lives, so a passed check holds for every later run); a failed check
    /// throws and is tried again on the next lease.
    /// </summary>
    internal void EnsureChecked(object contract, Action<OnnxStage> check)
    {
        if (_entry.Checked.ContainsKey(contract))
        {
            return;
        }

        check(Stage);
        _entry.Checked.TryAdd(contract, true);
    }

    public void Dispose() => Interlocked.Exchange(ref _cache, null)?.Release(_entry);
}
