"""Self-test stand-ins (same forward signatures as the real modules): build_standins picks the real classes
where importable, else the stand-ins of standin_networks.py, and gives them random weights."""
import math

import numpy as np
import torch
import torch.nn as nn

from ..contract import MAX_LENGTH, NETWORK_ORDER, VOCAB_SIZE
from ..wrappers import EfficientNetEncoder
# the layers, networks and pipeline loaders live in their own modules; the names other modules import from here
# (run.py: StandinPrior, _Out, _standin_loaders) stay importable from standins
from .standin_layers import _Out  # noqa: F401
from .standin_networks import (StandinCLIPTextModel, StandinDiffNeXt, StandinPaellaVQ, StandinPrior,
                               _standin_effnet_backbone)
from .standin_pipelines import _standin_loaders  # noqa: F401


def _randomize(module, seed):
    """Random weights everywhere (the real classes zero-initialise their heads, which would make validation trivial)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() >= 2:
                fan_in = int(np.prod(p.shape[1:]))
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(max(fan_in, 1)))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2 + (1.0 if name.endswith("weight") else 0.0))
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return module


def _import_diffusers_wuerstchen_models():
    """(WuerstchenPrior, WuerstchenDiffNeXt, PaellaVQModel) from diffusers' modeling modules (pipelines/wuerstchen
    up to 0.37, pipelines/deprecated/wuerstchen from 0.38), or Nones when diffusers is not importable."""
    import importlib
    for package in ("diffusers.pipelines.deprecated.wuerstchen", "diffusers.pipelines.wuerstchen"):
        try:
            prior = importlib.import_module(package + ".modeling_wuerstchen_prior").WuerstchenPrior
            diffnext = importlib.import_module(package + ".modeling_wuerstchen_diffnext").WuerstchenDiffNeXt
            paella = importlib.import_module(package + ".modeling_paella_vq_model").PaellaVQModel
            return prior, diffnext, paella
        except Exception:
            continue
    return None, None, None


def build_standins(kinds):
    """Small networks with the real classes' forward signatures. kinds: dict network -> 'diffusers' /
    'transformers' / 'torchvision' / 'standin' chosen from what is importable."""
    nets = {}
    dims = {}
    try:
        from transformers import CLIPTextConfig, CLIPTextModel
        cfgs = {"prior_text_encoder": 24, "decoder_text_encoder": 20}
        for name, width in cfgs.items():
            cfg = CLIPTextConfig(vocab_size=VOCAB_SIZE, hidden_size=width, intermediate_size=2 * width, num_hidden_layers=2,
                                 num_attention_heads=4, max_position_embeddings=MAX_LENGTH, hidden_act="gelu",
                                 bos_token_id=0, eos_token_id=2, pad_token_id=1)
            try:
                cfg._attn_implementation = "eager"
            except Exception:
                pass
            nets[name] = CLIPTextModel(cfg)
            kinds[name] = "transformers.CLIPTextModel (tiny config)"
    except ImportError:
        nets["prior_text_encoder"] = StandinCLIPTextModel(dim=24)
        nets["decoder_text_encoder"] = StandinCLIPTextModel(dim=20)
        kinds["prior_text_encoder"] = kinds["decoder_text_encoder"] = "stand-in CLIP-like transformer"
    dims["prior_clip"] = 24
    dims["decoder_clip"] = 20
    WuerstchenPrior, WuerstchenDiffNeXt, PaellaVQModel = _import_diffusers_wuerstchen_models()
    if WuerstchenPrior is not None:
        nets["prior"] = WuerstchenPrior(c_in=16, c=32, c_cond=24, c_r=64, depth=2, nhead=2, dropout=0.0)
        nets["decoder"] = WuerstchenDiffNeXt(c_in=4, c_out=4, c_r=64, patch_size=2, c_cond=32, c_hidden=[8, 16, 16, 16],
                                             nhead=[-1, 2, 2, 2], blocks=[1, 1, 1, 1], level_config=["CT", "CTA", "CTA", "CTA"],
                                             inject_effnet=[False, True, True, True], effnet_embd=16, clip_embd=20,
                                             kernel_size=3, dropout=0.0)
        nets["vqgan"] = PaellaVQModel(embed_dim=32, bottleneck_blocks=2, levels=2, latent_channels=4, num_vq_embeddings=64)
        for k in ("prior", "decoder", "vqgan"):
            kinds[k] = f"diffusers.{type(nets[k]).__name__} (tiny config)"
    else:
        nets["prior"] = StandinPrior(c_cond=24)
        nets["decoder"] = StandinDiffNeXt(clip_embd=20)
        nets["vqgan"] = StandinPaellaVQ()
        kinds["prior"] = "stand-in prior (r-embedding, ResBlock/TimestepBlock/AttnBlock over clip_text)"
        kinds["decoder"] = "stand-in decoder (PixelUnshuffle, 4-level U-Net, AA-bicubic effnet injection, PixelShuffle)"
        kinds["vqgan"] = "stand-in Paella decode (mixing blocks, transposed conv, PixelShuffle)"
    try:
        import torchvision  # noqa: F401
        nets["effnet"] = EfficientNetEncoder()
        kinds["effnet"] = "EfficientNetV2-S features + mapper (torchvision, random weights)"
        backbone_factory = None
    except ImportError:
        backbone, width = _standin_effnet_backbone()
        nets["effnet"] = EfficientNetEncoder(backbone=backbone, c_cond=width)
        kinds["effnet"] = "stand-in conv/BN/SiLU stride-32 backbone + 1x1 conv + BatchNorm2d(16)"
        backbone_factory = _standin_effnet_backbone
    for k, m in nets.items():
        _randomize(m, NETWORK_ORDER.index(k) + 101)
        m.eval()
    # keep the prior head's b away from 1 (a trained prior's |1 - b| is not ~0), so that the self-test is not
    # decided by a near-singular element of (x - a) / (|1 - b| + 1e-5)
    with torch.no_grad():
        head = nets["prior"].out[-1]
        head.weight.mul_(0.25)
        head.bias.mul_(0.25)
    return nets, dims, backbone_factory
