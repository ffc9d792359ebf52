using Smec.Core.Losses;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>
/// What one SMRL step trains: only its own layer and ADS logits (earlier steps are frozen), with the
/// supervised loss on each of its views (its full output and its selection(s): the input size and
/// the selected half; in MRL mode every nested size), plus the S-XBM alignment on memory pairs and an
/// optional similarity-preservation term, each summed over the same views.
/// </summary>
public sealed class SmrlStepObjective : ITrainingObjective, IDisposable
{
    private readonly SmecChain _chain;
    private readonly int _index;
    private readonly SmrlStep _step;
    private readonly SmecOptions _options;
    private readonly TrainingSet _set;
    private readonly CrossBatchMemory? _memory;
    /// <summary>[Nc + Nq, in]: this step's input for every corpus doc, then every query. Earlier steps are
    /// frozen, so it is computed once; items are addressed by <see cref="DocItem"/> / <see cref="QueryItem"/>.</summary>
    private readonly Tensor _itemInputs;
    /// <summary>[Nc + Nq, D]: the frozen-encoder (teacher) embedding of every item, same order.</summary>
    private readonly Tensor _itemTeacher;
    /// <summary>The anchors' cosines to every item, when built (<see cref="ItemCosines"/>); null: the memory multiplies.</summary>
    private readonly ItemCosines? _cosines;

    public SmrlStepObjective(SmecChain chain, int index, SmecOptions options, TrainingSet set, ItemCosines? cosines = null)
    {
        _cosines = cosines;
        _chain = chain;
        _index = index;
        _step = chain.Steps[index];
        _options = options;
        _set = set;
        _memory = options.Sxbm ? new CrossBatchMemory(options.SxbmCapacity, set.Dim) : null;
        var (layer, logits) = _step.TrainableParameters();
        var groups = new List<ParameterGroup> { new(layer) };
        if (logits.Length > 0) groups.Add(new ParameterGroup(logits, options.AdsLearningRateScale, WeightDecay: 0.0));
        ParameterGroups = groups;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        _chain.eval();
        _itemTeacher = Items(set).MoveToOuterDisposeScope();
        _itemInputs = _chain.StepInput(_itemTeacher, index).MoveToOuterDisposeScope();
    }

    public IReadOnlyList<ParameterGroup> ParameterGroups { get; }

    public IReadOnlyList<int> ValidationDims => _step.SelectionDims.Prepend(_step.OutputDim).ToArray();

    public string Fingerprint =>
        $"smrl-step-{_index}:{_step.InputDim}->{_step.OutputDim}->[{string.Join(",", _step.SelectionDims)}];" +
        string.Join(";", _options.Describe().Select(kv => $"{kv.Key}={kv.Value}"));

    public IReadOnlyList<(string Name, Tensor Value)> ExtraState => _memory is null ? [] :
        [("sxbm.embeddings", _memory.Embeddings), ("sxbm.normalised", _memory.Normalised), ("sxbm.ids", _memory.ItemIds), ("sxbm.cursor", _memory.Cursor)];

    /// <summary>Every item that can be an S-XBM anchor in <paramref name="set"/>: the train queries
    /// (validation queries never train), and every doc when docs anchor too.</summary>
    public static IReadOnlyList<long> AnchorItems(TrainingSet set, SmecOptions options)
    {
        var queries = set.Pairs.Select(p => QueryItem(set, p.QueryRow)).Distinct();
        return options.SxbmAnchors == SxbmAnchors.Queries ? queries.ToArray()
            : queries.Concat(Enumerable.Range(0, (int)set.Corpus.shape[0]).Select(DocItem)).ToArray();
    }

    /// <summary>[Nc + Nq, D]: the items of <paramref name="set"/> in the objectives' order (docs, then queries).</summary>
    public static Tensor Items(TrainingSet set) => cat([set.Corpus, set.Queries], 0);

    private static long DocItem(int docRow) => docRow;
    /// <summary>Items are numbered docs first, then queries (the order of <see cref="Items"/>).</summary>
    private static long QueryItem(TrainingSet set, int queryRow) => set.Corpus.shape[0] + queryRow;
    private long QueryItem(int queryRow) => QueryItem(_set, queryRow);

    public Tensor Loss(TrainingBatch batch, TrainingStep step)
    {
        _chain.eval();
        _step.train();
        foreach (var ads in _step.Selections)
        {
            ads.Temperature = _options.AdsTemperature(step.Step);
            ads.NoiseGenerator = step.Generator;
        }

        // The items of this step: queries, candidate docs, random docs, then memory entries (StepRows).
        var items = new List<long>();
        items.AddRange(batch.QueryRows.Select(QueryItem));
        items.AddRange(batch.DocRows.Select(DocItem));
        var useSimilarity = _options.SimilarityWeight > 0 && batch.RandomDocRows.Length > 1;
        if (useSimilarity) items.AddRange(batch.RandomDocRows.Select(DocItem));
        var rows = new StepRows(batch.QueryRows.Length, batch.DocRows.Length, useSimilarity ? batch.RandomDocRows.Length : 0,
            _options.SxbmAnchors == SxbmAnchors.Queries ? batch.QueryRows.Length : batch.QueryRows.Length + batch.DocRows.Length);

        (Tensor Index, Tensor Valid)? memory = null;
        if (_memory is { Count: > 0 } && step.Step >= _options.SxbmWarmupSteps)
        {
            var anchorIds = Identities(batch)[..rows.Anchors];
            var excluded = Exclusions(batch, rows.Anchors);
            var (slots, isValid) = _cosines is null
                ? _memory.Select(_itemTeacher.index_select(0, tensor(items.Take(rows.Anchors).ToArray())), anchorIds, excluded, _options.SxbmTopK)
                : _memory.SelectBy(_cosines.Between(anchorIds, _memory.ItemIds), anchorIds, excluded, _options.SxbmTopK);
            var (memoryItems, memoryIndex) = SmrlStepLoss.MemoryRows(_memory.ItemIds.index_select(0, slots.flatten()).data<long>().ToArray(), rows.MemoryStart);
            items.AddRange(memoryItems);
            memory = (memoryIndex, isValid);
        }

        var itemIndex = tensor(items.ToArray());
        return SmrlStepLoss.Compute(_step, _itemInputs.index_select(0, itemIndex), _itemTeacher.index_select(0, itemIndex), rows,
            batch.Relevance, batch.PositiveColumn, memory, _options);
    }

    /// <summary>Memory identities of the batch's queries, then its docs (the first <c>anchors</c> are the anchors).</summary>
    private long[] Identities(TrainingBatch batch) =>
        [.. batch.QueryRows.Select(QueryItem), .. batch.DocRows.Select(DocItem)];

    /// <summary>What each of the first <paramref name="anchors"/> identities must not pair with: a query's
    /// judged-relevant docs, a doc's judging queries. Kept per row: with class relevance a query has
    /// thousands of relevant docs, and building its set again every step (twice) cost more than the
    /// step's arithmetic on image features.</summary>
    private IReadOnlyCollection<long>[] Exclusions(TrainingBatch batch, int anchors)
    {
        var excluded = new List<IReadOnlyCollection<long>>(anchors);
        foreach (var q in batch.QueryRows.Take(anchors))
        {
            if (!_queryExclusions.TryGetValue(q, out var set))
                _queryExclusions[q] = set = _set.RelevantDocs(q).Select(DocItem).ToHashSet();
            excluded.Add(set);
        }
        foreach (var d in batch.DocRows.Take(anchors - excluded.Count))
        {
            if (!_docExclusions.TryGetValue(d, out var set))
                _docExclusions[d] = set = _set.RelevantQueries(d).Select(QueryItem).ToHashSet();
            excluded.Add(set);
        }
        return excluded.ToArray();
    }

    private readonly Dictionary<int, HashSet<long>> _queryExclusions = new();
    private readonly Dictionary<int, HashSet<long>> _docExclusions = new();

    public void AfterStep(TrainingBatch batch, TrainingStep step)
    {
        if (_memory is null) return;
        var ids = Identities(batch);
        _memory.Enqueue(_itemTeacher.index_select(0, tensor(ids)), ids);
    }

    public Tensor Compress(Tensor embeddings, int dim, EmbeddingRole role) => CompressEach(embeddings, [dim], role)[0];

    /// <summary>The step's output and its selections come from one pass of the chain: run it once for every dim.</summary>
    public IReadOnlyList<Tensor> CompressEach(Tensor embeddings, IReadOnlyList<int> dims, EmbeddingRole role)
    {
        var wasTraining = _step.training;
        _chain.eval();
        try
        {
            using var _ = no_grad();
            var output = _step.forward(_chain.StepInput(embeddings, _index));
            var views = _step.Select(output).Prepend(output).ToArray();
            return dims.Select(dim => views.First(v => v.shape[1] == dim)).ToArray();
        }
        finally
        {
            if (wasTraining) _step.train();
        }
    }

    public void Dispose()
    {
        _memory?.Dispose();
        _itemInputs.Dispose();
        _itemTeacher.Dispose();
    }
}
