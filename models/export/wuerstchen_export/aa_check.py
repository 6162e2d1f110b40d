"""The AA-resize replacement checked against torch's own antialiased bicubic (eager and as an ONNX graph)."""
import os
import shutil
import tempfile
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .aa_resize import _keys_cubic, bicubic_aa_resize, patched_interpolate
from .contract import ExportError, log
from .onnx_io import _install_layer_norm_fix, _onnx_export_kwargs
from .runners import onnx_runner
from .validation import _compare


# ======================================================================================================
# AA-resize check (eager and exported graph against torch's own antialiased bicubic)
# ======================================================================================================

class _ResizeProbe(nn.Module):
    def forward(self, x, like):
        return F.interpolate(x, size=like.shape[-2:], mode="bicubic", antialias=True, align_corners=True)


AA_CHECK_SIZES = [((24, 24), (64, 64)), ((24, 24), (32, 32)), ((24, 24), (16, 16)), ((36, 36), (48, 48)),
                  ((24, 36), (128, 96)), ((6, 9), (4, 6)), ((3, 6), (2, 4)), ((5, 7), (1, 3)), ((1, 4), (8, 8))]


def check_aa_resize(runner_kind="auto", work_dir=None, opset=17):
    """Compares bicubic_aa_resize (eager, and as an exported ONNX graph with dynamic sizes) with
    torch.nn.functional.interpolate(mode='bicubic', antialias=True, align_corners=True)."""
    g = torch.Generator().manual_seed(1234)
    rows = []
    own = tempfile.mkdtemp(prefix="aa-resize-") if work_dir is None else None
    folder = own or work_dir
    path = os.path.join(folder, "aa_resize_probe.onnx")
    try:
        _install_layer_norm_fix(opset)
        with patched_interpolate() as counter, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(_ResizeProbe(), (torch.zeros(1, 16, 24, 24), torch.zeros(1, 1, 64, 64)), path,
                              opset_version=opset, input_names=["x", "like"], output_names=["y"],
                              dynamic_axes={"x": {0: "b", 2: "h", 3: "w"}, "like": {2: "H", 3: "W"}},
                              do_constant_folding=True, **_onnx_export_kwargs())
        if counter.replaced != 1:
            raise ExportError("the AA-resize probe did not go through the replacement")
        run, backend = onnx_runner(path, runner_kind)
        for (hi, wi), (ho, wo) in AA_CHECK_SIZES:
            x = torch.randn(2, 16, hi, wi, generator=g) * 10.0
            ref = F.interpolate(x, size=(ho, wo), mode="bicubic", antialias=True, align_corners=True)
            eager = bicubic_aa_resize(x, (ho, wo), True)
            onnx_out = run({"x": x.numpy(), "like": np.zeros((1, 1, ho, wo), np.float32)})["y"]
            e = _compare(eager.numpy(), ref.numpy())
            o = _compare(onnx_out, ref.numpy())
            rows.append({"in": [hi, wi], "out": [ho, wo], "eager_max_abs": e["max_abs"], "eager_rel": e["rel"],
                         "onnx_max_abs": o["max_abs"], "onnx_rel": o["rel"]})
        # double precision: the algorithm (not just float32 rounding) must match torch's
        x = torch.randn(1, 2, 24, 36, generator=g, dtype=torch.float64)
        worst64 = 0.0
        for (ho, wo) in [(64, 96), (16, 24), (48, 40)]:
            ref = F.interpolate(x, size=(ho, wo), mode="bicubic", antialias=True, align_corners=True)
            wh = _aa_weights_f64(24, ho)
            ww = _aa_weights_f64(36, wo)
            worst64 = max(worst64, float((wh @ x @ ww.T - ref).abs().max()))
    finally:
        if own:
            shutil.rmtree(own, ignore_errors=True)
    return rows, backend, worst64


def _aa_weights_f64(n_in, n_out):
    scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    support, inv = (2 * scale, 1 / scale) if scale >= 1 else (2.0, 1.0)
    w = torch.zeros(n_out, n_in, dtype=torch.float64)
    for i in range(n_out):
        c = scale * (i + 0.5)
        lo, hi = max(int(c - support + 0.5), 0), min(int(c + support + 0.5), n_in)
        for j in range(lo, hi):
            w[i, j] = float(_keys_cubic(torch.tensor((j - c + 0.5) * inv, dtype=torch.float64)))
        s = w[i].sum()
        if s != 0:
            w[i] /= s
    return w


def print_aa_check(rows, backend, worst64):
    log(f"AA bicubic resize check (align_corners=True, a=-0.5) against torch's own op; graph run by {backend}:")
    for r in rows:
        log(f"  {r['in'][0]:>3}x{r['in'][1]:<3} -> {r['out'][0]:>3}x{r['out'][1]:<3}  eager max|err| {r['eager_max_abs']:.2e}"
            f" (rel {r['eager_rel']:.1e})   onnx max|err| {r['onnx_max_abs']:.2e} (rel {r['onnx_rel']:.1e})")
    log(f"  float64 weights vs torch float64: max|err| {worst64:.1e}")


