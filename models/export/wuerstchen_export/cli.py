"""Command line of export_wuerstchen.py."""
import argparse
import os
import sys
import time

import torch

from .aa_check import check_aa_resize, print_aa_check
from .contract import DEFAULT_RTOL, ExportError, NETWORK_ORDER, log
from .cascade import cascade_dtypes, detect_family, export_cascade
from .driver import export_real
from .exporter import Exporter, _half_supported, _rtol_override, resolve_device
from .folder import print_disk_usage, set_index_aside, write_model_index

# ======================================================================================================
# Command line
# ======================================================================================================



def parse_args(argv):
    p = argparse.ArgumentParser(description="Export Würstchen v2 (diffusers) to the Wuerstchen.PowerShell ONNX model folder.")
    p.add_argument("--output", help="model folder to write (required unless --self-test)")
    p.add_argument("--prior-repo", default="warp-ai/wuerstchen-prior", help="Hub id or local folder of the prior pipeline")
    p.add_argument("--decoder-repo", default="warp-ai/wuerstchen", help="Hub id or local folder of the decoder pipeline")
    p.add_argument("--prior-subfolder", default="prior",
                   help="Stable Cascade: the prior's subfolder in --prior-repo (prior, or prior_lite for the lite prior)")
    p.add_argument("--decoder-subfolder", default="decoder",
                   help="Stable Cascade: the decoder's subfolder in --decoder-repo (decoder, or decoder_lite)")
    p.add_argument("--dtype", choices=["fp32", "fp16"], default="fp32", help="weight dtype of every network (default fp32)")
    for net, what in (("prior", "the prior"), ("decoder", "the decoder"), ("text-encoder", "both text encoders"),
                      ("vqgan", "the vqgan"), ("effnet", "the effnet")):
        p.add_argument(f"--{net}-dtype", choices=["fp32", "fp16"], help=f"override --dtype for {what}")
    p.add_argument("--fp16-mode", choices=["auto", "torch", "onnx"], default="auto",
                   help="how fp16 networks are made: torch (trace in float16, needs a GPU), onnx (trace in float32, "
                        "convert the ONNX graph; any machine); auto: torch where float16 kernels exist, else onnx")
    p.add_argument("--effnet-checkpoint", help="dome272/wuerstchen model_v2_stage_b.pt (its effnet_state_dict); optional")
    p.add_argument("--trust-effnet-checkpoint", action="store_true",
                   help="allow full unpickling of the effnet checkpoint when a weights-only load fails")
    p.add_argument("--parts", default="prior,decoder", help="comma list of halves to export: prior, decoder (default both)")
    p.add_argument("--name", default="wuerstchen-v2", help="model set name written to model_index.json")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17; 14-18 should work)")
    p.add_argument("--device", default="auto", help="torch device for export and reference runs (auto, cpu, cuda, cuda:1)")
    p.add_argument("--skip-validation", action="store_true", help="do not compare the ONNX files with PyTorch")
    p.add_argument("--validator", choices=["auto", "onnxruntime", "reference", "builtin"], default="auto",
                   help="ONNX runner for validation: onnxruntime, else onnx.reference, else the built-in interpreter")
    p.add_argument("--ort-provider", action="append", help="onnxruntime provider(s) for validation (default CPU; CUDA for fp16 on a GPU)")
    p.add_argument("--rtol", type=float, help="validation tolerance on max|onnx-torch|/max|torch| (default 1e-3 fp32, 3e-2 fp16)")
    p.add_argument("--external-data", choices=["auto", "always"],
                   default=(os.environ.get("WUERSTCHEN_EXPORT_EXTERNAL_DATA") or "auto").strip().lower(),
                   help="auto: weights in model.onnx.data for networks over 256 MiB; always: every network takes "
                        "that path (torch's one-file-per-tensor layout merged into model.onnx.data), to test it on small "
                        "networks (default from $WUERSTCHEN_EXPORT_EXTERNAL_DATA, else auto)")
    p.add_argument("--self-test", action="store_true", help="export + validate small stand-in networks (no download)")
    args = p.parse_args(argv)
    args.parts = [s.strip() for s in args.parts.split(",") if s.strip()]
    if any(s not in ("prior", "decoder") for s in args.parts):
        p.error("--parts takes prior and/or decoder")
    if args.external_data not in ("auto", "always"):
        p.error(f"--external-data (or $WUERSTCHEN_EXPORT_EXTERNAL_DATA) takes auto or always, not {args.external_data!r}")
    if args.validator == "builtin":
        args.validator = "interpreter"
    if not args.self_test and not args.output:
        p.error("--output is required (or use --self-test)")
    return args


def _output_folder(output):
    """The --output folder, created; an existing model_index.json set aside until the export completes."""
    out_dir = os.path.abspath(output)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ExportError(f"--output {output} is a file, not a folder: give a folder to write the model into")
    os.makedirs(out_dir, exist_ok=True)
    set_index_aside(out_dir)
    return out_dir


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_grad_enabled(False)
    if args.self_test:
        from .selftest.run import run_self_test
        return run_self_test(args)
    device = resolve_device(args.device)
    if detect_family(args) == "stable-cascade":
        return _main_cascade(args, device)
    dtypes = {"default": args.dtype}
    for n in NETWORK_ORDER:
        dtypes[n] = args.dtype
    for n, override in (("prior", args.prior_dtype), ("decoder", args.decoder_dtype), ("vqgan", args.vqgan_dtype),
                        ("effnet", args.effnet_dtype), ("prior_text_encoder", args.text_encoder_dtype),
                        ("decoder_text_encoder", args.text_encoder_dtype)):
        if override:
            dtypes[n] = override
    if args.dtype == "fp16" and not args.decoder_dtype:
        dtypes["decoder"] = "fp32"  # Würstchen decoder inputs of ±200 are reported to overflow float16
        log("decoder kept in fp32 (pass --decoder-dtype fp16 to convert it too)")
    fp16_nets = {n for n in NETWORK_ORDER if dtypes[n] == "fp16"}
    onnx_fp16 = set()
    if fp16_nets:
        mode = args.fp16_mode
        if mode == "auto":
            mode = "torch" if _half_supported(device) else "onnx"
        if mode == "torch" and not _half_supported(device):
            raise ExportError(f"--fp16-mode torch needs float16 kernels on the export device; torch {torch.__version__} "
                              f"on {device} has none. Use --fp16-mode onnx (works on any machine) or --device cuda.")
        if mode == "onnx":
            onnx_fp16 = fp16_nets
            log("float16: exported in fp32, then converted at the ONNX level: " + ", ".join(sorted(onnx_fp16)))
    out_dir = _output_folder(args.output)
    log(f"exporting to {out_dir} on {device}; dtypes: " + ", ".join(f"{k}={v}" for k, v in dtypes.items() if k != "default"))
    t0 = time.time()
    if not args.skip_validation:
        rows, backend, worst64 = check_aa_resize(args.validator, None, args.opset)
        print_aa_check(rows, backend, worst64)
        if max(max(r["eager_rel"], r["onnx_rel"]) for r in rows) > 1e-5:
            raise ExportError("the antialiased-bicubic replacement does not match torch on this installation")
    source = {"prior_repo": args.prior_repo if "prior" in args.parts else None,
              "decoder_repo": args.decoder_repo if "decoder" in args.parts else None,
              "effnet_checkpoint": os.path.basename(args.effnet_checkpoint) if args.effnet_checkpoint else None}
    exporter = Exporter(out_dir, args.opset, device, dtypes, not args.skip_validation, args.validator,
                        dict(DEFAULT_RTOL, **_rtol_override(args)), args.ort_provider,
                        {k: (v or "") for k, v in source.items()})
    exporter.onnx_fp16 = onnx_fp16
    exporter.external_mode = args.external_data
    constants = export_real(args, exporter)
    write_model_index(out_dir, args.name, constants, source, dtypes, exporter)
    print_disk_usage(out_dir)
    log(f"done in {time.time() - t0:.0f} s")
    fails = exporter.failures()
    if fails:
        for name, res in fails.items():
            log(f"VALIDATION FAILED for {name}: {res.get('error')}")
        return 1
    if args.skip_validation:
        log("validation skipped (--skip-validation)")
    else:
        log("all exported networks validated against PyTorch")
    return 0



def _main_cascade(args, device):
    """Stable Cascade (the family is told by the repos' model_index.json): same flags, same validation."""
    dtypes = cascade_dtypes(args)  # refusals before anything is written
    out_dir = _output_folder(args.output)
    log(f"Stable Cascade: exporting to {out_dir} on {device}")
    t0 = time.time()
    fails = export_cascade(args, out_dir, device, dtypes)
    print_disk_usage(out_dir)
    log(f"done in {time.time() - t0:.0f} s")
    for name, res in fails.items():
        log(f"VALIDATION FAILED for {name}: {res.get('error')}")
    if not fails:
        log("validation skipped (--skip-validation)" if args.skip_validation else "all exported networks validated against PyTorch")
    return 1 if fails else 0


def run(argv=None):
    """main() with export errors as one 'error:' line and exit code 2."""
    try:
        return main(argv)
    except ExportError as ex:
        print(f"error: {ex}", file=sys.stderr)
        return 2
