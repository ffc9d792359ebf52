using System.Text;

namespace Smec.Core.Storage;

/// <summary>
/// NumPy .npy (format 1.0-3.0) for 2-D little-endian float32 arrays in C order: the format the
/// mirror's embeddings and the embedding cache use. Anything else is rejected with a clear error.
/// </summary>
public static class Npy
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>The (rows, cols) of a 2-D float32 .npy from its header alone (checks as <see cref="ReadFloat32"/> does).</summary>
    public static (int Rows, int Cols) ReadShape(string path)
    {
        RequireFile(path);
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream);
        var (rows, cols) = ReadHeader(path, stream, reader);
        return (rows, cols);
    }

    public static (float[] Values, int Rows, int Cols) ReadFloat32(string path)
    {
        RequireFile(path);
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream);
        var (rows, cols) = ReadHeader(path, stream, reader);
        var expectedBytes = (long)rows * cols * 4;
        var values = new float[(long)rows * cols];
        var bytes = reader.ReadBytes((int)expectedBytes);
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian hosts are not supported");
        return (values, rows, cols);
    }

    private static void RequireFile(string path)
    {
        if (Directory.Exists(path)) throw new InvalidDataException($"{path}: is a folder; expected a .npy file");
    }

    private static (int Rows, int Cols) ReadHeader(string path, Stream stream, BinaryReader reader)
    {
        try { return ReadHeaderFields(path, stream, reader); }
        catch (EndOfStreamException) { throw new InvalidDataException($"{path}: truncated .npy header; expected a NumPy .npy file"); }
        catch (FormatException) { throw new InvalidDataException($"{path}: malformed .npy shape; expected a NumPy .npy file"); }
    }

    private static (int Rows, int Cols) ReadHeaderFields(string path, Stream stream, BinaryReader reader)
    {
        var magic = reader.ReadBytes(6);
        if (!magic.AsSpan().SequenceEqual(Magic)) throw new InvalidDataException($"{path}: not a .npy file (bad magic)");
        var major = reader.ReadByte();
        reader.ReadByte();
        int headerLength = major == 1 ? reader.ReadUInt16() : (int)reader.ReadUInt32();
        var header = Encoding.Latin1.GetString(reader.ReadBytes(headerLength));
        if (!header.Contains("'descr': '<f4'"))
            throw new InvalidDataException($"{path}: expected dtype '<f4' (float32 little-endian), header is {header.Trim()}");
        if (header.Contains("'fortran_order': True"))
            throw new InvalidDataException($"{path}: expected C order, file is Fortran order");
        var shapeStart = header.IndexOf("'shape': (", StringComparison.Ordinal);
        if (shapeStart < 0) throw new InvalidDataException($"{path}: header has no shape: {header.Trim()}");
        var shapeText = header[(shapeStart + 10)..header.IndexOf(')', shapeStart)];
        var dims = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(long.Parse).ToArray();
        if (dims.Length != 2) throw new InvalidDataException($"{path}: expected a 2-D array, shape is ({shapeText})");
        var count = checked((int)(dims[0] * dims[1]));
        var expectedBytes = (long)count * 4;
        var remaining = stream.Length - stream.Position;
        if (remaining != expectedBytes)
            throw new InvalidDataException($"{path}: shape ({dims[0]}, {dims[1]}) needs {expectedBytes} data bytes, file has {remaining}");
        return ((int)dims[0], (int)dims[1]);
    }

    /// <summary>Write atomically (<see cref="AtomicFile"/>).</summary>
    public static void WriteFloat32(string path, ReadOnlySpan<float> values, int rows, int cols)
    {
        if ((long)rows * cols != values.Length)
            throw new ArgumentException($"{rows}x{cols} needs {(long)rows * cols} values, got {values.Length}");
        var dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}";
        // Pad so that magic + version + length + header ends on a 64-byte boundary, newline-terminated.
        var total = Magic.Length + 2 + 2 + dict.Length + 1;
        var header = dict + new string(' ', (64 - total % 64) % 64) + "\n";
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).ToArray();
        AtomicFile.WriteBinary(path, writer =>
        {
            writer.Write(Magic);
            writer.Write((byte)1);
            writer.Write((byte)0);
            writer.Write((ushort)header.Length);
            writer.Write(Encoding.Latin1.GetBytes(header));
            writer.Write(bytes);
        });
    }

    /// <summary>
    /// An embedding matrix from a .npy file and a text file of ids, one per line, in row order. Ids
    /// must be unique and free of whitespace (a TREC run could not hold them), and every value finite.
    /// </summary>
    public static EmbeddingMatrix ReadEmbeddings(string npyPath, string idsPath)
    {
        var (values, rows, cols) = ReadFloat32(npyPath);
        var ids = ReadIds(idsPath);
        if (ids.Length != rows)
            throw new InvalidDataException($"{idsPath}: {ids.Length} ids, but {npyPath} has {rows} rows; expected one id per row");
        Runtime.Finite.RequireRows(values, cols, npyPath, row => $"id '{ids[row]}'");
        return new EmbeddingMatrix(ids, values, cols);
    }

    /// <summary>
    /// Ids, one per line (a trailing CR is a line ending, blank lines at the end are ignored). Errors
    /// name the file and line: a blank line before the end, whitespace inside an id, an id given twice.
    /// </summary>
    public static string[] ReadIds(string idsPath)
    {
        var lines = File.ReadAllLines(idsPath).Select(l => l.TrimEnd('\r')).ToList();
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        var firstLine = new Dictionary<string, int>(lines.Count, StringComparer.Ordinal);
        for (var i = 0; i < lines.Count; i++)
        {
            var id = lines[i];
            if (id.Length == 0)
                throw new InvalidDataException($"{idsPath}:{i + 1}: empty line; expected one id per line, in row order");
            if (id.Any(char.IsWhiteSpace))
                throw new InvalidDataException($"{idsPath}:{i + 1}: id '{id}' contains whitespace; expected ids without spaces or tabs");
            if (!firstLine.TryAdd(id, i + 1))
                throw new InvalidDataException($"{idsPath}:{i + 1}: id '{id}' repeats line {firstLine[id]}; expected unique ids");
        }
        return lines.ToArray();
    }
}
