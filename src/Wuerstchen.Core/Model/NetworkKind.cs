namespace Wuerstchen.Core;

/// <summary>The networks of a model folder (model-contract.md).</summary>
public enum NetworkKind
{
    PriorTextEncoder,
    Prior,
    DecoderTextEncoder,
    Decoder,
    Vqgan,
    Effnet,

    /// <summary>Stable Cascade's CLIP image encoder (image variation): an image prompt → image_embeds for the prior's clip_img.</summary>
    ImageEncoder,
}
