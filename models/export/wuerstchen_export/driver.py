"""The export driver for real diffusers pipelines."""
import os

import torch

from .contract import CONTRACT_DEFAULTS, ExportError, MAX_LENGTH, log
from .folder import save_tokenizer
from .wrappers import load_effnet_checkpoint

# ======================================================================================================
# Real models (diffusers pipelines)
# ======================================================================================================

def _load_text_encoder(repo):
    """CLIPTextModel with eager attention (plain MatMul/Softmax in the graph, the padding mask always applied)."""
    from transformers import CLIPTextModel
    try:
        model = CLIPTextModel.from_pretrained(repo, subfolder="text_encoder", attn_implementation="eager")
    except (TypeError, ValueError):
        model = CLIPTextModel.from_pretrained(repo, subfolder="text_encoder")
        try:
            model.config._attn_implementation = "eager"
        except Exception:
            pass
    return model.float().eval()


def load_diffusers_pipelines():
    """(load_prior(repo), load_decoder(repo)) built on diffusers' WuerstchenPriorPipeline / WuerstchenDecoderPipeline."""
    try:
        import diffusers
        from diffusers import WuerstchenDecoderPipeline, WuerstchenPriorPipeline
    except ImportError as ex:
        raise ExportError(f"diffusers with Würstchen is needed ({ex}); pip install -r models/export/requirements.txt")
    log(f"diffusers {diffusers.__version__}, torch {torch.__version__}")

    def load_prior(repo):
        return WuerstchenPriorPipeline.from_pretrained(repo, text_encoder=_load_text_encoder(repo), torch_dtype=torch.float32)

    def load_decoder(repo):
        return WuerstchenDecoderPipeline.from_pretrained(repo, text_encoder=_load_text_encoder(repo), torch_dtype=torch.float32)
    return load_prior, load_decoder


def _config_get(config, key, default):
    if config is None:
        return default
    if hasattr(config, "get"):
        value = config.get(key, default)
    else:
        value = getattr(config, key, default)
    return default if value is None else value


def _scheduler_constants(pipe):
    cfg = getattr(pipe.scheduler, "config", None)
    return float(_config_get(cfg, "s", 0.008)), float(_config_get(cfg, "scaler", 1.0))


def export_real(args, exporter, load_prior=None, load_decoder=None, effnet_backbone=None):
    """Loads the pipelines half by half (to bound memory), writes the tokenizers and exports + validates each
    network. Returns the contract constants read from the pipelines' configs."""
    parts = set(args.parts)
    if load_prior is None or load_decoder is None:
        load_prior, load_decoder = load_diffusers_pipelines()
    constants = dict(CONTRACT_DEFAULTS)
    # which constants this run read from a pipeline (the rest are defaults that a merge must not write over);
    # "weak" ones yield to a value the folder already holds from the other half (the prior's scheduler wins)
    exporter.constants_read, exporter.constants_weak = set(), set()
    token_ids = {}
    if "prior" in parts:
        log(f"loading prior pipeline {args.prior_repo}")
        pipe = load_prior(args.prior_repo)
        cfg = pipe.config
        constants["latent_mean"] = float(_config_get(cfg, "latent_mean", CONTRACT_DEFAULTS["latent_mean"]))
        constants["latent_std"] = float(_config_get(cfg, "latent_std", CONTRACT_DEFAULTS["latent_std"]))
        constants["resolution_multiple"] = float(_config_get(cfg, "resolution_multiple", CONTRACT_DEFAULTS["resolution_multiple"]))
        constants["scheduler_s"], constants["scheduler_scaler"] = _scheduler_constants(pipe)
        exporter.constants_read |= {"latent_mean", "latent_std", "resolution_multiple", "scheduler_s", "scheduler_scaler"}
        token_ids["prior"] = save_tokenizer(pipe.tokenizer, os.path.join(exporter.out_dir, "prior_tokenizer"))
        text_encoder, prior = pipe.text_encoder, pipe.prior
        del pipe
        dims = {"prior_clip": int(prior.config.c_cond)}
        if int(text_encoder.config.hidden_size) != dims["prior_clip"]:
            raise ExportError(f"prior c_cond {dims['prior_clip']} != text encoder width {text_encoder.config.hidden_size}")
        exporter.export("prior_text_encoder", text_encoder, dims)
        del text_encoder
        exporter.export("prior", prior, dims)
        del prior
    if "decoder" in parts:
        log(f"loading decoder pipeline {args.decoder_repo}")
        pipe = load_decoder(args.decoder_repo)
        constants["latent_dim_scale"] = float(_config_get(pipe.config, "latent_dim_scale", CONTRACT_DEFAULTS["latent_dim_scale"]))
        constants["vqgan_scale_factor"] = float(pipe.vqgan.config.scale_factor)
        exporter.constants_read |= {"latent_dim_scale", "vqgan_scale_factor"}
        s, scaler = _scheduler_constants(pipe)
        if "prior" not in parts:
            constants["scheduler_s"], constants["scheduler_scaler"] = s, scaler
            exporter.constants_read |= {"scheduler_s", "scheduler_scaler"}
            exporter.constants_weak |= {"scheduler_s", "scheduler_scaler"}
        elif abs(s - constants["scheduler_s"]) > 1e-12 or abs(scaler - constants["scheduler_scaler"]) > 1e-12:
            log(f"warning: the decoder scheduler (s {s}, scaler {scaler}) differs from the prior's; "
                "model_index.json keeps the prior's")
        token_ids["decoder"] = save_tokenizer(pipe.tokenizer, os.path.join(exporter.out_dir, "decoder_tokenizer"))
        text_encoder, decoder, vqgan = pipe.text_encoder, pipe.decoder, pipe.vqgan
        del pipe
        dims = {"decoder_clip": int(decoder.config.clip_embd)}
        if int(text_encoder.config.hidden_size) != dims["decoder_clip"]:
            raise ExportError(f"decoder clip_embd {dims['decoder_clip']} != text encoder width {text_encoder.config.hidden_size}")
        exporter.export("decoder_text_encoder", text_encoder, dims)
        del text_encoder
        exporter.export("decoder", decoder, dims)
        del decoder
        exporter.export("vqgan", vqgan, dims)
        del vqgan
    if args.effnet_checkpoint:
        enc = load_effnet_checkpoint(args.effnet_checkpoint, args.trust_effnet_checkpoint, effnet_backbone)
        exporter.export("effnet", enc, {})
        del enc
    else:
        log("[effnet] skipped (no --effnet-checkpoint): only needed to turn a real image into an embedding")
    for half, ids in token_ids.items():
        for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
            if ids[key] != CONTRACT_DEFAULTS[key]:
                log(f"warning: the {half} tokenizer's {key} is {ids[key]}, not {CONTRACT_DEFAULTS[key]}; "
                    "model_index.json records the tokenizer's value")
                constants[key] = ids[key]
                exporter.constants_read.add(key)
        if ids["model_max_length"] != MAX_LENGTH:
            log(f"warning: the {half} tokenizer's model_max_length is {ids['model_max_length']}, not {MAX_LENGTH}")
        log(f"[{half}_tokenizer] ids of \"\": {ids['empty_prompt_ids']}..., model_max_length {ids['model_max_length']}")
    if len(token_ids) == 2:
        a, b = token_ids["prior"], token_ids["decoder"]
        if any(a[k] != b[k] for k in ("bos_token_id", "eos_token_id", "pad_token_id")):
            log("warning: the prior and decoder tokenizers use different special token ids")
    return constants


