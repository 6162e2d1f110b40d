"""ONNX writing: torch.onnx.export, inline or external data, streaming merge of >2 GB weights."""
import inspect
import contextlib
import os
import shutil
import tempfile
import time
import warnings

import torch

from .aa_resize import patched_interpolate
from .contract import EXTERNAL_DATA_THRESHOLD, ExportError, IO, log
from .patches import export_attention_processors

# ======================================================================================================
# ONNX writing
# ======================================================================================================

_LAYER_NORM_FIX_DONE = False


def _torch_version_tuple():
    parts = []
    for p in torch.__version__.split("+")[0].split(".")[:2]:
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _install_layer_norm_fix(opset):
    """torch < 2.0 exports LayerNorm without affine (Würstchen's norms) at opset >= 17 as a LayerNormalization
    node with an empty scale input, which is invalid ONNX. Register a symbolic that supplies ones / zeros."""
    global _LAYER_NORM_FIX_DONE
    if _LAYER_NORM_FIX_DONE or opset < 17 or _torch_version_tuple() >= (2, 0):
        return
    from torch.onnx import register_custom_op_symbolic
    from torch.onnx import symbolic_helper as sh

    def layer_norm(g, input, normalized_shape, weight, bias, eps, cudnn_enable):
        shape = sh._get_const(normalized_shape, "is", "normalized_shape")
        eps_value = sh._get_const(eps, "f", "eps")
        kind = input.type().scalarType() if input.type().kind() == "TensorType" else None
        dtype = torch.float16 if kind == "Half" else torch.float64 if kind == "Double" else torch.float32
        if sh._is_none(weight):
            weight = g.op("Constant", value_t=torch.ones(shape, dtype=dtype))
        if sh._is_none(bias):
            bias = g.op("Constant", value_t=torch.zeros(shape, dtype=dtype))
        return g.op("LayerNormalization", input, weight, bias, epsilon_f=eps_value, axis_i=-len(shape))

    register_custom_op_symbolic("aten::layer_norm", layer_norm, opset)
    _LAYER_NORM_FIX_DONE = True


def _onnx_export_kwargs():
    kwargs = {}
    params = inspect.signature(torch.onnx.export).parameters
    if "dynamo" in params:
        kwargs["dynamo"] = False  # the TorchScript exporter (torch >= 2.9 defaults to dynamo)
    return kwargs


def _initializer_bytes(model):
    total = 0
    for t in model.graph.initializer:
        if t.HasField("raw_data"):
            total += len(t.raw_data)
        else:
            n = 1
            for d in t.dims:
                n *= d
            total += n * {1: 4, 10: 2, 11: 8, 7: 8, 6: 4, 9: 1, 16: 2}.get(t.data_type, 4)
    return total


def _prepare_folder(folder, metadata, model):
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    data = os.path.join(folder, "model.onnx.data")
    for p in (path, data):  # onnx appends to an existing data file: never reuse one
        if os.path.exists(p):
            os.remove(p)
    del model.metadata_props[:]
    for k, v in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = str(k), str(v)
    return path, data


def write_onnx_model(model, folder, metadata, threshold=EXTERNAL_DATA_THRESHOLD):
    """Save an in-memory model to folder/model.onnx, with all weights in folder/model.onnx.data when they exceed
    the threshold."""
    import onnx
    path, _ = _prepare_folder(folder, metadata, model)
    external = _initializer_bytes(model) > threshold
    if external:
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model.onnx.data", size_threshold=1024, convert_attribute=False)
    else:
        onnx.save_model(model, path)
    # full_check: strict type inference, which catches what onnxruntime refuses at load time (e.g. an operator whose
    # inputs a float16 conversion left with different types) and the built-in interpreter would run regardless
    onnx.checker.check_model(path, full_check=True)
    return path, external


def write_onnx_model_streaming(model, source_dir, folder, metadata, align=4096):
    """For a model whose weights torch already wrote as external files (> 2 GB): copy them, chunk by chunk, into
    one folder/model.onnx.data and point the initializers there, without loading the weights into memory."""
    import onnx
    path, data = _prepare_folder(folder, metadata, model)
    offset = 0
    with open(data, "wb") as out:
        for t in model.graph.initializer:
            if t.data_location == onnx.TensorProto.EXTERNAL:
                info = {e.key: e.value for e in t.external_data}
                src = os.path.join(source_dir, info["location"])
                start = int(info.get("offset", 0))
                length = int(info["length"]) if "length" in info else os.path.getsize(src) - start
                pad = (-offset) % align
                out.write(b"\0" * pad)
                offset += pad
                with open(src, "rb") as f:
                    f.seek(start)
                    left = length
                    while left > 0:
                        chunk = f.read(min(left, 64 << 20))
                        if not chunk:
                            raise ExportError(f"external data of {t.name} is truncated in {src}")
                        out.write(chunk)
                        left -= len(chunk)
            elif t.HasField("raw_data") and len(t.raw_data) >= 1024:
                pad = (-offset) % align
                out.write(b"\0" * pad)
                offset += pad
                length = len(t.raw_data)
                out.write(t.raw_data)
                t.ClearField("raw_data")
            else:
                continue
            del t.external_data[:]
            t.data_location = onnx.TensorProto.EXTERNAL
            for k, v in (("location", "model.onnx.data"), ("offset", str(offset)), ("length", str(length))):
                entry = t.external_data.add()
                entry.key, entry.value = k, v
            offset += length
    onnx.save_model(model, path)
    onnx.checker.check_model(path)
    return path, True


def _set_static_output_dims(model, axes, shapes):
    """Declare the non-dynamic output dims (channels, 77, hidden size) as numbers; the exporter leaves some symbolic.
    shapes: one shape per graph output, in order."""
    for out, shape in zip(model.graph.output, shapes):
        dims = out.type.tensor_type.shape.dim
        dynamic = axes.get(out.name, {})
        for k, d in enumerate(dims):
            if k in dynamic:
                if not d.HasField("dim_param") or d.dim_param != dynamic[k]:
                    d.dim_param = dynamic[k]
            elif k < len(shape):
                d.dim_value = int(shape[k])


def export_network(name, wrapper, example, out_dir, opset, device, metadata, patch_resize=False,
                   external_threshold=EXTERNAL_DATA_THRESHOLD, io=None):
    """torch.onnx.export (TorchScript exporter, dynamic axes) into a scratch folder, then rewrite the model
    into out_dir/name with its weights inline or in one external data file."""
    import onnx
    input_names, output_names, axes = io or IO[name]  # io: another family's (names, outputs, axes)
    scratch = tempfile.mkdtemp(prefix=f".export-{name}-", dir=out_dir)
    info = {}
    try:
        tmp_path = os.path.join(scratch, "model.onnx")
        args = tuple(t.to(device) for t in example)
        _install_layer_norm_fix(opset)
        with torch.no_grad():
            out = wrapper(*args)
            out_shapes = [list(o.shape) for o in (out if isinstance(out, tuple) else (out,))]
        ctx_resize = patched_interpolate() if patch_resize else contextlib.nullcontext()
        with torch.no_grad(), ctx_resize as counter, export_attention_processors(wrapper) as n_attn, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.time()
            torch.onnx.export(wrapper, args, tmp_path, export_params=True, opset_version=opset,
                              do_constant_folding=True, input_names=input_names, output_names=output_names,
                              dynamic_axes=axes, **_onnx_export_kwargs())
            info["export_seconds"] = round(time.time() - t0, 1)
        info["attention_processors_replaced"] = n_attn
        if patch_resize:
            info["aa_bicubic_resizes_replaced"] = counter.replaced
            if counter.replaced == 0:
                log(f"  warning: {name}: no antialiased bicubic interpolate was seen while exporting")
        model = onnx.load(tmp_path, load_external_data=False)
        torch_wrote_external = any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
        _set_static_output_dims(model, axes, out_shapes)
        got_in = [i.name for i in model.graph.input]
        got_out = [o.name for o in model.graph.output]
        if got_in != input_names or got_out != output_names:
            raise ExportError(f"{name}: exported graph has inputs {got_in} / outputs {got_out}, expected "
                              f"{input_names} / {output_names} (an input the network ignores is dropped by the exporter)")
        if torch_wrote_external:  # > 2 GB: torch wrote one file per tensor into the scratch folder
            path, external = write_onnx_model_streaming(model, scratch, os.path.join(out_dir, name), metadata)
        else:
            path, external = write_onnx_model(model, os.path.join(out_dir, name), metadata, external_threshold)
        info["external_data"] = external
        del model
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return path, info


