"""Export-time patches of the diffusers modules (fp32 r-embedding, fp16-safe GRN, plain attention)."""
import contextlib
import math
import types

import torch
import torch.nn.functional as F

from .contract import ExportError

# ======================================================================================================
# Export-time patches of the diffusers modules
# ======================================================================================================

def _gen_r_embedding_fp32(self, r, max_positions=10000):
    """Sinusoidal r-embedding computed in float32 whatever the model dtype (spec 4.1 / 10.2)."""
    r32 = r.to(torch.float32) * max_positions
    half = self.c_r // 2
    freq = torch.arange(half, device=r.device).to(torch.float32)
    freq = torch.exp(freq * (-math.log(max_positions) / (half - 1)))
    emb = r32.unsqueeze(1) * freq.unsqueeze(0)
    emb = torch.cat([emb.sin(), emb.cos()], dim=1)
    if self.c_r % 2 == 1:
        emb = F.pad(emb, (0, 1), mode="constant")
    return emb.to(self._export_embed_dtype)


def install_fp32_r_embedding(module, dtype):
    if not hasattr(module, "gen_r_embedding") or not hasattr(module, "c_r"):
        raise ExportError(f"{type(module).__name__} has no gen_r_embedding/c_r: not a Würstchen prior/decoder?")
    module._export_embed_dtype = dtype
    module.gen_r_embedding = types.MethodType(_gen_r_embedding_fp32, module)


def _grn_forward_fp32_stats(self, x):
    # GlobalResponseNorm with its L2 statistics accumulated in float32 (fp16 sums of squares overflow).
    agg = torch.norm(x.to(torch.float32), p=2, dim=(1, 2), keepdim=True)
    ratio = (agg / (agg.mean(dim=-1, keepdim=True) + 1e-6)).to(x.dtype)
    return self.gamma * (x * ratio) + self.beta + x


def install_fp16_safety(module):
    n = 0
    for m in module.modules():
        if type(m).__name__ == "GlobalResponseNorm" and hasattr(m, "gamma") and hasattr(m, "beta"):
            m.forward = types.MethodType(_grn_forward_fp32_stats, m)
            n += 1
    return n


class ExportAttnProcessor:
    """Plain attention for diffusers' `Attention` as used by Würstchen's AttnBlock (no norms, no mask):
    q and k are pre-scaled by sqrt(scale) and the softmax runs in float32, so float16 graphs don't overflow."""

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, *args, **kwargs):
        if attention_mask is not None:
            raise ExportError("ExportAttnProcessor does not support attention masks")
        residual = hidden_states
        four_d = hidden_states.dim() == 4
        if four_d:
            b, c, h, w = hidden_states.shape
            hidden_states = hidden_states.reshape(b, c, h * w).transpose(1, 2)
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        batch = hidden_states.shape[0]
        q = attn.to_q(hidden_states)
        k = attn.to_k(context)
        v = attn.to_v(context)
        heads = attn.heads
        dim_head = q.shape[-1] // heads
        q = q.reshape(batch, -1, heads, dim_head).transpose(1, 2)
        k = k.reshape(batch, -1, heads, dim_head).transpose(1, 2)
        v = v.reshape(batch, -1, heads, dim_head).transpose(1, 2)
        s = math.sqrt(attn.scale)
        scores = torch.matmul(q * s, (k * s).transpose(-1, -2))
        probs = torch.softmax(scores.to(torch.float32), dim=-1).to(v.dtype)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(batch, -1, heads * dim_head)
        out = attn.to_out[0](out)
        out = attn.to_out[1](out)
        if four_d:
            out = out.transpose(-1, -2).reshape(b, c, h, w)
        if getattr(attn, "residual_connection", False):
            out = out + residual
        return out / getattr(attn, "rescale_output_factor", 1.0)


@contextlib.contextmanager
def export_attention_processors(module):
    """Swap diffusers Attention processors for ExportAttnProcessor (restored afterwards)."""
    saved = []
    for m in module.modules():
        if type(m).__name__ != "Attention" or not hasattr(m, "set_processor") or not hasattr(m, "processor"):
            continue
        simple = (getattr(m, "spatial_norm", None) is None and getattr(m, "group_norm", None) is None
                  and not getattr(m, "norm_cross", None) and getattr(m, "norm_q", None) is None
                  and getattr(m, "norm_k", None) is None and getattr(m, "added_kv_proj_dim", None) is None
                  and hasattr(m, "to_q") and hasattr(m, "to_out") and hasattr(m, "heads") and hasattr(m, "scale"))
        if not simple:
            continue  # leave unusual configurations to diffusers' own processor
        saved.append((m, m.processor))
        m.set_processor(ExportAttnProcessor())
    try:
        yield len(saved)
    finally:
        for m, p in saved:
            m.set_processor(p)




def _up_decode_resizing_every_skip(self, level_outputs, r_embed, clip):
    """StableCascadeUNet._up_decode (inference path) with the skip resize made unconditional. diffusers resizes x to
    its skip's size only when they differ (odd latent sizes, where a stride-2 stage floored); a trace fixes that test
    to the example's sizes, so the graph would fail on the sizes that need it. Resized to the size it already has,
    x is unchanged: bilinear with align_corners samples exactly at the source pixels (weights 1 and 0)."""
    from diffusers.models.unets.unet_stable_cascade import SDCascadeAttnBlock, SDCascadeResBlock, SDCascadeTimestepBlock
    x = level_outputs[0]
    for i, (up_block, upscaler, repmap) in enumerate(zip(self.up_blocks, self.up_upscalers, self.up_repeat_mappers)):
        for j in range(len(repmap) + 1):
            for k, block in enumerate(up_block):
                if isinstance(block, SDCascadeResBlock):
                    skip = level_outputs[i] if k == 0 and i > 0 else None
                    if skip is not None:
                        x = F.interpolate(x.float(), skip.shape[-2:], mode="bilinear", align_corners=True).to(x.dtype)
                    x = block(x, skip)
                elif isinstance(block, SDCascadeAttnBlock):
                    x = block(x, clip)
                elif isinstance(block, SDCascadeTimestepBlock):
                    x = block(x, r_embed)
                else:
                    x = block(x)
            if j < len(repmap):
                x = repmap[j](x)
        x = upscaler(x)
    return x


@contextlib.contextmanager
def size_agnostic_skips(module):
    """While tracing: every StableCascadeUNet inside resizes its skips unconditionally (see above); restored afterwards."""
    patched = [m for m in module.modules() if type(m).__name__ == "StableCascadeUNet" and hasattr(m, "_up_decode")]
    for m in patched:
        m._up_decode = types.MethodType(_up_decode_resizing_every_skip, m)
    try:
        yield len(patched)
    finally:
        for m in patched:
            del m._up_decode  # the class's method again


def _linear_pretransposed(self, x):
    y = torch.matmul(x, self.weight_t)
    return y if self.bias is None else y + self.bias


def pretranspose_linears(module):
    """Stores every nn.Linear's weight transposed ([in, out]) and computes x @ Wᵀ from it, one layer at a time.
    torch.onnx.export writes a Linear on a 3-D input as MatMul(x, Transpose(W)) and constant folding then makes
    Wᵀ a second tensor beside W for every layer: the export held two copies of a network's weights at its peak
    (8 GB for the 4 GB v2 prior, ~29 GB for the 14.4 GB Stable Cascade prior). Transposed here, each copy replaces
    its original at once, so the peak stays near one copy. The exported graph is the same (MatMul with Wᵀ as an
    initializer); the module is exported and released afterwards, never used again. Returns how many were changed."""
    n = 0
    for m in module.modules():
        if isinstance(m, torch.nn.Linear) and isinstance(m.weight, torch.nn.Parameter) and m.weight.dim() == 2:
            wt = m.weight.detach().t().contiguous()
            del m.weight  # the original goes now: at most one layer is held twice
            m.weight_t = torch.nn.Parameter(wt, requires_grad=False)
            m.forward = types.MethodType(_linear_pretransposed, m)
            n += 1
    return n
