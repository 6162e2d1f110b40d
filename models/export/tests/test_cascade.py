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
        self.assertEqual(axes["clip_img"], {0: "batch"})  # image_width is model-sized
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
        exp = cascade.CascadeExport(args, tmp, torch.device("cpu"))
        path = exp.export("text_encoder", cascade.TextEncoderWrapper(_TinyClip()), {})
        self.assertTrue(os.path.exists(path))
        self.assertEqual(exp.failures(), {})
        self.assertLess(exp.networks["text_encoder"]["validation"]["rel"], 1e-5)


class DtypeTests(unittest.TestCase):
    def test_fp16_unets_are_refused(self):
        args = types.SimpleNamespace(dtype="fp32", parts=["prior"])
        with self.assertRaises(ExportError) as ctx:
            cascade.export_cascade(args, tempfile.mkdtemp(), torch.device("cpu"), {"prior": True, "decoder": False})
        self.assertIn("stays float32", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
