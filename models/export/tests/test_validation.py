import copy
import math
import shutil
import tempfile
import unittest

import torch
import torch.nn.functional as F

from wuerstchen_export import patches
from wuerstchen_export.aa_resize import bicubic_aa_resize
from wuerstchen_export.exporter import Exporter
from wuerstchen_export.selftest.standins import build_standins


def _wrong_r_embedding(self, r, max_positions=10000):
    """The fp32 patch with a plausible mistake: the frequency exponent divided by half instead of half - 1."""
    r32 = r.to(torch.float32) * max_positions
    half = self.c_r // 2
    freq = torch.exp(torch.arange(half, device=r.device).to(torch.float32) * (-math.log(max_positions) / half))
    emb = r32.unsqueeze(1) * freq.unsqueeze(0)
    emb = torch.cat([emb.sin(), emb.cos()], dim=1)
    if self.c_r % 2 == 1:
        emb = F.pad(emb, (0, 1), mode="constant")
    return emb.to(self._export_embed_dtype)


class ValidationTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nets, cls.dims, _ = build_standins({})

    def _export_prior(self):
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder, True)
        exporter = Exporter(folder, 17, torch.device("cpu"), {"prior": "fp32"}, True, "auto", {"fp32": 1e-3}, None, {})
        exporter.export("prior", copy.deepcopy(self.nets["prior"]), self.dims)  # the export releases its weights
        return exporter.results["prior"]

    def test_correct_patch_validates_against_the_unpatched_module(self):
        res = self._export_prior()
        self.assertTrue(res["ok"], res.get("error"))
        self.assertLess(res["original_rel"], 1e-3)

    def test_wrong_r_embedding_patch_is_caught(self):
        saved = patches._gen_r_embedding_fp32
        patches._gen_r_embedding_fp32 = _wrong_r_embedding
        try:
            res = self._export_prior()
        finally:
            patches._gen_r_embedding_fp32 = saved
        self.assertFalse(res["ok"])
        self.assertIn("unpatched", res["error"])
        self.assertGreater(res["original_rel"], 1e-3)
        # against the patched wrapper alone (the old check) the export still agrees
        self.assertLess(res["rel"], 1e-3)


class AaResizeTests(unittest.TestCase):
    def test_matches_torch_antialiased_bicubic(self):
        g = torch.Generator().manual_seed(3)
        for (hi, wi), (ho, wo) in [((24, 24), (64, 64)), ((24, 36), (16, 24)), ((5, 7), (1, 3))]:
            x = torch.randn(1, 4, hi, wi, generator=g)
            ref = F.interpolate(x, size=(ho, wo), mode="bicubic", antialias=True, align_corners=True)
            got = bicubic_aa_resize(x, (ho, wo), True)
            self.assertLess(float((got - ref).abs().max()), 1e-5)
