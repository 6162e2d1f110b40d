namespace Wuerstchen.Core;

/// <summary>
/// The buffers of one sampling loop, bound to the diffusion network once: sample and timestep_ratio in, out_sample
/// out, the conditioning inputs ([conditional ; unconditional] with guidance) written once, and the pooled work
/// buffers of the guidance and the noise. Disposing unbinds and gives everything back to the pool.
/// </summary>
internal sealed class SamplerBinding : IDisposable
{
    private readonly List<IDisposable> _owned = new();
    private readonly BufferPool _pool;
    private readonly int _size;
    private readonly bool _cfg;

    /// <param name="size">Values of the latents (rows · perRow).</param>
    public SamplerBinding(DiffusionNetwork network, int size, int rows, long[] rowShape, IReadOnlyList<Conditioning> conditioning, bool cfg)
    {
        var session = network.Session;
        _pool = network.Buffers;
        _size = size;
        _cfg = cfg;
        long perRow = rowShape.Aggregate(1L, (a, d) => a * d);
        if (size != checked(rows * perRow))
        {
            throw new ArgumentException($"latents has {size} values; expected {rows * perRow}.");
        }

        int batch = cfg ? 2 * rows : rows;
        long[] Shape(long[] row) => new[] { (long)batch }.Concat(row).ToArray();
        try
        {
            Binding = Own(session.CreateBinding());
            Sample = Own(new BoundTensor(_pool, session.ElementType(DiffusionNetwork.SampleInput), Shape(rowShape)));
            Ratio = Own(new BoundTensor(_pool, session.ElementType(DiffusionNetwork.RatioInput), new long[] { batch }));
            Output = Own(new BoundTensor(_pool, session.ElementType(DiffusionNetwork.Output), Shape(rowShape)));
            Binding.BindInput(DiffusionNetwork.SampleInput, Sample.Value);
            Binding.BindInput(DiffusionNetwork.RatioInput, Ratio.Value);
            Binding.BindOutput(DiffusionNetwork.Output, Output.Value);
            foreach (var c in conditioning)
            {
                BindConditioning(session, c, Shape(c.RowShape));
            }

            GuidedEpsilon = cfg ? _pool.Rent<float>(size) : null;
            Difference = cfg ? _pool.Rent<float>(size) : null;
            Draw = _pool.Rent<float>(size);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public Microsoft.ML.OnnxRuntime.OrtIoBinding Binding { get; } = null!;

    public BoundTensor Sample { get; } = null!;

    public BoundTensor Ratio { get; } = null!;

    public BoundTensor Output { get; } = null!;

    /// <summary>The guided noise prediction (guidance on), else null: the output's conditional half is used as it is.</summary>
    public float[]? GuidedEpsilon { get; }

    /// <summary>Scratch of the guidance (cond − uncond); null without guidance.</summary>
    public float[]? Difference { get; }

    /// <summary>One step's noise draw.</summary>
    public float[] Draw { get; } = null!;

    /// <summary>The latents into the sample input (twice with guidance) and the timestep into every row of the ratio.</summary>
    public void SetInputs(float[] latents, float timestep)
    {
        latents.AsSpan().CopyTo(Sample.Data);
        if (_cfg)
        {
            latents.AsSpan().CopyTo(Sample.Data.AsSpan(_size));
        }

        Sample.Push();
        Array.Fill(Ratio.Data, timestep);
        Ratio.Push();
    }

    private void BindConditioning(OnnxSession session, Conditioning c, long[] shape)
    {
        var t = Own(new BoundTensor(_pool, session.ElementType(c.Name), shape));
        int n = c.Conditional.Length;
        c.Conditional.AsSpan().CopyTo(t.Data);
        if (_cfg)
        {
            if (c.Unconditional is null)
            {
                throw new ArgumentException($"guidance needs an unconditional '{c.Name}'.");
            }

            c.Unconditional.AsSpan().CopyTo(t.Data.AsSpan(n));
        }

        t.Push();
        Binding.BindInput(c.Name, t.Value);
    }

    private T Own<T>(T item) where T : IDisposable
    {
        _owned.Add(item);
        return item;
    }

    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
        {
            _owned[i].Dispose();
        }

        _owned.Clear();
        _pool.Return(GuidedEpsilon);
        _pool.Return(Difference);
        _pool.Return(Draw);
    }
}
