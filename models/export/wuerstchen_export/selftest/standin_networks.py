"""Stand-in networks with the real modules' forward signatures, for when transformers / diffusers are not
importable (build_standins in standins.py picks them)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..contract import MAX_LENGTH, VOCAB_SIZE
from .standin_layers import _AttnBlock, _ChannelNorm, _MixingBlock, _MultiHead, _Out, _REmbedding, _ResBlock, _TimestepBlock


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
