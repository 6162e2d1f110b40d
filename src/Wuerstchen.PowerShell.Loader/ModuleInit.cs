using System.Management.Automation;
using System.Reflection;
using System.Runtime.Loader;

namespace Wuerstchen.PowerShell.Loading;

/// <summary>
/// Runs at Import-Module, before the cmdlet assembly is read (the loader is the manifest's NestedModule, and
/// PowerShell imports nested modules first). Only the loader and the cmdlet assembly sit in the module root; the
/// engine and its dependencies (ONNX Runtime's managed part, ImageSharp, System.Numerics.Tensors) live in
/// the module's <c>dependencies/</c> folder, which no default probing looks at. When the default load
/// context cannot find one of them, this hands it out of the module's own <see cref="DependencyLoadContext"/>,
/// so another module's copy of the same assembly (another version, loaded first) never meets ours.
/// Nothing in this assembly may name a type of those: it runs before the handler exists.
/// </summary>
public sealed class ModuleInit : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    private static int _registered;

    public void OnImport()
    {
        Environment.SetEnvironmentVariable("ORT_DISABLE_TELEMETRY", Environment.GetEnvironmentVariable("ORT_DISABLE_TELEMETRY") ?? "1");
        // One handler per process, never removed: the load context and the sessions it holds live as long as
        // the process, and every runspace (ForEach-Object -Parallel) that imports the module shares them.
        if (Interlocked.Exchange(ref _registered, 1) == 1)
        {
            return;
        }

        AssemblyLoadContext.Default.Resolving += ResolveFromDependencies;
        PublishEngineTypes();
    }

    /// <summary>
    /// PowerShell resolves type literals only among the default context's assemblies, so the engine's public
    /// types ([Wuerstchen.Core.IO.Npy] …) would vanish from scripts once the engine moved into the module's
    /// context. Type accelerators under their full names keep them reachable; the dependencies stay hidden.
    /// </summary>
    private static void PublishEngineTypes()
    {
        var accelerators = typeof(PSObject).Assembly.GetType("System.Management.Automation.TypeAccelerators");
        var add = accelerators?.GetMethod("Add", BindingFlags.Public | BindingFlags.Static, new[] { typeof(string), typeof(Type) });
        if (add is null)
        {
            return; // a PowerShell without the accelerator table: the types are still usable through objects
        }

        var engine = DependencyLoadContext.Instance.LoadFromAssemblyName(new AssemblyName("Wuerstchen.Core"));
        foreach (var type in engine.GetExportedTypes())
        {
            if (type.FullName is not null)
            {
                add.Invoke(null, new object[] { type.FullName, type });
            }
        }
    }

    public void OnRemove(PSModuleInfo psModuleInfo)
    {
        // sessions stay cached for the process; Clear-WuerstchenCache releases them explicitly
    }

    private static Assembly? ResolveFromDependencies(AssemblyLoadContext context, AssemblyName name)
    {
        var dependencies = DependencyLoadContext.Instance;
        return dependencies.Owns(name) ? dependencies.LoadFromAssemblyName(name) : null;
    }
}
