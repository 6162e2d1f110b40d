namespace Wuerstchen.Core;

/// <summary>
/// A diffusion network (the prior, Stage C, or the decoder, Stage B): sample + timestep_ratio + its conditioning
/// inputs → out_sample of the sample's shape. Owns the port names the sampler binds; the conditioning ports are the
/// family's (<see cref="ConditioningFeeds"/>).
/// </summary>
internal sealed class DiffusionNetwork
{
    public const string SampleInput = "sample";
    public const string RatioInput = "timestep_ratio";
    public const string Output = "out_sample";

    public DiffusionNetwork(OnnxSession session, NetworkSpec spec, BufferPool buffers)
    {
        Session = session;
        Spec = spec;
        Buffers = buffers;
    }

    /// <summary>Where the sampler's bound tensors and work buffers come from.</summary>
    public BufferPool Buffers { get; }

    /// <summary>The ONNX Runtime session (checked against <see cref="Spec"/> when it was leased).</summary>
    public OnnxSession Session { get; }

    /// <summary>The contract's description of this network: which inputs it reads and what feeds them.</summary>
    public NetworkSpec Spec { get; }
}
