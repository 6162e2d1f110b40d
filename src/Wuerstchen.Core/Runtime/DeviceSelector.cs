using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace Wuerstchen.Core;

/// <summary>
/// Opens ONNX Runtime sessions on a validated device: CUDA when asked for (or on Auto when it loads), else the CPU
/// provider. GetAvailableProviders() lists CUDA even when its libraries cannot load, so CUDA is probed by appending
/// the provider and catching. Failures are classified by exception type and by what happens next, never by message
/// text (ONNX Runtime 1.31's managed OnnxRuntimeException exposes no error code): a session that fails on CUDA but
/// opens on the CPU failed because of CUDA; one that fails on both is a bad model file. One instance per
/// <see cref="SessionCache"/>: its probe results and fallback warning are that cache's, not the process's.
/// </summary>
public sealed class DeviceSelector
{
    private readonly ConcurrentDictionary<int, string?> _cudaProbe = new();
    private readonly ConcurrentDictionary<int, bool> _fallbackWarned = new();

    /// <summary>How the CUDA fallback warning starts, so a host can shorten it for its logs (the cmdlets do).</summary>
    public const string CudaFallbackStart = "CUDA is not available (";

    /// <summary>How a reason starts when the ONNX Runtime loaded is the CPU build (no CUDA provider in it at all).</summary>
    public const string NoGpuRuntime = "this install has no GPU runtime";

    /// <summary>How a reason starts when the GPU build is loaded but the driver has no device to offer.</summary>
    public const string NoDeviceOrDriver = "the GPU runtime is present, but no CUDA device or driver was found";

    private const string NoSuchDevice = "there is no device";

    /// <summary>How a reason starts when the driver and device are there but the provider does not load or a session fails on it.</summary>
    public const string ProviderFailed = "the GPU runtime is present, but its CUDA provider failed";

    public const string CudaHelp =
        "The CUDA execution provider of ONNX Runtime 1.31 needs an NVIDIA driver, the CUDA 13 runtime (cudart, cublas, cublasLt, cufft, curand) and cuDNN 9 on the library path (LD_LIBRARY_PATH on Linux, PATH on Windows).";

    public const string DriverHelp =
        "Install an NVIDIA driver for CUDA 13 and check that nvidia-smi lists the GPU; the CUDA provider then also needs the CUDA 13 runtime and cuDNN 9 on the library path.";

    /// <summary>
    /// What to do when the CPU build of ONNX Runtime is loaded; a host replaces it with its own way to add the GPU
    /// build (the cmdlets name the companion module).
    /// </summary>
    public string NoGpuRuntimeHelp { get; set; } =
        "Load the GPU build of ONNX Runtime 1.31 (Microsoft.ML.OnnxRuntime.Gpu.Linux or .Windows) instead of the CPU build.";

    /// <summary>The short summary a reason starts with (one of the constants above), or null for any other reason.</summary>
    public static string? Summary(string reason) =>
        new[] { NoGpuRuntime, NoDeviceOrDriver, ProviderFailed }.FirstOrDefault(s => reason.StartsWith(s, StringComparison.Ordinal));

    /// <summary>What the user can do about a reason <see cref="CudaUnavailableReason"/> gave.</summary>
    public string HelpFor(string reason) => Summary(reason) switch
    {
        NoGpuRuntime => NoGpuRuntimeHelp,
        // a -DeviceId past the GPUs there are (the -Parallel recipe on a machine with fewer GPUs): no driver advice
        NoDeviceOrDriver when reason.Contains(NoSuchDevice, StringComparison.Ordinal) => "Give a -DeviceId that nvidia-smi -L lists (numbered from 0), or fewer workers than GPUs.",
        NoDeviceOrDriver => DriverHelp,
        _ => CudaHelp,
    };

    /// <summary>The NVIDIA libraries the CUDA provider of ONNX Runtime 1.31 loads, by the names this OS gives them.</summary>
    public static IReadOnlyList<string> CudaLibraries => OperatingSystem.IsWindows()
        ? new[] { "nvcuda.dll", "cudart64_13.dll", "cublas64_13.dll", "cublasLt64_13.dll", "curand64_10.dll", "cudnn64_9.dll" }
        : new[] { "libcuda.so.1", "libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13", "libcurand.so.10", "libcudnn.so.9" }; // curand: the provider links it (objdump -p)

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

    /// <summary>
    /// Null when the CUDA provider can be appended for the device, else the reason it cannot (probed once per device),
    /// starting with <see cref="NoGpuRuntime"/>, <see cref="NoDeviceOrDriver"/> or <see cref="ProviderFailed"/>.
    /// </summary>
    public string? CudaUnavailableReason(int deviceId) => _cudaProbe.GetOrAdd(deviceId, static id =>
    {
        // the CPU build lists only the CPU provider; its AppendExecutionProvider_CUDA is a missing entry point
        if (!OrtEnv.Instance().GetAvailableProviders().Contains("CUDAExecutionProvider"))
        {
            return $"{NoGpuRuntime}: the ONNX Runtime loaded is its CPU build";
        }

        var (devices, problem) = CudaDriver.Probe();
        if (problem is not null && devices == 0)
        {
            return $"{NoDeviceOrDriver}: {problem}";
        }

        if (id >= devices)
        {
            return $"{NoDeviceOrDriver}: {NoSuchDevice} {id} (the driver reports {devices}, numbered from 0)";
        }

        return problem is not null ? $"{ProviderFailed}: {problem}" : AppendProbe(id);
    });

    private static string? AppendProbe(int id)
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
                ? $"{ProviderFailed}: missing {string.Join(", ", missing)} ({FirstLine(ex.Message)})"
                : $"{ProviderFailed}: {FirstLine(ex.Message)}";
        }
        finally
        {
            env.EnvLogLevel = level;
        }
    }

    /// <summary>Opens one network, checking the file first so a missing, empty or corrupt file gives a clear error.</summary>
    public OnnxSession Open(NetworkKind kind, string path, ExecutionOptions execution, Action<string>? warn = null, IRunObserver? observer = null)
    {
        CheckFile(kind, path);
        if (execution.Provider == ExecutionProviderKind.Cpu)
        {
            return OpenOnCpu(kind, path, execution, observer);
        }

        string? cudaError = CudaUnavailableReason(execution.DeviceId);
        OnnxSession? cpu = null;
        if (cudaError is null)
        {
            try
            {
                return Create(kind, path, execution, useCuda: true, observer);
            }
            catch (OnnxRuntimeException ex)
            {
                // CUDA or the file? The CPU decides: a file it cannot open either is InvalidModelFile (thrown here)
                cpu = OpenOnCpu(kind, path, execution, observer);
                cudaError = $"{ProviderFailed}: {FirstLine(ex.Message)}";
            }
        }

        if (execution.Provider == ExecutionProviderKind.Cuda)
        {
            cpu?.Dispose();
            throw new WuerstchenException("CudaUnavailable", WuerstchenErrorKind.NotInstalled,
                $"The CUDA execution provider could not be used for device {execution.DeviceId}: {cudaError}. {HelpFor(cudaError)}", execution.DeviceId);
        }

        if (_fallbackWarned.TryAdd(execution.DeviceId, true))
        {
            // once per selector and device: every later session falls back the same way
            warn?.Invoke($"{CudaFallbackStart}{FirstLine(cudaError)}); running on the CPU, which is far slower. {HelpFor(cudaError)}");
        }

        return cpu ?? OpenOnCpu(kind, path, execution, observer);
    }

    internal static void CheckFile(NetworkKind kind, string path)
    {
        if (IO.BoundedFile.NotAFile(path) is { } why)
        {
            throw new WuerstchenException("InvalidModelFile", WuerstchenErrorKind.InvalidData,
                $"The {kind} network file '{IO.TextExcerpt.Of(path, 200)}' {why}; a network is a model.onnx file: re-export or re-copy it.", path);
        }

        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new WuerstchenException("ModelFileNotFound", WuerstchenErrorKind.ObjectNotFound,
                $"The {kind} network file '{path}' does not exist. A model folder needs the files listed in the model contract (see README: 'Getting the real models').", path);
        }

        // ONNX Runtime opens the file (and its external data) itself: a FIFO would block that open forever
        foreach (var file in new[] { info.FullName, info.FullName + ".data" })
        {
            if (IO.FileType.Of(file) is { } type and not "a regular file" && (file == info.FullName || File.Exists(file)))
            {
                throw new WuerstchenException("InvalidModelFile", WuerstchenErrorKind.InvalidData,
                    $"The {kind} network file '{file}' is not a regular file (it is {type}); re-export or re-copy it.", file);
            }
        }

        if (info.Length == 0)
        {
            throw new WuerstchenException("InvalidModelFile", WuerstchenErrorKind.InvalidData,
                $"The {kind} network file '{path}' is empty (0 bytes); re-export or re-copy it.", path);
        }

        CheckDataBeside(kind, info);
    }

    /// <summary>
    /// ONNX Runtime reads model.onnx.data only from the folder model.onnx resolves to (it refuses a path that "escapes
    /// the model directory"): a data file linked from elsewhere while model.onnx is not fails deep in the load.
    /// </summary>
    private static void CheckDataBeside(NetworkKind kind, FileInfo model)
    {
        var data = new FileInfo(model.FullName + ".data");
        if (!data.Exists || data.LinkTarget is null)
        {
            return;
        }

        string? modelDir = Path.GetDirectoryName(model.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? model.FullName);
        string? dataDir = Path.GetDirectoryName(data.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? data.FullName);
        if (!string.Equals(modelDir, dataDir, StringComparison.Ordinal))
        {
            throw new WuerstchenException("InvalidModelFile", WuerstchenErrorKind.InvalidData,
                $"The {kind} network's '{data.FullName}' is a link to '{dataDir}', but ONNX Runtime reads a network's data only from the folder "
                + $"its model.onnx is in ('{modelDir}'). Link model.onnx to the same folder too, link the whole network folder, or copy the data file.", data.FullName);
        }
    }

    private static string FirstLine(string? s) => (s ?? "unknown reason").Split('\n')[0].Trim();

    private static OnnxSession OpenOnCpu(NetworkKind kind, string path, ExecutionOptions execution, IRunObserver? observer)
    {
        try
        {
            return Create(kind, path, execution, useCuda: false, observer);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new WuerstchenException("InvalidModelFile", WuerstchenErrorKind.InvalidData,
                $"ONNX Runtime could not load the {kind} network '{path}': {FirstLine(ex.Message)}", path, ex);
        }
    }

    /// <summary>One session; an OnnxRuntimeException (CUDA options or session creation) is the caller's to classify.</summary>
    private static OnnxSession Create(NetworkKind kind, string path, ExecutionOptions execution, bool useCuda, IRunObserver? observer)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = execution.Optimization,
            // a load failure is reported once, as this module's error; ONNX Runtime's own log line repeated it in red
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL,
        };
        if (!execution.PrepacksWeights(kind))
        {
            options.AddSessionConfigEntry("session.disable_prepacking", "1");
        }

        if (execution.IntraOpThreads > 0)
        {
            options.IntraOpNumThreads = execution.IntraOpThreads;
        }

        if (useCuda)
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

        return new OnnxSession(kind, path, new InferenceSession(path, options), useCuda ? "CUDA" : "CPU", observer);
    }
}
