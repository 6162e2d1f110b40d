#!/usr/bin/env python3
"""Export Würstchen v2 (diffusers `warp-ai/wuerstchen-prior` + `warp-ai/wuerstchen`) to the ONNX model
folder that Wuerstchen.PowerShell reads (docs: shared spec `model-contract.md`; README.md next to this file).

    python3 models/export/export_wuerstchen.py --output DIR [--prior-repo warp-ai/wuerstchen-prior]
        [--decoder-repo warp-ai/wuerstchen] [--dtype fp32|fp16] [--decoder-dtype fp32|fp16]
        [--effnet-checkpoint model_v2_stage_b.pt] [--opset 17] [--skip-validation] [--self-test]

What it writes (names are binding, see the contract):
  prior_tokenizer/, decoder_tokenizer/      vocab.json, merges.txt, special_tokens_map.json (+ tokenizer_config.json)
  prior_text_encoder/model.onnx             input_ids, attention_mask (int64 [B,77]) -> last_hidden_state
  decoder_text_encoder/model.onnx           idem
  prior/model.onnx                          sample, timestep_ratio, clip_text -> out_sample
  decoder/model.onnx                        sample, timestep_ratio, effnet, clip_text -> out_sample
  vqgan/model.onnx                          sample (already x scale_factor) -> image (not clamped)
  effnet/model.onnx (optional)              image (ImageNet-normalised) -> image_embeddings
  model_index.json                          constants of the contract + provenance
Networks whose weights exceed ~1.8 GB keep them in model.onnx.data (one file, ONNX external data).

Graph inputs and outputs are always float32 (int64 for token ids); with fp16 the weights and the compute
are float16 inside the graph, with casts at the boundary. The timestep r-embedding (sin/cos of 10000*r) is
always computed in float32, and the decoder's antialiased-bicubic resize of the effnet map (which the
TorchScript ONNX exporter cannot export) is replaced during export by an exactly equivalent separable
matrix resize whose weights are computed in the graph from the dynamic sizes.

The code is the package wuerstchen_export/ next to this file (one module per concern; README.md lists them).

`--self-test` needs no download: it builds small stand-ins with the real forward signatures (tiny
diffusers / transformers models when those packages are importable, else small torch modules) and runs
the same export + validation path. It runs with only torch and onnx installed (e.g. Debian's
python3-torch and python3-onnx); validation then uses a built-in ONNX interpreter.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wuerstchen_export.cli import run  # noqa: E402

if __name__ == "__main__":
    sys.exit(run())
