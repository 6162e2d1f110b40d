"""diffusers' side of the real-size comparison: load time of each pipeline, ms per prior and decoder step and the
process's peak resident memory, for one job of a realarch config, on the models the kit built (real widths).

    PYTHONPATH=<kit>/stubs:<kit>/vendor[:<kit>/fullsize] \
      [LD_LIBRARY_PATH=<OpenBLAS folder>] python3 tests/realsize/diffusers_steps.py <kit> CONFIG MODELS_DIR \
      [--width W --height H --prior-steps N --decoder-steps N --threads T]

Prints one line of JSON. Per step: the median interval between consecutive steps (steps 2..n: step 1 also encodes
the text), taken from diffusers' callback_on_step_end. Manual tool (the kit is not part of this repository)."""
import argparse
import json
import os
import statistics
import sys
import time


def rss(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    return 0


def blas():
    """Which BLAS torch's process has mapped (Debian's torch uses the reference BLAS unless OpenBLAS is on the path)."""
    with open("/proc/self/maps") as f:
        names = {os.path.basename(line.split()[-1]) for line in f if "blas" in line.lower() and "/" in line}
    return ", ".join(sorted(names)) or "unknown"


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("kit")
    p.add_argument("config")
    p.add_argument("models")
    p.add_argument("--width", type=int)
    p.add_argument("--height", type=int)
    p.add_argument("--prior-steps", type=int, default=3)
    p.add_argument("--decoder-steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    sys.path.insert(0, a.kit)
    import torch
    import reference as R  # the kit's: pipelines and keyword arguments exactly as its reference runs them

    torch.set_num_threads(a.threads)
    torch.set_grad_enabled(False)
    cfg = R.load_config(a.config)
    family = cfg["family"]
    name, job = next(iter(cfg["jobs"].items()))
    job = dict(job, prior_steps=a.prior_steps, decoder_steps=a.decoder_steps)
    job.pop("prior_timesteps", None)
    job.pop("decoder_timesteps", None)
    if a.width:
        job["width"] = a.width
    if a.height:
        job["height"] = a.height

    t0 = time.perf_counter()
    prior, decoder = R.load_pipelines(a.models, family)
    load_s = time.perf_counter() - t0
    after_load = rss("VmRSS:")
    stamps = {"prior": [], "decoder": []}

    def recorder(kind):
        def cb(pipe, i, t, kwargs):
            stamps[kind].append(time.perf_counter())
            return kwargs
        return cb

    g = torch.Generator("cpu").manual_seed(int(job["seed"]))
    t0 = time.perf_counter()
    emb = prior(generator=g, output_type="pt", callback_on_step_end=recorder("prior"), **R.prior_kwargs(job, family)).image_embeddings
    decoder(image_embeddings=emb, generator=g, output_type="np", callback_on_step_end=recorder("decoder"),
            **R.decoder_kwargs(job, family))
    total_s = time.perf_counter() - t0

    def per_step(ts):
        steps = [b - a for a, b in zip(ts, ts[1:])]
        return round(1000 * statistics.median(steps)) if steps else None

    print(json.dumps({"job": name, "family": family, "width": job["width"], "height": job["height"],
                      "prior_steps": a.prior_steps, "decoder_steps": a.decoder_steps, "threads": torch.get_num_threads(),
                      "blas": blas(), "load_s": round(load_s, 1), "rss_after_load_gb": round(after_load / 1e9, 2),
                      "prior_step_ms": per_step(stamps["prior"]), "decoder_step_ms": per_step(stamps["decoder"]),
                      "generation_s": round(total_s, 1), "peak_rss_gb": round(rss("VmHWM:") / 1e9, 2)}))


if __name__ == "__main__":
    main(sys.argv[1:])
