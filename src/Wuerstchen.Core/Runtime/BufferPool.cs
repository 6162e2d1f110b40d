namespace Wuerstchen.Core;

/// <summary>
/// Keeps the large work buffers of a generation (latents, noise, bound tensors, pixels) for the next call,
/// so repeated calls reuse memory that is already mapped instead of faulting in fresh pages each time.
/// Arrays are exact-length and NOT cleared when rented. Bounded: a few arrays per length and
/// <see cref="MaxRetainedBytes"/> in all; <see cref="Clear"/> (Clear-WuerstchenCache) drops them. One per
/// <see cref="SessionCache"/> (<see cref="SessionCache.Buffers"/>), so tests do not share buffers.
/// </summary>
public sealed class BufferPool
{
    /// <summary>Below this many bytes an array is not worth pooling.</summary>
    public const int MinPooledBytes = 64 * 1024;

    public const long MaxRetainedBytes = 512L << 20;

    private const int MaxPerLength = 8;

    private readonly Dictionary<(Type, int), Stack<Array>> Pools = new();
    private readonly object Gate = new();
    private long _retainedBytes;

    public long RetainedBytes
    {
        get
        {
            lock (Gate)
            {
                return _retainedBytes;
            }
        }
    }

    /// <summary>An array of exactly <paramref name="length"/> elements with unspecified contents.</summary>
    public T[] Rent<T>(int length) where T : unmanaged
    {
        long bytes = (long)length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        if (bytes >= MinPooledBytes)
        {
            lock (Gate)
            {
                if (Pools.TryGetValue((typeof(T), length), out var stack) && stack.Count > 0)
                {
                    _retainedBytes -= bytes;
                    return (T[])stack.Pop();
                }
            }
        }

        return GC.AllocateUninitializedArray<T>(length);
    }

    /// <summary>An array of exactly <paramref name="length"/> zeros.</summary>
    public T[] RentZeroed<T>(int length) where T : unmanaged
    {
        var array = Rent<T>(length);
        Array.Clear(array);
        return array;
    }

    /// <summary>Gives an array back; the caller must not touch it afterwards.</summary>
    public void Return<T>(T[]? array) where T : unmanaged
    {
        if (array is null)
        {
            return;
        }

        long bytes = (long)array.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        if (bytes < MinPooledBytes)
        {
            return;
        }

        lock (Gate)
        {
            if (_retainedBytes + bytes > MaxRetainedBytes)
            {
                return;
            }

            if (!Pools.TryGetValue((typeof(T), array.Length), out var stack))
            {
                Pools[(typeof(T), array.Length)] = stack = new Stack<Array>();
            }

            if (stack.Count < MaxPerLength)
            {
                stack.Push(array);
                _retainedBytes += bytes;
            }
        }
    }

    /// <summary>Drops every retained buffer.</summary>
    public void Clear()
    {
        lock (Gate)
        {
            Pools.Clear();
            _retainedBytes = 0;
        }
    }
}
