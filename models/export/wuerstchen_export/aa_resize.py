"""Antialiased bicubic resize (torch's _upsample_bicubic2d_aa) as exportable tensor algebra."""
import contextlib

import torch
import torch.nn.functional as F

# ======================================================================================================
# Antialiased bicubic resize (torch's `_upsample_bicubic2d_aa`) as exportable tensor algebra.
#
# torch computes, per axis and per output index i (float input, CPU/GPU "aa" kernels):
#   scale   = (in-1)/(out-1) if align_corners (0 when out == 1), else in/out
#   support = 2*scale if scale >= 1 else 2          (bicubic: interp_size 4, widened when down-sampling)
#   center  = scale*(i + 0.5)                       (also with align_corners: it only changes the scale)
#   taps j in [max(trunc(center-support+0.5), 0), min(trunc(center+support+0.5), in))
#   w_ij    = K((j - center + 0.5) * (1/scale if scale >= 1 else 1)), normalised to sum 1,
# with K the Keys cubic with a = -0.5. Both axes are applied separably. Written as matrices
# W_h [out_h, in_h] and W_w [out_w, in_w]: y = W_h @ x @ W_w^T. The matrices are built from the
# (traced, hence dynamic) sizes, so the exported graph works for every latent size.
# ======================================================================================================

def _keys_cubic(x, a=-0.5):
    x = x.abs()
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    zero = torch.zeros_like(x)
    return torch.where(x < 1.0, near, torch.where(x < 2.0, far, zero))


def _as_size_tensor(n, device):
    if isinstance(n, torch.Tensor):
        return n.to(device=device, dtype=torch.int64).reshape(())
    return torch.tensor(int(n), dtype=torch.int64, device=device)


def aa_bicubic_weights(in_size, out_size, align_corners, device=None):
    """[out, in] float32 matrix of torch's antialiased bicubic interpolation along one axis."""
    n_in = _as_size_tensor(in_size, device)
    n_out = _as_size_tensor(out_size, device)
    f_in = n_in.to(torch.float32)
    f_out = n_out.to(torch.float32)
    one = torch.ones_like(f_in)
    if align_corners:
        scale = torch.where(f_out > 1.0, (f_in - 1.0) / torch.max(f_out - 1.0, one), torch.zeros_like(f_in))
    else:
        scale = f_in / f_out
    widen = scale >= 1.0
    support = torch.where(widen, 2.0 * scale, 2.0 * one)
    invscale = torch.where(widen, one / torch.where(widen, scale, one), one)
    i = torch.arange(n_out, device=device).to(torch.float32)
    j = torch.arange(n_in, device=device).to(torch.float32)
    center = scale * (i + 0.5)                                   # [out]
    lo = torch.clamp(torch.floor(center - support + 0.5), min=0.0)
    hi = torch.min(torch.floor(center + support + 0.5), f_in)
    jj = j.unsqueeze(0)                                          # [1, in]
    w = _keys_cubic((jj - center.unsqueeze(1) + 0.5) * invscale)
    inside = (jj >= lo.unsqueeze(1)) & (jj < hi.unsqueeze(1))
    w = torch.where(inside, w, torch.zeros_like(w))
    total = w.sum(dim=1, keepdim=True)
    nonzero = total != 0.0
    return torch.where(nonzero, w / torch.where(nonzero, total, torch.ones_like(total)), w)


def bicubic_aa_resize(x, size, align_corners):
    """Same result as F.interpolate(x, size, mode='bicubic', antialias=True, align_corners=...) for NCHW x."""
    if x.dim() != 4:
        raise ExportError("antialiased bicubic replacement supports 4-D NCHW input only")
    dtype = x.dtype
    xf = x.to(torch.float32)
    shape = x.shape
    wh = aa_bicubic_weights(shape[2], size[0], align_corners, x.device)
    ww = aa_bicubic_weights(shape[3], size[1], align_corners, x.device)
    y = torch.matmul(torch.matmul(wh, xf), ww.transpose(0, 1))
    return y.to(dtype)


class _InterpolateCounter:
    def __init__(self):
        self.replaced = 0
        self.passed = 0


@contextlib.contextmanager
def patched_interpolate():
    """Route antialiased bicubic F.interpolate calls to bicubic_aa_resize while exporting."""
    original = F.interpolate
    counter = _InterpolateCounter()

    def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                    recompute_scale_factor=None, antialias=False):
        if mode == "bicubic" and antialias:
            if size is None:
                raise ExportError("antialiased bicubic with scale_factor is not supported by the export replacement")
            if not isinstance(size, (list, tuple, torch.Size)):
                size = (size, size)
            counter.replaced += 1
            return bicubic_aa_resize(input, tuple(size), bool(align_corners))
        counter.passed += 1
        kwargs = dict(size=size, scale_factor=scale_factor, mode=mode, align_corners=align_corners,
                      recompute_scale_factor=recompute_scale_factor)
        if antialias:
            kwargs["antialias"] = antialias
        return original(input, **kwargs)

    F.interpolate = interpolate
    torch.nn.functional.interpolate = interpolate
    try:
        yield counter
    finally:
        F.interpolate = original
        torch.nn.functional.interpolate = original
