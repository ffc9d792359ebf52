using Smec.Core.Retrieval;
using Smec.Core.Storage;
using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// Keep the first d coordinates and renormalise: the "Original (MRL)" row for natively Matryoshka
/// encoders and the prefix baseline for the rest. With d = the encoder's width it is the frozen
/// encoder itself ("Full").
/// </summary>
public sealed class Truncation : ICompressor
{
    public const string TruncationName = "Truncation";
    public const string FullName = "Full";
    /// <summary>Its kind in a saved model (<see cref="SavedModel"/>).</summary>
    public const string Kind = "truncation";

    public string Name { get; }
    public IReadOnlyList<int> Dims { get; }
    public IReadOnlyDictionary<string, string> Settings { get; }

    public Truncation(IReadOnlyList<int> dims) : this(TruncationName, dims) { }

    private Truncation(string name, IReadOnlyList<int> dims)
    {
        if (dims.Count == 0 || dims.Any(d => d <= 0)) throw new ArgumentException("dims must be positive and non-empty", nameof(dims));
        Name = name;
        Dims = dims.Distinct().OrderByDescending(d => d).ToArray();
        Settings = new Dictionary<string, string> { ["selection"] = "prefix (first d coordinates), renormalised" };
    }

    /// <summary>The frozen encoder at its full width.</summary>
    public static Truncation Full(int encoderDim) => new(FullName, [encoderDim]);

    public void Fit(TrainingData data) { }

    public EmbeddingMatrix Compress(EmbeddingMatrix embeddings, int dim, EmbeddingRole role)
    {
        BaselineTensors.CheckDim(Name, Dims, dim);
        if (dim > embeddings.Dim) throw new ArgumentException($"{Name}: cannot keep {dim} of {embeddings.Dim} dims");
        using var scope = NewDisposeScope();
        var prefix = EmbeddingTensors.ToTensor(embeddings)[.., ..dim];
        return BaselineTensors.ToNormalisedMatrix(embeddings.Ids, prefix);
    }

    public void Save(string directory) => SavedModel.Write(directory, Kind, this, null, []);

    public static Truncation Load(string directory)
    {
        using var saved = SavedModel.Open(directory);
        return Load(saved);
    }

    public static Truncation Load(SavedModelReader saved)
    {
        saved.Expect(Kind);
        if (saved.Name != TruncationName && saved.Name != FullName)
            throw new InvalidDataException($"{saved.ManifestPath}: name '{saved.Name}', expected '{TruncationName}' or '{FullName}'");
        return new Truncation(saved.Name, saved.Dims);
    }

    public void Dispose() { }
}
