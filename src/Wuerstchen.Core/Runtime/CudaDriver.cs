using System.Runtime.InteropServices;

namespace Wuerstchen.Core;

/// <summary>
/// Asks the NVIDIA driver itself (libcuda.so.1 / nvcuda.dll, the driver API) whether there is a CUDA device, before
/// ONNX Runtime's CUDA provider is appended. Without this a machine with the GPU runtime but no driver or no device
/// only gets ONNX Runtime's "failed to load library" message, which reads as a missing CUDA toolkit and sends the
/// user to install CUDA and cuDNN, which cannot help.
/// </summary>
public static class CudaDriver
{
    // driver API results (cuda.h): CUDA_SUCCESS, CUDA_ERROR_NO_DEVICE
    private const int Success = 0;
    private const int NoDevice = 100;

    /// <summary>The driver library's name on this OS.</summary>
    public static string LibraryName => OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1";

    /// <summary>The CUDA devices the driver reports, or why there are none (no driver, no device, an old driver).</summary>
    public static (int Count, string? Problem) Probe()
    {
        if (!NativeLibrary.TryLoad(LibraryName, out var library))
        {
            return (0, $"{LibraryName} cannot be loaded: no NVIDIA driver is installed");
        }

        // the library stays loaded: ONNX Runtime's CUDA provider loads it again and the driver keeps its state per process
        if (!NativeLibrary.TryGetExport(library, "cuInit", out var init)
            || !NativeLibrary.TryGetExport(library, "cuDeviceGetCount", out var count)
            || !NativeLibrary.TryGetExport(library, "cuDriverGetVersion", out var version))
        {
            return (0, $"{LibraryName} is not an NVIDIA CUDA driver (cuInit, cuDeviceGetCount or cuDriverGetVersion missing)");
        }

        return Query(init, count, version);
    }

    private static unsafe (int Count, string? Problem) Query(IntPtr init, IntPtr count, IntPtr version)
    {
        int driverVersion = 0;
        ((delegate* unmanaged<int*, int>)version)(&driverVersion);
        int rc = ((delegate* unmanaged<uint, int>)init)(0);
        if (rc == NoDevice)
        {
            return (0, "the NVIDIA driver reports no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE)");
        }

        if (rc != Success)
        {
            return (0, $"the NVIDIA driver could not be initialised (cuInit error {rc}; driver for CUDA {CudaVersion(driverVersion)})");
        }

        int devices = 0;
        rc = ((delegate* unmanaged<int*, int>)count)(&devices);
        if (rc != Success || devices == 0)
        {
            return (0, $"the NVIDIA driver reports no CUDA device (cuDeviceGetCount: {rc}, {devices} devices)");
        }

        // ONNX Runtime 1.31's GPU build is built with CUDA 13: an older driver cannot run it
        return driverVersion < 13000
            ? (devices, $"the NVIDIA driver supports CUDA {CudaVersion(driverVersion)} only; ONNX Runtime 1.31's CUDA provider needs a driver for CUDA 13")
            : (devices, null);
    }

    private static string CudaVersion(int v) => $"{v / 1000}.{v % 1000 / 10}";
}
