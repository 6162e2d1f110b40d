namespace Wuerstchen.PowerShell.Loading;

/// <summary>
/// Where things are in the module folder, in one place for the loader, build.ps1 and the package:
/// <c>Wuerstchen.PowerShell.dll</c> (the only assembly PowerShell loads itself), <c>dependencies/</c>
/// (managed dependencies, loaded into <see cref="DependencyLoadContext"/>) and
/// <c>runtimes/&lt;rid&gt;/native/</c> (ONNX Runtime's native libraries per OS, as NuGet lays them out).
/// </summary>
public sealed class ModuleLayout
{
    public const string DependencyFolderName = "dependencies";

    public ModuleLayout(string moduleRoot)
    {
        ModuleRoot = moduleRoot;
    }

    public static ModuleLayout FromAssembly(System.Reflection.Assembly cmdletAssembly) =>
        new(Path.GetDirectoryName(cmdletAssembly.Location) ?? AppContext.BaseDirectory);

    public string ModuleRoot { get; }

    public string DependencyFolder => Path.Combine(ModuleRoot, DependencyFolderName);

    public string DependencyPath(string assemblyName) => Path.Combine(DependencyFolder, assemblyName + ".dll");

    /// <summary>The module's own native folder for this OS and processor.</summary>
    public string NativeFolder => Path.Combine(ModuleRoot, "runtimes", Rid, "native");

    /// <summary>This process's runtime identifier in NuGet's spelling: win-x64, linux-x64, osx-arm64 …</summary>
    public static string Rid
    {
        get
        {
            var arch = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
            var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
            return os + "-" + arch;
        }
    }

    /// <summary>The file name ONNX Runtime's core library has on this OS.</summary>
    public static string CoreLibraryFileName =>
        OperatingSystem.IsWindows() ? "onnxruntime.dll" : OperatingSystem.IsMacOS() ? "libonnxruntime.dylib" : "libonnxruntime.so";
}
