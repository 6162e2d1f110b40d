using System.Runtime.InteropServices;

namespace Wuerstchen.Benchmark;

/// <summary>
/// The CUDA driver API (libcuda), asked directly for the device's name and its memory in use, so the GPU stand-in
/// benchmark can report peak device memory per network without nvidia-smi (whose process list does not work inside
/// every container). Absent (no driver): every query returns null.
/// </summary>
internal static unsafe class CudaMemory
{
    private const int InvalidContext = 201; // CUDA_ERROR_INVALID_CONTEXT: this thread has no context current
    private static readonly IntPtr Library = NativeLibrary.TryLoad(OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1", out var h) ? h : IntPtr.Zero;

    public static bool Available => Library != IntPtr.Zero && Call<uint>("cuInit", 0) == 0;

    /// <summary>The device's name ("NVIDIA H100 80GB HBM3" …), or null.</summary>
    public static string? DeviceName(int ordinal)
    {
        if (!Available || Device(ordinal) is not { } device || Export("cuDeviceGetName") is not { } f)
        {
            return null;
        }

        var name = stackalloc byte[256];
        return ((delegate* unmanaged<byte*, int, int, int>)f)(name, 256, device) == 0 ? Marshal.PtrToStringUTF8((IntPtr)name) : null;
    }

    /// <summary>Bytes in use on the device (total − free, all processes), or null. Binds the device's primary context (the one ONNX Runtime uses) when this thread has none.</summary>
    public static long? UsedBytes(int ordinal)
    {
        if (!Available || Export("cuMemGetInfo_v2") is not { } f || Device(ordinal) is not { } device)
        {
            return null;
        }

        nuint free, total;
        int rc = ((delegate* unmanaged<nuint*, nuint*, int>)f)(&free, &total);
        if (rc == InvalidContext && Export("cuDevicePrimaryCtxRetain") is { } retain && Export("cuCtxSetCurrent") is { } set)
        {
            IntPtr context;
            if (((delegate* unmanaged<IntPtr*, int, int>)retain)(&context, device) == 0 && ((delegate* unmanaged<IntPtr, int>)set)(context) == 0)
            {
                rc = ((delegate* unmanaged<nuint*, nuint*, int>)f)(&free, &total);
            }
        }

        return rc == 0 ? (long)(total - free) : null;
    }

    private static int? Device(int ordinal)
    {
        int device;
        return Export("cuDeviceGet") is { } f && ((delegate* unmanaged<int*, int, int>)f)(&device, ordinal) == 0 ? device : null;
    }

    private static int Call<T>(string name, T arg) where T : unmanaged =>
        Export(name) is { } f ? ((delegate* unmanaged<T, int>)f)(arg) : -1;

    private static IntPtr? Export(string name) =>
        Library != IntPtr.Zero && NativeLibrary.TryGetExport(Library, name, out var f) ? f : null;
}
