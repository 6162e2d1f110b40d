"""Validation of an exported network against PyTorch."""
import contextlib

import numpy as np
import torch

from .contract import IO
from .runners import onnx_runner

# ======================================================================================================
# Validation
# ======================================================================================================

def _compare(got, ref, rtol=None):
    """max |got - ref|, relative = that / max |ref|; n_over = elements whose error exceeds rtol * max |ref|."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape:
        return {"shape_mismatch": [list(got.shape), list(ref.shape)], "max_abs": float("inf"), "rel": float("inf"),
                "n": int(ref.size), "n_over": int(ref.size)}
    finite = bool(np.isfinite(got).all())
    diff = np.abs(got - ref)
    max_abs = float(np.nanmax(diff)) if diff.size else 0.0
    scale = float(np.nanmax(np.abs(ref))) if ref.size else 0.0
    rel = max_abs / scale if scale > 0 else max_abs
    out = {"max_abs": max_abs, "rel": rel, "ref_max": scale, "finite": finite, "n": int(ref.size)}
    if rtol is not None:
        out["n_over"] = int(np.count_nonzero(~(diff <= rtol * scale)))
    if not finite:
        out["max_abs"], out["rel"] = float("inf"), float("inf")
    return out


def _check_declared_io(name, path):
    """Names, element types and the dynamic (symbolic) axes of the exported graph."""
    import onnx
    model = onnx.load(path, load_external_data=False)
    input_names, output_names, axes = IO[name]
    problems = []
    got_in = [i.name for i in model.graph.input]
    got_out = [o.name for o in model.graph.output]
    if got_in != input_names:
        problems.append(f"inputs {got_in} != {input_names}")
    if got_out != output_names:
        problems.append(f"outputs {got_out} != {output_names}")
    for vi in list(model.graph.input) + list(model.graph.output):
        tt = vi.type.tensor_type
        want = 7 if vi.name in ("input_ids", "attention_mask") else 1
        if tt.elem_type != want:
            problems.append(f"{vi.name}: element type {tt.elem_type}, expected {want}")
        for ax in axes.get(vi.name, {}):
            d = tt.shape.dim[ax] if ax < len(tt.shape.dim) else None
            if d is None or d.HasField("dim_value"):
                problems.append(f"{vi.name}: axis {ax} is not dynamic")
    return problems


def reference_outputs(wrapper, cases, device):
    """The wrapper's outputs on the validation cases (float32 numpy), computed before the export so that the torch
    weights can be released once the ONNX file is written."""
    with torch.no_grad(), _deterministic_torch():
        return [wrapper(*(t.to(device) for t in case)).float().cpu().numpy() for case in cases]


def validate_network(name, wrapper, path, cases, device, rtol, runner_kind="auto", providers=None, original=None,
                     expected=None):
    """The ONNX file against the patched wrapper it was exported from (its outputs given as expected, else the wrapper
    is run) and, when given, against the outputs of the unpatched module (float32, the same cases): the export patches
    must not change what the network computes."""
    result = {"network": name, "ok": False, "cases": []}
    problems = _check_declared_io(name, path)
    if problems:
        result["error"] = "; ".join(problems)
        return result
    try:
        run, backend = onnx_runner(path, runner_kind, providers)
    except Exception as ex:
        result["error"] = f"could not load the model for validation: {type(ex).__name__}: {ex}"
        return result
    result["backend"] = backend
    input_names, output_names, _ = IO[name]
    worst = {"max_abs": 0.0, "rel": 0.0}
    with torch.no_grad(), _deterministic_torch():
        for k, case in enumerate(cases):
            ref = expected[k] if expected is not None else wrapper(*(t.to(device) for t in case)).float().cpu().numpy()
            feeds = {n: t.numpy() for n, t in zip(input_names, case)}
            try:
                got = run(feeds)[output_names[0]]
            except Exception as ex:
                result["error"] = f"inference failed for shapes {[list(t.shape) for t in case]}: {type(ex).__name__}: {ex}"
                return result
            cmp = _compare(got, ref, rtol)
            cmp["shapes"] = [list(t.shape) for t in case]
            if original is not None:
                orig = _compare(got, original[len(result["cases"])], rtol)
                cmp["original_rel"] = orig["rel"]
                cmp["original_max_abs"] = orig["max_abs"]
                cmp["original_n_over"] = orig.get("n_over", 0)
            result["cases"].append(cmp)
            worst["max_abs"] = max(worst["max_abs"], cmp["max_abs"])
            worst["rel"] = max(worst["rel"], cmp["rel"])
        if name.endswith("text_encoder"):
            # the mask must reach the network: padded positions change when the mask does
            ids, mask = cases[0]
            a = run({"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[output_names[0]]
            b = run({"input_ids": ids.numpy(), "attention_mask": np.ones_like(mask.numpy())})[output_names[0]]
            effect = float(np.abs(a.astype(np.float64) - b).max())
            result["mask_effect"] = effect
            if not effect > 1e-6:
                result["error"] = "attention_mask has no effect on last_hidden_state (mask not applied)"
                result.update(worst)
                return result
    result.update(worst)
    n_total = sum(c["n"] for c in result["cases"])
    if original is not None:
        o_rel = max(c["original_rel"] for c in result["cases"])
        o_abs = max(c["original_max_abs"] for c in result["cases"])
        o_over = sum(c["original_n_over"] for c in result["cases"])
        result["original_rel"] = o_rel
        # the same allowance for isolated head-amplified elements as below
        isolated = name in ("prior", "decoder") and o_rel <= 10 * rtol and o_over <= max(2, int(1e-4 * n_total))
        if not (o_rel <= rtol or isolated):
            result["error"] = (f"the export differs from the unpatched {type(wrapper).__name__} module (float32): max abs "
                               f"error {o_abs:.3g}, relative {o_rel:.3g} (tolerance {rtol:g}; {o_over} of {n_total} "
                               "values above it): an export patch changes what the network computes")
            return result
    n_over = sum(c.get("n_over", 0) for c in result["cases"])
    result["n_over"] = n_over
    if worst["rel"] <= rtol:
        result["ok"] = True
        return result
    # The prior's head divides by |1 - b| + 1e-5 and the decoder's by sigmoid(b)*0.998 + 0.001: where the
    # denominator is tiny, float32 rounding is amplified at single elements. Tolerate a few such isolated
    # elements (at most 1e-4 of the outputs, max 2 if fewer) as long as they stay within 10x the tolerance.
    if name in ("prior", "decoder") and worst["rel"] <= 10 * rtol and n_over <= max(2, int(1e-4 * n_total)):
        result["ok"] = True
        result["note"] = f"{n_over} isolated element(s) of {n_total} above the tolerance (amplified by the output head)"
        return result
    result["error"] = (f"max abs error {worst['max_abs']:.3g}, relative error {worst['rel']:.3g} "
                       f"(tolerance {rtol:g}; {n_over} of {n_total} values above it)")
    return result


@contextlib.contextmanager
def _deterministic_torch():
    """Reference runs in true float32 (no TF32 on Ampere+ GPUs)."""
    saved = []
    if torch.cuda.is_available():
        saved = [torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32]
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        if saved:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


