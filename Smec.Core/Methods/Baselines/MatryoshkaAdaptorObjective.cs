using Smec.Core.Losses;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// One training stage of Matryoshka-Adaptor for the shared loop. Unsupervised terms use the batch's
/// random corpus docs as anchors (their pairs are the "random pairs") and each anchor's k corpus
/// neighbours; the supervised stage adds gamma times the ranking loss at every prefix m.
/// </summary>
internal sealed class MatryoshkaAdaptorObjective(
    ResidualAdaptor adaptor, AnchorNeighbours neighbours, IReadOnlyList<int> dims, MatryoshkaAdaptorOptions options, bool supervisedStage)
    : ITrainingObjective
{
    public IReadOnlyList<ParameterGroup> ParameterGroups { get; } = [new(adaptor.parameters().ToArray())];
    public IReadOnlyList<int> ValidationDims => dims;

    public string Fingerprint =>
        $"matryoshka-adaptor;stage={(supervisedStage ? "supervised" : "unsupervised")};dims={string.Join(",", dims)};hidden={adaptor.HiddenDim};" +
        string.Join(";", options.Describe().Select(kv => $"{kv.Key}={kv.Value}"));

    public Tensor Loss(TrainingBatch batch, TrainingStep step)
    {
        adaptor.train();
        var (anchors, neighbourRows) = neighbours.Anchors(batch, options.QueryAnchors, step.Generator);
        var loss = MatryoshkaAdaptorLoss.UnsupervisedMapped(adaptor, anchors, neighbourRows, dims, options);
        if (!supervisedStage) return loss;
        var (mappedQueries, mappedDocs) = neighbours.Batch(batch);
        var queries = adaptor.ForwardCentred(mappedQueries);
        var docs = adaptor.ForwardCentred(mappedDocs);
        var ranking = NestedLoss.Sum(dims, m => RankingLoss.Compute(options.RankingLoss,
            NestedLoss.FirstColumns(queries, m), NestedLoss.FirstColumns(docs, m), batch.Relevance, batch.PositiveColumn, options.Temperature));
        return loss.Add(ranking.Times(options.Gamma / dims.Count));
    }

    public Tensor Compress(Tensor embeddings, int dim, EmbeddingRole role) => CompressEach(embeddings, [dim], role)[0];

    /// <summary>Every dim is a prefix of one forward pass: run it once.</summary>
    public IReadOnlyList<Tensor> CompressEach(Tensor embeddings, IReadOnlyList<int> dims, EmbeddingRole role)
    {
        adaptor.eval();
        var adapted = adaptor.forward(embeddings);
        return dims.Select(dim => adapted.narrow(1, 0, dim)).ToArray();
    }
}
