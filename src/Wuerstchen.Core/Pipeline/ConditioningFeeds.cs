namespace Wuerstchen.Core;

/// <summary>
/// The conditioning inputs of one diffusion network, built from the family's description of what feeds each port
/// (model-contract.json "feed"): text-encoder outputs per row ([cond; uncond] with guidance), the image embedding
/// (zeros in the unconditional half), the image prompts' image_embeds (Stable Cascade's clip_img: [n images, P] in
/// every row, zeros in the unconditional half; one zero image for text-to-image) or zeros. The same code serves v2
/// (clip_text = last_hidden_state) and Stable Cascade (clip_text = the pre-final-LayerNorm state, clip_text_pooled
/// = text_embeds as [1,P]). Disposing gives the pooled buffers back.
/// </summary>
internal sealed class ConditioningFeeds : IDisposable
{
    private readonly List<float[]> _rented = new();
    private readonly BufferPool _pool;

    private readonly List<(NetworkSpec Encoder, PortSpec Port, int Width)> _widths = new();
    private readonly List<PortSpec> _zeroPorts = new();
    private readonly List<(PortSpec Port, int Images, int Width)> _imagePorts = new();
    private ModelFolder? _model;
    private int _rows;
    private bool _guided;

    private ConditioningFeeds(BufferPool pool) => _pool = pool;

    public List<Conditioning> Inputs { get; } = new();

    /// <summary>
    /// Encodes the texts (each text encoder leased, run and, with low memory, released at once) before the diffusion
    /// network is leased, so that the two are never loaded together when memory is short; <see cref="Bind"/> then
    /// checks the outputs against that network's graph.
    /// </summary>
    /// <param name="texts">One text per row.</param>
    /// <param name="negatives">One unconditional text per row when guidance is on, else null.</param>
    /// <param name="embedding">The rows' image embeddings for an "embedding" port (the decoder), else null.</param>
    /// <param name="images">The image prompts' image_embeds [n, P] for an "images" port (the prior), else null: one zero image.</param>
    public static ConditioningFeeds Build(NetworkSessions sessions, NetworkSpec network, string[] texts, string[]? negatives,
        (float[] Values, long[] RowShape)? embedding, CancellationToken ct, (float[] Values, int Count, int Width)? images = null)
    {
        var feeds = new ConditioningFeeds(sessions.Buffers) { _model = sessions.Model, _rows = texts.Length, _guided = negatives is not null };
        try
        {
            foreach (var group in network.Inputs.Where(p => p.Feed == "text").GroupBy(p => p.TextEncoder!))
            {
                feeds.AddText(sessions, group.ToList(), texts, negatives, ct);
            }

            foreach (var port in network.Inputs)
            {
                switch (port.Feed)
                {
                    case "embedding":
                        var e = embedding ?? throw new InvalidOperationException($"'{port.Name}' needs an image embedding.");
                        feeds.Inputs.Add(new Conditioning(port.Name, e.Values, feeds._guided ? feeds.Zeros(e.Values.Length) : null, e.RowShape));
                        break;
                    case "images" when images is { } im:
                        feeds.AddImages(port, im.Values, im.Count, im.Width);
                        break;
                    case "images" or "zeros":
                        feeds._zeroPorts.Add(port); // sized by the graph: added in Bind
                        break;
                }
            }

            return feeds;
        }
        catch
        {
            feeds.Dispose();
            throw;
        }
    }

    /// <summary>Checks the text widths against the leased diffusion network and adds the zeros inputs its graph sizes. Once.</summary>
    public void Bind(OnnxSession diffusion)
    {
        foreach (var (encoder, port, width) in _widths)
        {
            CheckWidth(diffusion, encoder, port, width);
        }

        foreach (var (port, images, width) in _imagePorts)
        {
            CheckImages(diffusion, port, images, width);
        }

        foreach (var port in _zeroPorts)
        {
            var shape = FixedRowShape(_model!, diffusion, port);
            int perRow = (int)shape.Aggregate(1L, (a, d) => a * d);
            Inputs.Add(new Conditioning(port.Name, Zeros(_rows * perRow), _guided ? Zeros(_rows * perRow) : null, shape));
        }

        _widths.Clear();
        _zeroPorts.Clear();
        _imagePorts.Clear();
    }

    /// <summary>Encodes the distinct texts once (in order of first appearance) with one text encoder, then gathers them per row.</summary>
    private void AddText(NetworkSessions sessions, List<PortSpec> ports, string[] texts, string[]? negatives, CancellationToken ct)
    {
        var model = sessions.Model;
        var encoder = model.Family.ByFolder(ports[0].TextEncoder!)
            ?? throw new InvalidOperationException($"The contract names an unknown text encoder '{ports[0].TextEncoder}'.");
        var distinct = new List<string>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in texts.Concat(negatives ?? Array.Empty<string>()))
        {
            if (index.TryAdd(t, distinct.Count))
            {
                distinct.Add(t);
            }
        }

        Dictionary<string, EncodedOutput> encoded;
        using (var lease = sessions.Lease(encoder))
        {
            encoded = sessions.TextEncoder(lease, encoder).Encode(distinct, ports.Select(p => p.Output!).Distinct().ToList(), sessions.Warning, ct);
        }

        sessions.Release(encoder.Kind); // low memory: the encoder goes before the diffusion network is loaded

        foreach (var port in ports)
        {
            var output = encoded[port.Output!];
            _widths.Add((encoder, port, output.Width));
            var rowShape = port.Shape.Skip(1).Select((axis, i) => (long)(port.FixedSize(i + 1, model.Config) ?? output.Width)).ToArray();
            Inputs.Add(new Conditioning(port.Name, Gather(output, texts, index), negatives is null ? null : Gather(output, negatives, index), rowShape));
        }
    }

    /// <summary>
    /// Every row gets all the image prompts ([n, P]: each image adds clip_seq tokens to what the prior attends to), the
    /// unconditional half zeros: diffusers' encode_image concatenates the images along dim 1, repeats that to the batch
    /// and uses torch.zeros_like for the negative half.
    /// </summary>
    private void AddImages(PortSpec port, float[] values, int count, int width)
    {
        int per = count * width;
        var rows = _pool.Rent<float>(_rows * per);
        _rented.Add(rows);
        for (int r = 0; r < _rows; r++)
        {
            values.AsSpan(0, per).CopyTo(rows.AsSpan(r * per, per));
        }

        _imagePorts.Add((port, count, width));
        Inputs.Add(new Conditioning(port.Name, rows, _guided ? Zeros(_rows * per) : null, new long[] { count, width }));
    }

    /// <summary>The image encoder's width must be the prior's; an export from before image prompts takes exactly one image.</summary>
    private static void CheckImages(OnnxSession diffusion, PortSpec port, int images, int width)
    {
        if (diffusion.FixedDimension(port.Name, 2) is { } expected && expected != width)
        {
            throw new WuerstchenException("ImageWidthMismatch", WuerstchenErrorKind.InvalidData,
                $"The image encoder produces image_embeds of width {width} but the prior '{diffusion.Path}' expects {port.Name} of width {expected}; the two networks are not from one model.", diffusion.Path);
        }

        if (diffusion.FixedDimension(port.Name, 1) is { } fixedImages && fixedImages != images)
        {
            throw new WuerstchenException("TooManyImagePrompts", WuerstchenErrorKind.InvalidArgument,
                $"The prior '{diffusion.Path}' was exported for {fixedImages} image prompt(s) ({port.Name} has a fixed axis 1); got {images}. Give {fixedImages}, or re-export the model with the current exporter (models/export), whose prior takes any number.", images);
        }
    }

    private float[] Gather(EncodedOutput output, string[] list, Dictionary<string, int> index)
    {
        int per = output.PerText;
        var result = _pool.Rent<float>(list.Length * per); // every row is written below
        _rented.Add(result);
        for (int r = 0; r < list.Length; r++)
        {
            output.Values.AsSpan(index[list[r]] * per, per).CopyTo(result.AsSpan(r * per, per));
        }

        return result;
    }

    private float[] Zeros(int length)
    {
        var zeros = _pool.Rent<float>(length);
        Array.Clear(zeros, 0, length);
        _rented.Add(zeros);
        return zeros;
    }

    private void CheckWidth(OnnxSession diffusion, NetworkSpec encoder, PortSpec port, int width)
    {
        var model = _model!;
        if (diffusion.FixedDimension(port.Name, port.Rank - 1) is { } expected && expected != width)
        {
            var te = model.NetworkPath(encoder.Kind);
            throw new WuerstchenException("TextWidthMismatch", WuerstchenErrorKind.InvalidData,
                $"The text encoder '{te}' produces {port.Output} of width {width} but the network '{diffusion.Path}' expects {port.Name} of width {expected}.", te);
        }
    }

    /// <summary>The row shape of a zeros input: every axis but the batch must be fixed in the graph (a model-sized axis such as image_width).</summary>
    private static long[] FixedRowShape(ModelFolder model, OnnxSession session, PortSpec port)
    {
        var shape = new long[port.Rank - 1];
        for (int axis = 1; axis < port.Rank; axis++)
        {
            if (port.Feed == "images" && axis == 1)
            {
                shape[0] = 1; // no image prompts: one zero image, as diffusers' text-to-image passes
                continue;
            }

            shape[axis - 1] = port.FixedSize(axis, model.Config) ?? session.FixedDimension(port.Name, axis)
                ?? throw new WuerstchenException("ModelContractMismatch", WuerstchenErrorKind.InvalidData,
                    $"The network '{session.Path}' input '{port.Name}' has a dynamic axis {axis} ('{port.Shape[axis]}'); the model contract needs it fixed (re-export the model).", session.Path);
        }

        return shape;
    }

    public void Dispose()
    {
        foreach (var a in _rented)
        {
            _pool.Return(a);
        }

        _rented.Clear();
    }
}
