using Wuerstchen.Core.Noise;

namespace Wuerstchen.Core;

/// <summary>
/// Where each step's noise comes from: the torch-compatible stream, drawn for every row of the batch the
/// stream was started for (so a subset of rows gets exactly the noise it had in the full batch).
/// </summary>
internal sealed class NoiseSource
{
    private readonly TorchGenerator _generator;
    private readonly int[]? _rows;
    private readonly int _perRow;
    private readonly float[]? _scratch;

    /// <param name="generator">The stream, positioned where this stage starts.</param>
    /// <param name="streamRows">Rows of the batch the stream was started for.</param>
    /// <param name="rows">The rows used here, in order; null for all of them.</param>
    /// <param name="perRow">Elements per row of one draw.</param>
    public NoiseSource(TorchGenerator generator, int streamRows, int[]? rows, int perRow)
    {
        _generator = generator;
        _perRow = perRow;
        if (rows is not null && !(rows.Length == streamRows && rows.Select((r, i) => r == i).All(x => x)))
        {
            _rows = rows;
            _scratch = new float[(long)streamRows * perRow];
        }
    }

    /// <summary>One draw of [streamRows, …] (torch.randn), keeping the rows in use.</summary>
    public void Next(Span<float> destination)
    {
        if (_rows is null)
        {
            _generator.Randn(destination);
            return;
        }

        _generator.Randn(_scratch);
        for (int i = 0; i < _rows.Length; i++)
        {
            _scratch.AsSpan(_rows[i] * _perRow, _perRow).CopyTo(destination.Slice(i * _perRow, _perRow));
        }
    }
}

/// <summary>
/// Draws one step's noise on a thread-pool thread while the network runs (the draw does not depend on the
/// network's output and the stream is consumed in the same order, so the numbers are identical). A reusable
/// work item: nothing is allocated per step.
/// </summary>
internal sealed class NoiseDraw : IThreadPoolWorkItem, IDisposable
{
    private readonly NoiseSource _noise;
    private readonly float[] _destination;
    private readonly ManualResetEventSlim _done = new(initialState: true);
    private Exception? _error;

    public NoiseDraw(NoiseSource noise, float[] destination)
    {
        _noise = noise;
        _destination = destination;
    }

    public void Start()
    {
        _error = null;
        _done.Reset();
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    void IThreadPoolWorkItem.Execute()
    {
        try
        {
            _noise.Next(_destination);
        }
        catch (Exception ex)
        {
            _error = ex;
        }
        finally
        {
            _done.Set();
        }
    }

    /// <summary>Waits for the draw; rethrows its failure.</summary>
    public void Wait()
    {
        _done.Wait();
        if (_error is { } error)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }
    }

    public void Dispose()
    {
        _done.Wait();
        _done.Dispose();
    }
}
