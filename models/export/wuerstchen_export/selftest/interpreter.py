"""A small ONNX interpreter on torch CPU kernels (validation where no ONNX runtime is installed)."""

import numpy as np
import torch
import torch.nn.functional as F

from ..contract import ExportError

# ======================================================================================================
# Running ONNX models: onnxruntime, else onnx.reference, else the built-in torch-backed interpreter
# ======================================================================================================

_ONNX_TO_TORCH = {1: torch.float32, 2: torch.uint8, 3: torch.int8, 5: torch.int16, 6: torch.int32, 7: torch.int64,
                  9: torch.bool, 10: torch.float16, 11: torch.float64, 16: torch.bfloat16}


def _onnx_np_dtype(elem):
    return {1: np.float32, 10: np.float16, 11: np.float64, 7: np.int64, 6: np.int32, 9: np.bool_}.get(elem)


class OnnxInterpreter:
    """A small ONNX interpreter (opsets 13-18 semantics of the operators the TorchScript exporter emits for
    these networks), executing each node with torch CPU kernels. Float16 nodes are computed in float32 and
    rounded back to float16 (what onnxruntime's CPU provider does for operators without fp16 kernels).
    Used to validate exports where neither onnxruntime nor onnx.reference is available."""

    UPCAST = {"Conv", "ConvTranspose", "MatMul", "Gemm", "LayerNormalization", "BatchNormalization", "Softmax",
              "Erf", "Tanh", "Sigmoid", "Exp", "Log", "Sin", "Cos", "Sqrt", "Pow", "ReduceMean", "ReduceSum",
              "ReduceL2", "ReduceMax", "ReduceMin", "Einsum", "Div", "Mul", "Add", "Sub", "Reciprocal",
              "LeakyRelu", "Relu", "Abs", "Neg", "CumSum", "Clip", "Max", "Min", "Floor", "Ceil", "Where", "Pad",
              "Resize", "GlobalAveragePool", "HardSigmoid", "Softplus", "Mod"}

    def __init__(self, path_or_model):
        import onnx
        from onnx import numpy_helper
        model = onnx.load(path_or_model) if isinstance(path_or_model, str) else path_or_model
        self.model = model
        self.graph = model.graph
        self.opset = max([o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] or [17])
        self.consts = {t.name: torch.from_numpy(np.array(numpy_helper.to_array(t))) for t in self.graph.initializer}
        self.inputs = [i for i in self.graph.input if i.name not in self.consts]
        self.output_names = [o.name for o in self.graph.output]
        self._numpy_helper = numpy_helper

    def _check_feed(self, name, arr, vi):
        tt = vi.type.tensor_type
        want = _onnx_np_dtype(tt.elem_type)
        if want is not None and arr.dtype != want:
            raise ExportError(f"input {name}: dtype {arr.dtype}, model declares {np.dtype(want)}")
        dims = tt.shape.dim
        if len(dims) != arr.ndim:
            raise ExportError(f"input {name}: rank {arr.ndim}, model declares rank {len(dims)}")
        for k, d in enumerate(dims):
            if d.HasField("dim_value") and d.dim_value != arr.shape[k]:
                raise ExportError(f"input {name}: dim {k} is {arr.shape[k]}, model fixes it to {d.dim_value}")

    def run(self, feeds):
        env = dict(self.consts)
        for vi in self.inputs:
            if vi.name not in feeds:
                raise ExportError(f"missing input {vi.name}")
            arr = np.ascontiguousarray(feeds[vi.name])
            self._check_feed(vi.name, arr, vi)
            env[vi.name] = torch.from_numpy(arr.copy())
        for node in self.graph.node:
            ins = [env[n] if n else None for n in node.input]
            attrs = {a.name: self._attr(a) for a in node.attribute}
            fn = getattr(self, "op_" + node.op_type, None)
            if fn is None or node.domain not in ("", "ai.onnx"):
                raise ExportError(f"built-in ONNX interpreter: operator {node.domain}:{node.op_type} not implemented")
            half = node.op_type in self.UPCAST and any(
                t is not None and t.dtype == torch.float16 for t in ins)
            if half:
                ins = [t.float() if t is not None and t.dtype == torch.float16 else t for t in ins]
            outs = fn(ins, attrs, len(node.output))
            if not isinstance(outs, (list, tuple)):
                outs = [outs]
            for name, val in zip(node.output, outs):
                if name:
                    if half and val.dtype == torch.float32:
                        val = val.half()
                    env[name] = val
        return {n: env[n].numpy() for n in self.output_names}

    def _attr(self, a):
        from onnx import AttributeProto
        if a.type == AttributeProto.FLOAT:
            return a.f
        if a.type == AttributeProto.INT:
            return a.i
        if a.type == AttributeProto.STRING:
            return a.s.decode()
        if a.type == AttributeProto.TENSOR:
            return torch.from_numpy(np.array(self._numpy_helper.to_array(a.t)))
        if a.type == AttributeProto.FLOATS:
            return list(a.floats)
        if a.type == AttributeProto.INTS:
            return list(a.ints)
        if a.type == AttributeProto.STRINGS:
            return [s.decode() for s in a.strings]
        raise ExportError(f"attribute type {a.type} not supported")

    # ---- helpers
    @staticmethod
    def _ints(t):
        return [int(v) for v in t.reshape(-1).tolist()]

    @staticmethod
    def _bin(fn):
        return lambda self, i, a, n: fn(i[0], i[1])

    # ---- element-wise
    def op_Add(self, i, a, n): return i[0] + i[1]
    def op_Sub(self, i, a, n): return i[0] - i[1]
    def op_Mul(self, i, a, n): return i[0] * i[1]

    def op_Div(self, i, a, n):
        if i[0].is_floating_point():
            return i[0] / i[1]
        return torch.div(i[0], i[1], rounding_mode="trunc")

    def op_Mod(self, i, a, n):
        return torch.fmod(i[0], i[1]) if a.get("fmod", 0) else torch.remainder(i[0], i[1])

    def op_Pow(self, i, a, n): return torch.pow(i[0], i[1].to(i[0].dtype) if i[0].is_floating_point() else i[1])
    def op_Sqrt(self, i, a, n): return torch.sqrt(i[0])
    def op_Exp(self, i, a, n): return torch.exp(i[0])
    def op_Log(self, i, a, n): return torch.log(i[0])
    def op_Sin(self, i, a, n): return torch.sin(i[0])
    def op_Cos(self, i, a, n): return torch.cos(i[0])
    def op_Abs(self, i, a, n): return torch.abs(i[0])
    def op_Neg(self, i, a, n): return -i[0]
    def op_Erf(self, i, a, n): return torch.erf(i[0])
    def op_Tanh(self, i, a, n): return torch.tanh(i[0])
    def op_Sigmoid(self, i, a, n): return torch.sigmoid(i[0])
    def op_Relu(self, i, a, n): return torch.relu(i[0])
    def op_Floor(self, i, a, n): return torch.floor(i[0])
    def op_Ceil(self, i, a, n): return torch.ceil(i[0])
    def op_Reciprocal(self, i, a, n): return torch.reciprocal(i[0])
    def op_Softplus(self, i, a, n): return F.softplus(i[0])
    def op_IsNaN(self, i, a, n): return torch.isnan(i[0])
    def op_IsInf(self, i, a, n): return torch.isinf(i[0])
    def op_Identity(self, i, a, n): return i[0]

    def op_LeakyRelu(self, i, a, n): return F.leaky_relu(i[0], a.get("alpha", 0.01))

    def op_HardSigmoid(self, i, a, n):
        return torch.clamp(a.get("alpha", 0.2) * i[0] + a.get("beta", 0.5), 0, 1)

    def op_Equal(self, i, a, n): return i[0] == i[1]
    def op_Less(self, i, a, n): return i[0] < i[1]
    def op_LessOrEqual(self, i, a, n): return i[0] <= i[1]
    def op_Greater(self, i, a, n): return i[0] > i[1]
    def op_GreaterOrEqual(self, i, a, n): return i[0] >= i[1]
    def op_And(self, i, a, n): return i[0] & i[1]
    def op_Or(self, i, a, n): return i[0] | i[1]
    def op_Not(self, i, a, n): return ~i[0]
    def op_Where(self, i, a, n): return torch.where(i[0].bool(), i[1], i[2])

    def op_Max(self, i, a, n):
        out = i[0]
        for t in i[1:]:
            out = torch.maximum(out, t)
        return out

    def op_Min(self, i, a, n):
        out = i[0]
        for t in i[1:]:
            out = torch.minimum(out, t)
        return out

    def op_Sum(self, i, a, n):
        out = i[0]
        for t in i[1:]:
            out = out + t
        return out

    def op_Clip(self, i, a, n):
        x = i[0]
        lo = i[1] if len(i) > 1 and i[1] is not None else a.get("min")
        hi = i[2] if len(i) > 2 and i[2] is not None else a.get("max")
        if lo is not None:
            x = torch.maximum(x, torch.as_tensor(lo, dtype=x.dtype))
        if hi is not None:
            x = torch.minimum(x, torch.as_tensor(hi, dtype=x.dtype))
        return x

    def op_Cast(self, i, a, n):
        return i[0].to(_ONNX_TO_TORCH[a["to"]])

    def op_CastLike(self, i, a, n):
        return i[0].to(i[1].dtype)

    def op_Dropout(self, i, a, n):
        return [i[0], torch.ones_like(i[0], dtype=torch.bool)][:n]

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


