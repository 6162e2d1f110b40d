"""Stable Cascade: family detection, the contract's I/O, the shared-text-encoder rule, the wrappers' outputs and the
export of a tiny CLIP text encoder with projection through the built-in interpreter (small and fast)."""
import json
import os
import tempfile
import types
import unittest

import torch

from wuerstchen_export import cascade
from wuerstchen_export.contract import ExportError


def _repo(folder, class_name):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "model_index.json"), "w", encoding="utf-8") as f:
        json.dump({"_class_name": class_name}, f)
    return folder


class FamilyDetectionTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()

    def args(self, prior, decoder, parts=("prior", "decoder")):
        return types.SimpleNamespace(prior_repo=_repo(os.path.join(self.tmp, "p"), prior),
                                     decoder_repo=_repo(os.path.join(self.tmp, "d"), decoder), parts=list(parts))

    def test_stable_cascade_is_detected_from_model_index(self):
        self.assertEqual(cascade.detect_family(self.args("StableCascadePriorPipeline", "StableCascadeDecoderPipeline")), "stable-cascade")

    def test_v2_is_detected(self):
        self.assertEqual(cascade.detect_family(self.args("WuerstchenPriorPipeline", "WuerstchenDecoderPipeline")), "wuerstchen-v2")

    def test_mixed_families_are_an_error(self):
        with self.assertRaises(ExportError) as ctx:
            cascade.detect_family(self.args("StableCascadePriorPipeline", "WuerstchenDecoderPipeline"))
        self.assertIn("different families", str(ctx.exception))

    def test_only_the_exported_half_counts(self):
        a = self.args("StableCascadePriorPipeline", "WuerstchenDecoderPipeline", parts=["prior"])
        self.assertEqual(cascade.detect_family(a), "stable-cascade")

    def test_an_unknown_pipeline_is_an_error(self):
        with self.assertRaises(ExportError):
            cascade.detect_family(self.args("StableDiffusionPipeline", "StableDiffusionPipeline"))


class ContractTests(unittest.TestCase):
    def test_cascade_io_from_the_contract(self):
        ins, outs, axes = cascade.FAMILY.io("prior")
        self.assertEqual(ins, ["sample", "timestep_ratio", "clip_text_pooled", "clip_text", "clip_img"])
        self.assertEqual(outs, ["out_sample"])
        self.assertEqual(axes["clip_img"], {0: "batch", 1: "images"})  # image_width is model-sized; axis 1: the image prompts
        ins, outs, axes = cascade.FAMILY.io("image_encoder")
        self.assertEqual((ins, outs), (["pixel_values"], ["image_embeds"]))
        self.assertEqual(axes, {"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}})  # the crop size is the model's
        self.assertEqual(cascade.FAMILY.io("text_encoder")[1], ["text_embeds", "pre_norm_hidden_state"])
        # no transform after the prior; the tokenizer's pad id (laion bigG: "!" = 0)
        self.assertEqual((cascade.FAMILY.constants["latent_mean"], cascade.FAMILY.constants["latent_std"]), (1.0, 0.0))
        self.assertEqual(cascade.FAMILY.constants["pad_token_id"], 0)


class _TinyClip(torch.nn.Module):
    """Stands in for CLIPTextModelWithProjection's call: returns an object with text_embeds and hidden_states."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.emb = torch.nn.Embedding(49408, 8)
        self.layer = torch.nn.Linear(8, 8)
        self.norm = torch.nn.LayerNorm(8)
        self.proj = torch.nn.Linear(8, 6, bias=False)

    def forward(self, ids, attention_mask=None, output_hidden_states=False):
        h0 = self.emb(ids)
        h1 = self.layer(h0) * attention_mask.unsqueeze(-1)
        last = self.norm(h1)
        pooled = last[torch.arange(ids.shape[0]), ids.argmax(-1)]
        return types.SimpleNamespace(text_embeds=self.proj(pooled), hidden_states=(h0, h1), last_hidden_state=last)


class WrapperTests(unittest.TestCase):
    def test_text_encoder_gives_the_state_before_the_final_layer_norm(self):
        m = _TinyClip().eval()
        ids = torch.tensor([[49406, 320, 49407, 0]])
        mask = torch.tensor([[1, 1, 1, 0]])
        embeds, hidden = cascade.TextEncoderWrapper(m)(ids, mask)
        out = m(ids, attention_mask=mask, output_hidden_states=True)
        self.assertTrue(torch.equal(hidden, out.hidden_states[-1]))
        self.assertFalse(torch.allclose(hidden, out.last_hidden_state))
        self.assertEqual(tuple(embeds.shape), (1, 6))

    def test_same_weights_decides_whether_the_decoder_gets_its_own_encoder(self):
        a, b = _TinyClip(), _TinyClip()
        self.assertTrue(cascade._same_weights(a, b))
        with torch.no_grad():
            b.proj.weight[0, 0] += 1e-3
        self.assertFalse(cascade._same_weights(a, b))

    def test_export_and_validation_of_a_two_output_text_encoder(self):
        tmp = tempfile.mkdtemp()
        args = types.SimpleNamespace(opset=17, skip_validation=False, validator="auto", ort_provider=None, rtol=None)
        exp = cascade.CascadeExport(args, tmp, torch.device("cpu"), {"text_encoder": "fp32"})
        path = exp.export("text_encoder", cascade.TextEncoderWrapper(_TinyClip()), {})
        self.assertTrue(os.path.exists(path))
        self.assertEqual(exp.failures(), {})
        self.assertLess(exp.networks["text_encoder"]["validation"]["rel"], 1e-5)


def _dtype_args(**kw):
    base = dict(dtype="fp32", prior_dtype=None, decoder_dtype=None, text_encoder_dtype=None, vqgan_dtype=None,
                effnet_dtype=None, effnet_checkpoint=None, fp16_mode="auto")
    return types.SimpleNamespace(**dict(base, **kw))


class _TinyCascadeDecoder(torch.nn.Module):
    """The decoder's I/O and its timestep embedding as StableCascadeUNet computes it (ratio x 10000, 32 float32
    frequencies, sin/cos, the embedding of 0 for sca appended), feeding a mapper whose output is added to the
    sample's features; effnet resized bilinearly (align_corners) as the real decoder does."""

    def __init__(self, pooled=6):
        super().__init__()
        torch.manual_seed(5)
        self.c_r = 64
        self.conv = torch.nn.Conv2d(4, 8, 3, padding=1)
        self.r_mapper = torch.nn.Linear(2 * self.c_r, 8)
        self.pooled = torch.nn.Linear(pooled, 8)
        self.effnet = torch.nn.Conv2d(16, 8, 1)
        self.norm = torch.nn.LayerNorm(8, elementwise_affine=False)
        self.out = torch.nn.Conv2d(8, 4, 1)

    def r_embed(self, r):
        half = self.c_r // 2
        r = r * 10000
        emb = torch.arange(half, device=r.device).float().mul(-torch.log(torch.tensor(10000.0)) / (half - 1)).exp()
        emb = r[:, None] * emb[None, :]
        return torch.cat([emb.sin(), emb.cos()], dim=1)

    def forward(self, sample, timestep_ratio, clip_text_pooled, effnet):
        r = torch.cat([self.r_embed(timestep_ratio), self.r_embed(torch.zeros_like(timestep_ratio))], dim=1)
        e = torch.nn.functional.interpolate(effnet, size=sample.shape[-2:], mode="bilinear", align_corners=True)
        x = self.conv(sample) + self.effnet(e) + (self.r_mapper(r[:, : 2 * self.c_r]) * 20
                                                  + self.pooled(clip_text_pooled[:, 0]))[:, :, None, None]
        x = self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.out(x)


class DtypeTests(unittest.TestCase):
    def test_fp16_keeps_the_prior_in_fp32_and_converts_the_rest(self):
        d = cascade.cascade_dtypes(_dtype_args(dtype="fp16"))
        self.assertEqual(d["prior"], "fp32")
        self.assertEqual({d[n] for n in ("text_encoder", "decoder_text_encoder", "decoder", "vqgan")}, {"fp16"})

    def test_per_network_overrides(self):
        d = cascade.cascade_dtypes(_dtype_args(dtype="fp16", decoder_dtype="fp32"))
        self.assertEqual((d["decoder"], d["vqgan"], d["text_encoder"]), ("fp32", "fp16", "fp16"))
        d = cascade.cascade_dtypes(_dtype_args(vqgan_dtype="fp16"))
        self.assertEqual((d["decoder"], d["vqgan"], d["text_encoder"], d["prior"]), ("fp32", "fp16", "fp32", "fp32"))

    def test_refusals_name_the_flag_and_what_to_do(self):
        for kw, flag in (({"prior_dtype": "fp16"}, "--prior-dtype"), ({"effnet_dtype": "fp16"}, "--effnet-dtype"),
                         ({"dtype": "fp16", "fp16_mode": "torch"}, "--fp16-mode")):
            with self.assertRaises(ExportError) as ctx:
                cascade.cascade_dtypes(_dtype_args(**kw))
            self.assertIn(flag, str(ctx.exception))
            self.assertIn("Drop", str(ctx.exception))

    def test_fp16_text_encoder_whose_output_also_feeds_the_final_layer_norm(self):
        # pre_norm_hidden_state is a graph output AND the final LayerNorm's input (a float32 island): the file must
        # still type-check as onnxruntime checks it (it refused "LayerNormalization bound to different types")
        import onnx
        tmp = tempfile.mkdtemp()
        args = types.SimpleNamespace(opset=17, skip_validation=False, validator="auto", ort_provider=None, rtol=None)
        exp = cascade.CascadeExport(args, tmp, torch.device("cpu"), {"text_encoder": "fp16"})
        path = exp.export("text_encoder", cascade.TextEncoderWrapper(_TinyClip()), {})
        onnx.checker.check_model(path, full_check=True)
        self.assertEqual(exp.failures(), {})
        self.assertLess(exp.networks["text_encoder"]["validation"]["rel"], 3e-2)

    def test_fp16_decoder_is_float16_inside_with_a_float32_timestep_embedding(self):
        import onnx
        from onnx import TensorProto
        tmp = tempfile.mkdtemp()
        args = types.SimpleNamespace(opset=17, skip_validation=False, validator="auto", ort_provider=None, rtol=None)
        exp = cascade.CascadeExport(args, tmp, torch.device("cpu"), {"decoder": "fp16"})
        path = exp.export("decoder", cascade.DecoderWrapper(_Unet(_TinyCascadeDecoder())), {"pooled_width": 6})
        self.assertEqual(exp.failures(), {})
        rel = exp.networks["decoder"]["validation"]["rel"]
        self.assertLess(rel, 3e-2)
        self.assertGreater(rel, 1e-6)  # really float16 (a float32 graph is ~1e-7 here)
        model = onnx.load(path)
        weights = [t for t in model.graph.initializer if t.dims and len(t.dims) > 1]
        self.assertTrue(weights and all(t.data_type == TensorProto.FLOAT16 for t in weights))
        self.assertEqual({i.type.tensor_type.elem_type for i in model.graph.input if i.name != "timestep_ratio"},
                         {TensorProto.FLOAT})
        self.assertEqual(model.graph.output[0].type.tensor_type.elem_type, TensorProto.FLOAT)
        meta = {p.key: p.value for p in model.metadata_props}
        self.assertEqual(meta["wuerstchen.dtype"], "fp16")
        # the timestep embedding: every Sin/Cos computes in float32 (float16's spacing near 10^4 is 8)
        sin_inputs = {n.input[0] for n in model.graph.node if n.op_type in ("Sin", "Cos")}
        producers = {o: n for n in model.graph.node for o in n.output}
        for x in sin_inputs:
            p = producers[x]
            self.assertNotEqual(p.op_type, "Cast", "a Sin/Cos input is cast, i.e. the embedding left float32")


class _Unet(torch.nn.Module):
    """Calls the tiny decoder with StableCascadeUNet's keyword signature (what DecoderWrapper passes)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, sample, timestep_ratio, clip_text_pooled=None, effnet=None, return_dict=False):
        return (self.net(sample, timestep_ratio, clip_text_pooled, effnet),)


if __name__ == "__main__":
    unittest.main()


class ImageEncoderTests(unittest.TestCase):
    """Image variation: the feature extractor's settings that reach model_index.json, and the width check."""

    def test_processor_settings_keep_the_preprocessing_keys_only(self):
        from wuerstchen_export import cascade_image
        proc = types.SimpleNamespace(to_dict=lambda: {"do_resize": True, "size": {"shortest_edge": 224}, "resample": 3,
                                                      "crop_size": {"height": 224, "width": 224}, "image_mean": [0.5] * 3,
                                                      "feature_extractor_type": "CLIPFeatureExtractor", "processor_class": "x"})
        got = cascade_image.processor_settings(proc)
        self.assertEqual(got["size"], {"shortest_edge": 224})
        self.assertNotIn("feature_extractor_type", got)
        self.assertEqual(got["resample"], 3)

    def test_an_image_encoder_without_a_feature_extractor_is_an_error(self):
        from wuerstchen_export import cascade_image
        with self.assertRaises(ExportError) as ctx:
            cascade_image.processor_settings(None)
        self.assertIn("feature_extractor", str(ctx.exception))

    def test_projection_width_must_match_the_prior(self):
        from wuerstchen_export import cascade_image
        enc = types.SimpleNamespace(config=types.SimpleNamespace(projection_dim=24, image_size=56))
        prior = types.SimpleNamespace(config=types.SimpleNamespace(clip_image_in_channels=768))
        with self.assertRaises(ExportError) as ctx:
            cascade_image.image_encoder_dims(enc, prior)
        self.assertIn("768", str(ctx.exception))
        prior.config.clip_image_in_channels = 24
        self.assertEqual(cascade_image.image_encoder_dims(enc, prior), {"image_size": 56, "image_width": 24})

    def test_a_repo_that_names_no_image_encoder_exports_text_to_image(self):
        from wuerstchen_export import cascade_image
        tmp = tempfile.mkdtemp()
        with open(os.path.join(tmp, "model_index.json"), "w", encoding="utf-8") as f:
            json.dump({"_class_name": "StableCascadePriorPipeline", "image_encoder": [None, None]}, f)
        self.assertIsNone(cascade_image.load_image_encoder(tmp))
