"""Linear algebra, convolution, normalisation and reduction operators of the built-in ONNX interpreter."""

import torch
import torch.nn.functional as F

from ..contract import ExportError
from .ops_base import OpsBase


class LinalgOps(OpsBase):
    """MatMul/Gemm/Einsum, Conv/ConvTranspose, Batch/LayerNormalization, Softmax, reductions and pooling."""

    # ---- linear algebra and normalisation
    def op_MatMul(self, i, a, n): return torch.matmul(i[0], i[1])

    def op_Gemm(self, i, a, n):
        A = i[0].t() if a.get("transA", 0) else i[0]
        B = i[1].t() if a.get("transB", 0) else i[1]
        y = a.get("alpha", 1.0) * (A @ B)
        if len(i) > 2 and i[2] is not None:
            y = y + a.get("beta", 1.0) * i[2]
        return y

    def op_Einsum(self, i, a, n): return torch.einsum(a["equation"], *i)

    def _conv_pads(self, a, nd):
        if a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
            raise ExportError("Conv auto_pad SAME_* not supported")
        pads = a.get("pads", [0] * (2 * nd))
        return pads[:nd], pads[nd:]

    def op_Conv(self, i, a, n):
        x, w = i[0], i[1]
        b = i[2] if len(i) > 2 else None
        nd = w.dim() - 2
        pb, pe = self._conv_pads(a, nd)
        flat = []
        for k in reversed(range(nd)):
            flat += [pb[k], pe[k]]
        if any(flat):
            x = F.pad(x, flat)
        conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
        return conv(x, w, b, stride=a.get("strides", [1] * nd), dilation=a.get("dilations", [1] * nd),
                    groups=a.get("group", 1))

    def op_ConvTranspose(self, i, a, n):
        x, w = i[0], i[1]
        b = i[2] if len(i) > 2 else None
        nd = w.dim() - 2
        if "output_shape" in a:
            raise ExportError("ConvTranspose output_shape not supported")
        pb, pe = self._conv_pads(a, nd)
        op = a.get("output_padding", [0] * nd)
        conv = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[nd]
        y = conv(x, w, None, stride=a.get("strides", [1] * nd), dilation=a.get("dilations", [1] * nd),
                 groups=a.get("group", 1))
        flat = []
        for k in reversed(range(nd)):
            flat += [-pb[k], op[k] - pe[k]]
        y = F.pad(y, flat)
        if b is not None:
            y = y + b.reshape([1, -1] + [1] * nd)
        return y

    def op_BatchNormalization(self, i, a, n):
        x, scale, bias, mean, var = i[:5]
        shape = [1, -1] + [1] * (x.dim() - 2)
        y = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + a.get("epsilon", 1e-5))
        return y * scale.reshape(shape) + bias.reshape(shape)

    def op_LayerNormalization(self, i, a, n):
        x = i[0]
        ax = a.get("axis", -1)
        ax = ax + x.dim() if ax < 0 else ax
        dims = list(range(ax, x.dim()))
        xf = x.to(torch.float32)
        mean = xf.mean(dim=dims, keepdim=True)
        var = ((xf - mean) ** 2).mean(dim=dims, keepdim=True)
        inv = 1.0 / torch.sqrt(var + a.get("epsilon", 1e-5))
        y = ((xf - mean) * inv).to(x.dtype) * i[1]
        if len(i) > 2 and i[2] is not None:
            y = y + i[2]
        return [y, mean, inv][:n]

    def op_Softmax(self, i, a, n):
        return torch.softmax(i[0], dim=a.get("axis", -1))

    def _reduce(self, i, a, fn):
        x = i[0]
        if len(i) > 1 and i[1] is not None:
            axes = self._ints(i[1])
        else:
            axes = a.get("axes")
        keep = bool(a.get("keepdims", 1))
        if not axes:
            if a.get("noop_with_empty_axes", 0):
                return x
            axes = list(range(x.dim()))
        axes = sorted(ax + x.dim() if ax < 0 else ax for ax in axes)
        return fn(x, axes, keep)

    def op_ReduceMean(self, i, a, n): return self._reduce(i, a, lambda x, d, k: x.mean(dim=d, keepdim=k))
    def op_ReduceSum(self, i, a, n): return self._reduce(i, a, lambda x, d, k: x.sum(dim=d, keepdim=k))
    def op_ReduceL2(self, i, a, n): return self._reduce(i, a, lambda x, d, k: torch.sqrt((x * x).sum(dim=d, keepdim=k)))

    def op_ReduceMax(self, i, a, n):
        return self._reduce(i, a, lambda x, d, k: torch.amax(x, dim=d, keepdim=k))

    def op_ReduceMin(self, i, a, n):
        return self._reduce(i, a, lambda x, d, k: torch.amin(x, dim=d, keepdim=k))

    def op_ArgMax(self, i, a, n):
        x = i[0]
        ax = a.get("axis", 0)
        if a.get("select_last_index", 0):
            flipped = x.flip(ax)
            r = x.shape[ax] - 1 - torch.argmax(flipped, dim=ax, keepdim=bool(a.get("keepdims", 1)))
            return r
        return torch.argmax(x, dim=ax, keepdim=bool(a.get("keepdims", 1)))

    def op_GlobalAveragePool(self, i, a, n):
        return i[0].mean(dim=list(range(2, i[0].dim())), keepdim=True)
