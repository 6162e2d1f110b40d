"""The model-folder contract, read from docs/spec/model-contract.json (the file the module embeds too), so that
network names, port names, dynamic-axis names, the network order and the constant defaults exist once.
Also the few shared helpers every part of the exporter uses (log, ExportError, dtype names)."""
import json
import os

import torch

EXPORTER_VERSION = "1.3.0"  # 1.3.0: Stable Cascade image_encoder + feature_extractor, clip_img takes several images; 1.2.0: Stable Cascade skips resized for any size (wuerstchen.skips), fp16 for Stable Cascade
CONTRACT_ENV = "WUERSTCHEN_MODEL_CONTRACT"
# Initializer bytes above which weights go to model.onnx.data. Protobuf's hard limit is 2 GiB, but external data is
# also what ONNX Runtime can memory-map instead of copying: a 1.4 GB text encoder kept inline cost 1.4 GB of anonymous
# memory at load, in model.onnx.data 11 MB (README, Performance at real size). The VQGAN and EfficientNet stay inline.
EXTERNAL_DATA_THRESHOLD = 256 << 20
DEFAULT_RTOL = {"fp32": 1e-3, "fp16": 3e-2}
VOCAB_SIZE = 49408


def log(msg=""):
    print(msg, flush=True)


class ExportError(RuntimeError):
    pass


def torch_dtype(name):
    return {"fp32": torch.float32, "fp16": torch.float16}[name]


def contract_path():
    """$WUERSTCHEN_MODEL_CONTRACT, else docs/spec/model-contract.json of the checkout this package sits in."""
    env = os.environ.get(CONTRACT_ENV)
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "..", "docs", "spec", "model-contract.json"))


def load_contract(path=None):
    path = path or contract_path()
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as ex:
        raise ExportError(f"the model contract {path} cannot be read ({ex.strerror}); the exporter runs from a "
                          f"checkout of the project, or set {CONTRACT_ENV} to the file") from None


class Family:
    """One family of the contract: networks (role, half, ports), order, constants, model-sized axes."""

    def __init__(self, name, data):
        self.name = name
        self.data = data
        self.networks = data["networks"]
        self.order = list(data["network_order"])
        self.constants = {k: v["default"] for k, v in data["constants"].items()}
        self.model_sized = set(data.get("model_sized_axes", []))

    def io(self, network):
        """(input names, output names, dynamic axes {port: {axis: name}}) as torch.onnx.export takes them."""
        net = self.networks[network]
        axes = {}
        for port in net["inputs"] + net["outputs"]:
            dyn = {k: s for k, s in enumerate(port["shape"])
                   if isinstance(s, str) and not s.startswith("$") and s not in self.model_sized}
            if dyn:
                axes[port["name"]] = dyn
        return [p["name"] for p in net["inputs"]], [p["name"] for p in net["outputs"]], axes

    def int_ports(self, network):
        net = self.networks[network]
        return {p["name"] for p in net["inputs"] + net["outputs"] if p["dtype"] == "int"}

    def half_of(self, network):
        return self.networks[network]["half"]

    def role(self, network):
        return self.networks[network]["role"]


def family(name=None, contract=None):
    contract = contract or load_contract()
    name = name or contract["default_family"]
    if name not in contract["families"]:
        raise ExportError(f"the model contract has no family '{name}' (it has {sorted(contract['families'])})")
    return Family(name, contract["families"][name])


V2 = family("wuerstchen-v2")
CONTRACT_DEFAULTS = dict(V2.constants)
MAX_LENGTH = int(CONTRACT_DEFAULTS["max_length"])
NETWORK_ORDER = V2.order
IO = {n: V2.io(n) for n in NETWORK_ORDER}
