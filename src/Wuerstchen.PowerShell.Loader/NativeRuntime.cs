using System.Reflection;

namespace Wuerstchen.PowerShell.Loading;

/// <summary>
/// Chooses, once per process, the folder ONNX Runtime's native core library loads from. ONNX Runtime loads
/// its provider libraries (libonnxruntime_providers_cuda …) from the core library's own folder, so CUDA
/// needs a core library that sits beside the 271 MB CUDA provider: the CUDA companion module
/// (Wuerstchen.Cuda.Linux / Wuerstchen.Cuda.Windows) brings the GPU build of all three. In order:
/// <list type="number">
/// <item><c>$env:WUERSTCHEN_CUDA_PATH</c>, a folder holding that set (for a hand-made install);</item>
/// <item>the companion module found on <c>$env:PSModulePath</c>, highest version first, built for the same
///   ONNX Runtime minor version as the module's managed part (its <c>onnxruntime.version</c> file says which);</item>
/// <item>the module's own <c>runtimes/&lt;rid&gt;/native</c> (the CPU build: <c>-ExecutionProvider Auto</c>
///   then falls back to the CPU with one warning).</item>
/// </list>
/// </summary>
public sealed class NativeRuntime
{
    public const string CudaPathVariable = "WUERSTCHEN_CUDA_PATH";
    public const string VersionFileName = "onnxruntime.version";

    /// <summary>The AppDomain data slot that holds <see cref="Skipped"/> of the process's choice (string[]).</summary>
    public const string SkippedDataName = "Wuerstchen.NativeRuntime.Skipped";
    private const long MaxVersionFileBytes = 64;

    private static readonly object Gate = new();
    private static NativeRuntime? _chosen;

    private NativeRuntime(string folder, string source, IReadOnlyList<string> skipped)
    {
        Folder = folder;
        Source = source;
        Skipped = skipped;
    }

    /// <summary>The folder the core library loads from.</summary>
    public string Folder { get; }

    /// <summary>Where the choice came from: Module, CudaCompanion or WUERSTCHEN_CUDA_PATH.</summary>
    public string Source { get; }

    /// <summary>Candidates that were looked at and not used, each with the reason (for -Verbose and bug reports).</summary>
    public IReadOnlyList<string> Skipped { get; }

    /// <summary>The companion module's name on this OS.</summary>
    public static string CompanionModuleName => OperatingSystem.IsWindows() ? "Wuerstchen.Cuda.Windows" : "Wuerstchen.Cuda.Linux";

    /// <summary>The choice of this process, or null before the first native call.</summary>
    public static NativeRuntime? Current => _chosen;

    /// <summary>The choice, made on first use and then fixed: a native library cannot be swapped once loaded.</summary>
    public static NativeRuntime For(ModuleLayout layout)
    {
        lock (Gate)
        {
            if (_chosen is null)
            {
                _chosen = Choose(layout, Environment.GetEnvironmentVariable(CudaPathVariable), Environment.GetEnvironmentVariable("PSModulePath"));
                // the cmdlets live in another load context and do not reference this assembly: they read why a GPU
                // runtime was passed over from here, for the CUDA messages
                AppDomain.CurrentDomain.SetData(SkippedDataName, _chosen.Skipped.ToArray());
            }

            return _chosen;
        }
    }

    /// <summary>The full path of a native library ONNX Runtime asks for ("onnxruntime"), or null for ones it does not ship.</summary>
    public string? PathOf(string unmanagedDllName)
    {
        var bare = Path.GetFileNameWithoutExtension(unmanagedDllName);
        if (bare.StartsWith("lib", StringComparison.Ordinal))
        {
            bare = bare[3..];
        }

        if (!bare.Equals("onnxruntime", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var path = Path.Combine(Folder, ModuleLayout.CoreLibraryFileName);
        return File.Exists(path) ? path : null;
    }

    /// <summary>Pure choice (no process state), so tests and -Verbose can ask "what would be used".</summary>
    public static NativeRuntime Choose(ModuleLayout layout, string? cudaPath, string? psModulePath)
    {
        var skipped = new List<string>();
        var wanted = ManagedOrtVersion(layout);
        if (!string.IsNullOrWhiteSpace(cudaPath))
        {
            var reason = Unusable(cudaPath.Trim(), wanted, requireVersionFile: false);
            if (reason is null)
            {
                return new NativeRuntime(cudaPath.Trim(), CudaPathVariable, skipped);
            }

            skipped.Add($"{CudaPathVariable}='{cudaPath}': {reason}");
        }

        foreach (var folder in CompanionFolders(psModulePath))
        {
            var reason = Unusable(folder, wanted, requireVersionFile: true);
            if (reason is null)
            {
                return new NativeRuntime(folder, "CudaCompanion", skipped);
            }

            skipped.Add($"'{folder}': {reason}");
        }

        return new NativeRuntime(layout.NativeFolder, "Module", skipped);
    }

    private static IEnumerable<string> CompanionFolders(string? psModulePath)
    {
        if (string.IsNullOrWhiteSpace(psModulePath))
        {
            yield break;
        }

        foreach (var entry in psModulePath.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var moduleFolder = Path.Combine(entry, CompanionModuleName);
            if (!Directory.Exists(moduleFolder))
            {
                continue;
            }

            // Install-PSResource puts each version in its own folder; a copied module may have none
            var versions = Directory.GetDirectories(moduleFolder)
                .Select(d => (Folder: d, Version: Version.TryParse(Path.GetFileName(d), out var v) ? v : null))
                .Where(x => x.Version is not null)
                .OrderByDescending(x => x.Version)
                .Select(x => x.Folder)
                .Append(moduleFolder);
            foreach (var root in versions)
            {
                yield return Path.Combine(root, "runtimes", ModuleLayout.Rid, "native");
            }
        }
    }

    private static string? Unusable(string folder, Version? wanted, bool requireVersionFile)
    {
        if (!Path.IsPathFullyQualified(folder))
        {
            return "not an absolute path (ONNX Runtime loads its libraries by absolute path only)";
        }

        var core = Path.Combine(folder, ModuleLayout.CoreLibraryFileName);
        if (!File.Exists(core))
        {
            return $"no {ModuleLayout.CoreLibraryFileName} there";
        }

        // a library that cannot load fails ONNX Runtime's type initializer for the whole process (even the CPU would be
        // lost), so a damaged or foreign one is passed over here rather than tried
        if (NativeLibraryCheck.Problem(core) is { } problem)
        {
            return problem;
        }

        var versionFile = Path.Combine(folder, VersionFileName);
        if (!File.Exists(versionFile))
        {
            return requireVersionFile ? $"no {VersionFileName} there" : null;
        }

        // a version is a few bytes: anything else (a FIFO or device shows as 0 bytes, and would block or never end) is not opened
        long length = new FileInfo(versionFile).Length;
        if (length is 0 or > MaxVersionFileBytes)
        {
            return $"{VersionFileName} is {length} bytes, not a short text file holding a version";
        }

        // ONNX Runtime's C API is versioned by minor release: the managed part and the core library must agree
        if (!Version.TryParse(File.ReadAllText(versionFile).Trim(), out var found))
        {
            return $"{VersionFileName} does not hold a version";
        }

        return wanted is not null && (found.Major != wanted.Major || found.Minor != wanted.Minor)
            ? $"built for ONNX Runtime {found}, the module needs {wanted.Major}.{wanted.Minor}.x"
            : null;
    }

    private static Version? ManagedOrtVersion(ModuleLayout layout)
    {
        var path = layout.DependencyPath("Microsoft.ML.OnnxRuntime");
        return File.Exists(path) ? AssemblyName.GetAssemblyName(path).Version : null;
    }
}
