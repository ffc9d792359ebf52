using Smec.Core.Training;
using Smec.Core.Retrieval;
using System.Globalization;
using Smec.Core.Runtime;
using Smec.Core.Storage;
using TorchSharp;
using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// PCA to d components, fitted on the corpus embeddings ("Original (PCA)"): centre on the corpus
/// mean, eigen-decompose the covariance in float64, and project queries and documents alike with
/// the corpus mean (queries are never part of the fit), then L2-normalise.
/// </summary>
public sealed class Pca : ICompressor
{
    public const string MethodName = "PCA";
    /// <summary>Its kind in a saved model (<see cref="SavedModel"/>).</summary>
    public const string Kind = "pca";

    private Tensor? _mean;        // (1 x D) float64
    private Tensor? _components;  // (D x maxDim) float64, columns by decreasing variance
    private readonly Dictionary<string, string> _settings = new();

    public string Name => MethodName;
    public IReadOnlyList<int> Dims { get; }
    public IReadOnlyDictionary<string, string> Settings => _settings;

    public Pca(IReadOnlyList<int> dims)
    {
        if (dims.Count == 0 || dims.Any(d => d <= 0)) throw new ArgumentException("dims must be positive and non-empty", nameof(dims));
        Dims = dims.Distinct().OrderByDescending(d => d).ToArray();
    }

    public void Fit(TrainingData data) => FitOn(data.Corpus);

    /// <summary>Fit on any matrix (the corpus in every experiment; a small matrix in tests).</summary>
    public void FitOn(EmbeddingMatrix corpus)
    {
        var maxDim = Dims[0];
        if (maxDim > corpus.Dim) throw new ArgumentException($"PCA: {maxDim} components asked of {corpus.Dim}-d embeddings");
        if (corpus.Rows < 2) throw new ArgumentException("PCA needs at least 2 corpus rows");
        Determinism.ConfigureTorch();
        using var scope = NewDisposeScope();
        var x = EmbeddingTensors.ToTensor(corpus).to_type(ScalarType.Float64);
        var mean = x.mean([0L], keepdim: true);
        var centred = x - mean;
        var covariance = centred.t().matmul(centred).DividedBy(corpus.Rows - 1);
        var (eigenvalues, eigenvectors) = linalg.eigh(covariance);   // ascending order
        var order = eigenvalues.argsort(descending: true);
        var components = eigenvectors.index_select(1, order)[.., ..maxDim];
        // An eigenvector's sign is arbitrary; fix it (largest-magnitude entry positive) so saved
        // models and test oracles agree. Cosine scores do not depend on it.
        var pivot = components.abs().argmax(0, keepdim: true);
        var signs = components.gather(0, pivot).sign();
        components = components * signs;
        var sorted = eigenvalues.index_select(0, order);
        var total = sorted.sum().item<double>();
        ReplaceState(mean.MoveToOuterDisposeScope(), components.contiguous().MoveToOuterDisposeScope());
        _settings["fitted on"] = $"corpus ({corpus.Rows} rows), centred on the corpus mean";
        _settings["solver"] = "torch.linalg.eigh of the covariance, float64";
        foreach (var d in Dims)
            _settings[$"explained variance @{d}"] = (sorted[..d].sum().item<double>() / total).ToString("F4", CultureInfo.InvariantCulture);
    }

    public EmbeddingMatrix Compress(EmbeddingMatrix embeddings, int dim, EmbeddingRole role)
    {
        BaselineTensors.CheckDim(Name, Dims, dim);
        if (_mean is null || _components is null) throw new InvalidOperationException("PCA: Fit (or Load) before Compress");
        BaselineTensors.CheckInputDim(Name, (int)_mean.shape[1], embeddings);
        using var scope = NewDisposeScope();
        var x = EmbeddingTensors.ToTensor(embeddings).to_type(ScalarType.Float64);
        var projected = (x - _mean).matmul(_components[.., ..dim]);
        return BaselineTensors.ToNormalisedMatrix(embeddings.Ids, projected);
    }

    /// <summary>The fitted components as a (D x maxDim) float64 array, row-major (for tests and analyses).</summary>
    public double[] ComponentsFloat64() =>
        (_components ?? throw new InvalidOperationException("PCA is not fitted")).data<double>().ToArray();

    /// <summary>The fitted (1 x D) mean and (D x maxDim) components, float64 (owned by this PCA).</summary>
    internal (Tensor Mean, Tensor Components) State =>
        (_mean ?? throw new InvalidOperationException("PCA is not fitted"), _components!);

    public void Save(string directory)
    {
        if (_mean is null || _components is null) throw new InvalidOperationException("PCA: nothing to save before Fit");
        SavedModel.Write(directory, Kind, this, null, [("mean", _mean), ("components", _components)]);
    }

    public static Pca Load(string directory)
    {
        using var saved = SavedModel.Open(directory);
        return Load(saved);
    }

    public static Pca Load(SavedModelReader saved)
    {
        saved.Expect(Kind);
        Determinism.ConfigureTorch();
        var pca = new Pca(saved.Dims);
        foreach (var (key, value) in saved.Settings) pca._settings[key] = value;
        pca.ReplaceState(saved.Tensor("mean"), saved.Tensor("components"));
        if (pca._components!.shape[1] < pca.Dims[0])
            throw new InvalidDataException($"{saved.ManifestPath}: tensor 'components' has {pca._components.shape[1]} columns, the manifest asks for {pca.Dims[0]}");
        return pca;
    }

    public void Dispose() => ReplaceState(null, null);

    private void ReplaceState(Tensor? mean, Tensor? components)
    {
        _mean?.Dispose();
        _components?.Dispose();
        _mean = mean;
        _components = components;
    }
}
