namespace Smec.Core.Storage;

/// <summary>
/// The embeddings of a dataset under one encoder, by part: corpus and queries (text retrieval),
/// train and test with class labels (image classes), images and/or captions (image-caption
/// data). <see cref="Origins"/> says per part whether it came from the mirror, the cache, a fresh
/// encode, or user-supplied files.
/// </summary>
public sealed class EncodedDataset(
    string datasetId,
    string encoderId,
    string key,
    string folder,
    IReadOnlyDictionary<string, EmbeddingMatrix> parts,
    IReadOnlyDictionary<string, string> origins,
    IReadOnlyDictionary<string, int[]> labels,
    IReadOnlyList<string> classNames)
{
    public string DatasetId { get; } = datasetId;
    public string EncoderId { get; } = encoderId;
    /// <summary>The cache key hash (<see cref="EmbeddingKey.Hash"/>); "precomputed" for user-supplied files.</summary>
    public string Key { get; } = key;
    /// <summary>Where the embeddings are on disk.</summary>
    public string Folder { get; } = folder;
    public IReadOnlyDictionary<string, EmbeddingMatrix> Parts { get; } = parts;
    public IReadOnlyDictionary<string, string> Origins { get; } = origins;
    /// <summary>Class label of each row, for image-classification parts (indexes <see cref="ClassNames"/>).</summary>
    public IReadOnlyDictionary<string, int[]> Labels { get; } = labels;
    public IReadOnlyList<string> ClassNames { get; } = classNames;

    public EmbeddingMatrix Part(string name) =>
        Parts.TryGetValue(name, out var m) ? m
        : throw new KeyNotFoundException($"{DatasetId}/{EncoderId} has no part '{name}' (parts: {string.Join(", ", Parts.Keys)})");

    public EmbeddingMatrix Corpus => Part("corpus");
    public EmbeddingMatrix Queries => Part("queries");
}
