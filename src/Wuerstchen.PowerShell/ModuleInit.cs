using System.Management.Automation;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Wuerstchen.PowerShell;

/// <summary>
/// Runs at Import-Module: points ONNX Runtime's native library lookup at the module folder, so
/// libonnxruntime (and, through it, the CUDA provider) loads from where the build put it on every OS.
/// </summary>
public sealed class ModuleInit : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    private static int _registered;

    public void OnImport()
    {
        Environment.SetEnvironmentVariable("ORT_DISABLE_TELEMETRY", Environment.GetEnvironmentVariable("ORT_DISABLE_TELEMETRY") ?? "1");
        if (Interlocked.Exchange(ref _registered, 1) == 1)
        {
            return; // one resolver per process (a second import in another runspace must not set it again)
        }

        try
        {
            NativeLibrary.SetDllImportResolver(typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly, Resolve);
        }
        catch (InvalidOperationException)
        {
            // a resolver was already set by someone else: keep theirs
        }
    }

    public void OnRemove(PSModuleInfo psModuleInfo)
    {
        // sessions stay cached for the process; Clear-WuerstchenCache releases them explicitly
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        var folder = Path.GetDirectoryName(typeof(ModuleInit).Assembly.Location);
        if (folder is null)
        {
            return IntPtr.Zero;
        }

        foreach (var candidate in Candidates(name))
        {
            var path = Path.Combine(folder, candidate);
            if (File.Exists(path) && NativeLibrary.TryLoad(path, out var handle))
            {
                return handle;
            }
        }

        return IntPtr.Zero; // fall back to the default probing
    }

    private static IEnumerable<string> Candidates(string name)
    {
        yield return name;
        if (OperatingSystem.IsWindows())
        {
            yield return name + ".dll";
        }
        else if (OperatingSystem.IsMacOS())
        {
            yield return "lib" + name + ".dylib";
        }
        else
        {
            yield return "lib" + name + ".so";
        }
    }
}
