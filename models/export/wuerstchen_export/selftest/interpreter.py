"""A small ONNX interpreter on torch CPU kernels (validation where no ONNX runtime is installed)."""

import os
import warnings

import numpy as np
import torch

from ..contract import ExportError
from .ops_elementwise import _ONNX_TO_TORCH, ElementwiseOps  # noqa: F401 (_ONNX_TO_TORCH: kept importable from here)
from .ops_linalg import LinalgOps
from .ops_shape import ShapeOps

# ======================================================================================================
# Running ONNX models: onnxruntime, else onnx.reference, else the built-in torch-backed interpreter
# ======================================================================================================


def _onnx_np_dtype(elem):
    return {1: np.float32, 10: np.float16, 11: np.float64, 7: np.int64, 6: np.int32, 9: np.bool_}.get(elem)


class OnnxInterpreter(ElementwiseOps, ShapeOps, LinalgOps):
    """A small ONNX interpreter (opsets 13-18 semantics of the operators the TorchScript exporter emits for
    these networks), executing each node with torch CPU kernels. Float16 nodes are computed in float32 and
    rounded back to float16 (what onnxruntime's CPU provider does for operators without fp16 kernels).
    Used to validate exports where neither onnxruntime nor onnx.reference is available. The operators (op_<OpType>)
    come from the mixins of ops_elementwise, ops_shape and ops_linalg."""

    UPCAST = {"Conv", "ConvTranspose", "MatMul", "Gemm", "LayerNormalization", "BatchNormalization", "Softmax",
              "Erf", "Tanh", "Sigmoid", "Exp", "Log", "Sin", "Cos", "Sqrt", "Pow", "ReduceMean", "ReduceSum",
              "ReduceL2", "ReduceMax", "ReduceMin", "Einsum", "Div", "Mul", "Add", "Sub", "Reciprocal",
              "LeakyRelu", "Relu", "Abs", "Neg", "CumSum", "Clip", "Max", "Min", "Floor", "Ceil", "Where", "Pad",
              "Resize", "GlobalAveragePool", "HardSigmoid", "Softplus", "Mod"}

    def __init__(self, path_or_model):
        import onnx
        from onnx import numpy_helper
        base = None
        if isinstance(path_or_model, str):
            # external data is memory-mapped, not loaded: a multi-GB network is validated with one (file-backed) copy
            model, base = onnx.load(path_or_model, load_external_data=False), os.path.dirname(os.path.abspath(path_or_model))
        else:
            model = path_or_model
        self.model = model
        self.graph = model.graph
        self.opset = max([o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] or [17])
        self.consts = {t.name: self._initializer(t, base, numpy_helper) for t in self.graph.initializer}
        self.inputs = [i for i in self.graph.input if i.name not in self.consts]
        self.output_names = [o.name for o in self.graph.output]
        self._numpy_helper = numpy_helper

    @staticmethod
    def _initializer(t, base, numpy_helper):
        import onnx
        if t.data_location != onnx.TensorProto.EXTERNAL or base is None:
            arr = numpy_helper.to_array(t)
            if not arr.flags.writeable or not arr.flags.c_contiguous:
                arr = np.array(arr)
            if base is not None:
                t.ClearField("raw_data")  # a model this interpreter loaded: the array holds the values now, one copy
            return torch.from_numpy(arr)
        info = {e.key: e.value for e in t.external_data}
        dtype, shape = _onnx_np_dtype(t.data_type), tuple(int(d) for d in t.dims)
        if dtype is None:
            raise ExportError(f"initializer {t.name}: element type {t.data_type} is not supported")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count == 0:
            return torch.from_numpy(np.zeros(shape, dtype=dtype))
        data = np.memmap(os.path.join(base, info["location"]), dtype=dtype, mode="r", offset=int(info.get("offset", 0)),
                         shape=(count,))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # read-only: the operators never write into their inputs
            return torch.from_numpy(data).reshape(shape)

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
