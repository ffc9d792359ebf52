using static TorchSharp.torch;

namespace Smec.Core.Training;

/// <summary>
/// A plain binary form for named float32/float64/int64 tensors (name, dtype, shape, little-endian data),
/// used by checkpoints and saved models. Reading checks names and shapes against what is expected.
/// </summary>
public static class TensorIO
{
    public static void Write(BinaryWriter writer, string name, Tensor value)
    {
        using var cpu = value.detach().cpu().contiguous();
        writer.Write(name);
        writer.Write(cpu.dtype switch
        {
            ScalarType.Int64 => "i8",
            ScalarType.Float32 => "f4",
            ScalarType.Float64 => "f8",
            _ => throw new NotSupportedException($"tensor '{name}': dtype {cpu.dtype} is not stored (float32, float64 and int64 are)"),
        });
        writer.Write(cpu.shape.Length);
        foreach (var d in cpu.shape) writer.Write(d);
        if (cpu.dtype == ScalarType.Int64) foreach (var v in cpu.data<long>()) writer.Write(v);
        else if (cpu.dtype == ScalarType.Float64) writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(cpu.data<double>().ToArray().AsSpan()));
        else writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(cpu.data<float>().ToArray().AsSpan()));
    }

    /// <summary>Read a tensor written by <see cref="Write"/>, checking its name; the result is a new CPU tensor.</summary>
    public static Tensor Read(BinaryReader reader, string expectedName, string source)
    {
        var name = reader.ReadString();
        if (name != expectedName) throw new InvalidDataException($"{source}: expected tensor '{expectedName}', found '{name}'");
        var dtype = reader.ReadString();
        var shape = new long[reader.ReadInt32()];
        for (var i = 0; i < shape.Length; i++) shape[i] = reader.ReadInt64();
        var count = shape.Aggregate(1L, (a, b) => a * b);
        switch (dtype)
        {
            case "f4":
                var bytes = reader.ReadBytes(checked((int)(count * 4)));
                if (bytes.Length != count * 4) throw new InvalidDataException($"{source}: tensor '{name}' is truncated");
                var floats = new float[count];
                Buffer.BlockCopy(bytes, 0, floats, 0, bytes.Length);
                return tensor(floats, shape);
            case "f8":
                var wide = reader.ReadBytes(checked((int)(count * 8)));
                if (wide.Length != count * 8) throw new InvalidDataException($"{source}: tensor '{name}' is truncated");
                var doubles = new double[count];
                Buffer.BlockCopy(wide, 0, doubles, 0, wide.Length);
                return tensor(doubles, shape);
            case "i8":
                var longs = new long[count];
                for (var i = 0; i < count; i++) longs[i] = reader.ReadInt64();
                return tensor(longs, shape);
            default:
                throw new InvalidDataException($"{source}: tensor '{name}' has unknown dtype '{dtype}'");
        }
    }

    /// <summary>Read into an existing tensor (same shape), in place, without tracking gradients.</summary>
    public static void ReadInto(BinaryReader reader, string expectedName, Tensor target, string source)
    {
        using var loaded = Read(reader, expectedName, source);
        if (!loaded.shape.SequenceEqual(target.shape))
            throw new InvalidDataException($"{source}: tensor '{expectedName}' has shape [{string.Join(",", loaded.shape)}], expected [{string.Join(",", target.shape)}]");
        using var _ = no_grad();
        target.copy_(loaded);
    }

}
