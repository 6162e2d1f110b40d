"""What an export holds in memory: each network's torch weights are released once its ONNX file is written (so that
validation holds one copy, not two), validation memory-maps external data, and every network's time and peak
resident memory are recorded for the user."""
import contextlib
import copy
import io
import os
import shutil
import tempfile
import unittest

import torch

from wuerstchen_export.exporter import Exporter
from wuerstchen_export.selftest.interpreter import OnnxInterpreter
from wuerstchen_export.selftest.standins import build_standins


class ExportMemoryTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nets, cls.dims, _ = build_standins({})

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="export-memory-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def _export(self, name, external="auto"):
        net = copy.deepcopy(self.nets[name])
        exporter = Exporter(self.tmp, 17, torch.device("cpu"), {name: "fp32"}, True, "auto", {"fp32": 1e-3}, None, {})
        exporter.external_mode = external
        with contextlib.redirect_stdout(io.StringIO()):
            exporter.export(name, net, self.dims)
        return exporter, net

    def test_export_releases_the_torch_weights_and_still_validates(self):
        exporter, net = self._export("prior")
        self.assertTrue(exporter.results["prior"]["ok"], exporter.results["prior"].get("error"))
        self.assertTrue(all(p.device.type == "meta" for p in net.parameters()), "weights still held after the export")

    def test_each_network_records_its_time_and_peak_memory(self):
        exporter, _ = self._export("vqgan")
        figures = exporter.figures["vqgan"]
        self.assertGreater(figures["peak_rss_bytes"], 10 << 20)
        self.assertGreaterEqual(figures["peak_rss_bytes"], figures["rss_before_bytes"] // 2)
        self.assertGreaterEqual(figures["seconds"], 0)

    def test_validation_maps_external_data_instead_of_loading_it(self):
        self._export("prior", external="always")
        data = os.path.realpath(os.path.join(self.tmp, "prior", "model.onnx.data"))
        interp = OnnxInterpreter(os.path.join(self.tmp, "prior", "model.onnx"))
        with open("/proc/self/maps") as f:
            mapped = [line for line in f if line.rstrip().endswith(data)]
        self.assertTrue(mapped, "model.onnx.data is not memory-mapped: the weights were copied into memory")
        self.assertTrue(interp.consts)


if __name__ == "__main__":
    unittest.main()
