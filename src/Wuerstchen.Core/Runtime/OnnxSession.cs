using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Wuerstchen.Core;

/// <summary>
/// One ONNX Runtime session for one network: metadata-driven binding by input name, float16/float32
/// converted at the boundary. Thread-safe for concurrent runs (ONNX Runtime sessions are).
/// </summary>
public sealed class OnnxSession : IDisposable
{
    private readonly InferenceSession _session;
    private readonly IRunObserver? _observer;

    internal OnnxSession(NetworkKind kind, string path, InferenceSession session, string provider, IRunObserver? observer = null)
    {
        _observer = observer;
        Kind = kind;
        Path = path;
        _session = session;
        Provider = provider;
        Inputs = session.InputMetadata;
        Outputs = session.OutputMetadata;
    }

    public NetworkKind Kind { get; }

    public string Path { get; }

    /// <summary>The execution provider the session runs on ("CUDA" or "CPU").</summary>
    public string Provider { get; }

    public IReadOnlyDictionary<string, NodeMetadata> Inputs { get; }

    public IReadOnlyDictionary<string, NodeMetadata> Outputs { get; }

    public bool HasInput(string name) => Inputs.ContainsKey(name);

    /// <summary>A value the exporter wrote into the file's metadata (e.g. "wuerstchen.skips"), or null.</summary>
    public string? Metadata(string key) =>
        _session.ModelMetadata.CustomMetadataMap.TryGetValue(key, out var value) ? value : null;

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
        long start = _observer is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
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
            _observer?.Ran(System.Diagnostics.Stopwatch.GetTimestamp() - start);
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
            long start = _observer is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
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
                _observer?.Ran(System.Diagnostics.Stopwatch.GetTimestamp() - start);
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
