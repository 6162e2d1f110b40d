using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Wuerstchen.TestSupport;

/// <summary>
/// A minimal protocol-buffers encoder: varints, fixed32 and length-delimited fields, enough for the
/// ONNX messages below. Field numbers and wire types follow onnx/onnx.proto (proto2).
/// </summary>
public sealed class ProtoWriter
{
    private readonly MemoryStream _stream = new();

    public byte[] ToArray() => _stream.ToArray();

    /// <summary>A varint field (wire type 0): int32/int64/enum. Negative values take ten bytes (two's complement), as protobuf does.</summary>
    public ProtoWriter Int(int field, long value)
    {
        Tag(field, 0);
        Varint(unchecked((ulong)value));
        return this;
    }

    /// <summary>A float field (wire type 5, little-endian IEEE 754).</summary>
    public ProtoWriter Float(int field, float value)
    {
        Tag(field, 5);
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(b, value);
        _stream.Write(b);
        return this;
    }

    /// <summary>A length-delimited field (wire type 2): bytes, string or embedded message.</summary>
    public ProtoWriter Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, 2);
        Varint((ulong)value.Length);
        _stream.Write(value);
        return this;
    }

    public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    /// <summary>An embedded message, copied straight from its buffer (weights of a few hundred MB are copied once per level).</summary>
    public ProtoWriter Message(int field, ProtoWriter message)
    {
        Tag(field, 2);
        Varint((ulong)message._stream.Length);
        message._stream.WriteTo(_stream);
        return this;
    }

    public void WriteTo(Stream destination) => _stream.WriteTo(destination);

    private void Tag(int field, int wireType) => Varint((ulong)((field << 3) | wireType));

    private void Varint(ulong value)
    {
        while (value >= 0x80)
        {
            _stream.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }

        _stream.WriteByte((byte)value);
    }
}

/// <summary>ONNX TensorProto.DataType values used here.</summary>
public enum OnnxType
{
    Float = 1,
    Int64 = 7,
    Float16 = 10,
}

/// <summary>An ONNX node attribute (AttributeProto).</summary>
public abstract record Attr(string Name)
{
    public abstract ProtoWriter Encode();

    // AttributeProto: name = 1, f = 2, i = 3, s = 4, floats = 7, ints = 8, type = 20
    // AttributeType: FLOAT = 1, INT = 2, STRING = 3, INTS = 7
    public static Attr Of(string name, long value) => new IntAttr(name, value);

    public static Attr Of(string name, float value) => new FloatAttr(name, value);

    public static Attr Of(string name, string value) => new StringAttr(name, value);

    public static Attr Of(string name, params long[] values) => new IntsAttr(name, values);

    private sealed record IntAttr(string Name, long Value) : Attr(Name)
    {
        public override ProtoWriter Encode() => new ProtoWriter().String(1, Name).Int(3, Value).Int(20, 2);
    }

    private sealed record FloatAttr(string Name, float Value) : Attr(Name)
    {
        public override ProtoWriter Encode() => new ProtoWriter().String(1, Name).Float(2, Value).Int(20, 1);
    }

    private sealed record StringAttr(string Name, string Value) : Attr(Name)
    {
        public override ProtoWriter Encode() => new ProtoWriter().String(1, Name).String(4, Value).Int(20, 3);
    }

    private sealed record IntsAttr(string Name, long[] Values) : Attr(Name)
    {
        public override ProtoWriter Encode()
        {
            var w = new ProtoWriter().String(1, Name);
            foreach (var v in Values)
            {
                w.Int(8, v); // repeated int64, unpacked (proto2 default; parsers accept both)
            }

            return w.Int(20, 7);
        }
    }
}

/// <summary>
/// Builds one ONNX graph (GraphProto) and its model (ModelProto, ir_version 8, default-domain opset 17).
/// Dimensions are given as objects: a long/int is a fixed size, a string a symbolic (dynamic) one.
/// </summary>
public sealed class OnnxGraph
{
    private readonly List<ProtoWriter> _nodes = new();
    private readonly List<ProtoWriter> _initializers = new();
    private readonly List<ProtoWriter> _inputs = new();
    private readonly List<ProtoWriter> _outputs = new();
    private readonly string _name;
    private int _counter;

    public OnnxGraph(string name) => _name = name;

    public long ParameterCount { get; private set; }

    public string Input(string name, OnnxType type, params object[] dims)
    {
        _inputs.Add(ValueInfo(name, type, dims));
        return name;
    }

    public void Output(string name, OnnxType type, params object[] dims) => _outputs.Add(ValueInfo(name, type, dims));

    /// <summary>A float initializer (TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9, little-endian).</summary>
    public string Constant(string name, float[] data, params long[] dims)
    {
        CheckCount(data.Length, dims);
        var raw = MemoryMarshal.AsBytes(data.AsSpan());
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("raw_data is little-endian; this writer assumes a little-endian host.");
        }

        _initializers.Add(Tensor(name, OnnxType.Float, dims).Bytes(9, raw));
        ParameterCount += data.Length;
        return name;
    }

    /// <summary>A float16 initializer (raw_data, little-endian IEEE 754 half), for the GPU stand-ins' fp16 variants.</summary>
    public string Constant(string name, Half[] data, params long[] dims)
    {
        CheckCount(data.Length, dims);
        _initializers.Add(Tensor(name, OnnxType.Float16, dims).Bytes(9, MemoryMarshal.AsBytes(data.AsSpan())));
        ParameterCount += data.Length;
        return name;
    }

    public string Constant(string name, long[] data, params long[] dims)
    {
        CheckCount(data.Length, dims);
        _initializers.Add(Tensor(name, OnnxType.Int64, dims).Bytes(9, MemoryMarshal.AsBytes(data.AsSpan())));
        return name;
    }

    /// <summary>Adds a node with one output and returns the output's name ("" inputs are absent optional inputs).</summary>
    public string Node(string op, string[] inputs, params Attr[] attributes) => Node(op, inputs, null, attributes);

    public string Node(string op, string[] inputs, string? output, params Attr[] attributes)
    {
        output ??= $"{op.ToLowerInvariant()}_{_counter}";
        // NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5
        var node = new ProtoWriter();
        foreach (var i in inputs)
        {
            node.String(1, i);
        }

        node.String(2, output).String(3, $"n{_counter++}_{op}").String(4, op);
        foreach (var a in attributes)
        {
            node.Message(5, a.Encode());
        }

        _nodes.Add(node);
        return output;
    }

    /// <summary>Writes the serialized ModelProto to a file.</summary>
    public void Save(string path, string producer = "Wuerstchen.Benchmark")
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Model(producer).WriteTo(file);
    }

    /// <summary>The serialized ModelProto.</summary>
    public byte[] ToModel(string producer = "Wuerstchen.Benchmark") => Model(producer).ToArray();

    private ProtoWriter Model(string producer)
    {
        // GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12
        var graph = new ProtoWriter();
        foreach (var n in _nodes)
        {
            graph.Message(1, n);
        }

        graph.String(2, _name);
        foreach (var t in _initializers)
        {
            graph.Message(5, t);
        }

        foreach (var i in _inputs)
        {
            graph.Message(11, i);
        }

        foreach (var o in _outputs)
        {
            graph.Message(12, o);
        }

        // ModelProto: ir_version = 1, producer_name = 2, producer_version = 3, graph = 7, opset_import = 8
        // OperatorSetIdProto: domain = 1 ("" = ai.onnx), version = 2
        return new ProtoWriter()
            .Int(1, 8)
            .String(2, producer)
            .String(3, "1")
            .Message(7, graph)
            .Message(8, new ProtoWriter().String(1, "").Int(2, 17));
    }

    private static ProtoWriter Tensor(string name, OnnxType type, long[] dims)
    {
        var t = new ProtoWriter();
        foreach (var d in dims)
        {
            t.Int(1, d);
        }

        return t.Int(2, (int)type).String(8, name);
    }

    private static ProtoWriter ValueInfo(string name, OnnxType type, object[] dims)
    {
        // ValueInfoProto: name = 1, type = 2; TypeProto: tensor_type = 1; TypeProto.Tensor: elem_type = 1, shape = 2;
        // TensorShapeProto: dim = 1; Dimension: dim_value = 1, dim_param = 2
        var shape = new ProtoWriter();
        foreach (var d in dims)
        {
            var dim = d switch
            {
                string p => new ProtoWriter().String(2, p),
                int v => new ProtoWriter().Int(1, v),
                long v => new ProtoWriter().Int(1, v),
                _ => throw new ArgumentException($"Unsupported dimension {d}."),
            };
            shape.Message(1, dim);
        }

        var tensor = new ProtoWriter().Int(1, (int)type).Message(2, shape);
        return new ProtoWriter().String(1, name).Message(2, new ProtoWriter().Message(1, tensor));
    }

    private static void CheckCount(int count, long[] dims)
    {
        long n = 1;
        foreach (var d in dims)
        {
            n *= d;
        }

        if (n != count)
        {
            throw new ArgumentException($"{count} values for shape [{string.Join(",", dims)}].");
        }
    }
}
