import json
import os
import tempfile
import unittest

from wuerstchen_export import contract
from wuerstchen_export.folder import merge_index, write_model_index


class ContractTests(unittest.TestCase):
    def test_io_comes_from_the_contract_file(self):
        data = contract.load_contract()["families"]["wuerstchen-v2"]
        self.assertEqual(contract.NETWORK_ORDER, data["network_order"])
        for name, net in data["networks"].items():
            ins, outs, axes = contract.IO[name]
            self.assertEqual(ins, [p["name"] for p in net["inputs"]])
            self.assertEqual(outs, [p["name"] for p in net["outputs"]])
        self.assertEqual(contract.IO["decoder"][2]["sample"], {0: "batch", 2: "H4", 3: "W4"})
        # text_width is model-sized: not a dynamic axis
        self.assertEqual(contract.IO["prior"][2]["clip_text"], {0: "batch"})
        self.assertEqual(contract.CONTRACT_DEFAULTS["vqgan_scale_factor"], data["constants"]["vqgan_scale_factor"]["default"])

    def test_missing_contract_file_is_a_clear_error(self):
        with self.assertRaises(contract.ExportError) as ctx:
            contract.load_contract("/nonexistent/model-contract.json")
        self.assertIn("WUERSTCHEN_MODEL_CONTRACT", str(ctx.exception))


class _FakeExporter:
    def __init__(self, networks, read, weak=()):
        self.networks = networks
        self.opset = 17
        self.constants_read = set(read)
        self.constants_weak = set(weak)


class MergeTests(unittest.TestCase):
    def test_prior_then_decoder_keeps_both_halves(self):
        folder = tempfile.mkdtemp()
        c1 = dict(contract.CONTRACT_DEFAULTS, latent_mean=40.0, scheduler_s=0.01)
        prior = _FakeExporter({"prior": {"path": "prior/model.onnx"}, "prior_text_encoder": {"path": "x"}},
                              {"latent_mean", "latent_std", "resolution_multiple", "scheduler_s", "scheduler_scaler"})
        write_model_index(folder, "m", c1, {"prior_repo": "p", "decoder_repo": None}, {"default": "fp32", "prior": "fp16"}, prior)
        c2 = dict(contract.CONTRACT_DEFAULTS, vqgan_scale_factor=0.5, scheduler_s=0.02)
        dec = _FakeExporter({"decoder": {"path": "decoder/model.onnx"}, "vqgan": {"path": "y"}},
                            {"latent_dim_scale", "vqgan_scale_factor", "scheduler_s", "scheduler_scaler"},
                            {"scheduler_s", "scheduler_scaler"})
        write_model_index(folder, "m", c2, {"prior_repo": None, "decoder_repo": "d"}, {"default": "fp32", "decoder": "fp32"}, dec)
        with open(os.path.join(folder, "model_index.json"), encoding="utf-8") as f:
            index = json.load(f)
        self.assertEqual(sorted(index["networks"]), ["decoder", "prior", "prior_text_encoder", "vqgan"])
        self.assertEqual(index["latent_mean"], 40.0)        # from the prior run, not the default
        self.assertEqual(index["vqgan_scale_factor"], 0.5)  # from the decoder run
        self.assertEqual(index["scheduler_s"], 0.01)        # the prior's scheduler wins
        self.assertEqual(index["source"], {"prior_repo": "p", "decoder_repo": "d"})
        self.assertEqual(index["network_dtypes"], {"prior": "fp16", "decoder": "fp32"})

    def test_an_export_in_progress_leaves_no_index_and_still_merges_the_previous_one(self):
        from wuerstchen_export.folder import ASIDE, set_index_aside
        folder = tempfile.mkdtemp()
        prior = _FakeExporter({"prior": {"path": "prior/model.onnx"}}, {"latent_mean"})
        write_model_index(folder, "m", dict(contract.CONTRACT_DEFAULTS), {"prior_repo": "p"}, {"default": "fp32"}, prior)
        set_index_aside(folder)  # a re-export starts: until it ends the folder is not a model the module opens
        self.assertFalse(os.path.exists(os.path.join(folder, "model_index.json")))
        set_index_aside(folder)  # a second start after a stopped one keeps the older index
        self.assertTrue(os.path.exists(os.path.join(folder, ASIDE)))
        dec = _FakeExporter({"decoder": {"path": "decoder/model.onnx"}}, {"latent_dim_scale"})
        write_model_index(folder, "m", dict(contract.CONTRACT_DEFAULTS), {"decoder_repo": "d"}, {"default": "fp32"}, dec)
        with open(os.path.join(folder, "model_index.json"), encoding="utf-8") as f:
            self.assertEqual(sorted(json.load(f)["networks"]), ["decoder", "prior"])
        self.assertFalse(os.path.exists(os.path.join(folder, ASIDE)))

    def test_a_fresh_run_replaces_what_it_reads(self):
        prev = dict(contract.CONTRACT_DEFAULTS, format="wuerstchen-onnx", latent_mean=1.0, networks={"prior": {}})
        new = dict(contract.CONTRACT_DEFAULTS, latent_mean=2.0, networks={"prior": {"x": 1}}, source={})
        out = merge_index(prev, new, {"latent_mean"}, set())
        self.assertEqual(out["latent_mean"], 2.0)
        self.assertEqual(out["networks"], {"prior": {"x": 1}})
