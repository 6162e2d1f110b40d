using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Wuerstchen.Core;

/// <summary>The networks of a model folder (model-contract.md).</summary>
public enum StageKind
{
    PriorTextEncoder,
    Prior,
    DecoderTextEncoder,
    Decoder,
    Vqgan,
    Effnet,
}

/// <summary>
/// One ONNX Runtime session for one network: metadata-driven binding by input name, float16/float32
/// converted at the boundary. Thread-safe for concurrent runs (ONNX Runtime sessions are).
/// </summary>
public sealed class OnnxStage : IDisposable
{
    private readonly InferenceSession _session;

    internal OnnxStage(StageKind kind, string path, InferenceSession session, string provider)
    {
        Kind = kind;
        Path = path;
        _session = session;
        Provider = provider;
        Inputs = session.InputMetadata;
        Outputs = session.OutputMetadata;
    }

    public StageKind Kind { get; }

    public string Path { get; }

    /// <summary>The execution provider the session runs on ("CUDA" or "CPU").</summary>
    public string Provider { get; }

    public IReadOnlyDictionary<string, NodeMetadata> Inputs { get; }

    public IReadOnlyDictionary<string, NodeMetadata> Outputs { get; }

    internal InferenceSession Session => _session;

    public bool HasInput(string name) => Inputs.ContainsKey(name);

    /// <summary>Fixed size of an axis of an input or output, or null when it is dynamic.</summary>
    public int? FixedDimension(string name, int axis)
    {
        var meta = Inputs.TryGetValue(name, out var i) ? i : Outputs.TryGetValue(name, out var o) ? o : null;
        if (meta is null || axis >= meta.Dimensions.Length)
        {
            return null;
        }

        int d = meta.Dimensions[axis];
        return d > 0 ? d : null;
    }

    public TensorElementType ElementType(string name) =>
        (Inputs.TryGetValue(name, out var i) ? i : Outputs[name]).ElementDataType;

    internal static readonly TensorElementType[] FloatTypes = { TensorElementType.Float, TensorElementType.Float16 };
    internal static readonly TensorElementType[] IdTypes = { TensorElementType.Int64, TensorElementType.Int32 };

    internal OrtIoBinding CreateBinding() => _session.CreateIoBinding();

    /// <summary>
    /// Runs with inputs and outputs bound once in an <see cref="OrtIoBinding"/> (no managed allocation per call).
    /// The caller registers the cancellation token to set runOptions.Terminate.
    /// </summary>
    internal void Run(OrtIoBinding binding, RunOptions runOptions, CancellationToken cancellationToken)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            _session.RunWithBinding(runOptions, binding);
            if (Provider != "CPU")
            {
                binding.SynchronizeBoundOutputs();
            }
        }
        catch (OnnxRuntimeException ex)
        {
            cancellationToken.ThrowIfCancellationRequested();
            throw RunFailed(ex);
        }
        finally
        {
            RunStatistics.Add(System.Diagnostics.Stopwatch.GetTimestamp() - start);
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>Runs and returns ONNX Runtime-allocated outputs (used where output sizes are not known in advance).</summary>
    internal IDisposableReadOnlyCollection<OrtValue> Run(IReadOnlyCollection<string> inputNames, IReadOnlyCollection<OrtValue> inputs,
        IReadOnlyCollection<string> outputNames, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var runOptions = new RunOptions();
        using (cancellationToken.Register(static o => ((RunOptions)o!).Terminate = true, runOptions))
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                var result = _session.Run(runOptions, inputNames, inputs, outputNames);
                if (cancellationToken.IsCancellationRequested)
                {
                    result.Dispose();
                    cancellationToken.ThrowIfCancellationRequested();
                }

                return result;
            }
            catch (OnnxRuntimeException ex)
            {
                cancellationToken.ThrowIfCancellationRequested();
                throw RunFailed(ex);
            }
            finally
            {
                RunStatistics.Add(System.Diagnostics.Stopwatch.GetTimestamp() - start);
            }
        }
    }

    private WuerstchenException RunFailed(Exception ex) =>
        new("ModelRunFailed", WuerstchenErrorKind.InvalidData,
            $"The {Kind} network '{Path}' failed to run: {ex.Message}", Path, ex);

    public void Dispose() => _session.Dispose();

    /// <summary>Copies an ONNX Runtime float or float16 tensor into a float32 span.</summary>
    internal static void ReadFloats(OrtValue value, Span<float> destination)
    {
        var info = value.GetTensorTypeAndShape();
        switch (info.ElementDataType)
        {
            case TensorElementType.Float:
                value.GetTensorDataAsSpan<float>().CopyTo(destination);
                break;
            case TensorElementType.Float16:
                System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(
                    MemoryMarshal.Cast<Float16, Half>(value.GetTensorDataAsSpan<Float16>()), destination);
                break;
            default:
                throw new WuerstchenException("ModelContractMismatch", WuerstchenErrorKind.InvalidData,
                    $"A network returned a {info.ElementDataType} tensor where float was expected.", info.ElementDataType);
        }
    }
}

/// <summary>
/// Process-wide count and summed duration of ONNX Runtime Run calls (for the benchmark's overhead ratio).
/// Two interlocked adds per network call.
/// </summary>
public static class RunStatistics
{
    private static long _ticks;
    private static long _count;

    public static long Count => Interlocked.Read(ref _count);

    public static TimeSpan Elapsed => TimeSpan.FromSeconds(Interlocked.Read(ref _ticks) / (double)System.Diagnostics.Stopwatch.Frequency);

    public static void Reset()
    {
        Interlocked.Exchange(ref _ticks, 0);
        Interlocked.Exchange(ref _count, 0);
    }

    internal static void Add(long ticks)
    {
        Interlocked.Add(ref _ticks, ticks);
        Interlocked.Increment(ref _count);
    }
}

/// <summary>
/// A float tensor the engine works on in float32, bound to ONNX Runtime once over pinned memory. When the
/// network declares float16, a float16 shadow buffer is bound instead and converted at the boundary.
/// </summary>
internal sealed class BoundTensor : IDisposable
{
    private readonly Float16[]? _half;
    private bool _disposed;

    public BoundTensor(TensorElementType type, long[] shape)
    {
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
        Data = BufferPool.Rent<float>((int)count);
        if (type == TensorElementType.Float16)
        {
            _half = BufferPool.Rent<Float16>((int)count);
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
        BufferPool.Return(Data);
        BufferPool.Return(_half);
    }
}
