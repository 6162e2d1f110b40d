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
}
