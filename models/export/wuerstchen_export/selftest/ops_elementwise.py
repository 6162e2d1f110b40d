"""Element-wise, comparison and cast operators of the built-in ONNX interpreter."""

import torch
import torch.nn.functional as F

from .ops_base import OpsBase

_ONNX_TO_TORCH = {1: torch.float32, 2: torch.uint8, 3: torch.int8, 5: torch.int16, 6: torch.int32, 7: torch.int64,
                  9: torch.bool, 10: torch.float16, 11: torch.float64, 16: torch.bfloat16}


class ElementwiseOps(OpsBase):
    """Element-wise arithmetic and activations, comparisons and logic, variadic Max/Min/Sum, Clip, casts."""

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
