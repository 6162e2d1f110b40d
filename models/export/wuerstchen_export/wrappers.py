"""Export wrappers, one per network: float32 graph boundary, fixed argument names, plain tensor outputs."""

import torch
import torch.nn as nn

from .contract import ExportError, log

# ======================================================================================================
# Export wrappers: float32 graph boundary, fixed argument names, plain tensor outputs
# ======================================================================================================

def _first_output(out, attr):
    if hasattr(out, attr):
        return getattr(out, attr)
    if isinstance(out, (tuple, list)):
        return out[0]
    return out


class TextEncoderExport(nn.Module):
    """CLIPTextModel(input_ids, attention_mask) -> last_hidden_state (after the final LayerNorm).
    The mask is passed through, so HF CLIP applies it as a key-padding mask on top of the causal mask."""

    def __init__(self, text_encoder):
        super().__init__()
        self.text_encoder = text_encoder

    def forward(self, input_ids, attention_mask):
        out = self.text_encoder(input_ids=input_ids, attention_mask=attention_mask)
        return _first_output(out, "last_hidden_state").to(torch.float32)


class PriorExport(nn.Module):
    def __init__(self, prior, dtype):
        super().__init__()
        self.prior = prior
        self.dtype = dtype

    def forward(self, sample, timestep_ratio, clip_text):
        # timestep_ratio stays float32: the patched gen_r_embedding computes in float32 and casts.
        out = self.prior(sample.to(self.dtype), r=timestep_ratio.to(torch.float32), c=clip_text.to(self.dtype))
        return out.to(torch.float32)


class DecoderExport(nn.Module):
    def __init__(self, decoder, dtype):
        super().__init__()
        self.decoder = decoder
        self.dtype = dtype

    def forward(self, sample, timestep_ratio, effnet, clip_text):
        out = self.decoder(sample.to(self.dtype), r=timestep_ratio.to(torch.float32), effnet=effnet.to(self.dtype),
                           clip=clip_text.to(self.dtype))
        return out.to(torch.float32)


class VQGanExport(nn.Module):
    """PaellaVQModel.decode(sample, force_not_quantize=True).sample; no clamp, no scaling here."""

    def __init__(self, vqgan, dtype):
        super().__init__()
        self.vqgan = vqgan
        self.dtype = dtype

    def forward(self, sample):
        out = self.vqgan.decode(sample.to(self.dtype), force_not_quantize=True, return_dict=True)
        return _first_output(out, "sample").to(torch.float32)


class EffNetExport(nn.Module):
    def __init__(self, encoder, dtype):
        super().__init__()
        self.encoder = encoder
        self.dtype = dtype

    def forward(self, image):
        return self.encoder(image.to(self.dtype)).to(torch.float32)


class EfficientNetEncoder(nn.Module):
    """Würstchen v2's image encoder (diffusers research example): torchvision EfficientNetV2-S `.features`
    -> 1x1 conv 1280->16 (no bias) -> BatchNorm2d(16). State-dict keys: backbone.*, mapper.*"""

    def __init__(self, backbone=None, c_cond=1280, c_latent=16):
        super().__init__()
        if backbone is None:
            from torchvision.models import efficientnet_v2_s
            backbone = efficientnet_v2_s(weights=None).features
        self.backbone = backbone
        self.mapper = nn.Sequential(nn.Conv2d(c_cond, c_latent, kernel_size=1, bias=False), nn.BatchNorm2d(c_latent))

    def forward(self, x):
        return self.mapper(self.backbone(x))


def load_effnet_checkpoint(path, trust_pickle, backbone_factory=None):
    """EfficientNetEncoder with the `effnet_state_dict` of dome272/wuerstchen model_v2_stage_b.pt (as the diffusers
    Würstchen training example loads it). backbone_factory replaces torchvision's EfficientNetV2-S (self-test)."""
    if backbone_factory is None:
        try:
            import torchvision  # noqa: F401
        except ImportError:
            raise ExportError("the effnet export needs torchvision (pip install torchvision)")
    log(f"loading effnet weights from {path}")
    load = torch.load
    try:
        ckpt = load(path, map_location="cpu", weights_only=True)
    except TypeError:  # torch without weights_only
        if not trust_pickle:
            raise ExportError("this torch cannot load checkpoints safely (weights_only); pass --trust-effnet-checkpoint")
        ckpt = load(path, map_location="cpu")
    except Exception as ex:
        if not trust_pickle:
            raise ExportError(f"{path} could not be read as a weights-only checkpoint ({type(ex).__name__}: "
                              f"{str(ex).splitlines()[0][:200]}). If you trust the file (dome272/wuerstchen "
                              "model_v2_stage_b.pt), rerun with --trust-effnet-checkpoint to unpickle it fully.")
        ckpt = load(path, map_location="cpu", weights_only=False)
    state = ckpt.get("effnet_state_dict", ckpt) if isinstance(ckpt, dict) else ckpt
    if not isinstance(state, dict) or not any(k.startswith("mapper.") or ".mapper." in k for k in state):
        raise ExportError(f"{path} has no 'effnet_state_dict' with backbone.*/mapper.* weights")
    state = {(k[7:] if k.startswith("module.") else k): v for k, v in state.items()}
    if backbone_factory is None:
        enc = EfficientNetEncoder()
    else:
        backbone, width = backbone_factory()
        enc = EfficientNetEncoder(backbone=backbone, c_cond=width)
    missing, unexpected = enc.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ExportError(f"effnet_state_dict does not fit EfficientNetV2-S + mapper: missing {missing[:5]}, "
                          f"unexpected {unexpected[:5]}")
    return enc.eval()




def plain_wrapper(name, module, dtype):
    """The export wrapper of a Würstchen v2 network around module (already on its device and dtype), no patches."""
    if name.endswith("text_encoder"):
        return TextEncoderExport(module).eval()
    if name == "prior":
        return PriorExport(module, dtype).eval()
    if name == "decoder":
        return DecoderExport(module, dtype).eval()
    if name == "vqgan":
        return VQGanExport(module, dtype).eval()
    if name == "effnet":
        return EffNetExport(module, dtype).eval()
    raise KeyError(name)
