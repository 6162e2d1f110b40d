"""Stable Cascade (Würstchen v3): diffusers' StableCascadePriorPipeline + StableCascadeDecoderPipeline exported to the
contract's "stable-cascade" folder (docs/spec/model-contract.json): tokenizer/, text_encoder/ (text_embeds and the
last layer's state BEFORE the final LayerNorm, which is what the prior reads as hidden_states[-1]), prior/, decoder/,
vqgan/, and decoder_text_encoder/ only when the decoder repo's encoder weights differ from the prior repo's.

Every network is validated against the original, unpatched diffusers/transformers module in float32. The wrappers only
select inputs and outputs: StableCascadeUNet's sca/crp/pixels stay the zeros the pipelines use, inside the graph."""
import hashlib
import json
import os

import numpy as np
import torch

from .contract import DEFAULT_RTOL, EXTERNAL_DATA_THRESHOLD, ExportError, family, log
from .cascade_image import export_image_encoder, image_encoder_inputs, load_image_encoder
from .folder import save_tokenizer, write_model_index
from .inputs import _token_batch, make_inputs
from .fp16 import convert_to_fp16
from .memory import measured, release_weights
from .onnx_io import export_network, write_onnx_model
from .patches import pretranspose_linears, size_agnostic_skips
from .runners import onnx_runner
from .validation import _compare, _deterministic_torch

FAMILY = family("stable-cascade")
V2_PIPELINES = set(family("wuerstchen-v2").data["pipelines"].values())
CASCADE_PIPELINES = set(FAMILY.data["pipelines"].values())


# ------------------------------------------------------------------------------------------------ family detection

def pipeline_class(repo):
    """_class_name of a repo's model_index.json (local folder or Hub id); None when it cannot be read."""
    try:
        if os.path.isdir(repo):
            path = os.path.join(repo, "model_index.json")
        else:
            from huggingface_hub import hf_hub_download
            path = hf_hub_download(repo, "model_index.json")
        with open(path, encoding="utf-8") as f:
            return json.load(f).get("_class_name")
    except Exception as ex:  # no network, no such repo: the v2 path reports its own error when it loads
        log(f"note: could not read {repo}/model_index.json ({type(ex).__name__}); assuming Würstchen v2")
        return None


def detect_family(args):
    """'wuerstchen-v2' or 'stable-cascade' from the pipelines' model_index.json; mixed families are an error."""
    classes = {half: pipeline_class(getattr(args, f"{half}_repo")) for half in args.parts}
    kinds = {half: ("stable-cascade" if c in CASCADE_PIPELINES else "wuerstchen-v2" if c in V2_PIPELINES or c is None else None)
             for half, c in classes.items()}
    unknown = {h: classes[h] for h, k in kinds.items() if k is None}
    if unknown:
        raise ExportError(f"unknown pipeline class {unknown}: this exporter knows {sorted(V2_PIPELINES | CASCADE_PIPELINES)}")
    if len(set(kinds.values())) > 1:
        raise ExportError(f"the prior and decoder repositories are of different families ({classes}); "
                          "a model folder holds one family")
    return next(iter(kinds.values()))


# ------------------------------------------------------------------------------------------------ wrappers

class TextEncoderWrapper(torch.nn.Module):
    """CLIPTextModelWithProjection(input_ids, attention_mask) -> (text_embeds, hidden_states[-1])."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        out = self.model(input_ids, attention_mask=attention_mask, output_hidden_states=True)
        return out.text_embeds, out.hidden_states[-1]


class PriorWrapper(torch.nn.Module):
    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep_ratio, clip_text_pooled, clip_text, clip_img):
        return self.unet(sample, timestep_ratio, clip_text_pooled=clip_text_pooled, clip_text=clip_text,
                         clip_img=clip_img, return_dict=False)[0]


class DecoderWrapper(torch.nn.Module):
    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep_ratio, clip_text_pooled, effnet):
        return self.unet(sample, timestep_ratio, clip_text_pooled=clip_text_pooled, effnet=effnet, return_dict=False)[0]


class VqganWrapper(torch.nn.Module):
    def __init__(self, vqgan):
        super().__init__()
        self.vqgan = vqgan

    def forward(self, sample):
        return self.vqgan.decode(sample).sample


def cascade_inputs(name, dims, seed):
    """(export example, [validation cases]); the cases use other batch and spatial sizes than the example."""
    g = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=g)

    if name in ("text_encoder", "decoder_text_encoder"):
        return _token_batch([5, 20], g), [_token_batch([7], g), _token_batch([0, 75, 13], g)]
    if name == "prior":
        d, p, i = dims["text_width"], dims["pooled_width"], dims["image_width"]

        def prior(b, h, w, r=None, images=1, zeros=False):
            clip_img = torch.zeros(b, images, i) if zeros else randn(b, images, i)
            return (randn(b, 16, h, w), r if r is not None else torch.rand(b, generator=g), randn(b, 1, p), randn(b, 77, d), clip_img)
        # clip_img's axis 1 is the number of image prompts (dynamic): traced with 2, checked with 1 (zeros: text-to-image), 1 and 3
        return prior(2, 6, 6, images=2), [prior(1, 6, 9, zeros=True), prior(3, 12, 8, torch.tensor([1.0, 0.5, 0.0123]), images=3),
                                          prior(1, 7, 5)]
    if name == "image_encoder":
        return image_encoder_inputs(dims, g)
    if name == "decoder":
        p = dims["pooled_width"]

        def decoder(b, h4, w4, h, w, r=None):
            return (randn(b, 4, h4, w4), r if r is not None else torch.rand(b, generator=g), randn(b, 1, p), randn(b, 16, h, w) * 3)
        # the last case: an odd size whose skips disagree after the stride-2 stages (diffusers resizes them; the export must too)
        return decoder(2, 64, 64, 6, 6), [decoder(1, 64, 96, 6, 9), decoder(2, 32, 64, 3, 6, torch.tensor([1.0, 0.0833])),
                                          decoder(1, 74, 42, 7, 4)]
    return make_inputs(name, dims, seed)


# ------------------------------------------------------------------------------------------------ export + validation

class CascadeExport:
    """Exports and validates Stable Cascade networks into one folder; collects what model_index.json records."""

    def __init__(self, args, out_dir, device, dtypes):
        self.args, self.out_dir, self.device, self.dtypes = args, out_dir, device, dtypes
        self.opset = args.opset
        self.external_mode = getattr(args, "external_data", "auto")
        self.networks, self.failures_, self.figures = {}, {}, {}
        self.constants_read, self.constants_weak = set(), set()

    def export(self, name, wrapper, dims):
        """Exports and validates one network; logs its peak resident memory and time."""
        with measured(name, self.figures, log) as phases:
            return self._export(name, wrapper, dims, phases)

    def _export(self, name, wrapper, dims, phases):
        """Traces in float32 (a float16 network is converted afterwards, at the ONNX level) and validates the file
        against the unpatched module's float32 outputs."""
        dtype = self.dtypes[name]
        wrapper = wrapper.to(self.device).float().eval()
        example, cases = cascade_inputs(name, dims, seed=FAMILY.order.index(name) + 7)
        original = None
        if not self.args.skip_validation:
            # the unpatched module's outputs first: the export swaps attention processors while it traces
            with torch.no_grad(), _deterministic_torch():
                original = [self._outputs(wrapper(*(t.to(self.device) for t in c))) for c in cases]
        meta = {"wuerstchen.network": name, "wuerstchen.family": FAMILY.name, "wuerstchen.dtype": dtype}
        if name in ("prior", "decoder"):
            meta["wuerstchen.skips"] = "resized"  # size_agnostic_skips below; the module checks it off the 128-pixel grid
        log(f"[{name}] exporting ({dtype}, opset {self.opset}, device {self.device})")
        pretranspose_linears(wrapper)  # after `original`: the export's peak stays near one copy of the weights
        with size_agnostic_skips(wrapper):  # odd latent sizes (sides off the 128-pixel grid) run as in diffusers
            path, info = export_network(name, wrapper, example, self.out_dir, self.opset, self.device, meta, io=FAMILY.io(name),
                                        external=self.external_mode)
        phases.mark("export")
        kept = release_weights(wrapper)  # validation compares with `original`: only the ONNX copy is needed now
        if kept:
            log(f"[{name}] {kept}")
        if dtype == "fp16":
            path, info["external_data"] = self._convert_fp16(name, path, meta, self.external_mode)
        self.networks[name] = {"path": f"{name}/model.onnx", "dtype": dtype, "external_data": info["external_data"]}
        log(f"[{name}] written {name}/model.onnx" + (" (+ model.onnx.data)" if info["external_data"] else "")
            + f" in {info['export_seconds']} s")
        if original is not None:
            self._validate(name, path, cases, original)
            phases.mark("validation")
        return path

    @staticmethod
    def _convert_fp16(name, path, meta, external_mode="auto"):
        import onnx
        model = onnx.load(path)
        converted = convert_to_fp16(model)
        del model
        log(f"[{name}] converted to float16 at the ONNX level (fp32 islands: timestep embedding, norm statistics, softmax)")
        return write_onnx_model(converted, os.path.dirname(path),
                                dict(meta, **{"wuerstchen.fp16": "onnx-level conversion with fp32 islands"}),
                                0 if external_mode == "always" else EXTERNAL_DATA_THRESHOLD)

    @staticmethod
    def _outputs(out):
        return [o.float().cpu().numpy() for o in (out if isinstance(out, tuple) else (out,))]

    def _validate(self, name, path, cases, original):
        dtype = self.dtypes[name]
        kind = self.args.validator
        if dtype == "fp16" and kind == "auto":
            kind = "interpreter"  # float16 emulated op by op (float32 compute, float16 rounding), as in the v2 export
        run, backend = onnx_runner(path, kind, self.args.ort_provider)
        inputs, outputs, _ = FAMILY.io(name)
        worst, rtol = {"rel": 0.0, "max_abs": 0.0}, self.args.rtol or DEFAULT_RTOL[dtype]
        for case, ref in zip(cases, original):
            feeds = {n: t.numpy() for n, t in zip(inputs, case)}
            got = run(feeds)
            for o, r in zip(outputs, ref):
                c = _compare(np.asarray(got[o]), r)
                if c["rel"] > worst["rel"]:
                    worst = dict(c, output=o)
        ok = worst["rel"] <= rtol
        status = "ok" if ok else "FAILED"
        self.networks[name]["validation"] = {"max_abs": float(f"{worst['max_abs']:.3e}"), "rel": float(f"{worst['rel']:.3e}"), "backend": backend}
        log(f"[{name}] validation {status}: max abs error {worst['max_abs']:.3e}, relative {worst['rel']:.3e} over "
            f"{len(cases)} input sets, vs the unpatched module ({backend})")
        if not ok:
            self.failures_[name] = {"ok": False, "error": f"{worst.get('output')}: relative error {worst['rel']:.3e} > {rtol}"}

    def failures(self):
        return self.failures_


def _load_text_encoder(repo):
    from transformers import CLIPTextModelWithProjection
    try:
        model = CLIPTextModelWithProjection.from_pretrained(repo, subfolder="text_encoder", attn_implementation="eager")
    except (TypeError, ValueError):
        model = CLIPTextModelWithProjection.from_pretrained(repo, subfolder="text_encoder")
    return model.float().eval()


def weights_digest(module):
    """SHA-256 over every weight's name, dtype, shape and bytes: whether two text encoders are the same network, decided
    without keeping the first one's weights (they are released once its export is written)."""
    h = hashlib.sha256()
    for key, t in module.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()


def _same_weights(a, b):
    return weights_digest(a) == weights_digest(b)


def _scheduler(pipe):
    cfg = pipe.scheduler.config
    return float(cfg.get("s", 0.008)), float(cfg.get("scaler", 1.0))


def cascade_dtypes(args):
    """network -> "fp32"/"fp16" for a Stable Cascade export. The prior is always float32: the official prior
    checkpoints do not work in float16 (diffusers' docs; OnnxStack reports a black image) and its conditioning tokens
    pass through a LayerNorm over values float16 cannot hold. The text encoders, the decoder and the VQGAN may be
    float16 (what OnnxStack ships); their timestep embedding stays a float32 island (fp16.py)."""
    if args.prior_dtype == "fp16":
        raise ExportError("--prior-dtype fp16 is not supported for Stable Cascade: the prior stays float32 (its official "
                          "checkpoints break in float16). Drop --prior-dtype; --dtype fp16 converts the other networks.")
    if args.effnet_dtype or args.effnet_checkpoint:
        raise ExportError("--effnet-dtype / --effnet-checkpoint are Würstchen v2 options: Stable Cascade has no effnet "
                          "network (the decoder takes the prior's embedding directly). Drop them.")
    if args.fp16_mode == "torch":
        raise ExportError("--fp16-mode torch is not offered for Stable Cascade: its float16 networks are made at the ONNX "
                          "level (traced in float32, converted with float32 islands). Drop --fp16-mode.")
    dtypes = {n: args.dtype for n in FAMILY.order}
    dtypes["prior"] = "fp32"
    for names, override in ((("text_encoder", "decoder_text_encoder"), args.text_encoder_dtype),
                            (("decoder",), args.decoder_dtype), (("vqgan",), args.vqgan_dtype)):
        for n in names:
            dtypes[n] = override or dtypes[n]
    if "fp16" in dtypes.values():
        log("float16 (ONNX-level conversion, fp32 islands): "
            + ", ".join(n for n in FAMILY.order if dtypes[n] == "fp16") + "; the prior stays float32")
    return dtypes


def export_cascade(args, out_dir, device, dtypes):
    """The whole Stable Cascade export (dtypes from cascade_dtypes); returns the failures (name -> result) like
    Exporter.failures()."""
    try:
        import diffusers
        from diffusers import StableCascadeUNet  # noqa: F401  (0.27+)
    except ImportError as ex:
        raise ExportError(f"diffusers with Stable Cascade (0.27+) is needed ({ex}); pip install -r models/export/requirements.txt")
    log(f"diffusers {diffusers.__version__}, torch {torch.__version__}")
    exp = CascadeExport(args, out_dir, device, dtypes)
    constants = dict(FAMILY.constants)
    prior_te_digest, ids = None, None
    if "prior" in args.parts:
        prior_te_digest, ids = _export_prior_half(exp, args, constants)
    if "decoder" in args.parts:
        ids = _export_decoder_half(exp, args, constants, prior_te_digest) or ids
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        constants[key] = ids[key]   # from the tokenizer: laion's bigG pads with "!" (id 0), not 49407
        exp.constants_read.add(key)
    log(f"[tokenizer] pad token id {ids['pad_token_id']}, ids of \"\": {ids['empty_prompt_ids']}...")
    constants["family"] = FAMILY.name
    exp.constants_read.add("family")
    name = args.name if args.name != "wuerstchen-v2" else "stable-cascade"
    source = {"prior_repo": args.prior_repo if "prior" in args.parts else None,
              "decoder_repo": args.decoder_repo if "decoder" in args.parts else None}
    write_model_index(out_dir, name, constants, source, dict(dtypes, default=args.dtype), exp, version="3.0")  # Würstchen v3
    return exp.failures()


def _load(pipeline_class, repo, part, subfolder):
    """(pipeline, text encoder) in float32; the UNet from another subfolder for the lite variants."""
    from diffusers import StableCascadeUNet
    log(f"loading {part} pipeline {repo} (Stable Cascade)" + ("" if subfolder == part else f", {part} from {subfolder}/"))
    te = _load_text_encoder(repo)
    extra = {} if subfolder == part else {part: StableCascadeUNet.from_pretrained(repo, subfolder=subfolder)}
    if part == "prior":
        encoder = load_image_encoder(repo)  # eager attention, like the text encoder; None: a text-to-image repo
        if encoder is not None:
            extra["image_encoder"] = encoder
    return pipeline_class.from_pretrained(repo, text_encoder=te, torch_dtype=torch.float32, **extra), te


def _export_prior_half(exp, args, constants):
    """tokenizer/, text_encoder/, prior/ and the prior repo's constants; returns (text encoder, tokenizer ids)."""
    from diffusers import StableCascadePriorPipeline
    pipe, te = _load(StableCascadePriorPipeline, args.prior_repo, "prior", args.prior_subfolder)
    constants["resolution_multiple"] = float(pipe.config.get("resolution_multiple", FAMILY.constants["resolution_multiple"]))
    constants["scheduler_s"], constants["scheduler_scaler"] = _scheduler(pipe)
    exp.constants_read |= {"resolution_multiple", "scheduler_s", "scheduler_scaler", "latent_mean", "latent_std"}
    ids = save_tokenizer(pipe.tokenizer, os.path.join(exp.out_dir, "tokenizer"))
    prior = pipe.prior
    dims = {"text_width": int(te.config.hidden_size), "pooled_width": int(te.config.projection_dim),
            "image_width": int(prior.config.clip_image_in_channels)}
    for key, want in (("clip_text_in_channels", "text_width"), ("clip_text_pooled_in_channels", "pooled_width")):
        if int(prior.config[key]) != dims[want]:
            raise ExportError(f"prior {key} {prior.config[key]} != the text encoder's {want} {dims[want]}")
    te_digest = weights_digest(te)  # the decoder half compares its encoder with this one after te is released
    exp.export("text_encoder", TextEncoderWrapper(te), dims)
    exp.export("prior", PriorWrapper(prior), dims)
    export_image_encoder(exp, pipe, prior, constants)
    return te_digest, ids


def _export_decoder_half(exp, args, constants, prior_te_digest):
    """decoder/, vqgan/, decoder_text_encoder/ when its weights differ (or text_encoder/ + tokenizer/ for a
    decoder-only export into a new folder); returns the tokenizer ids when this half wrote the tokenizer."""
    from diffusers import StableCascadeDecoderPipeline
    pipe, te = _load(StableCascadeDecoderPipeline, args.decoder_repo, "decoder", args.decoder_subfolder)
    constants["latent_dim_scale"] = float(pipe.config.get("latent_dim_scale", FAMILY.constants["latent_dim_scale"]))
    constants["vqgan_scale_factor"] = float(pipe.vqgan.config.scale_factor)
    exp.constants_read |= {"latent_dim_scale", "vqgan_scale_factor"}
    ids = None
    if prior_te_digest is None:
        # the decoder repo's scheduler and tokenizer are the same as the prior's in every published pair; weak, so an
        # earlier prior export's values win when both halves are exported separately into one folder
        constants["scheduler_s"], constants["scheduler_scaler"] = _scheduler(pipe)
        exp.constants_read |= {"scheduler_s", "scheduler_scaler"}
        exp.constants_weak |= {"scheduler_s", "scheduler_scaler"}
        ids = save_tokenizer(pipe.tokenizer, os.path.join(exp.out_dir, "tokenizer"))
    d = {"text_width": int(te.config.hidden_size), "pooled_width": int(te.config.projection_dim)}
    if int(pipe.decoder.config.clip_text_pooled_in_channels) != d["pooled_width"]:
        raise ExportError(f"decoder clip_text_pooled_in_channels {pipe.decoder.config.clip_text_pooled_in_channels} "
                          f"!= the decoder text encoder's projection_dim {d['pooled_width']}")
    if prior_te_digest is not None and weights_digest(te) == prior_te_digest:
        log("[decoder_text_encoder] the decoder repo's text encoder has the prior's weights: the decoder uses text_encoder/")
    else:
        # different weights (or a decoder-only run beside an existing text_encoder/): the decoder gets its own
        beside = prior_te_digest is not None or os.path.isdir(os.path.join(exp.out_dir, "text_encoder"))
        exp.export("decoder_text_encoder" if beside else "text_encoder", TextEncoderWrapper(te), d)
    exp.export("decoder", DecoderWrapper(pipe.decoder), d)
    exp.export("vqgan", VqganWrapper(pipe.vqgan), {})
    return ids
