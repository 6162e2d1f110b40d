"""The helpers the built-in ONNX interpreter's operator groups (ops_*.py) share."""


class OpsBase:
    """Base of the operator mixins of OnnxInterpreter (interpreter.py): an op_<OpType>(self, inputs, attributes,
    output_count) method per ONNX operator, the inputs as torch tensors (None for an omitted optional input)."""

    # ---- helpers
    @staticmethod
    def _ints(t):
        return [int(v) for v in t.reshape(-1).tolist()]

    @staticmethod
    def _bin(fn):
        return lambda self, i, a, n: fn(i[0], i[1])
