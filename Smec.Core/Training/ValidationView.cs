using Smec.Core.Methods;
using static TorchSharp.torch;

namespace Smec.Core.Training;

/// <summary>
/// A fitted compressor's kept weights seen as an objective, for validation scoring only
/// (<see cref="ValidationScorer"/>): how each dim is compressed after Fit. Why: a trained method
/// reports its validation nDCG@10 per served dim (<see cref="IValidationScored"/>) from exactly the
/// weights that serve each dim, with the same scorer the loop selects with.
/// </summary>
public sealed class ValidationView(IReadOnlyList<int> dims, Func<Tensor, int, Tensor> compress) : ITrainingObjective
{
    public IReadOnlyList<ParameterGroup> ParameterGroups => [];
    public Tensor Loss(TrainingBatch batch, TrainingStep step) => throw new InvalidOperationException("a view of fitted weights does not train");
    public IReadOnlyList<int> ValidationDims => dims;
    public Tensor Compress(Tensor embeddings, int dim, EmbeddingRole role) => compress(embeddings, dim);
    public string Fingerprint => "validation-view";

    /// <summary>Validation nDCG@10 per dim of <paramref name="set"/>'s validation queries (empty without any).</summary>
    public IReadOnlyDictionary<int, double> Score(TrainingSet set)
    {
        var scorer = new ValidationScorer(set);
        return scorer.HasQueries ? scorer.ScoreByDim(this).ToDictionary(x => x.Dim, x => x.Ndcg) : new Dictionary<int, double>();
    }
}
