"""External data (networks over 2 GB): torch writes one file per tensor, Constant-node attributes included, and the
exporter merges them into model.onnx.data. Real networks are too large for a test, so the same layout is made from
small ones (what --external-data always does), and the module must load the result exactly as the inline export."""
import argparse
import contextlib
import io
import os
import shutil
import subprocess
import tempfile
import unittest

import numpy as np
import onnx
import torch

from wuerstchen_export.onnx_io import _install_layer_norm_fix, export_network, write_onnx_model_streaming
from wuerstchen_export.runners import onnx_runner
from wuerstchen_export.selftest.run import run_self_test

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))


class _Norms(torch.nn.Module):
    """LayerNorms without affine: torch < 2 exports them with Constant ones/zeros (the exporter's fix), as in the
    real prior; one wide (its constants exceed 1 KB) and one narrow."""

    def __init__(self):
        super().__init__()
        self.wide = torch.nn.LayerNorm(512, elementwise_affine=False)
        self.proj = torch.nn.Linear(512, 64)
        self.narrow = torch.nn.LayerNorm(64, elementwise_affine=False)

    def forward(self, x):
        return self.narrow(self.proj(self.wide(x)))


def _external_locations(path):
    model = onnx.load(path, load_external_data=False)
    tensors = list(model.graph.initializer)
    for node in model.graph.node:
        tensors += [a.t for a in node.attribute if a.HasField("t")]
    return {e.value for t in tensors if t.data_location == onnx.TensorProto.EXTERNAL
            for e in t.external_data if e.key == "location"}


class ExternalDataMergeTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="extdata-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.net = _Norms().eval()
        self.x = torch.randn(2, 5, 512, generator=torch.Generator().manual_seed(1))

    def _torch_layout(self):
        """The folder torch.onnx.export leaves for a > 2 GB model: every tensor in a file of its own."""
        inline = os.path.join(self.tmp, "inline.onnx")
        _install_layer_norm_fix(17)
        with torch.no_grad():
            torch.onnx.export(self.net, (self.x,), inline, opset_version=17, input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "b"}, "y": {0: "b"}})
        split = os.path.join(self.tmp, "split")
        os.makedirs(split)
        onnx.save_model(onnx.load(inline), os.path.join(split, "model.onnx"), save_as_external_data=True,
                        all_tensors_to_one_file=False, size_threshold=0, convert_attribute=True)
        return split

    def test_constant_attributes_torch_wrote_to_files_land_in_the_one_data_file(self):
        split = self._torch_layout()
        model = onnx.load(os.path.join(split, "model.onnx"), load_external_data=False)
        self.assertTrue(any(n.op_type == "Constant" and n.attribute[0].t.data_location == onnx.TensorProto.EXTERNAL
                            for n in model.graph.node), "the layout must have Constant values in files of their own")
        path, _ = write_onnx_model_streaming(model, split, os.path.join(self.tmp, "merged"), {"t": "1"})
        self.assertEqual(sorted(os.listdir(os.path.dirname(path))), ["model.onnx", "model.onnx.data"])
        self.assertEqual(_external_locations(path), {"model.onnx.data"})
        onnx.checker.check_model(path, full_check=True)
        got = onnx_runner(path, "interpreter")[0]({"x": self.x.numpy()})["y"]
        with torch.no_grad():
            np.testing.assert_allclose(got, self.net(self.x).numpy(), rtol=0, atol=1e-5)

    def test_export_network_always_writes_every_network_through_the_merge(self):
        out = os.path.join(self.tmp, "out")
        os.makedirs(out)
        io_spec = (["x"], ["y"], {"x": {0: "b"}, "y": {0: "b"}})
        with contextlib.redirect_stdout(io.StringIO()):
            path, info = export_network("norms", self.net, (self.x,), out, 17, torch.device("cpu"), {"t": "1"},
                                        io=io_spec, external="always")
        self.assertTrue(info["external_data"])
        self.assertEqual(sorted(os.listdir(os.path.dirname(path))), ["model.onnx", "model.onnx.data"])
        self.assertEqual(_external_locations(path), {"model.onnx.data"})
        self.assertEqual(sorted(os.listdir(out)), ["norms"], "no scratch folder may be left behind")


    def test_data_file_offsets_let_onnx_runtime_memory_map_on_every_os(self):
        from onnx import helper, numpy_helper
        from wuerstchen_export.onnx_io import write_onnx_model
        weights = {"big": np.ones((1024, 513), np.float32), "small": np.ones((3, 700), np.float32),
                   "big2": np.ones((600, 600), np.float32)}
        nodes = [helper.make_node("ReduceSum", [n], [n + "_s"], keepdims=0) for n in weights]
        graph = helper.make_graph(nodes, "g", [], [helper.make_tensor_value_info(n + "_s", onnx.TensorProto.FLOAT, [])
                                                  for n in weights],
                                  [numpy_helper.from_array(a, n) for n, a in weights.items()])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
        path, external = write_onnx_model(model, os.path.join(self.tmp, "aligned"), {"t": "1"}, threshold=0)
        self.assertTrue(external)
        offsets = {t.name: (int({e.key: e.value for e in t.external_data}["offset"]), t.raw_data)
                   for t in onnx.load(path, load_external_data=False).graph.initializer}
        self.assertEqual(offsets["big"][0] % 65536, 0)   # Windows' allocation granularity, for tensors of 1 MiB and more
        self.assertEqual(offsets["big2"][0] % 65536, 0)
        self.assertEqual(offsets["small"][0] % 4096, 0)  # the page size elsewhere
        got = onnx_runner(path, "interpreter")[0]({})
        self.assertEqual(float(got["big_s"]), 1024 * 513)


class ExternalDataInTheModuleTests(unittest.TestCase):
    """The stand-ins exported inline and with --external-data always render the same file in the built module."""

    def test_module_renders_the_same_image_from_both_exports(self):
        module = os.path.join(CHECKOUT, "out", "Wuerstchen", "Wuerstchen.psd1")
        self.assertTrue(os.path.exists(module), "build the module first (dotnet pwsh ./build.ps1)")
        tmp = tempfile.mkdtemp(prefix="extdata-module-")
        self.addCleanup(shutil.rmtree, tmp, True)
        for mode in ("auto", "always"):
            args = argparse.Namespace(output=os.path.join(tmp, mode), device="cpu", opset=17, validator="auto", rtol=None,
                                      ort_provider=None, external_data=mode)
            with contextlib.redirect_stdout(io.StringIO()):
                self.assertEqual(run_self_test(args), 0, f"self-test export with --external-data {mode}")
        for net in ("vqgan", "decoder", "fp16/prior"):
            self.assertEqual(_external_locations(os.path.join(tmp, "always", net, "model.onnx")), {"model.onnx.data"})
            self.assertFalse(os.path.exists(os.path.join(tmp, "auto", "vqgan", "model.onnx.data")))
        script = os.path.join(tmp, "render.ps1")
        with open(script, "w", encoding="utf-8") as f:
            f.write(f"""$ErrorActionPreference = 'Stop'
Import-Module '{module}'
foreach ($m in 'auto', 'always', 'auto/fp16', 'always/fp16') {{
  $f = New-WuerstchenImage 'a red fox' -Seed 3 -Width 256 -Height 256 -PriorSteps 3 -DecoderSteps 2 `
       -ModelPath (Join-Path '{tmp}' $m) -OutputPath ('{tmp}/' + ($m -replace '/', '-') + '.png') -ExecutionProvider Cpu
  "$m " + (Get-FileHash $f.FullName).Hash
}}
""")
        env = dict(os.environ, NO_COLOR="1", ORT_DISABLE_TELEMETRY="1", DOTNET_CLI_TELEMETRY_OPTOUT="1")
        run = subprocess.run(["dotnet", "pwsh", "-NoProfile", "-NonInteractive", "-File", script], cwd=CHECKOUT, env=env,
                             capture_output=True, text=True, timeout=600)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        hashes = dict(line.split() for line in run.stdout.splitlines() if line.strip())
        self.assertEqual(hashes["auto"], hashes["always"])
        self.assertEqual(hashes["auto/fp16"], hashes["always/fp16"])


if __name__ == "__main__":
    unittest.main()
