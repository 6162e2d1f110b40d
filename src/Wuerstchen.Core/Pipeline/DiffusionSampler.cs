using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Wuerstchen.Core.Noise;

namespace Wuerstchen.Core;

/// <summary>A conditioning input of a diffusion network, fixed for the whole loop (one row per image).</summary>
internal sealed record Conditioning(string Name, float[] Conditional, float[]? Unconditional, long[] RowShape);

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

/// <summary>
/// The one sampling loop that serves both diffusion stages (prior and decoder): DDPMWuerstchen steps over
/// a timestep list, classifier-free guidance only when the scale is > 1 with batch order
/// [conditional ; unconditional] and eps = uncond + g·(cond − uncond) (torch.lerp), one noise draw per
/// step (the last included). Buffers are bound once (an ONNX Runtime I/O binding over pooled, pinned
/// arrays); the loop itself allocates nothing.
/// </summary>
internal static class DiffusionSampler
{
    /// <summary>
    /// From this many values per draw on, a step's noise is drawn on a pool thread while the network runs (the
    /// draw does not depend on the network's output, and the stream is consumed in the same order, so the
    /// numbers are identical): the prior at 1024² draws 9216 values an image, the decoder 262144. Below this
    /// the hand-off (a few microseconds) would cost more than it saves.
    /// </summary>
    internal const int OverlapNoiseFrom = 1 << 12;

    /// <param name="latents">[rows, …rowShape] initial noise; denoised in place.</param>
    /// <param name="onStep">Called after each step with (step done, total steps).</param>
    public static void Run(DiffusionNetwork network, float[] latents, int rows, long[] rowShape, IReadOnlyList<Conditioning> conditioning,
        float[] timesteps, float guidance, DdpmWuerstchenScheduler scheduler, NoiseSource noise,
        Action<int, int>? onStep, CancellationToken cancellationToken)
    {
        // the network's session was checked against its contract when it was leased (NetworkSessions.Lease)
        var stage = network.Session;
        var pool = network.Buffers;
        bool cfg = guidance > 1f;
        int batch = cfg ? 2 * rows : rows;
        long perRow = 1;
        foreach (var d in rowShape)
        {
            perRow *= d;
        }

        int size = checked((int)(rows * perRow));
        if (latents.Length != size)
        {
            throw new ArgumentException($"latents has {latents.Length} values; expected {size}.");
        }

        var disposables = new List<IDisposable>();
        float[]? diff = null, eps = null, draw = null;
        NoiseDraw? overlap = null;
        try
        {
            long[] Shape(long[] row) => new[] { (long)batch }.Concat(row).ToArray();
            var binding = Track(stage.CreateBinding());
            var sample = Track(new BoundTensor(pool, stage.ElementType(DiffusionNetwork.SampleInput), Shape(rowShape)));
            var ratio = Track(new BoundTensor(pool, stage.ElementType(DiffusionNetwork.RatioInput), new long[] { batch }));
            var output = Track(new BoundTensor(pool, stage.ElementType(DiffusionNetwork.Output), Shape(rowShape)));
            binding.BindInput(DiffusionNetwork.SampleInput, sample.Value);
            binding.BindInput(DiffusionNetwork.RatioInput, ratio.Value);
            binding.BindOutput(DiffusionNetwork.Output, output.Value);
            foreach (var c in conditioning)
            {
                var t = Track(new BoundTensor(pool, stage.ElementType(c.Name), Shape(c.RowShape)));
                int n = c.Conditional.Length;
                c.Conditional.AsSpan().CopyTo(t.Data);
                if (cfg)
                {
                    if (c.Unconditional is null)
                    {
                        throw new ArgumentException($"guidance needs an unconditional '{c.Name}'.");
                    }

                    c.Unconditional.AsSpan().CopyTo(t.Data.AsSpan(n));
                }

                t.Push();
                binding.BindInput(c.Name, t.Value);
            }

            eps = cfg ? pool.Rent<float>(size) : null;
            diff = cfg ? pool.Rent<float>(size) : null;
            draw = pool.Rent<float>(size);
            var epsilon = eps ?? output.Data;
            int steps = timesteps.Length - 1;
            overlap = size >= OverlapNoiseFrom ? new NoiseDraw(noise, draw) : null;

            using var runOptions = new RunOptions();
            using var registration = cancellationToken.Register(static o => ((RunOptions)o!).Terminate = true, runOptions);
            for (int i = 0; i < steps; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                latents.AsSpan().CopyTo(sample.Data);
                if (cfg)
                {
                    latents.AsSpan().CopyTo(sample.Data.AsSpan(size));
                }

                sample.Push();
                Array.Fill(ratio.Data, timesteps[i]);
                ratio.Push();
                overlap?.Start();
                try
                {
                    stage.Run(binding, runOptions, cancellationToken);
                }
                finally
                {
                    // the generator and the draw buffer are not touched again until the draw is complete
                    overlap?.Wait();
                }

                output.Pull();
                if (cfg)
                {
                    Guide(output.Data.AsSpan(0, size), output.Data.AsSpan(size, size), guidance, diff!, eps!);
                }

                if (overlap is null)
                {
                    noise.Next(draw);
                }

                var coefficients = scheduler.Coefficients(timesteps[i], timesteps[i + 1]);
                DdpmWuerstchenScheduler.Step(latents, epsilon, draw, coefficients);
                onStep?.Invoke(i + 1, steps);
            }
        }
        finally
        {
            overlap?.Dispose();
            for (int i = disposables.Count - 1; i >= 0; i--)
            {
                disposables[i].Dispose();
            }

            pool.Return(eps);
            pool.Return(diff);
            pool.Return(draw);
        }

        T Track<T>(T item) where T : IDisposable
        {
            disposables.Add(item);
            return item;
        }
    }

    /// <summary>torch.lerp(uncond, cond, g): uncond + g·(cond − uncond), in the fused form torch's vector kernel uses.</summary>
    internal static void Guide(ReadOnlySpan<float> cond, ReadOnlySpan<float> uncond, float guidance, Span<float> scratch, Span<float> destination)
    {
        System.Numerics.Tensors.TensorPrimitives.Subtract(cond, uncond, scratch);
        if (MathF.Abs(guidance) < 0.5f)
        {
            System.Numerics.Tensors.TensorPrimitives.FusedMultiplyAdd(scratch, guidance, uncond, destination);
        }
        else
        {
            System.Numerics.Tensors.TensorPrimitives.FusedMultiplyAdd(scratch, guidance - 1f, cond, destination);
        }
    }
}
