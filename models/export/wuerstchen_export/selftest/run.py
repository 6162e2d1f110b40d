"""The self-test: export + validate small stand-ins of every network, plus negative controls."""
import argparse
import copy
import json
import os
import shutil
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

from ..aa_check import check_aa_resize, print_aa_check
from ..contract import CONTRACT_DEFAULTS, DEFAULT_RTOL, IO, NETWORK_ORDER, log
from ..driver import export_real
from ..exporter import Exporter, _half_supported, _rtol_override, resolve_device
from ..folder import _versions, print_disk_usage, write_model_index
from ..inputs import make_inputs
from ..onnx_io import split_like_torch, write_onnx_model_streaming
from ..patches import install_fp32_r_embedding
from ..runners import onnx_runner
from ..selftest.standins import StandinPrior, _Out, _standin_loaders, build_standins
from ..validation import validate_network

def _write_effnet_checkpoint(encoder, path):
    """A checkpoint shaped like model_v2_stage_b.pt: the encoder's weights under 'effnet_state_dict'."""
    torch.save({"effnet_state_dict": encoder.state_dict(), "generator_state_dict": {}, "step": 0}, path)




def check_folder_layout(out_dir, networks):
    problems = []
    for name in networks:
        if not os.path.exists(os.path.join(out_dir, name, "model.onnx")):
            problems.append(f"{name}/model.onnx missing")
        extra = sorted(set(os.listdir(os.path.join(out_dir, name))) - {"model.onnx", "model.onnx.data"}) \
            if os.path.isdir(os.path.join(out_dir, name)) else []
        if extra:
            problems.append(f"{name}/ holds unexpected files {extra[:5]}")
    for tok in ("prior_tokenizer", "decoder_tokenizer"):
        for f in ("vocab.json", "merges.txt"):
            if not os.path.exists(os.path.join(out_dir, tok, f)):
                problems.append(f"{tok}/{f} missing")
    try:
        with open(os.path.join(out_dir, "model_index.json"), encoding="utf-8") as f:
            idx = json.load(f)
        for k in CONTRACT_DEFAULTS:
            if not isinstance(idx.get(k), (int, float)):
                problems.append(f"model_index.json: {k} missing")
        if os.path.getsize(os.path.join(out_dir, "model_index.json")) > 1 << 20:
            problems.append("model_index.json larger than 1 MiB")
    except Exception as ex:
        problems.append(f"model_index.json unreadable: {ex}")
    return problems


def _check_validator_catches_errors(exporter, nets, dims):
    """Negative control: perturbing the weights by ~2% must make validation fail."""
    name = "vqgan"
    wrapper = exporter.wrap(name, copy.deepcopy(nets[name]))
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in wrapper.parameters():
            p.add_(0.02 * p.detach().abs().mean() * torch.randn(p.shape, generator=g).to(p.device, p.dtype))
    _, cases = make_inputs(name, dims, seed=NETWORK_ORDER.index(name) + 7)
    res = validate_network(name, wrapper, os.path.join(exporter.out_dir, name, "model.onnx"), cases, exporter.device,
                           exporter.rtol["fp32"], exporter.runner_kind)
    return (not res["ok"]), res


def _check_streaming_writer(folder, runner_kind, dims):
    """The >2 GB path (torch writes one file per tensor, Constant-node attributes included; we merge them into
    model.onnx.data without loading them) on a small model: re-save the prior (its LayerNorms without affine
    export Constant nodes) in that layout, merge, and compare outputs."""
    work = tempfile.mkdtemp(prefix="stream-check-")
    try:
        inline = os.path.join(folder, "prior", "model.onnx")
        split = split_like_torch(inline, os.path.join(work, "split"))
        n_files = len(os.listdir(os.path.join(work, "split"))) - 1
        path, _ = write_onnx_model_streaming(split, os.path.join(work, "split"), os.path.join(work, "merged"), {"check": "1"})
        files = sorted(os.listdir(os.path.dirname(path)))
        _, cases = make_inputs("prior", dims, seed=3)
        feeds = dict(zip(IO["prior"][0], (t.numpy() for t in cases[0])))
        a = onnx_runner(inline, runner_kind)[0](feeds)
        b = onnx_runner(path, runner_kind)[0](feeds)
        same = files == ["model.onnx", "model.onnx.data"] and all(np.array_equal(a[k], b[k]) for k in a)
        return same, n_files, files
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _r_embedding_check():
    """The float32 r-embedding patch equals the original formula run in float32; for information, how far an
    r*10000 rounded to float16 (what a plain fp16 run of diffusers does) is from the float64 value."""
    m = StandinPrior()
    r = torch.tensor([0.0, 0.0123, 0.5, 0.987654, 1.0], dtype=torch.float32)
    original = StandinPrior.gen_r_embedding(_Out(c_r=64), r)
    install_fp32_r_embedding(m, torch.float32)
    patched = m.gen_r_embedding(r)
    exact = StandinPrior.gen_r_embedding(_Out(c_r=64), r.double())
    # fp16 emulation: r and r*10000 rounded to float16, the rest exact
    r16 = (r.half().double() * 10000).half().double() / 10000
    garbled = StandinPrior.gen_r_embedding(_Out(c_r=64), r16)
    return float((patched - original).abs().max()), float((garbled - exact).abs().max()), \
        float((patched.double() - exact).abs().max())


def run_self_test(args):
    t_start = time.time()
    out_dir = args.output or tempfile.mkdtemp(prefix="wuerstchen-selftest-")
    os.makedirs(out_dir, exist_ok=True)
    device = resolve_device(args.device)
    log(f"self-test: torch {torch.__version__}, {_versions()}, device {device}, output {out_dir}")
    ok = True
    summary = []

    rows, backend, worst64 = check_aa_resize(args.validator, None, args.opset)
    print_aa_check(rows, backend, worst64)
    aa_worst = max(max(r["eager_rel"], r["onnx_rel"]) for r in rows)
    aa_ok = aa_worst < 1e-5 and worst64 < 1e-10
    ok &= aa_ok
    summary.append(f"AA-resize: worst relative error {aa_worst:.1e} (float32), {worst64:.1e} abs (float64): "
                   + ("ok" if aa_ok else "FAILED"))

    r_err, r16_err, r32_err = _r_embedding_check()
    r_ok = r_err < 1e-6
    ok &= r_ok
    summary.append(f"r-embedding patch vs the original formula (float32): max abs diff {r_err:.1e}: " + ("ok" if r_ok else "FAILED")
                   + f" [info: vs float64 it is off by {r32_err:.1e}; with r*10000 rounded to float16 by {r16_err:.2f}]")

    kinds = {}
    nets, dims, backbone_factory = build_standins(kinds)
    for name in NETWORK_ORDER:
        log(f"  {name}: {kinds[name]}")
    fd, checkpoint = tempfile.mkstemp(prefix="selftest-effnet-", suffix=".pt")
    os.close(fd)
    _write_effnet_checkpoint(nets["effnet"], checkpoint)
    control = copy.deepcopy(nets)  # the export releases each network's weights; the checks below need live ones

    variants = [("fp32", out_dir), ("fp16", os.path.join(out_dir, "fp16"))]
    onnx_level = not _half_supported(device)
    if onnx_level:
        summary.append(f"fp16 variant: torch {torch.__version__} on {device} has no float16 kernels: ONNX-level conversion "
                       "(fp32 islands), validated by float16 emulation (each op in float32, rounded to float16)")
    for dtype, folder in variants:
        dtypes = {n: dtype for n in NETWORK_ORDER}
        dtypes["default"] = dtype
        run_args = argparse.Namespace(parts=["prior", "decoder"], prior_repo="self-test/prior", decoder_repo="self-test/decoder",
                                      effnet_checkpoint=checkpoint, trust_effnet_checkpoint=False)
        source = {"prior_repo": "self-test stand-ins", "decoder_repo": "self-test stand-ins",
                  "effnet_checkpoint": "self-test stand-in", "self_test": True, "stand_ins": kinds}
        exporter = Exporter(folder, args.opset, device, dtypes, True, args.validator, dict(DEFAULT_RTOL, **_rtol_override(args)),
                            args.ort_provider, {k: v for k, v in source.items() if isinstance(v, str)})
        # the real prior, decoder and bigG text encoder exceed 2 GB: exercise the external-data path on them
        exporter.external_threshold = {"prior_text_encoder": 0, "prior": 0, "decoder": 0}
        exporter.external_mode = getattr(args, "external_data", "auto")
        if dtype == "fp16" and onnx_level:
            exporter.onnx_fp16 = set(NETWORK_ORDER)
        load_prior, load_decoder = _standin_loaders(copy.deepcopy(control))
        constants = export_real(run_args, exporter, load_prior, load_decoder, backbone_factory)
        write_model_index(folder, "wuerstchen-selftest", constants, source, dtypes, exporter)
        fails = exporter.failures()
        layout = check_folder_layout(folder, NETWORK_ORDER)
        for name in NETWORK_ORDER:
            res = exporter.results.get(name, {"ok": False, "error": "not exported"})
            line = f"{dtype} {name:<22} "
            if "max_abs" in res:
                line += f"max abs {res['max_abs']:.2e}  rel {res['rel']:.2e}"
            if "mask_effect" in res:
                line += f"  mask effect {res['mask_effect']:.2e}"
            line += ("  ok" + (f" ({res['note']})" if "note" in res else "")) if res["ok"] else f"  FAILED: {res.get('error')}"
            summary.append(line)
        if layout:
            summary.append(f"{dtype} folder layout problems: {layout}")
        ok &= not fails and not layout and all(n in exporter.results for n in NETWORK_ORDER)
        if dtype == "fp32":
            caught, res = _check_validator_catches_errors(exporter, control, dims)
            summary.append("negative control (vqgan weights perturbed by 2% must fail validation): "
                           + (f"caught, rel error {res.get('rel', float('nan')):.2e}" if caught else "NOT caught"))
            ok &= caught
            same, n_files, files = _check_streaming_writer(folder, args.validator, dims)
            summary.append(f"external-data merge (torch's one-file-per-tensor output -> model.onnx.data): {n_files} files"
                           f" -> {files}, outputs " + ("identical: ok" if same else "DIFFER: FAILED"))
            ok &= same
            print_disk_usage(folder)
    os.remove(checkpoint)
    log("")
    log("self-test summary:")
    for line in summary:
        log("  " + line)
    log(f"self-test {'PASSED' if ok else 'FAILED'} in {time.time() - t_start:.0f} s")
    if not args.output:
        shutil.rmtree(out_dir, ignore_errors=True)
    return 0 if ok else 1


