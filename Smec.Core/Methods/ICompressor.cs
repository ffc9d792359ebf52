using Smec.Core.Storage;

namespace Smec.Core.Methods;

/// <summary>Whether an embedding is a query or a document (some methods treat them differently).</summary>
public enum EmbeddingRole { Query, Document }

/// <summary>
/// What a compression method may learn from: embeddings of the corpus and the training queries,
/// the training judgements, and validation judgements carved from the training queries. The test
/// split is never part of it.
/// </summary>
public sealed record TrainingData(
    EmbeddingMatrix Corpus,
    EmbeddingMatrix Queries,
    Smec.Core.Data.Qrels Train,
    Smec.Core.Data.Qrels Validation,
    long Seed);

/// <summary>
/// One interface for every method the catalog compares (SMEC, its ablations and the baselines):
/// fit on training data, compress queries and documents to any trained dimension, save (one format
/// for every method, <see cref="SavedModel"/>; <see cref="SavedModel.Load"/> reads any of them back
/// with the loaders of the method registry).
/// Disposing releases the torch tensors a fitted method holds.
/// </summary>
public interface ICompressor : IDisposable
{
    /// <summary>Short name used in tables ("SMEC", "PCA", ...).</summary>
    string Name { get; }

    /// <summary>The dimensions this method can produce once fitted.</summary>
    IReadOnlyList<int> Dims { get; }

    /// <summary>Learn from training data (a no-op for methods that learn nothing).</summary>
    void Fit(TrainingData data);

    /// <summary>Compress embeddings to <paramref name="dim"/> dims (rows L2-normalised).</summary>
    EmbeddingMatrix Compress(EmbeddingMatrix embeddings, int dim, EmbeddingRole role);

    /// <summary>Options and values chosen during fitting (hyper-parameters picked on validation, etc.).</summary>
    IReadOnlyDictionary<string, string> Settings { get; }

    /// <summary>Write the fitted method to <paramref name="directory"/> through <see cref="SavedModel.Write"/>.</summary>
    void Save(string directory);
}
