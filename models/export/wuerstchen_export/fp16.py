"""ONNX-level float32 -> float16 conversion (no float16 kernels needed on the export machine).

Every float tensor becomes float16 except the fp32 islands, where float16 overflows or loses too much:
  - the timestep r-embedding: every node downstream of the graph input timestep_ratio up to and including the
    Sin/Cos and the node that joins them (r*10000 in float16 has a spacing of 8 near 10000);
  - normalisation statistics and the attention softmax: ops in KEEP_FP32 (sums of squares overflow float16).
Graph inputs and outputs stay float32 (casts inside the graph). Shape-like float inputs (Resize scales) stay
float32 as the operator schemas demand."""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

KEEP_FP32 = {"Softmax", "ReduceMean", "ReduceL2", "ReduceSum", "ReduceSumSquare", "Pow", "Sqrt",
             "LayerNormalization", "BatchNormalization", "Sin", "Cos", "Exp", "Range", "RandomNormalLike"}
# (op, input index) that must stay float32 whatever the island decision
FP32_INPUT_SLOTS = {("Resize", 1), ("Resize", 2), ("Upsample", 1)}
NON_FLOAT_OUT = {"Shape", "Size", "ArgMax", "ArgMin", "NonZero", "Equal", "Less", "Greater", "LessOrEqual",
                 "GreaterOrEqual", "Not", "And", "Or", "IsNaN", "IsInf"}


def _to16(array):
    """float32 -> float16, saturating at ±65504: mask constants such as float32's lowest value must stay finite
    (as -inf, 0 * mask gives NaN)."""
    return np.clip(array, -65504.0, 65504.0).astype(np.float16)


def _float_tensors(model):
    """Names of float32 tensors (initializers, inputs, node outputs), by forward type propagation."""
    g = model.graph
    is_float = {t.name: t.data_type == TensorProto.FLOAT for t in g.initializer}
    for i in g.input:
        is_float[i.name] = i.type.tensor_type.elem_type == TensorProto.FLOAT
    for n in g.node:
        if n.op_type == "Constant":
            value = next((a.t for a in n.attribute if a.name == "value"), None)
            f = value is not None and value.data_type == TensorProto.FLOAT
        elif n.op_type == "Cast":
            f = next(a.i for a in n.attribute if a.name == "to") == TensorProto.FLOAT
        elif n.op_type == "ConstantOfShape":
            value = next((a.t for a in n.attribute if a.name == "value"), None)
            f = value is None or value.data_type == TensorProto.FLOAT
        elif n.op_type in NON_FLOAT_OUT:
            f = False
        elif n.op_type in ("Where",):
            f = any(is_float.get(x, False) for x in n.input[1:])
        else:
            f = any(is_float.get(x, False) for x in n.input if x)
        for o in n.output:
            is_float[o] = f
    return {k for k, v in is_float.items() if v}


def _islands(model, timestep_input="timestep_ratio"):
    """Nodes that compute in float32: KEEP_FP32 ops, and the r-embedding path from timestep_ratio to its Sin/Cos."""
    keep = set()
    tainted = {timestep_input}
    joins = set()
    for k, n in enumerate(model.graph.node):
        if n.op_type in KEEP_FP32:
            keep.add(k)
        if any(x in tainted for x in n.input):
            keep.add(k)
            if n.op_type in ("Sin", "Cos"):
                joins.update(n.output)      # the consumer that joins sin and cos is the last fp32 node
            elif any(x in joins for x in n.input):
                pass                          # the join itself: fp32, but the taint stops here
            else:
                tainted.update(n.output)
    return keep


def convert_to_fp16(model, timestep_input="timestep_ratio"):
    """Converts model in place (and returns it): float16 weights and compute, float32 islands, float32 graph inputs and outputs."""
    # in place: a copy through SerializeToString would fail for models over protobuf's 2 GB
    g = model.graph
    floats = _float_tensors(model)
    keep = _islands(model, timestep_input)
    consumers = {}
    for k, n in enumerate(g.node):
        for slot, x in enumerate(n.input):
            consumers.setdefault(x, []).append((k, slot))

    def wants16(k, slot):
        n = g.node[k]
        return k not in keep and (n.op_type, slot) not in FP32_INPUT_SLOTS

    graph_outputs = {o.name for o in g.output}
    # tensors stored as float16: initializers/constants/node outputs whose every consumer wants float16
    stored16 = set()
    for t in g.initializer:
        if t.name in floats and all(wants16(k, s) for k, s in consumers.get(t.name, [])) and consumers.get(t.name):
            t.CopyFrom(numpy_helper.from_array(_to16(numpy_helper.to_array(t)), t.name))
            stored16.add(t.name)
    for k, n in enumerate(g.node):
        if k in keep:
            continue
        if n.op_type == "Constant":
            value = next((a for a in n.attribute if a.name == "value"), None)
            if value is not None and value.t.data_type == TensorProto.FLOAT and \
                    all(wants16(c, s) for c, s in consumers.get(n.output[0], [])):
                value.t.CopyFrom(numpy_helper.from_array(_to16(numpy_helper.to_array(value.t))))
                stored16.add(n.output[0])
            continue
        if n.op_type == "Cast" and next(a.i for a in n.attribute if a.name == "to") == TensorProto.FLOAT:
            for a in n.attribute:
                if a.name == "to":
                    a.i = TensorProto.FLOAT16
            stored16.update(n.output)
            continue
        if n.op_type == "ConstantOfShape":
            value = next((a for a in n.attribute if a.name == "value"), None)
            if value is not None and value.t.data_type == TensorProto.FLOAT:
                value.t.CopyFrom(numpy_helper.from_array(_to16(numpy_helper.to_array(value.t))))
                stored16.update(n.output)
            continue
        if any(o in floats for o in n.output):
            stored16.update(o for o in n.output if o in floats)
    # casts where a float tensor's storage and its consumer's wish differ
    new_nodes = []
    cast_cache = {}

    def cast(name, to16):
        key = (name, to16)
        if key not in cast_cache:
            out = f"{name}__{'fp16' if to16 else 'fp32'}"
            new_nodes.append(helper.make_node("Cast", [name], [out], to=TensorProto.FLOAT16 if to16 else TensorProto.FLOAT,
                                              name=f"fp16cast/{out}"))
            cast_cache[key] = out
        return cast_cache[key]

    for k, n in enumerate(g.node):
        for slot, x in enumerate(n.input):
            if x in floats:
                want16 = wants16(k, slot) and not (n.op_type == "Cast")
                if n.op_type == "Cast":
                    continue  # a Cast takes either type
                if (x in stored16) != want16:
                    n.input[slot] = cast(x, want16)
        new_nodes.append(n)
        # graph outputs must stay float32: the node writes tmp (float16), a Cast writes the output's name (float32).
        # Consumers that want float16 read tmp; the others (a float32 island such as the final LayerNorm after Stable
        # Cascade's pre_norm_hidden_state output, or a Cast) read the float32 name. Consumers come later in
        # topological order, so the cast pass above sees the corrected storage when it reaches them.
        for j, o in enumerate(n.output):
            if o in graph_outputs and o in stored16:
                tmp = o + "__fp16_out"
                n.output[j] = tmp
                new_nodes.append(helper.make_node("Cast", [tmp], [o], to=TensorProto.FLOAT, name=f"fp16cast/{o}"))
                stored16.discard(o)
                for c, s in consumers.get(o, []):
                    if wants16(c, s) and g.node[c].op_type != "Cast":
                        g.node[c].input[s] = tmp
    del g.node[:]
    g.node.extend(new_nodes)
    del g.value_info[:]
    return model
