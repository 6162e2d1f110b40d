using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Wuerstchen.Core;

/// <summary>
/// A float tensor the engine works on in float32, bound to ONNX Runtime once over pinned memory. When the
/// network declares float16, a float16 shadow buffer is bound instead and converted at the boundary.
/// </summary>
internal sealed class BoundTensor : IDisposable
{
    private readonly Float16[]? _half;
    private readonly BufferPool _pool;
    private bool _disposed;

    public BoundTensor(BufferPool pool, TensorElementType type, long[] shape)
    {
        _pool = pool;
        Shape = shape;
        long count = 1;
        foreach (var d in shape)
        {
            count *= d;
        }

        if (count > Array.MaxLength)
        {
            throw new WuerstchenException("TensorTooLarge", WuerstchenErrorKind.InvalidArgument,
                $"A tensor of shape [{string.Join(",", shape)}] is too large.", shape);
        }

        // pooled: a repeated call reuses mapped memory (the contents are always written before use)
        Data = pool.Rent<float>((int)count);
        if (type == TensorElementType.Float16)
        {
            _half = pool.Rent<Float16>((int)count);
            Value = OrtValue.CreateTensorValueFromMemory(_half, shape);
        }
        else
        {
            Value = OrtValue.CreateTensorValueFromMemory(Data, shape);
        }
    }

    public float[] Data { get; }

    public long[] Shape { get; }

    public OrtValue Value { get; }

    /// <summary>After writing Data: make the bound buffer current (float16 conversion when needed).</summary>
    public void Push()
    {
        if (_half is not null)
        {
            System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(Data, MemoryMarshal.Cast<Float16, Half>(_half.AsSpan()));
        }
    }

    /// <summary>After a run wrote the bound buffer: make Data current.</summary>
    public void Pull()
    {
        if (_half is not null)
        {
            System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<Float16, Half>(_half.AsSpan()), Data);
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Value.Dispose(); // unpins the arrays before they go back to the pool
        _pool.Return(Data);
        _pool.Return(_half);
    }
}
