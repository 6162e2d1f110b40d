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
INLINE_LIMIT = 1024  # tensors smaller than this stay in model.onnx (torch's own threshold for its external files)


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
    external = _initializer_bytes(model) > threshold
    if external:  # the same aligned layout as a merged > 2 GB export (ONNX Runtime memory-maps aligned tensors)
        path, _ = write_onnx_model_streaming(model, None, folder, metadata)
    else:
        path, _ = _prepare_folder(folder, metadata, model)
        onnx.save_model(model, path)
    # full_check: strict type inference, which catches what onnxruntime refuses at load time (e.g. an operator whose
    # inputs a float16 conversion left with different types) and the built-in interpreter would run regardless
    onnx.checker.check_model(path, full_check=True)
    return path, external


def _attribute_tensors(graph):
    """Every tensor held in a node attribute (Constant's value among them), in subgraphs too."""
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _attribute_tensors(attr.g)
            for sub in attr.graphs:
                yield from _attribute_tensors(sub)


def _all_tensors(model):
    yield from model.graph.initializer
    yield from _attribute_tensors(model.graph)


def _external_info(tensor):
    return {e.key: e.value for e in tensor.external_data}


def _external_range(tensor, source_dir):
    """(file, offset, length) of a tensor stored outside the model."""
    info = _external_info(tensor)
    src = os.path.join(source_dir, info["location"])
    start = int(info.get("offset", 0))
    length = int(info["length"]) if "length" in info else os.path.getsize(src) - start
    return src, start, length


def _read_inline(tensor, source_dir):
    """Moves a tensor's external bytes into raw_data."""
    import onnx
    src, start, length = _external_range(tensor, source_dir)
    with open(src, "rb") as f:
        f.seek(start)
        data = f.read(length)
    if len(data) != length:
        raise ExportError(f"external data of {tensor.name or 'a constant'} is truncated in {src}")
    del tensor.external_data[:]
    tensor.data_location = onnx.TensorProto.DEFAULT
    tensor.raw_data = data


def _constants_to_initializers(model, source_dir):
    """Above 2 GB torch writes Constant-node attributes to files of their own too (e.g. the ones/zeros of a
    LayerNorm without affine: '/prior/blocks.0/norm/Constant_attr::value'); the merge used to move only initializers,
    leaving those pointing at files it never wrote. A Constant whose value is in such a file becomes an initializer of
    the same name when it is large (it then joins the weights in model.onnx.data), else it is read back inline, as is
    any other attribute tensor stored outside (a subgraph's). Returns how many were moved."""
    import onnx
    moved, keep = 0, []
    for node in model.graph.node:
        value = next((a.t for a in node.attribute if a.name == "value" and a.HasField("t")), None)
        if (node.op_type == "Constant" and value is not None and value.data_location == onnx.TensorProto.EXTERNAL
                and _external_range(value, source_dir)[2] >= INLINE_LIMIT):
            init = model.graph.initializer.add()
            init.CopyFrom(value)
            init.name = node.output[0]
            moved += 1
        else:
            keep.append(node)
    if moved:
        del model.graph.node[:]
        model.graph.node.extend(keep)
    for t in _attribute_tensors(model.graph):
        if t.data_location == onnx.TensorProto.EXTERNAL:
            _read_inline(t, source_dir)
            moved += 1
    return moved


def _check_one_data_file(model, location="model.onnx.data"):
    """No tensor may point anywhere but the one data file (a stray file name is a folder ONNX Runtime refuses)."""
    import onnx
    stray = sorted({_external_info(t).get("location", "") for t in _all_tensors(model)
                    if t.data_location == onnx.TensorProto.EXTERNAL} - {location})
    if stray:
        raise ExportError(f"tensors still stored outside {location}: {stray[:3]}")


def _copy_range(out, src, start, length, name):
    with open(src, "rb") as f:
        f.seek(start)
        left = length
        while left > 0:
            chunk = f.read(min(left, 64 << 20))
            if not chunk:
                raise ExportError(f"external data of {name} is truncated in {src}")
            out.write(chunk)
            left -= len(chunk)


def _alignment(length):
    """Where a tensor starts in model.onnx.data. ONNX Runtime memory-maps external data on the CPU (no copy, pages
    shared with the file cache) only where a tensor's offset is a multiple of the allocation granularity: 4 KiB on
    Linux and macOS, 64 KiB on Windows. Tensors of 1 MiB and more (nearly all of the bytes) start on 64 KiB, the rest
    on 4 KiB, so little space is padding."""
    return 65536 if length >= 1 << 20 else 4096


def write_onnx_model_streaming(model, source_dir, folder, metadata):
    """For a model whose tensors torch already wrote as external files (> 2 GB): copy them, chunk by chunk, into
    one folder/model.onnx.data and point the tensors there, without loading the weights into memory. Constant
    nodes whose value torch wrote to a file become initializers first (see _constants_to_initializers). Inline
    tensors of 1 KiB and more move to the data file too (source_dir None: an in-memory model)."""
    import onnx
    path, data = _prepare_folder(folder, metadata, model)
    if source_dir is not None:
        _constants_to_initializers(model, source_dir)
    offset = 0
    with open(data, "wb") as out:
        for t in model.graph.initializer:
            if t.data_location == onnx.TensorProto.EXTERNAL and _external_range(t, source_dir)[2] < INLINE_LIMIT:
                _read_inline(t, source_dir)  # shapes and scalars stay in the graph, where shape inference reads them
                continue
            if t.data_location == onnx.TensorProto.EXTERNAL:
                src, start, length = _external_range(t, source_dir)
                pad = (-offset) % _alignment(length)
                out.write(b"\0" * pad)
                offset += pad
                _copy_range(out, src, start, length, t.name)
            elif t.HasField("raw_data") and len(t.raw_data) >= INLINE_LIMIT:
                pad = (-offset) % _alignment(len(t.raw_data))
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
    _check_one_data_file(model)
    onnx.save_model(model, path)
    onnx.checker.check_model(path)
    return path, True


def split_like_torch(model_path, split_dir):
    """Re-saves an inline model as torch.onnx.export writes one above 2 GB: one file per tensor, Constant-node
    attributes included. --external-data always sends every network through this layout and the streaming merge,
    so that the path real-size networks take is exercised on small ones (the self-test and CI)."""
    import onnx
    model = onnx.load(model_path)
    os.makedirs(split_dir, exist_ok=True)
    onnx.save_model(model, os.path.join(split_dir, "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=False, size_threshold=0, convert_attribute=True)
    del model
    return onnx.load(os.path.join(split_dir, "model.onnx"), load_external_data=False)


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
                   external_threshold=EXTERNAL_DATA_THRESHOLD, io=None, external="auto"):
    """torch.onnx.export (TorchScript exporter, dynamic axes) into a scratch folder, then rewrite the model
    into out_dir/name with its weights inline or in one external data file. external="always": every network
    takes the > 2 GB path (torch's one-file-per-tensor layout, then the streaming merge), whatever its size."""
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
        source_dir = scratch
        torch_wrote_external = any(t.data_location == onnx.TensorProto.EXTERNAL for t in _all_tensors(model))
        if external == "always" and not torch_wrote_external:
            del model
            source_dir = os.path.join(scratch, "split")
            model = split_like_torch(tmp_path, source_dir)
            torch_wrote_external = True
        _set_static_output_dims(model, axes, out_shapes)
        got_in = [i.name for i in model.graph.input]
        got_out = [o.name for o in model.graph.output]
        if got_in != input_names or got_out != output_names:
            raise ExportError(f"{name}: exported graph has inputs {got_in} / outputs {got_out}, expected "
                              f"{input_names} / {output_names} (an input the network ignores is dropped by the exporter)")
        if torch_wrote_external:  # > 2 GB: torch wrote one file per tensor into the scratch folder
            path, external = write_onnx_model_streaming(model, source_dir, os.path.join(out_dir, name), metadata)
        else:
            path, external = write_onnx_model(model, os.path.join(out_dir, name), metadata, external_threshold)
        info["external_data"] = external
        del model
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return path, info


