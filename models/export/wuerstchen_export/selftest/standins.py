"""Self-test stand-ins (same forward signatures as the real modules)."""
import copy
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..contract import MAX_LENGTH, NETWORK_ORDER, VOCAB_SIZE
from ..wrappers import EfficientNetEncoder

# ======================================================================================================
# Self-test stand-ins (same forward signatures as the real modules)
# ======================================================================================================

class _Out:
    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __getitem__(self, i):
        return list(self.__dict__.values())[i]


class _ChannelNorm(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW map (like WuerstchenLayerNorm)."""

    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class GlobalResponseNorm(nn.Module):
    """ConvNeXt-V2 global response norm over an NHWC tensor (the fp16 patch finds it by this class name)."""

    def __init__(self, dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, dim))

    def forward(self, x):
        agg = torch.norm(x, p=2, dim=(1, 2), keepdim=True)
        return self.gamma * (x * (agg / (agg.mean(dim=-1, keepdim=True) + 1e-6))) + self.beta + x



class _MultiHead(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.o = nn.Linear(dim, dim)

    def forward(self, x, ctx, bias=None):
        b = x.shape[0]
        d = x.shape[-1] // self.heads
        q = self.q(x).reshape(b, -1, self.heads, d).transpose(1, 2) * (d ** -0.5)
        k = self.k(ctx).reshape(b, -1, self.heads, d).transpose(1, 2)
        v = self.v(ctx).reshape(b, -1, self.heads, d).transpose(1, 2)
        s = q @ k.transpose(-1, -2)
        if bias is not None:
            s = s + bias
        out = torch.softmax(s, dim=-1) @ v
        return self.o(out.transpose(1, 2).reshape(b, -1, self.heads * d))


class StandinCLIPTextModel(nn.Module):
    """Causal pre-LN transformer with a key-padding mask and a final LayerNorm, CLIPTextModel's signature."""

    def __init__(self, dim=32, layers=2, heads=4):
        super().__init__()
        self.config = _Out(hidden_size=dim)
        self.tok = nn.Embedding(VOCAB_SIZE, dim)
        self.pos = nn.Parameter(torch.zeros(MAX_LENGTH, dim))
        self.blocks = nn.ModuleList()
        for _ in range(layers):
            self.blocks.append(nn.ModuleDict({"ln1": nn.LayerNorm(dim), "attn": _MultiHead(dim, heads), "ln2": nn.LayerNorm(dim),
                                              "fc1": nn.Linear(dim, 2 * dim), "fc2": nn.Linear(2 * dim, dim)}))
        self.final = nn.LayerNorm(dim)

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, output_attentions=None,
                output_hidden_states=None, return_dict=None):
        h = self.tok(input_ids) + self.pos[: input_ids.shape[1]]
        n = input_ids.shape[1]
        neg = torch.finfo(h.dtype).min
        causal = torch.triu(torch.full((n, n), neg, dtype=h.dtype, device=h.device), diagonal=1)
        bias = causal[None, None]
        if attention_mask is not None:
            keep = attention_mask[:, None, None, :].to(h.dtype)
            bias = bias + (1.0 - keep) * neg
        for blk in self.blocks:
            h = h + blk["attn"](blk["ln1"](h), blk["ln1"](h), bias)
            h = h + blk["fc2"](F.gelu(blk["fc1"](blk["ln2"](h))))
        return _Out(last_hidden_state=self.final(h))


class _ResBlock(nn.Module):
    """Depthwise conv -> channel LN -> (concat skip) -> MLP with GRN -> residual (prior: skip before the conv)."""

    def __init__(self, c, c_skip=0, stage_b=False):
        super().__init__()
        self.stage_b = stage_b
        self.depthwise = nn.Conv2d(c if stage_b else c + c_skip, c, 3, padding=1, groups=c)
        self.norm = _ChannelNorm(c, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(c + c_skip if stage_b else c, 4 * c), nn.GELU(), GlobalResponseNorm(4 * c),
                                 nn.Linear(4 * c, c))

    def forward(self, x, skip=None):
        res = x
        if not self.stage_b and skip is not None:
            x = torch.cat([x, skip], dim=1)
        x = self.norm(self.depthwise(x))
        if self.stage_b and skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.mlp(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2) + res


class _TimestepBlock(nn.Module):
    def __init__(self, c, c_r):
        super().__init__()
        self.mapper = nn.Linear(c_r, 2 * c)

    def forward(self, x, r_embed):
        a, b = self.mapper(r_embed)[:, :, None, None].chunk(2, dim=1)
        return x * (1 + a) + b


class _AttnBlock(nn.Module):
    """Image tokens attend to [image tokens ; mapped text tokens]."""

    def __init__(self, c, c_cond, heads):
        super().__init__()
        self.norm = _ChannelNorm(c, elementwise_affine=False, eps=1e-6)
        self.kv = nn.Sequential(nn.SiLU(), nn.Linear(c_cond, c))
        self.attn = _MultiHead(c, heads)

    def forward(self, x, cond):
        b, c, h, w = x.shape
        n = self.norm(x).reshape(b, c, h * w).transpose(1, 2)
        ctx = torch.cat([n, self.kv(cond)], dim=1)
        return x + self.attn(n, ctx).transpose(1, 2).reshape(b, c, h, w)


class _REmbedding:
    def gen_r_embedding(self, r, max_positions=10000):
        r = r * max_positions
        half = self.c_r // 2
        f = torch.exp(torch.arange(half, device=r.device).float() * (-math.log(max_positions) / (half - 1)))
        e = r[:, None] * f[None, :]
        e = torch.cat([e.sin(), e.cos()], dim=1)
        if self.c_r % 2 == 1:
            e = F.pad(e, (0, 1))
        return e.to(r.dtype)


class StandinPrior(nn.Module, _REmbedding):
    """forward(x, r, c) like WuerstchenPrior: 1x1 projection, text mapper, (Res, Timestep, Attn) blocks, and the
    (x - a) / (|1 - b| + 1e-5) head."""

    def __init__(self, c_in=16, c=32, c_cond=24, c_r=64, depth=2, nhead=2):
        super().__init__()
        self.c_r = c_r
        self.config = _Out(c_in=c_in, c_cond=c_cond)
        self.projection = nn.Conv2d(c_in, c, 1)
        self.cond_mapper = nn.Sequential(nn.Linear(c_cond, c), nn.LeakyReLU(0.2), nn.Linear(c, c))
        self.blocks = nn.ModuleList()
        for _ in range(depth):
            self.blocks.extend([_ResBlock(c), _TimestepBlock(c, c_r), _AttnBlock(c, c, nhead)])
        self.out = nn.Sequential(_ChannelNorm(c, elementwise_affine=False, eps=1e-6), nn.Conv2d(c, 2 * c_in, 1))

    def forward(self, x, r, c):
        x_in = x
        x = self.projection(x)
        cond = self.cond_mapper(c)
        r_embed = self.gen_r_embedding(r)
        for blk in self.blocks:
            if isinstance(blk, _AttnBlock):
                x = blk(x, cond)
            elif isinstance(blk, _TimestepBlock):
                x = blk(x, r_embed)
            else:
                x = blk(x)
        a, b = self.out(x).chunk(2, dim=1)
        return (x_in - a) / ((1 - b).abs() + 1e-5)


class StandinDiffNeXt(nn.Module, _REmbedding):
    """forward(x, r, effnet, clip) like WuerstchenDiffNeXt: PixelUnshuffle stem, 4-level U-Net with effnet injected
    (antialiased bicubic resize to each level) on levels 1-3, cross-attention to mapped CLIP tokens,
    PixelShuffle head and eps = (x - a) / b'."""

    def __init__(self, c_in=4, c_r=64, c_cond=32, clip_embd=24, c_hidden=(8, 12, 16, 16), heads=2, effnet_embd=16):
        super().__init__()
        self.c_r = c_r
        self.config = _Out(clip_embd=clip_embd)
        levels = len(c_hidden)
        inject = [False] + [True] * (levels - 1)
        self.inject = inject
        self.clip_mapper = nn.Linear(clip_embd, c_cond)
        self.seq_norm = nn.LayerNorm(c_cond, elementwise_affine=False, eps=1e-6)
        self.effnet_mappers = nn.ModuleList([nn.Conv2d(effnet_embd, c_cond, 1) if k else nn.Identity()
                                             for k in inject + inject[::-1]])
        self.embedding = nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(c_in * 4, c_hidden[0], 1),
                                       _ChannelNorm(c_hidden[0], elementwise_affine=False, eps=1e-6))
        self.down = nn.ModuleList()
        self.up = nn.ModuleList()
        for i in range(levels):
            blocks = nn.ModuleList()
            if i > 0:
                blocks.append(nn.Sequential(_ChannelNorm(c_hidden[i - 1], elementwise_affine=False, eps=1e-6),
                                            nn.Conv2d(c_hidden[i - 1], c_hidden[i], 2, stride=2)))
            blocks.append(_ResBlock(c_hidden[i], c_cond if inject[i] else 0, stage_b=True))
            blocks.append(_TimestepBlock(c_hidden[i], c_r))
            if i > 0:
                blocks.append(_AttnBlock(c_hidden[i], c_cond, heads))
            self.down.append(blocks)
        for i in reversed(range(levels)):
            blocks = nn.ModuleList()
            skip = (c_hidden[i] if i < levels - 1 else 0) + (c_cond if inject[i] else 0)
            blocks.append(_ResBlock(c_hidden[i], skip, stage_b=True))
            blocks.append(_TimestepBlock(c_hidden[i], c_r))
            if i > 0:
                blocks.append(_AttnBlock(c_hidden[i], c_cond, heads))
                blocks.append(nn.Sequential(_ChannelNorm(c_hidden[i], elementwise_affine=False, eps=1e-6),
                                            nn.ConvTranspose2d(c_hidden[i], c_hidden[i - 1], 2, stride=2)))
            self.up.append(blocks)
        self.clf = nn.Sequential(_ChannelNorm(c_hidden[0], elementwise_affine=False, eps=1e-6),
                                 nn.Conv2d(c_hidden[0], 2 * c_in * 4, 1), nn.PixelShuffle(2))

    def _effnet(self, k, effnet, like):
        resized = F.interpolate(effnet.float(), size=like.shape[-2:], mode="bicubic", antialias=True, align_corners=True)
        return self.effnet_mappers[k](resized.to(effnet.dtype))

    def _run(self, blocks, x, r_embed, clip, skip):
        for blk in blocks:
            if isinstance(blk, _ResBlock):
                x = blk(x, skip)
            elif isinstance(blk, _TimestepBlock):
                x = blk(x, r_embed)
            elif isinstance(blk, _AttnBlock):
                x = blk(x, clip)
            else:
                x = blk(x)
        return x

    def forward(self, x, r, effnet, clip=None, x_cat=None, eps=1e-3, return_noise=True):
        r_embed = self.gen_r_embedding(r)
        clip = self.seq_norm(self.clip_mapper(clip))
        x_in = x
        x = self.embedding(x)
        levels = len(self.down)
        outs = []
        for i, blocks in enumerate(self.down):
            if i > 0:
                x = blocks[0](x)
                blocks = blocks[1:]
            skip = self._effnet(i, effnet, x) if self.inject[i] else None
            x = self._run(blocks, x, r_embed, clip, skip)
            outs.insert(0, x)
        x = outs[0]
        for j, blocks in enumerate(self.up):
            i = levels - 1 - j
            skip = outs[j] if j > 0 else None
            if self.inject[i]:
                e = self._effnet(levels + j, effnet, x)
                skip = e if skip is None else torch.cat([skip, e], dim=1)
            x = self._run(blocks, x, r_embed, clip, skip)
        a, b = self.clf(x).chunk(2, dim=1)
        b = b.sigmoid() * (1 - 2 * eps) + eps
        return (x_in - a) / b


class _MixingBlock(nn.Module):
    def __init__(self, c, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(c, elementwise_affine=False, eps=1e-6)
        self.depthwise = nn.Sequential(nn.ReplicationPad2d(1), nn.Conv2d(c, c, 3, groups=c))
        self.norm2 = nn.LayerNorm(c, elementwise_affine=False, eps=1e-6)
        self.channelwise = nn.Sequential(nn.Linear(c, hidden), nn.GELU(), nn.Linear(hidden, c))
        self.gammas = nn.Parameter(torch.zeros(6))

    def forward(self, x):
        g = self.gammas
        t = self.norm1(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2) * (1 + g[0]) + g[1]
        x = x + self.depthwise(t) * g[2]
        t = self.norm2(x.permute(0, 2, 3, 1)) * (1 + g[3]) + g[4]
        return x + self.channelwise(t).permute(0, 3, 1, 2) * g[5]


class StandinPaellaVQ(nn.Module):
    """decode(h, force_not_quantize=True) like PaellaVQModel: 1x1 conv, mixing blocks, stride-2 transposed conv,
    1x1 conv to 12 channels and PixelShuffle(2): 4x up-sampling."""

    def __init__(self, latent=4, embed=32, bottleneck=2):
        super().__init__()
        self.config = _Out(scale_factor=0.3764)
        self.up_blocks = nn.Sequential(nn.Conv2d(latent, embed, 1), *[_MixingBlock(embed, 4 * embed) for _ in range(bottleneck)],
                                       nn.ConvTranspose2d(embed, embed // 2, 4, stride=2, padding=1),
                                       _MixingBlock(embed // 2, 2 * embed))
        self.out_block = nn.Sequential(nn.Conv2d(embed // 2, 12, 1), nn.PixelShuffle(2))

    def decode(self, h, force_not_quantize=True, return_dict=True):
        if not force_not_quantize:
            raise NotImplementedError("the stand-in has no codebook")
        dec = self.out_block(self.up_blocks(h))
        return _Out(sample=dec) if return_dict else (dec,)


def _standin_effnet_backbone():
    """(stride-32 conv/BN/SiLU stack, output width) standing in for EfficientNetV2-S `.features`."""
    layers, c = [], 3
    for c_out in (8, 12, 16, 24, 32):
        layers += [nn.Conv2d(c, c_out, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.SiLU()]
        c = c_out
    return nn.Sequential(*layers), c


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


def _byte_symbols():
    """The byte -> unicode symbol table of byte-level BPE (printable Latin-1 bytes stand for themselves, the
    other bytes for chr(256 + n) in order)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


class _ToyTokenizer:
    """Just enough of a HF CLIP tokenizer for save_tokenizer(): a byte-level BPE vocabulary with the 512 byte
    symbols, two merges and CLIP's special ids (the self-test cannot download the real 49408-token vocabulary)."""
    bos_token_id = 49406
    eos_token_id = 49407
    pad_token_id = 49407
    model_max_length = MAX_LENGTH

    def save_pretrained(self, folder):
        symbols = _byte_symbols()
        vocab = {sym: i for i, sym in enumerate(symbols)}
        vocab.update({sym + "</w>": 256 + i for i, sym in enumerate(symbols)})
        vocab.update({"ab": 512, "ab</w>": 513, "<|startoftext|>": 49406, "<|endoftext|>": 49407})
        with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(vocab, f, ensure_ascii=False)
        with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2 (self-test toy vocabulary)\na b\na b</w>\n")
        special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
                   "unk_token": "<|endoftext|>"}
        with open(os.path.join(folder, "special_tokens_map.json"), "w", encoding="utf-8") as f:
            json.dump(special, f)
        with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(dict(special, model_max_length=MAX_LENGTH, do_lower_case=True, tokenizer_class="CLIPTokenizer"), f)

    def __call__(self, text, padding="max_length", max_length=MAX_LENGTH, truncation=True):
        if str(text).strip():
            raise NotImplementedError("the self-test tokenizer only encodes the empty prompt")
        ids = [self.bos_token_id, self.eos_token_id]
        return {"input_ids": ids + [self.pad_token_id] * (max_length - 2), "attention_mask": [1, 1] + [0] * (max_length - 2)}


class _StandinPipeline:
    def __init__(self, config, **components):
        self.config = config
        self.__dict__.update(components)


def _standin_loaders(nets):
    """load_prior / load_decoder returning pipeline-like objects with the diffusers attribute names."""
    scheduler = _Out(config={"s": 0.008, "scaler": 1.0})

    def load_prior(repo):
        return _StandinPipeline({"latent_mean": 42.0, "latent_std": 1.0, "resolution_multiple": 42.67},
                                tokenizer=_ToyTokenizer(), text_encoder=copy.deepcopy(nets["prior_text_encoder"]),
                                prior=copy.deepcopy(nets["prior"]), scheduler=scheduler)

    def load_decoder(repo):
        return _StandinPipeline({"latent_dim_scale": 10.67}, tokenizer=_ToyTokenizer(),
                                text_encoder=copy.deepcopy(nets["decoder_text_encoder"]),
                                decoder=copy.deepcopy(nets["decoder"]), vqgan=copy.deepcopy(nets["vqgan"]),
                                scheduler=scheduler)
    return load_prior, load_decoder


