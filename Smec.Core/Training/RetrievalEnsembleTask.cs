using Smec.Core.Methods;
using static TorchSharp.torch;

namespace Smec.Core.Training;

/// <summary>One member's data in a retrieval ensemble: its training set (its fold, its validation
/// queries) and its loop seed (batches and noise are drawn as TrainingLoop draws them for that seed).</summary>
public sealed record EnsembleMemberData(TrainingSet Set, long Seed);

/// <summary>
/// The retrieval part of an ensemble task, as <see cref="RetrievalTask"/> is for one model: each member's
/// pair batches (<see cref="PairBatcher"/> with its own set and seed), stacked into one
/// <see cref="EnsembleBatch"/> a step, and each member's validation nDCG@10 (<see cref="ValidationScorer"/>).
/// A method supplies the batched loss and a compress-only view of one member.
/// </summary>
public abstract class RetrievalEnsembleTask : IEnsembleTask, IDisposable
{
    private readonly PairBatcher[] _batchers;
    private readonly ValidationScorer[] _scorers;
    /// <summary>[Nc + Nq, D]: every doc, then every query: the rows a batch's <see cref="EnsembleBatch.Items"/> index.</summary>
    private readonly Tensor _items;
    private readonly long _corpusRows;
    private readonly Device _device;
    private readonly long[] _seeds;

    protected RetrievalEnsembleTask(IReadOnlyList<EnsembleMemberData> members, TrainingOptions training, string method)
    {
        if (members.Count == 0) throw new ArgumentException($"{method}: an ensemble needs at least one member");
        var first = members[0].Set;
        for (var k = 1; k < members.Count; k++)
        {
            var set = members[k].Set;
            if (!ReferenceEquals(set.Corpus, first.Corpus) && !(Same(set.Corpus, first.Corpus) && Same(set.Queries, first.Queries)))
                throw new ArgumentException($"{method}: member {k} trains on other embeddings than member 0; expected the members of one dataset and encoder");
        }
        _device = first.Corpus.device;
        using (no_grad()) _items = cat([first.Corpus, first.Queries], 0);
        _corpusRows = first.Corpus.shape[0];
        _batchers = members.Select(m => new PairBatcher(m.Set, training.BatchSize, training.HardNegativesPerQuery, 0, m.Seed)).ToArray();
        _scorers = members.Select(m => new ValidationScorer(m.Set)).ToArray();
        _seeds = members.Select(m => m.Seed).ToArray();
    }

    /// <summary>Train the members together on <see cref="EnsembleTrainingLoop"/>, then hand each its best weights
    /// (<see cref="WriteBack"/>); one result per member.</summary>
    public IReadOnlyList<TrainingResult> Train(TrainingOptions training, Methods.DimSelection selection = Methods.DimSelection.Shared)
    {
        var results = EnsembleTrainingLoop.Run(this, training, _seeds, selection);
        WriteBack();
        return results;
    }

    /// <summary>Copy every member's slice of the ensemble's weights into the member's own modules.</summary>
    protected abstract void WriteBack();

    private static bool Same(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape)) return false;
        using var scope = NewDisposeScope();
        return a.eq(b).all().item<bool>();
    }

    public int Members => _batchers.Length;
    public abstract IReadOnlyList<ParameterGroup> ParameterGroups { get; }
    public int StepsPerEpoch(int member) => _batchers[member].StepsPerEpoch;
    public bool CanValidate => _scorers.All(s => s.HasQueries);
    public string ValidationMeasure => "val nDCG@10";

    public Tensor Losses(IReadOnlyList<TrainingStep> steps) =>
        Losses(EnsembleBatch.Stack(steps.Select((s, k) => _batchers[k].Rows(s.Step)).ToArray(), _corpusRows, _device), _items);

    /// <summary>[K] losses of the members on their stacked batch; <paramref name="items"/> holds the rows it indexes.</summary>
    protected abstract Tensor Losses(EnsembleBatch batch, Tensor items);

    public double Validate(int member) => _scorers[member].Score(View(member));

    public IReadOnlyList<(int Dim, double Ndcg)>? ValidateByDim(int member) => _scorers[member].ScoreByDim(View(member));

    private CompressionView View(int member) => new(ValidationDims(member), (x, dims) => CompressEach(member, x, dims));

    /// <summary>The dims member <paramref name="member"/> is validated on (their mean nDCG@10 drives its early stopping).</summary>
    protected abstract IReadOnlyList<int> ValidationDims(int member);

    /// <summary>Member <paramref name="member"/>'s compression of frozen embeddings [n, D] to each of <paramref name="dims"/> (no grad).</summary>
    protected abstract IReadOnlyList<Tensor> CompressEach(int member, Tensor embeddings, IReadOnlyList<int> dims);

    public virtual void Dispose() => _items.Dispose();

    /// <summary>One member seen as an objective by its validation scorer: it only compresses.</summary>
    private sealed class CompressionView(IReadOnlyList<int> dims, Func<Tensor, IReadOnlyList<int>, IReadOnlyList<Tensor>> compressEach) : ITrainingObjective
    {
        public IReadOnlyList<ParameterGroup> ParameterGroups => [];
        public Tensor Loss(TrainingBatch batch, TrainingStep step) => throw new InvalidOperationException("an ensemble member's view only compresses");
        public IReadOnlyList<int> ValidationDims => dims;
        public Tensor Compress(Tensor embeddings, int dim, EmbeddingRole role) => CompressEach(embeddings, [dim], role)[0];

        public IReadOnlyList<Tensor> CompressEach(Tensor embeddings, IReadOnlyList<int> dims, EmbeddingRole role)
        {
            using var _ = no_grad();
            return compressEach(embeddings, dims);
        }

        public string Fingerprint => "ensemble-member-view";
    }
}
