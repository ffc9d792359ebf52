using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Smec.Core.Storage;

/// <summary>
/// The safetensors format (an 8-byte little-endian header length, a JSON header mapping tensor
/// names to dtype/shape/data_offsets, then the raw bytes), for 2-D float32 tensors only: what a
/// user exporting embeddings from PyTorch or NumPy would write.
/// </summary>
public static class Safetensors
{
    /// <summary>
    /// Read a 2-D F32 tensor: the one named <paramref name="tensorName"/>, or the file's only
    /// tensor when no name is given.
    /// </summary>
    public static (float[] Values, int Rows, int Cols) ReadFloat32(string path, string? tensorName = null)
    {
        using var stream = File.OpenRead(path);
        var lengthBytes = new byte[8];
        if (stream.Read(lengthBytes) != 8) throw new InvalidDataException($"{path}: too short for a safetensors file");
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength == 0 || headerLength > (ulong)Math.Min(stream.Length - 8, 100_000_000))
            throw new InvalidDataException($"{path}: header length {headerLength} does not fit the file ({stream.Length} bytes); not a safetensors file?");
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        JsonDocument header;
        try { header = JsonDocument.Parse(headerBytes); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: header is not valid JSON ({e.Message})", e); }
        using (header)
        {
            var tensors = header.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__").ToList();
            var chosen = tensorName != null
                ? tensors.FirstOrDefault(p => p.Name == tensorName)
                : tensors.Count == 1 ? tensors[0] : default;
            if (chosen.Value.ValueKind == JsonValueKind.Undefined)
                throw new InvalidDataException(tensorName != null
                    ? $"{path}: no tensor '{tensorName}' (tensors: {string.Join(", ", tensors.Select(t => t.Name))})"
                    : $"{path}: holds {tensors.Count} tensors ({string.Join(", ", tensors.Select(t => t.Name))}); expected exactly one, " +
                      "the 2-D float32 embeddings (save them alone, e.g. safetensors.numpy.save_file({'embeddings': matrix}, path))");
            var name = chosen.Name;
            var info = chosen.Value;
            var dtype = info.GetProperty("dtype").GetString();
            if (dtype != "F32") throw new InvalidDataException($"{path}: tensor '{name}' has dtype {dtype}, expected F32 (float32)");
            var shape = info.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            if (shape.Length != 2) throw new InvalidDataException($"{path}: tensor '{name}' has shape [{string.Join(", ", shape)}], expected 2-D");
            var offsets = info.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var count = checked((int)(shape[0] * shape[1]));
            if (offsets.Length != 2 || offsets[1] - offsets[0] != count * 4L)
                throw new InvalidDataException($"{path}: tensor '{name}' data_offsets [{string.Join(", ", offsets)}] do not hold {shape[0]}x{shape[1]} floats");
            var dataStart = 8 + (long)headerLength;
            if (dataStart + offsets[1] > stream.Length)
                throw new InvalidDataException($"{path}: tensor '{name}' ends at byte {dataStart + offsets[1]}, past the end of the file ({stream.Length} bytes; truncated?)");
            stream.Position = dataStart + offsets[0];
            var values = new float[count];
            stream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian hosts are not supported");
            return (values, (int)shape[0], (int)shape[1]);
        }
    }

    /// <summary>Write one 2-D F32 tensor, atomically (temporary file, then rename).</summary>
    public static void WriteFloat32(string path, string tensorName, ReadOnlySpan<float> values, int rows, int cols)
    {
        if ((long)rows * cols != values.Length) throw new ArgumentException($"{rows}x{cols} needs {(long)rows * cols} values, got {values.Length}");
        var json = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            [tensorName] = new { dtype = "F32", shape = new[] { rows, cols }, data_offsets = new[] { 0L, values.Length * 4L } },
        });
        // Pad the header with spaces to a multiple of 8 bytes, as the reference writer does.
        var header = Encoding.UTF8.GetBytes(json + new string(' ', (8 - Encoding.UTF8.GetByteCount(json) % 8) % 8));
        var data = System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).ToArray();
        AtomicFile.Write(path, stream =>
        {
            var lengthBytes = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(lengthBytes, (ulong)header.Length);
            stream.Write(lengthBytes);
            stream.Write(header);
            stream.Write(data);
        });
    }
}
