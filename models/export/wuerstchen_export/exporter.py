"""The Exporter: wraps, exports and validates one network at a time."""
import os

import torch
import torch.nn.functional as F

from .contract import EXPORTER_VERSION, EXTERNAL_DATA_THRESHOLD, NETWORK_ORDER, log, torch_dtype
from .inputs import make_inputs
from .fp16 import convert_to_fp16
from .memory import measured, release_weights
from .onnx_io import export_network, write_onnx_model
from .patches import install_fp16_safety, install_fp32_r_embedding, pretranspose_linears
from .validation import _deterministic_torch, reference_outputs, validate_network
from .wrappers import plain_wrapper

# ======================================================================================================
# The export driver
# ======================================================================================================

class Exporter:
    def __init__(self, out_dir, opset, device, dtypes, validate, runner_kind, rtol, ort_providers, source):
        self.out_dir = os.path.abspath(out_dir)
        self.opset = opset
        self.device = device
        self.dtypes = dtypes            # network -> "fp32"/"fp16"
        self.validate = validate
        self.runner_kind = runner_kind
        self.rtol = rtol                # dtype -> tolerance
        self.ort_providers = ort_providers
        self.source = source
        self.results = {}
        self.networks = {}
        self.external_threshold = {}    # network -> bytes (self-test forces external data on some networks)
        self.figures = {}               # network -> seconds and peak memory (export + validation)
        self.external_mode = "auto"
        self.release_weights = True     # free each torch network once its ONNX file is written (memory.release_weights)     # "always": every network through the > 2 GB path (--external-data always)
        self.hidden = {}
        self.onnx_fp16 = set()          # fp16 networks traced in fp32 and converted in ONNX (no fp16 kernels needed)
        os.makedirs(self.out_dir, exist_ok=True)

    def _metadata(self, name):
        return {"wuerstchen.network": name, "wuerstchen.dtype": self.dtypes[name],
                "wuerstchen.exporter": f"export_wuerstchen.py {EXPORTER_VERSION}",
                "wuerstchen.source": self.source.get("prior_repo" if name.startswith("prior") else
                                                     "effnet_checkpoint" if name == "effnet" else "decoder_repo", "")}

    def trace_dtype(self, name):
        """fp32 for networks converted to float16 at the ONNX level (onnx_fp16), else the network's dtype."""
        return "fp32" if name in self.onnx_fp16 else self.dtypes[name]

    def wrap(self, name, module):
        """The export wrapper with the export patches installed (fp32 r-embedding, fp16-safe GRN)."""
        dt = torch_dtype(self.trace_dtype(name))
        module = module.to(device=self.device, dtype=dt).eval()
        if name in ("prior", "decoder"):
            install_fp32_r_embedding(module, dt)
            if dt == torch.float16:
                install_fp16_safety(module)
        return plain_wrapper(name, module, dt)

    def original_outputs(self, name, module, cases):
        """Outputs of the UNPATCHED module in float32 on the validation cases, computed before wrap() patches it,
        so that a wrong patch (r-embedding, resize, attention) cannot validate against itself."""
        if not self.validate:
            return None
        module = module.to(device=self.device, dtype=torch.float32).eval()
        wrapper = plain_wrapper(name, module, torch.float32)
        with torch.no_grad(), _deterministic_torch():
            return [wrapper(*(t.to(self.device) for t in case)).float().cpu().numpy() for case in cases]

    def export(self, name, module, dims):
        """Exports and validates one network; logs its peak resident memory and time (export + validation)."""
        with measured(name, self.figures, log) as phases:
            return self._export(name, module, dims, phases)

    def _export(self, name, module, dims, phases):
        dtype = self.dtypes[name]
        log(f"[{name}] exporting ({dtype}, opset {self.opset}, device {self.device})")
        example, cases = make_inputs(name, dims, seed=NETWORK_ORDER.index(name) + 7)
        original = self.original_outputs(name, module, cases)
        wrapper = self.wrap(name, module)
        expected = reference_outputs(wrapper, cases, self.device) if self.validate else None
        pretranspose_linears(wrapper)  # after the outputs: the export's peak stays near one copy of the weights
        path, info = export_network(name, wrapper, example, self.out_dir, self.opset, self.device,
                                    self._metadata(name), patch_resize=(name == "decoder"),
                                    external_threshold=self.external_threshold.get(name, EXTERNAL_DATA_THRESHOLD),
                                    external=self.external_mode)
        phases.mark("export")
        if self.release_weights:
            kept = release_weights(wrapper)  # validation and the float16 conversion then hold only the ONNX copy
            if kept:
                log(f"[{name}] {kept}")
        runner_kind = self.runner_kind
        if name in self.onnx_fp16:
            path, info["external_data"] = self._convert_fp16(name, path)
            # no runtime here executes float16 reliably on CPU: emulate it (each op in float32, rounded to float16)
            runner_kind = "interpreter" if runner_kind == "auto" else runner_kind
        entry = {"path": f"{name}/model.onnx", "dtype": dtype, "external_data": info["external_data"]}
        self.networks[name] = entry
        log(f"[{name}] written {entry['path']}" + (" (+ model.onnx.data)" if info["external_data"] else "")
            + f" in {info['export_seconds']} s"
            + (f"; {info['aa_bicubic_resizes_replaced']} AA-bicubic resizes replaced" if "aa_bicubic_resizes_replaced" in info else "")
            + (f"; {info['attention_processors_replaced']} diffusers attention processors swapped for export"
               if info.get("attention_processors_replaced") else ""))
        if self.validate:
            providers = self.ort_providers or (["CUDAExecutionProvider", "CPUExecutionProvider"]
                                               if dtype == "fp16" and str(self.device).startswith("cuda")
                                               else ["CPUExecutionProvider"])
            res = validate_network(name, wrapper, path, cases, self.device, self.rtol[dtype], runner_kind, providers,
                                  original=original, expected=expected)
            phases.mark("validation")
            self.results[name] = res
            if "max_abs" in res:
                entry["validation"] = {"max_abs": float(f"{res['max_abs']:.3e}"), "rel": float(f"{res['rel']:.3e}"),
                                       "backend": res.get("backend", "")}
            status = "ok" if res["ok"] else "FAILED"
            extra = f", mask effect {res['mask_effect']:.2e}" if "mask_effect" in res else ""
            if "original_rel" in res:
                extra += f", vs the unpatched module rel {res['original_rel']:.3e}"
            if "note" in res:
                extra += f"; {res['note']}"
            if "max_abs" in res:
                log(f"[{name}] validation {status}: max abs error {res['max_abs']:.3e}, relative {res['rel']:.3e}"
                    f" over {len(res['cases'])} input sets{extra} ({res.get('backend', '')})")
            if not res["ok"]:
                log(f"[{name}] validation FAILED: {res.get('error')}")
        del wrapper
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return path

    def _convert_fp16(self, name, path):
        """Rewrites name/model.onnx (fp32) as float16 with fp32 islands; weights > threshold go to external data."""
        import onnx
        model = onnx.load(path)
        meta = dict(self._metadata(name), **{"wuerstchen.fp16": "onnx-level conversion with fp32 islands"})
        converted = convert_to_fp16(model)
        del model
        log(f"[{name}] converted to float16 at the ONNX level (fp32 islands: r-embedding, norm statistics, softmax)")
        threshold = 0 if self.external_mode == "always" else self.external_threshold.get(name, EXTERNAL_DATA_THRESHOLD)
        return write_onnx_model(converted, os.path.dirname(path), meta, threshold)

    def failures(self):
        return {k: v for k, v in self.results.items() if not v["ok"]}


def resolve_device(name):
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _rtol_override(args):
    return {"fp32": args.rtol, "fp16": args.rtol} if args.rtol else {}


def _half_supported(device):
    try:
        x = torch.randn(1, 4, 8, 8, device=device).half()
        F.conv2d(x, torch.randn(4, 1, 3, 3, device=device).half(), groups=4)
        F.layer_norm(x, (8,))
        F.gelu(F.linear(x, torch.randn(8, 8, device=device).half()))
        torch.softmax(x, -1)
        return True
    except Exception:
        return False
