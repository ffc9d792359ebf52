using Smec.Core.Data;
using Smec.Core.Data.Manifests;
using Smec.Core.Storage;

namespace Smec.Core.Encoders;

/// <summary>
/// An encoder that cannot run here (LLM2Vec, OpenAI, the paper's image and multimodal models):
/// it reads embeddings the user computed elsewhere, as
/// <c>&lt;embeddings root&gt;/&lt;dataset&gt;/&lt;encoder&gt;/&lt;part&gt;.npy</c> or <c>.safetensors</c>
/// (one 2-D float32 tensor) with <c>&lt;part&gt;.ids.txt</c> (one id per line, in row order).
/// The embeddings root is SMEC_EMBEDDINGS_DIR, else &lt;data root&gt;/embeddings for each data root.
/// </summary>
public sealed class PrecomputedEncoder(EncoderManifest manifest, string? explicitRoot = null) : IEncoder
{
    public const string Variable = "SMEC_EMBEDDINGS_DIR";

    public string Id { get; } = manifest.Id;
    public int Dim { get; } = manifest.Dim;
    public string Settings => "precomputed";

    /// <summary>Every embeddings root, in the order they are tried.</summary>
    public IReadOnlyList<string> Roots()
    {
        var roots = new List<string>();
        if (!string.IsNullOrWhiteSpace(explicitRoot)) roots.Add(Path.GetFullPath(explicitRoot));
        var env = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrWhiteSpace(env)) roots.Add(Path.GetFullPath(env));
        roots.AddRange(DataRoot.Candidates().Select(c => Path.Combine(c.Path, "embeddings")));
        return roots;
    }

    /// <summary>The supplied embeddings of one part of a dataset, dimension checked against the manifest.</summary>
    public EmbeddingMatrix Load(string datasetId, string part)
    {
        var looked = new List<string>();
        foreach (var root in Roots())
        {
            var folder = Path.Combine(root, datasetId, Id);
            var ids = Path.Combine(folder, $"{part}.ids.txt");
            foreach (var extension in new[] { ".npy", ".safetensors" })
            {
                var matrixPath = Path.Combine(folder, part + extension);
                looked.Add(matrixPath);
                if (!File.Exists(matrixPath)) continue;
                if (!File.Exists(ids))
                    throw new DataUnavailableException($"{ids}: missing; {matrixPath} needs its ids file (one id per line, in row order)");
                var matrix = Read(matrixPath, ids);
                if (matrix.Dim != Dim)
                    throw new InvalidDataException($"{matrixPath}: {matrix.Dim} dims, but {manifest.ManifestFile} declares {Dim}");
                return matrix;
            }
        }
        throw new DataUnavailableException(
            $"no precomputed '{Id}' embeddings for {datasetId}/{part} (looked for: {string.Join(", ", looked)}). " +
            $"{manifest.Source.Instructions?.Trim()}");
    }

    /// <summary>A .npy or .safetensors matrix with its ids file.</summary>
    public static EmbeddingMatrix Read(string matrixPath, string idsPath)
    {
        if (matrixPath.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) return Npy.ReadEmbeddings(matrixPath, idsPath);
        var (values, rows, cols) = Safetensors.ReadFloat32(matrixPath);
        var ids = File.ReadAllLines(idsPath).Where(l => l.Length > 0).ToArray();
        if (ids.Length != rows) throw new InvalidDataException($"{idsPath}: {ids.Length} ids, but {matrixPath} has {rows} rows");
        return new EmbeddingMatrix(ids, values, cols);
    }

    public void Dispose() { }
}
