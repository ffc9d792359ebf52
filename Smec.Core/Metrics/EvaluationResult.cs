using System.Globalization;
using System.Text;

namespace Smec.Core.Metrics;

/// <summary>
/// Per-query values and means of a set of measures. Queries are the ones evaluated (present in
/// both the run and the qrels, trec_eval's default), in ordinal id order as trec_eval -q prints them.
/// </summary>
public sealed class EvaluationResult
{
    private readonly double[] _perQuery; // query-major: [query * Measures.Count + measure]
    private readonly double[] _means;

    public IReadOnlyList<Measure> Measures { get; }
    public IReadOnlyList<string> QueryIds { get; }

    public EvaluationResult(IReadOnlyList<Measure> measures, IReadOnlyList<string> queryIds, double[] perQuery)
    {
        if (perQuery.Length != measures.Count * queryIds.Count)
            throw new ArgumentException($"{queryIds.Count} queries x {measures.Count} measures needs {measures.Count * queryIds.Count} values, got {perQuery.Length}");
        Measures = measures;
        QueryIds = queryIds;
        _perQuery = perQuery;
        _means = new double[measures.Count];
        for (var q = 0; q < queryIds.Count; q++)
            for (var m = 0; m < measures.Count; m++) _means[m] += perQuery[q * measures.Count + m];
        for (var m = 0; m < measures.Count; m++) _means[m] = queryIds.Count == 0 ? 0.0 : _means[m] / queryIds.Count;
    }

    public int QueryCount => QueryIds.Count;

    public double Mean(Measure measure) => _means[IndexOf(measure)];
    public double Mean(string measureName)
    {
        foreach (var m in Measures) if (m.Name == measureName) return Mean(m);
        throw new KeyNotFoundException($"measure '{measureName}' was not evaluated (have: {string.Join(", ", Measures)})");
    }

    public double Value(int queryIndex, Measure measure) => _perQuery[queryIndex * Measures.Count + IndexOf(measure)];

    /// <summary>The per-query values of one measure, in <see cref="QueryIds"/> order.</summary>
    public double[] PerQuery(Measure measure)
    {
        var m = IndexOf(measure);
        var values = new double[QueryIds.Count];
        for (var q = 0; q < values.Length; q++) values[q] = _perQuery[q * Measures.Count + m];
        return values;
    }

    /// <summary>Means by trec_eval name, e.g. `ndcg_cut_10`.</summary>
    public IReadOnlyDictionary<string, double> Means => Measures.Select((m, i) => (m.Name, _means[i])).ToDictionary(x => x.Name, x => x.Item2);

    /// <summary>
    /// trec_eval's text output: `name&lt;TAB&gt;all&lt;TAB&gt;value` with 4 decimals, names padded to 22
    /// characters; with perQuery, first every query's lines (queries in order, measures within).
    /// </summary>
    public string ToTrecEvalText(bool perQuery)
    {
        var text = new StringBuilder();
        void Line(Measure m, string query, double value) =>
            text.Append(m.Name.PadRight(22)).Append('\t').Append(query).Append('\t')
                .Append(value.ToString("F4", CultureInfo.InvariantCulture)).Append('\n');
        if (perQuery)
            for (var q = 0; q < QueryIds.Count; q++)
                for (var m = 0; m < Measures.Count; m++) Line(Measures[m], QueryIds[q], _perQuery[q * Measures.Count + m]);
        for (var m = 0; m < Measures.Count; m++) Line(Measures[m], "all", _means[m]);
        return text.ToString();
    }

    private int IndexOf(Measure measure)
    {
        for (var i = 0; i < Measures.Count; i++) if (Measures[i] == measure) return i;
        throw new KeyNotFoundException($"measure {measure.Name} was not evaluated (have: {string.Join(", ", Measures)})");
    }
}
