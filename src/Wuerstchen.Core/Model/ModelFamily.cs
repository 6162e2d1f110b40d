using System.Text.Json;

namespace Wuerstchen.Core;

/// <summary>
/// One port of a network as the contract describes it. <see cref="Shape"/> has one entry per axis: an int is a fixed
/// size, "$key" the value of a constant (e.g. "$max_length"), any other string a named axis (dynamic, or fixed by the
/// model when the family lists it under model_sized_axes). <see cref="Feed"/> says what the shared pipeline puts into
/// a diffusion network's input: "latents", "timestep_ratio", "text" (the <see cref="Output"/> of
/// <see cref="TextEncoder"/>), "embedding" (the image embedding; zeros in the unconditional half) or "zeros".
/// </summary>
public sealed record PortSpec(string Name, bool IsInteger, IReadOnlyList<object> Shape, bool Optional,
    string? Feed, string? TextEncoder, string? Output, string? WidthFrom)
{
    public int Rank => Shape.Count;

    /// <summary>The fixed size of an axis, resolving "$constant" references against the folder's config; null when named.</summary>
    public int? FixedSize(int axis, ModelConfig config) => Shape[axis] switch
    {
        int n => n,
        "$max_length" => config.MaxLength,
        _ => null,
    };
}

/// <summary>One network of a family: its folder, its role in the pipeline and its ports.</summary>
public sealed record NetworkSpec(string Folder, NetworkKind Kind, string Half, bool Optional, string? Fallback, string? Tokenizer,
    IReadOnlyList<PortSpec> Inputs, IReadOnlyList<PortSpec> Outputs)
{
    public IEnumerable<PortSpec> Ports => Inputs.Concat(Outputs);

    public PortSpec? Input(string name) => Inputs.FirstOrDefault(p => p.Name == name);
}

/// <summary>A family's sampling defaults: those of the diffusers pipelines the family follows.</summary>
public sealed record FamilyDefaults(int PriorSteps, int DecoderSteps, float PriorGuidanceScale, float DecoderGuidanceScale, bool CustomTimesteps);

/// <summary>
/// Which image sides a family's pipelines run (the contract's "sizes"): multiples of <see cref="Step"/> whose decoder
/// latent floor(ceil(H / resolution_multiple) · latent_dim_scale) is a multiple of <see cref="DecoderLatentMultiple"/>.
/// </summary>
public sealed record SizeRule(int Step, int DecoderLatentMultiple)
{
    /// <summary>Whether the family's decoder takes a decoder latent side of <paramref name="decoderLatent"/>.</summary>
    public bool DecoderTakes(int decoderLatent) => decoderLatent % DecoderLatentMultiple == 0;
}

/// <summary>
/// A model family (Würstchen v2, Stable Cascade) as docs/spec/model-contract.json describes it: which networks a
/// folder holds, what feeds each input, the tokenizer folders, the defaults and constants. The pipeline, the
/// validator and the cmdlets read this description; there is no per-family copy of the pipeline.
/// </summary>
public sealed class ModelFamily
{
    private ModelFamily(string name, string displayName, IReadOnlyList<NetworkSpec> networks, FamilyDefaults defaults, SizeRule sizes,
        IReadOnlyDictionary<string, double> constantDefaults, IReadOnlyDictionary<string, string> pipelines)
    {
        Sizes = sizes;
        Name = name;
        DisplayName = displayName;
        Networks = networks;
        Defaults = defaults;
        ConstantDefaults = constantDefaults;
        Pipelines = pipelines;
    }

    public const string WuerstchenV2 = "wuerstchen-v2";
    public const string StableCascade = "stable-cascade";

    /// <summary>The contract's name of the family, as model_index.json's "family" holds it.</summary>
    public string Name { get; }

    public string DisplayName { get; }

    /// <summary>The networks in the contract's order.</summary>
    public IReadOnlyList<NetworkSpec> Networks { get; }

    public FamilyDefaults Defaults { get; }

    /// <summary>Which image sides the family's pipelines run (v2: 128-pixel steps; Stable Cascade: any with an even decoder latent).</summary>
    public SizeRule Sizes { get; }

    /// <summary>The constants' defaults by model_index.json key.</summary>
    public IReadOnlyDictionary<string, double> ConstantDefaults { get; }

    /// <summary>The diffusers pipeline class of each half ("prior", "decoder").</summary>
    public IReadOnlyDictionary<string, string> Pipelines { get; }

    public NetworkSpec? Network(NetworkKind kind) => Networks.FirstOrDefault(n => n.Kind == kind);

    public NetworkSpec Required(NetworkKind kind) => Network(kind)
        ?? throw new WuerstchenException("NetworkNotInFamily", WuerstchenErrorKind.InvalidOperation,
            $"{DisplayName} models have no {kind} network" + (kind == NetworkKind.Effnet
                ? " (the EfficientNet encoder of Stage C is not part of its diffusers pipelines), so this model cannot turn an image into an embedding (-ImagePath) or start from one (-InitImage); use -Prompt, and -ImagePrompt to condition on images."
                : kind == NetworkKind.ImageEncoder
                    ? " (image prompts condition the Stable Cascade prior only), so -ImagePrompt cannot be used with this model."
                    : "."), kind);

    public NetworkSpec? ByFolder(string folder) => Networks.FirstOrDefault(n => n.Folder == folder);

    /// <summary>The tokenizer folder a text encoder reads.</summary>
    public string TokenizerFolder(NetworkKind textEncoder) =>
        Required(textEncoder).Tokenizer
        ?? throw new InvalidOperationException($"The contract gives the {Name} text encoder no tokenizer.");

    public override string ToString() => DisplayName;

    internal static ModelFamily Parse(string name, JsonElement family)
    {
        var networks = new List<NetworkSpec>();
        var byName = family.GetProperty("networks");
        foreach (var folder in family.GetProperty("network_order").EnumerateArray().Select(e => e.GetString()!))
        {
            var n = byName.GetProperty(folder);
            string role = n.GetProperty("role").GetString()!, half = n.GetProperty("half").GetString()!;
            networks.Add(new NetworkSpec(folder, KindOf(role, half), half, Bool(n, "optional"), Str(n, "fallback"), Str(n, "tokenizer"),
                Ports(n.GetProperty("inputs")), Ports(n.GetProperty("outputs"))));
        }

        var d = family.GetProperty("defaults");
        var defaults = new FamilyDefaults(d.GetProperty("prior_steps").GetInt32(), d.GetProperty("decoder_steps").GetInt32(),
            d.GetProperty("prior_guidance_scale").GetSingle(), d.GetProperty("decoder_guidance_scale").GetSingle(), d.GetProperty("custom_timesteps").GetBoolean());
        var z = family.GetProperty("sizes");
        var sizes = new SizeRule(z.GetProperty("step").GetInt32(), z.GetProperty("decoder_latent_multiple").GetInt32());
        var constants = family.GetProperty("constants").EnumerateObject().ToDictionary(c => c.Name, c => c.Value.GetProperty("default").GetDouble(), StringComparer.Ordinal);
        var pipelines = family.GetProperty("pipelines").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!, StringComparer.Ordinal);
        return new ModelFamily(name, family.GetProperty("display_name").GetString()!, networks, defaults, sizes, constants, pipelines);
    }

    /// <summary>The pipeline role of a network: a text encoder that serves both halves is the prior's (the decoder's may fall back to it).</summary>
    private static NetworkKind KindOf(string role, string half) => (role, half) switch
    {
        ("text_encoder", "prior" or "both") => NetworkKind.PriorTextEncoder,
        ("text_encoder", "decoder") => NetworkKind.DecoderTextEncoder,
        ("diffusion", "prior") => NetworkKind.Prior,
        ("diffusion", "decoder") => NetworkKind.Decoder,
        ("vqgan", _) => NetworkKind.Vqgan,
        ("effnet", _) => NetworkKind.Effnet,
        ("image_encoder", _) => NetworkKind.ImageEncoder,
        _ => throw new InvalidOperationException($"The model contract has a network of role '{role}' in half '{half}', which the module does not know."),
    };

    private static List<PortSpec> Ports(JsonElement list) => list.EnumerateArray().Select(p => new PortSpec(
        p.GetProperty("name").GetString()!,
        p.GetProperty("dtype").GetString() == "int",
        p.GetProperty("shape").EnumerateArray().Select(s => s.ValueKind == JsonValueKind.Number ? (object)s.GetInt32() : s.GetString()!).ToArray(),
        Bool(p, "optional"), Str(p, "feed"), Str(p, "text_encoder"), Str(p, "output"), Str(p, "width_from"))).ToList();

    private static bool Bool(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;

    private static string? Str(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
