using Smec.Core.Runtime;
using Smec.Core.Data;
using Smec.Core.Metrics;
using Smec.Core.Storage;
using TorchSharp;
using static TorchSharp.torch;

namespace Smec.Core.Retrieval;

/// <summary>
/// Exact search + trec_eval measures for a fixed query set, corpus and qrels, prepared once and
/// evaluated many times (early stopping evaluates the same ids with new embeddings every epoch).
/// Preparation indexes the judgements by (query, document row); evaluation streams each query's
/// ranking straight into the measures, without building a <see cref="Run"/> or any per-query
/// objects. Evaluated queries are those present in both the query set and the qrels (trec_eval's
/// default); only they are searched.
/// </summary>
public sealed class RetrievalEvaluator
{
    /// <summary>Retrieval depth when a measure needs the whole ranking (uncut recip_rank).</summary>
    public const int DefaultUncutDepth = 1000;

    private readonly IReadOnlyList<string> _queryIds;
    private readonly IReadOnlyList<string> _docIds;
    private readonly int[] _evaluatedRows;          // rows of the query set, in the order of EvaluatedQueryIds
    private readonly QueryRelevance[] _relevance;
    private readonly Dictionary<long, int> _positiveJudgements; // (evaluated query << 32 | doc row) -> relevance > 0
    private readonly int[] _tieRanks;
    private readonly int[]? _excluded;
    private readonly IReadOnlyList<Measure> _measures;
    private readonly SearchOptions _options;

    public IReadOnlyList<string> EvaluatedQueryIds { get; }
    /// <summary>Documents retrieved per query.</summary>
    public int Depth { get; }

    /// <param name="depth">Documents retrieved per query; default the deepest cutoff of the measures
    /// (or <see cref="DefaultUncutDepth"/> when a measure is uncut recip_rank).</param>
    public RetrievalEvaluator(IReadOnlyList<string> queryIds, IReadOnlyList<string> docIds, Qrels qrels,
        IReadOnlyList<Measure> measures, SearchOptions? options = null, int? depth = null)
    {
        if (measures.Count == 0) throw new ArgumentException("no measures to evaluate", nameof(measures));
        _queryIds = queryIds;
        _docIds = docIds;
        _measures = measures.ToArray();
        _options = options ?? SearchOptions.Default;
        Depth = depth ?? measures.Max(m => m.Depth ?? DefaultUncutDepth);
        if (Depth <= 0) throw new ArgumentOutOfRangeException(nameof(depth), $"depth must be positive, got {Depth}");

        _evaluatedRows = Enumerable.Range(0, queryIds.Count).Where(i => qrels.HasQuery(queryIds[i]))
            .OrderBy(i => queryIds[i], StringComparer.Ordinal).ToArray();
        EvaluatedQueryIds = _evaluatedRows.Select(i => queryIds[i]).ToArray();
        if (EvaluatedQueryIds.Distinct(StringComparer.Ordinal).Count() != EvaluatedQueryIds.Count)
            throw new ArgumentException("query ids must be unique");

        var docRow = new Dictionary<string, int>(docIds.Count, StringComparer.Ordinal);
        for (var i = 0; i < docIds.Count; i++)
            if (!docRow.TryAdd(docIds[i], i)) throw new ArgumentException($"duplicate document id '{docIds[i]}' at row {i}");
        _relevance = new QueryRelevance[_evaluatedRows.Length];
        _positiveJudgements = new Dictionary<long, int>();
        for (var q = 0; q < _evaluatedRows.Length; q++)
        {
            var judgements = qrels.ForQuery(EvaluatedQueryIds[q]);
            _relevance[q] = new QueryRelevance(judgements.Values);
            foreach (var (docId, rel) in judgements)
                if (rel > 0 && docRow.TryGetValue(docId, out var row)) _positiveJudgements[((long)q << 32) | (uint)row] = rel;
        }
        _tieRanks = TrecOrder.TieRanks(docIds);
        _excluded = _options.IgnoreIdenticalIds ? ExactSearch.IdenticalIdIndex(EvaluatedQueryIds, docIds) : null;
    }

    /// <summary>Evaluate embedding matrices whose ids are the ones this evaluator was built with (same order).</summary>
    public EvaluationResult Evaluate(EmbeddingMatrix queries, EmbeddingMatrix docs)
    {
        RequireSameIds("query", queries.Ids, _queryIds);
        RequireSameIds("document", docs.Ids, _docIds);
        // A method's output (or its input) with NaN or an infinity would rank silently wrong.
        Finite.RequireRows(queries.Values, queries.Dim, "query embeddings", row => $"id '{queries.Ids[row]}'");
        Finite.RequireRows(docs.Values, docs.Dim, "document embeddings", row => $"id '{docs.Ids[row]}'");
        using var scope = torch.NewDisposeScope();
        return Run(EmbeddingTensors.ToTensor(queries, _evaluatedRows), EmbeddingTensors.ToTensor(docs));
    }

    /// <summary>Evaluate [rows, dim] float32 tensors whose rows follow the ids this evaluator was built with.</summary>
    public EvaluationResult Evaluate(Tensor queries, Tensor docs)
    {
        if (queries.shape[0] != _queryIds.Count) throw new ArgumentException($"{queries.shape[0]} query rows for {_queryIds.Count} query ids");
        if (docs.shape[0] != _docIds.Count) throw new ArgumentException($"{docs.shape[0]} document rows for {_docIds.Count} document ids");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var rows = torch.tensor(_evaluatedRows.Select(r => (long)r).ToArray(), device: queries.device);
        return Run(queries.index_select(0, rows), docs);
    }

    private EvaluationResult Run(Tensor evaluatedQueries, Tensor docs)
    {
        var values = new double[_evaluatedRows.Length * _measures.Count];
        var relevanceByRank = new int[Depth];
        ExactSearch.Search(evaluatedQueries, docs, Depth, _tieRanks, _excluded, _options, (q, docRows, _) =>
        {
            var ranked = relevanceByRank.AsSpan(0, docRows.Length);
            for (var i = 0; i < docRows.Length; i++)
                ranked[i] = _positiveJudgements.TryGetValue(((long)q << 32) | (uint)docRows[i], out var rel) ? rel : 0;
            for (var m = 0; m < _measures.Count; m++)
                values[q * _measures.Count + m] = RankedMeasures.Compute(_measures[m], ranked, _relevance[q]);
        });
        return new EvaluationResult(_measures, EvaluatedQueryIds, values);
    }

    private static void RequireSameIds(string what, IReadOnlyList<string> actual, IReadOnlyList<string> expected)
    {
        if (ReferenceEquals(actual, expected)) return;
        if (actual.Count != expected.Count)
            throw new ArgumentException($"{actual.Count} {what} rows, but the evaluator was built for {expected.Count} {what} ids");
        for (var i = 0; i < actual.Count; i++)
            if (!string.Equals(actual[i], expected[i], StringComparison.Ordinal))
                throw new ArgumentException($"{what} row {i} has id '{actual[i]}', the evaluator expects '{expected[i]}'");
    }
}
