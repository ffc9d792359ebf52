using Smec.Core.Data;
using System.Security.Cryptography;
using System.Text;
using Smec.Core.Methods;
using Smec.Core.Storage;

namespace Smec.Core.Training;

/// <summary>
/// The identity of what a model learns from: a SHA-256 over the corpus and query embeddings (ids and
/// values), the train and validation judgements and the seed. Checkpoints carry it so a run on other
/// data never resumes them; saved models carry it so a user can tell what a model was trained on.
/// </summary>
public static class TrainingDataHash
{
    public static string Of(TrainingData data)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Text(string s) { sha.AppendData(Encoding.UTF8.GetBytes(s)); sha.AppendData([0]); }
        void Matrix(string name, EmbeddingMatrix m)
        {
            Text($"{name}:{m.Rows}x{m.Dim}");
            foreach (var id in m.Ids) Text(id);
            sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(m.Values.AsSpan()));
        }
        void Judgements(string name, Data.Qrels q)
        {
            Text($"{name}:{q.QueryCount}");
            foreach (var query in q.QueryIds.Order(StringComparer.Ordinal))
                foreach (var (doc, rel) in q.ForQuery(query).OrderBy(kv => kv.Key, StringComparer.Ordinal))
                    Text($"{query} {doc} {rel}");
        }
        Matrix("corpus", data.Corpus);
        Matrix("queries", data.Queries);
        Judgements("train", data.Train);
        Judgements("validation", data.Validation);
        Text($"seed:{data.Seed}");
        return "sha256:" + Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>A short form for messages (the first 12 hex digits).</summary>
    public static string Short(string identity) => FileChecksums.Short(identity);

    /// <summary>SHA-256 of a text (settings fingerprints), in the same form.</summary>
    public static string OfText(string text) => "sha256:" + FileChecksums.Sha256OfText(text);
}
