"""Constant, shape, indexing and layout operators of the built-in ONNX interpreter."""

import numpy as np
import torch
import torch.nn.functional as F

from ..contract import ExportError
from .ops_base import OpsBase


class ShapeOps(OpsBase):
    """Constants, shapes and reshapes, slicing and gathering, padding, depth/space rearrangement and Resize."""

    # ---- constants and shapes
    def op_Constant(self, i, a, n):
        if "value" in a:
            return a["value"]
        if "value_float" in a:
            return torch.tensor(a["value_float"], dtype=torch.float32)
        if "value_floats" in a:
            return torch.tensor(a["value_floats"], dtype=torch.float32)
        if "value_int" in a:
            return torch.tensor(a["value_int"], dtype=torch.int64)
        if "value_ints" in a:
            return torch.tensor(a["value_ints"], dtype=torch.int64)
        raise ExportError("Constant without a supported value attribute")

    def op_ConstantOfShape(self, i, a, n):
        v = a.get("value", torch.zeros(1, dtype=torch.float32))
        return torch.full(self._ints(i[0]), v.reshape(-1)[0].item(), dtype=v.dtype)

    def op_Shape(self, i, a, n):
        shape = list(i[0].shape)
        r = len(shape)
        start = a.get("start", 0)
        end = a.get("end", r)
        start = max(0, min(r, start + r if start < 0 else start))
        end = max(0, min(r, end + r if end < 0 else end))
        return torch.tensor(shape[start:end], dtype=torch.int64)

    def op_Size(self, i, a, n): return torch.tensor(i[0].numel(), dtype=torch.int64)

    def op_Reshape(self, i, a, n):
        shape = self._ints(i[1])
        if not a.get("allowzero", 0):
            shape = [i[0].shape[k] if s == 0 else s for k, s in enumerate(shape)]
        return i[0].reshape(shape)

    def op_Flatten(self, i, a, n):
        ax = a.get("axis", 1)
        x = i[0]
        ax = ax + x.dim() if ax < 0 else ax
        lead = int(np.prod(x.shape[:ax])) if ax > 0 else 1
        return x.reshape(lead, -1)

    def op_Transpose(self, i, a, n):
        perm = a.get("perm", list(reversed(range(i[0].dim()))))
        return i[0].permute(*perm)

    def op_Unsqueeze(self, i, a, n):
        axes = self._ints(i[1]) if len(i) > 1 and i[1] is not None else a["axes"]
        rank = i[0].dim() + len(axes)
        x = i[0]
        for ax in sorted(ax + rank if ax < 0 else ax for ax in axes):
            x = x.unsqueeze(ax)
        return x

    def op_Squeeze(self, i, a, n):
        axes = self._ints(i[1]) if len(i) > 1 and i[1] is not None else a.get("axes")
        x = i[0]
        if axes is None:
            return x.squeeze()
        for ax in sorted((ax + x.dim() if ax < 0 else ax for ax in axes), reverse=True):
            x = x.squeeze(ax)
        return x

    def op_Concat(self, i, a, n):
        return torch.cat([t for t in i if t is not None], dim=a["axis"])

    def op_Split(self, i, a, n):
        x = i[0]
        ax = a.get("axis", 0)
        if len(i) > 1 and i[1] is not None:
            sizes = self._ints(i[1])
        elif "split" in a:
            sizes = a["split"]
        else:
            parts = a.get("num_outputs", n)
            length = x.shape[ax]
            step = -(-length // parts)
            sizes = [step] * (parts - 1) + [length - step * (parts - 1)]
        return list(torch.split(x, sizes, dim=ax))

    def op_Slice(self, i, a, n):
        x = i[0]
        starts, ends = self._ints(i[1]), self._ints(i[2])
        axes = self._ints(i[3]) if len(i) > 3 and i[3] is not None else list(range(len(starts)))
        steps = self._ints(i[4]) if len(i) > 4 and i[4] is not None else [1] * len(starts)
        for st, en, ax, sp in zip(starts, ends, axes, steps):
            ax = ax + x.dim() if ax < 0 else ax
            dim = x.shape[ax]
            if sp > 0:
                st = st + dim if st < 0 else st
                en = en + dim if en < 0 else en
                st, en = max(0, min(dim, st)), max(0, min(dim, en))
                idx = torch.arange(st, en, sp) if en > st else torch.zeros(0, dtype=torch.int64)
            else:
                st = st + dim if st < 0 else st
                en = en + dim if en < 0 else en
                st, en = max(-1, min(dim - 1, st)), max(-1, min(dim - 1, en))
                idx = torch.arange(st, en, sp) if st > en else torch.zeros(0, dtype=torch.int64)
            x = x.index_select(ax, idx)
        return x

    def op_Gather(self, i, a, n):
        x, idx = i[0], i[1].to(torch.int64)
        ax = a.get("axis", 0)
        ax = ax + x.dim() if ax < 0 else ax
        idx = torch.where(idx < 0, idx + x.shape[ax], idx)
        out = x.index_select(ax, idx.reshape(-1))
        return out.reshape(list(x.shape[:ax]) + list(idx.shape) + list(x.shape[ax + 1:]))

    def op_Expand(self, i, a, n):
        shape = torch.broadcast_shapes(tuple(i[0].shape), tuple(self._ints(i[1])))
        return i[0].expand(shape).clone()

    def op_Tile(self, i, a, n):
        return i[0].repeat(*self._ints(i[1]))

    def op_Range(self, i, a, n):
        start, limit, delta = (t.item() for t in i[:3])
        return torch.arange(start, limit, delta, dtype=i[0].dtype)

    def op_Trilu(self, i, a, n):
        k = int(i[1].item()) if len(i) > 1 and i[1] is not None else 0
        return torch.triu(i[0], k) if a.get("upper", 1) else torch.tril(i[0], k)

    def op_CumSum(self, i, a, n):
        x = i[0]
        ax = int(i[1].item())
        if a.get("reverse", 0):
            x = x.flip(ax)
        out = torch.cumsum(x, dim=ax).to(x.dtype)
        if a.get("exclusive", 0):
            out = out - x
        if a.get("reverse", 0):
            out = out.flip(ax)
        return out

    def op_Pad(self, i, a, n):
        x = i[0]
        pads = self._ints(i[1]) if len(i) > 1 and i[1] is not None else a["pads"]
        value = i[2].reshape(-1)[0].item() if len(i) > 2 and i[2] is not None and i[2].numel() else 0.0
        mode = a.get("mode", "constant")
        r = x.dim()
        if len(i) > 3 and i[3] is not None:
            axes = [ax + r if ax < 0 else ax for ax in self._ints(i[3])]
        else:
            axes = list(range(r))
        begin = dict(zip(axes, pads[:len(axes)]))
        end = dict(zip(axes, pads[len(axes):]))
        if mode == "constant":
            flat = []
            for ax in reversed(range(r)):
                flat += [begin.get(ax, 0), end.get(ax, 0)]
            return F.pad(x, flat, mode="constant", value=value)
        for ax in range(r):
            b, e = begin.get(ax, 0), end.get(ax, 0)
            if b == 0 and e == 0:
                continue
            size = x.shape[ax]
            pos = torch.arange(-b, size + e)
            if mode == "edge":
                pos = pos.clamp(0, size - 1)
            elif mode == "reflect":
                period = 2 * (size - 1)
                pos = torch.remainder(pos, period)
                pos = torch.where(pos >= size, period - pos, pos)
            else:
                raise ExportError(f"Pad mode {mode} not supported")
            x = x.index_select(ax, pos)
        return x

    def op_DepthToSpace(self, i, a, n):
        x = i[0]
        bs = a["blocksize"]
        b, c, h, w = x.shape
        if a.get("mode", "DCR") == "DCR":
            y = x.reshape(b, bs, bs, c // (bs * bs), h, w).permute(0, 3, 4, 1, 5, 2)
        else:
            y = x.reshape(b, c // (bs * bs), bs, bs, h, w).permute(0, 1, 4, 2, 5, 3)
        return y.reshape(b, c // (bs * bs), h * bs, w * bs)

    def op_SpaceToDepth(self, i, a, n):
        x = i[0]
        bs = a["blocksize"]
        b, c, h, w = x.shape
        y = x.reshape(b, c, h // bs, bs, w // bs, bs).permute(0, 3, 5, 1, 2, 4)
        return y.reshape(b, c * bs * bs, h // bs, w // bs)

    def op_Resize(self, i, a, n):
        """4-D Resize as torch exports F.interpolate: linear (bilinear) with align_corners / half_pixel, or nearest."""
        x = i[0]
        scales = i[2] if len(i) > 2 and i[2] is not None and i[2].numel() else None
        sizes = i[3] if len(i) > 3 and i[3] is not None and i[3].numel() else None
        if x.dim() != 4:
            raise ExportError(f"built-in ONNX interpreter: Resize of rank {x.dim()} not implemented")
        size = [int(v) for v in sizes.tolist()[2:]] if sizes is not None else [int(x.shape[k + 2] * float(scales[k + 2])) for k in range(2)]
        mode = a.get("mode", "nearest")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        ctm = a.get("coordinate_transformation_mode", "half_pixel")
        ctm = ctm.decode() if isinstance(ctm, bytes) else ctm
        if mode == "nearest":
            return F.interpolate(x, size=size, mode="nearest")
        if mode != "linear" or ctm not in ("align_corners", "half_pixel", "pytorch_half_pixel"):
            raise ExportError(f"built-in ONNX interpreter: Resize mode {mode} / {ctm} not implemented")
        return F.interpolate(x, size=size, mode="bilinear", align_corners=(ctm == "align_corners"))
