"""Running ONNX models: onnxruntime, else onnx.reference, else the built-in torch-backed interpreter."""

from .contract import ExportError
from .selftest.interpreter import OnnxInterpreter

def onnx_runner(path, kind="auto", providers=None):
    """Returns (callable(feeds) -> {output: array}, backend description)."""
    if kind in ("auto", "onnxruntime"):
        try:
            import onnxruntime as ort
        except ImportError:
            if kind == "onnxruntime":
                raise ExportError("onnxruntime is not importable")
        else:
            so = ort.SessionOptions()
            so.log_severity_level = 3
            avail = ort.get_available_providers()
            prov = [p for p in (providers or ["CPUExecutionProvider"]) if p in avail] or ["CPUExecutionProvider"]
            sess = ort.InferenceSession(path, so, providers=prov)
            names = [o.name for o in sess.get_outputs()]

            def run_ort(feeds):
                return dict(zip(names, sess.run(names, feeds)))
            return run_ort, f"onnxruntime {ort.__version__} ({prov[0]})"
    if kind in ("auto", "reference"):
        try:
            from onnx.reference import ReferenceEvaluator
        except ImportError:
            if kind == "reference":
                raise ExportError("onnx.reference is not available (onnx >= 1.13 needed)")
        else:
            import onnx
            model = onnx.load(path)
            ev = ReferenceEvaluator(model)
            names = [o.name for o in model.graph.output]

            def run_ref(feeds):
                return dict(zip(names, ev.run(None, feeds)))
            return run_ref, f"onnx.reference.ReferenceEvaluator (onnx {onnx.__version__})"
    interp = OnnxInterpreter(path)
    return interp.run, "built-in ONNX interpreter (torch CPU kernels)"


