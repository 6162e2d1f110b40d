"""Model-folder files besides the networks: tokenizers, model_index.json, disk usage."""
import json
import os
import shutil
import sys
import tempfile

import torch

from .contract import CONTRACT_DEFAULTS, EXPORTER_VERSION, ExportError, MAX_LENGTH, log

def save_tokenizer(tokenizer, folder):
    """vocab.json + merges.txt + special_tokens_map.json (+ tokenizer_config.json) from a HF CLIP tokenizer."""
    os.makedirs(folder, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=".tok-")
    try:
        tokenizer.save_pretrained(scratch)
        wanted = ["vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json"]
        for f in wanted:
            src = os.path.join(scratch, f)
            if os.path.exists(src):
                shutil.copy(src, os.path.join(folder, f))
        for f in ("vocab.json", "merges.txt"):
            if not os.path.exists(os.path.join(folder, f)):
                raise ExportError(f"the tokenizer did not save {f} (a CLIP BPE tokenizer is expected)")
        special_map = os.path.join(folder, "special_tokens_map.json")
        if not os.path.exists(special_map):  # newer transformers may not write it
            special = {k: str(getattr(tokenizer, k)) for k in ("bos_token", "eos_token", "pad_token", "unk_token")
                       if getattr(tokenizer, k, None) is not None}
            with open(special_map, "w", encoding="utf-8") as f:
                json.dump(special, f, indent=2)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    ids = tokenizer("", padding="max_length", max_length=MAX_LENGTH, truncation=True)["input_ids"]
    info = {"bos_token_id": int(tokenizer.bos_token_id), "eos_token_id": int(tokenizer.eos_token_id),
            "pad_token_id": int(tokenizer.pad_token_id), "model_max_length": int(tokenizer.model_max_length),
            "empty_prompt_ids": [int(v) for v in ids[:4]]}
    return info


def _previous_index(path):
    """The folder's model_index.json from an earlier run (--parts prior, then --parts decoder), or None."""
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except (OSError, ValueError):
        return None
    return index if isinstance(index, dict) and index.get("format") == "wuerstchen-onnx" else None


def merge_index(previous, index, read, weak):
    """index (this run) merged over previous: networks, dtypes and sources of both halves; constants this run did not
    read from a pipeline keep the previous value; weak ones (the decoder's scheduler) yield to a previous prior's."""
    had_prior = any(str(n).startswith("prior") for n in previous.get("networks", {}))
    for key, value in previous.items():
        if key in CONTRACT_DEFAULTS and (key not in read or (key in weak and had_prior)):
            index[key] = value
    if "feature_extractor" in previous and "feature_extractor" not in index:
        index["feature_extractor"] = previous["feature_extractor"]  # a decoder-only run keeps the prior half's image settings
    for key in ("networks", "network_dtypes"):
        merged = dict(previous.get(key) or {})
        merged.update(index.get(key) or {})
        index[key] = merged
    source = dict(previous.get("source") or {})
    source.update({k: v for k, v in (index.get("source") or {}).items() if v})
    index["source"] = source
    return index


ASIDE = ".model_index.json.previous"


def set_index_aside(out_dir):
    """At the start of an export into a folder that holds one: its model_index.json moves aside (write_model_index still
    merges it), so that an export stopped half way leaves a folder the module refuses ("no model_index.json") instead of
    old and new networks under an index that calls them whole. A copy left by an earlier stopped run is kept."""
    path, aside = os.path.join(out_dir, "model_index.json"), os.path.join(out_dir, ASIDE)
    if os.path.isfile(path):
        if os.path.exists(aside):
            os.remove(path)
        else:
            os.replace(path, aside)


def write_model_index(out_dir, name, constants, source, dtypes, exporter, version="2.0"):
    index = {"name": name, "version": version, "format": "wuerstchen-onnx", "exporter_version": EXPORTER_VERSION}
    index.update(constants)
    index["dtype"] = dtypes.get("default", "fp32")
    index["network_dtypes"] = {k: v for k, v in dtypes.items() if k != "default" and k in exporter.networks}
    index["source"] = source
    index["opset"] = exporter.opset
    index["networks"] = exporter.networks
    index["tools"] = _versions()
    path = os.path.join(out_dir, "model_index.json")
    previous = _previous_index(path) or _previous_index(os.path.join(out_dir, ASIDE))
    if previous is not None:
        index = merge_index(previous, index, getattr(exporter, "constants_read", set(CONTRACT_DEFAULTS)),
                            getattr(exporter, "constants_weak", set()))
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
    if os.path.exists(os.path.join(out_dir, ASIDE)):
        os.remove(os.path.join(out_dir, ASIDE))
    return path


def _versions():
    v = {"python": sys.version.split()[0], "torch": torch.__version__}
    for mod in ("onnx", "onnxruntime", "diffusers", "transformers", "torchvision"):
        try:
            v[mod] = __import__(mod).__version__
        except Exception:
            pass
    return v


def _human(n):
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


def print_disk_usage(out_dir):
    log(f"written to {out_dir}:")
    total = 0
    for entry in sorted(os.listdir(out_dir)):
        p = os.path.join(out_dir, entry)
        if entry.startswith("."):
            continue
        if os.path.isdir(p):
            size = 0
            for root, _, files in os.walk(p):
                size += sum(os.path.getsize(os.path.join(root, f)) for f in files)
            files = ", ".join(sorted(os.listdir(p)))
            log(f"  {entry + '/':<24} {_human(size):>10}   ({files})")
        else:
            size = os.path.getsize(p)
            log(f"  {entry:<24} {_human(size):>10}")
        total += size
    log(f"  {'total':<24} {_human(total):>10}")
    return total


