"""Building blocks of the self-test stand-in networks (standin_networks.py)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


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
