using System.Text.Json;
using Smec.Core.Data;

namespace Smec.Core.Storage;

/// <summary>
/// Embeddings on disk, one folder per key: for each part (corpus, queries, train, ...)
/// <c>&lt;part&gt;.npy</c> (float32), <c>&lt;part&gt;.ids.txt</c> and a sidecar <c>&lt;part&gt;.json</c>
/// recording the key, shape, sizes and SHA-256 of both files. Every file is written atomically
/// and the sidecar last, so a part without a sidecar is incomplete. A part whose files do not
/// match its sidecar (or whose ids are not the ones expected) is deleted and rebuilt, never used.
/// </summary>
public sealed class EmbeddingCache(string root)
{
    public string Root { get; } = root;

    /// <summary>The default cache: &lt;user cache&gt;/embeddings (SMEC_CACHE_DIR moves it).</summary>
    public static EmbeddingCache Default() => new(Path.Combine(DataRoot.UserCache(), "embeddings"));

    public string Folder(EmbeddingKey key) => Path.Combine(Root, key.DatasetId, key.EncoderId, key.Hash());

    /// <summary>
    /// The cached part if it exists and verifies, else null. <paramref name="why"/> says why a
    /// present part was rejected (null when the part was simply absent).
    /// </summary>
    public EmbeddingMatrix? TryRead(EmbeddingKey key, string part, IReadOnlyList<string>? expectedIds, out string? why)
    {
        why = null;
        var (npy, ids, sidecar) = Paths(key, part);
        if (!File.Exists(sidecar)) return null;
        try
        {
            var meta = JsonSerializer.Deserialize<PartSidecar>(File.ReadAllText(sidecar))
                       ?? throw new InvalidDataException($"{sidecar}: empty");
            if (meta.Key != key.Hash()) throw new InvalidDataException($"{sidecar}: key {meta.Key} is not {key.Hash()}");
            Check(npy, meta.NpyBytes, meta.NpySha256);
            Check(ids, meta.IdsBytes, meta.IdsSha256);
            var matrix = Npy.ReadEmbeddings(npy, ids);
            if (matrix.Rows != meta.Rows || matrix.Dim != meta.Dim)
                throw new InvalidDataException($"{npy}: shape {matrix.Rows}x{matrix.Dim}, sidecar says {meta.Rows}x{meta.Dim}");
            if (expectedIds != null && !matrix.Ids.SequenceEqual(expectedIds))
                throw new InvalidDataException($"{ids}: ids differ from the dataset's {part} ids");
            return matrix;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or JsonException or FormatException)
        {
            why = e.Message;
            foreach (var f in new[] { sidecar, npy, ids }) File.Delete(f);
            return null;
        }
    }

    /// <summary>Store a part: the matrix, its ids, then the sidecar that vouches for both.</summary>
    /// <summary>Fail, naming the folder and SMEC_CACHE_DIR, when the entry's folder cannot be written (a read-only cache).</summary>
    public void RequireWritable(EmbeddingKey key)
    {
        var folder = Folder(key);
        try
        {
            Directory.CreateDirectory(folder);
            using var _ = new FileStream(Path.Combine(folder, $".write-probe.{Environment.ProcessId}"), FileMode.Create, FileAccess.Write,
                FileShare.None, 1, FileOptions.DeleteOnClose);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new Runtime.UserInputException(
                $"{folder}: the embedding cache is not writable ({e.Message}), so embeddings encoded now could not be kept; " +
                "expected a cache folder you can write to (set SMEC_CACHE_DIR to one)", e);
        }
    }

    public void Write(EmbeddingKey key, string part, EmbeddingMatrix matrix)
    {
        var (npy, ids, sidecar) = Paths(key, part);
        Directory.CreateDirectory(Path.GetDirectoryName(npy)!);
        AtomicFile.WriteAllText(Path.Combine(Path.GetDirectoryName(npy)!, "key.txt"), key.Material());
        Npy.WriteFloat32(npy, matrix.Values, matrix.Rows, matrix.Dim);
        AtomicFile.WriteAllLines(ids, matrix.Ids);
        var meta = new PartSidecar
        {
            Key = key.Hash(),
            Rows = matrix.Rows,
            Dim = matrix.Dim,
            NpyBytes = new FileInfo(npy).Length,
            NpySha256 = FileChecksums.Sha256(npy),
            IdsBytes = new FileInfo(ids).Length,
            IdsSha256 = FileChecksums.Sha256(ids),
            CreatedUtc = DateTime.UtcNow.ToString("O"),
        };
        AtomicFile.WriteAllText(sidecar, JsonSerializer.Serialize(meta, new JsonSerializerOptions { WriteIndented = true }));
    }

    public (string Npy, string Ids, string Sidecar) Paths(EmbeddingKey key, string part)
    {
        var folder = Folder(key);
        return (Path.Combine(folder, $"{part}.npy"), Path.Combine(folder, $"{part}.ids.txt"), Path.Combine(folder, $"{part}.json"));
    }

    private static void Check(string path, long bytes, string sha256)
    {
        if (!File.Exists(path)) throw new InvalidDataException($"{path}: missing");
        var length = new FileInfo(path).Length;
        if (length != bytes) throw new InvalidDataException($"{path}: {length} bytes, sidecar says {bytes}");
        var actual = FileChecksums.Sha256(path);
        if (actual != sha256) throw new InvalidDataException($"{path}: SHA-256 {actual}, sidecar says {sha256}");
    }

    private sealed class PartSidecar
    {
        public string Key { get; set; } = "";
        public int Rows { get; set; }
        public int Dim { get; set; }
        public long NpyBytes { get; set; }
        public string NpySha256 { get; set; } = "";
        public long IdsBytes { get; set; }
        public string IdsSha256 { get; set; } = "";
        public string CreatedUtc { get; set; } = "";
    }
}
