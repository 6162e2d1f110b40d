using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace Wuerstchen.PowerShell.Loading;

/// <summary>
/// The module's private load context: every assembly in the module's <c>dependencies/</c> folder loads here,
/// whatever other versions of it the session already holds, and ONNX Runtime's native library comes from
/// the folder <see cref="NativeRuntime"/> chose (the CUDA companion's, else the module's own for this OS).
/// Framework and PowerShell assemblies are not in the folder, so they come from the default context and
/// stay shared with the host.
/// </summary>
public sealed class DependencyLoadContext : AssemblyLoadContext
{
    private static readonly Lazy<DependencyLoadContext> Shared = new(() => new DependencyLoadContext(ModuleLayout.FromAssembly(typeof(DependencyLoadContext).Assembly)));

    private readonly ModuleLayout _layout;

    private DependencyLoadContext(ModuleLayout layout)
        : base("Wuerstchen", isCollectible: false)
    {
        _layout = layout;
    }

    /// <summary>The one context of this process (assemblies cannot be unloaded from a non-collectible context, so one is all there is).</summary>
    public static DependencyLoadContext Instance => Shared.Value;

    /// <summary>The folder the module's dependencies load from.</summary>
    public string DependencyFolder => _layout.DependencyFolder;

    /// <summary>Whether the assembly is one the module ships in its dependencies folder.</summary>
    public bool Owns(AssemblyName name) => name.Name is not null && File.Exists(_layout.DependencyPath(name.Name));

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (assemblyName.Name is null)
        {
            return null;
        }

        var path = _layout.DependencyPath(assemblyName.Name);
        return File.Exists(path) ? LoadFromAssemblyPath(path) : null; // null: the default context (framework, PowerShell)
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        var path = NativeRuntime.For(_layout).PathOf(unmanagedDllName);
        return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path); // zero: the default native probing
    }
}
