"""Stable Cascade image variation: the prior repo's optional image_encoder (CLIPVisionModelWithProjection) exported as
image_encoder/ (pixel_values -> image_embeds) and its feature_extractor (CLIPImageProcessor) settings written to
model_index.json's "feature_extractor", so the module preprocesses images exactly as diffusers' encode_image does.
A prior repo without them (text-to-image only, as diffusers allows) exports without them."""
import torch

from .contract import ExportError, log

# transformers' CLIPImageProcessor keys the module reads (its preprocessing steps); the rest of a preprocessor config
# (processor class names, feature_extractor_type) says nothing about the pixels
PROCESSOR_KEYS = ("do_resize", "size", "resample", "do_center_crop", "crop_size", "do_rescale", "rescale_factor",
                  "do_normalize", "image_mean", "image_std", "do_convert_rgb")


class ImageEncoderWrapper(torch.nn.Module):
    """CLIPVisionModelWithProjection(pixel_values) -> image_embeds (post_layernorm'd class token, projected): what
    StableCascadePriorPipeline.encode_image feeds the prior, one [1, P] per image."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixel_values):
        return self.model(pixel_values=pixel_values).image_embeds


def load_image_encoder(repo):
    """The prior repo's image_encoder in float32 with eager attention (what the text encoders use), or None when the
    repo has none (model_index.json names it [null, null] or leaves it out)."""
    if not _names_image_encoder(repo):
        return None
    from transformers import CLIPVisionModelWithProjection
    try:
        model = CLIPVisionModelWithProjection.from_pretrained(repo, subfolder="image_encoder", attn_implementation="eager")
    except (TypeError, ValueError):
        model = CLIPVisionModelWithProjection.from_pretrained(repo, subfolder="image_encoder")
    return model.float().eval()


def _names_image_encoder(repo):
    import json
    import os
    if os.path.isdir(repo):
        path = os.path.join(repo, "model_index.json")
    else:
        from huggingface_hub import hf_hub_download
        path = hf_hub_download(repo, "model_index.json")
    with open(path, encoding="utf-8") as f:
        entry = json.load(f).get("image_encoder")
    return isinstance(entry, list) and len(entry) == 2 and entry[1] is not None


def processor_settings(processor):
    """The feature extractor's preprocessing as JSON-ready values, checked for what the module supports."""
    if processor is None:
        raise ExportError("the prior repo has an image_encoder but no feature_extractor (CLIPImageProcessor): the "
                          "module would not know how to prepare images for it")
    raw = processor.to_dict() if hasattr(processor, "to_dict") else dict(vars(processor))
    settings = {k: raw[k] for k in PROCESSOR_KEYS if k in raw}
    settings["resample"] = int(settings.get("resample", 3))
    settings["image_processor_type"] = type(processor).__name__
    return settings


def image_encoder_dims(encoder, prior):
    """The export's input size and the width the prior's clip_img takes; a mismatch is the repo's error."""
    cfg = encoder.config
    width = int(cfg.projection_dim)
    if width != int(prior.config.clip_image_in_channels):
        raise ExportError(f"image_encoder projection_dim {width} != the prior's clip_image_in_channels "
                          f"{prior.config.clip_image_in_channels}")
    return {"image_size": int(cfg.image_size), "image_width": width}


def image_encoder_inputs(dims, g):
    """(export example, validation cases): pixel_values around the normalised range, batch 2 / 1 / 3."""
    s = dims["image_size"]

    def pixels(b):
        return (torch.randn(b, 3, s, s, generator=g) * 1.2,)
    return pixels(2), [pixels(1), pixels(3)]


def export_image_encoder(exp, pipe, prior, constants):
    """image_encoder/ and model_index.json's feature_extractor when the prior repo has them."""
    encoder = getattr(pipe, "image_encoder", None)
    if encoder is None:
        log("[image_encoder] the prior repo has no image_encoder: text-to-image only (no -ImagePrompt)")
        return
    constants["feature_extractor"] = processor_settings(getattr(pipe, "feature_extractor", None))
    exp.constants_read.add("feature_extractor")
    dims = image_encoder_dims(encoder, prior)
    log(f"[image_encoder] CLIP vision {encoder.config.image_size}² → image_embeds {dims['image_width']}; "
        f"feature_extractor {constants['feature_extractor']}")
    exp.export("image_encoder", ImageEncoderWrapper(encoder), dims)
