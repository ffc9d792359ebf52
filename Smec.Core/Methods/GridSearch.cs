using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Smec.Core.Storage;

namespace Smec.Core.Methods;

/// <summary>One point of a tuning grid: what it sets (for Settings and the saved model) and its
/// compressor, built with those settings and not yet fitted.</summary>
public sealed record TuningPoint(string Label, ICompressor Compressor);

/// <summary>
/// A trained method's tuning grid searched inside one experiment: every point's compressor is fitted
/// on the same <see cref="TrainingData"/> (so only the training and validation queries are ever read,
/// never the test split), each one's validation nDCG@10 per dim is read through
/// <see cref="IValidationScored"/>, and then <see cref="DimSelection.PerDim"/> serves dim d from the
/// point best at d on validation, <see cref="DimSelection.Shared"/> serves every dim from the point
/// with the best mean over the dims (first of equals either way, so the grid's first point, the
/// method's default, wins a tie). The points not chosen are disposed. A grid of one point is the
/// plain compressor, never wrapped (the registry does not build this class for it).
/// </summary>
public sealed class GridSearchCompressor : ICompressor, IValidationScored, IEnsembleFit
{
    /// <summary>Its kind in a saved model (<see cref="SavedModel"/>): the chosen points in sub-folders plus the routing.</summary>
    public const string Kind = "tuning-grid";

    private readonly TuningPoint[] _points;
    /// <summary>The fitted points (null once disposed, or not chosen after Fit).</summary>
    private readonly ICompressor?[] _fitted;
    private readonly DimSelection _selection;
    /// <summary>Per point, its validation nDCG@10 by dim (empty before Fit).</summary>
    private readonly SortedDictionary<int, double>[] _validation;
    /// <summary>Dim -> index of the point that serves it (empty before Fit).</summary>
    private readonly SortedDictionary<int, int> _routing = new();
    /// <summary>The dims served after Fit, in the points' own order.</summary>
    private int[] _servedDims = [];
    /// <summary>The whole grid's "protocol.*" settings, merged from the points' after Fit.</summary>
    private IReadOnlyList<KeyValuePair<string, string>> _protocol = [];
    private readonly string _name;
    /// <summary>A loaded grid's settings as saved.</summary>
    private IReadOnlyDictionary<string, string>? _savedSettings;
    private readonly bool _loaded;

    public GridSearchCompressor(IReadOnlyList<TuningPoint> points, DimSelection selection)
    {
        if (points.Count < 2)
            throw new ArgumentException($"a tuning grid needs at least 2 points, got {points.Count}: a single point is the plain compressor (do not wrap it)");
        foreach (var p in points)
            if (p.Compressor is not IValidationScored)
                throw new ArgumentException(
                    $"tuning grid point '{p.Label}': {p.Compressor.Name} ({p.Compressor.GetType().Name}) does not report its validation nDCG@10 per dim " +
                    $"(it does not implement {nameof(IValidationScored)}), so its grid points cannot be compared; expected a trained compressor that does, or option tuning=default");
        if (points.Select(p => p.Label).Distinct(StringComparer.Ordinal).Count() != points.Count)
            throw new ArgumentException($"tuning grid points must differ: [{string.Join("; ", points.Select(p => p.Label))}]");
        _points = [.. points];
        _fitted = _points.Select(p => (ICompressor?)p.Compressor).ToArray();
        _selection = selection;
        _validation = _points.Select(_ => new SortedDictionary<int, double>()).ToArray();
        _name = _points[0].Compressor.Name;
    }

    private GridSearchCompressor(string name, string[] labels, ICompressor?[] fitted, DimSelection selection,
        SortedDictionary<int, double>[] validation, SortedDictionary<int, int> routing, IReadOnlyList<int> dims, IReadOnlyDictionary<string, string> settings)
    {
        _name = name;
        _points = labels.Select((l, i) => new TuningPoint(l, fitted[i]!)).ToArray(); // unchosen points are not stored: null
        _fitted = fitted;
        _selection = selection;
        _validation = validation;
        foreach (var (d, i) in routing) _routing[d] = i;
        _servedDims = [.. dims];
        _savedSettings = settings;
        _loaded = true;
    }

    /// <summary>The method's name (its points share it).</summary>
    public string Name => _name;

    /// <summary>Before Fit: the dims the points will produce; after: the dims served.</summary>
    public IReadOnlyList<int> Dims => _routing.Count > 0 ? _servedDims : _points[0].Compressor?.Dims ?? [];

    public DimSelection Selection => _selection;

    /// <summary>The labels of the points, in grid order.</summary>
    public IReadOnlyList<string> PointLabels => _points.Select(p => p.Label).ToArray();

    /// <summary>Dim -> index of the point that serves it.</summary>
    public IReadOnlyDictionary<int, int> Routing => _routing;

    /// <summary>Every point's validation nDCG@10 by dim, in grid order.</summary>
    public IReadOnlyList<IReadOnlyDictionary<int, double>> PointValidation => _validation;

    /// <summary>The validation nDCG@10 of the point that serves each dim.</summary>
    public IReadOnlyDictionary<int, double> ValidationNdcgByDim =>
        _routing.ToDictionary(kv => kv.Key, kv => _validation[kv.Value][kv.Key]);

    public void Fit(TrainingData data)
    {
        ExpectUnfitted();
        for (var i = 0; i < _points.Length; i++)
        {
            _points[i].Compressor.Fit(data);
            ReadValidation(i);
        }
        Route();
    }

    private void ExpectUnfitted()
    {
        if (_loaded) throw new InvalidOperationException("a loaded tuning grid holds only its chosen points; build it from the method registry to fit again");
        if (_fitted.Any(c => c is null)) throw new InvalidOperationException("this tuning grid was fitted already (its unchosen points are disposed); build a new one");
        _savedSettings = null;
        _routing.Clear();
    }

    /// <summary>Why these grids cannot be fitted together (null: they can): the same points, each point's
    /// members a method that fits members together.</summary>
    public string? CannotFitTogether(IReadOnlyList<ICompressor> members)
    {
        var grids = new List<GridSearchCompressor>();
        foreach (var (member, k) in members.Select((m, k) => (m, k)))
        {
            if (member is not GridSearchCompressor grid) return $"member {k} is {member.Name} ({member.GetType().Name}), not a tuning grid";
            if (grid._loaded || grid._fitted.Any(c => c is null)) return $"member {k}'s tuning grid is loaded or fitted already";
            if (grid._selection != _selection || !grid.PointLabels.SequenceEqual(PointLabels))
                return $"member {k}'s tuning grid ({grid._selection}: {string.Join("; ", grid.PointLabels)}) is not member 0's ({_selection}: {string.Join("; ", PointLabels)})";
            grids.Add(grid);
        }
        for (var i = 0; i < _points.Length; i++)
        {
            var point = grids.Select(g => g._points[i].Compressor).ToArray();
            var why = EnsembleFit.CannotFitTogether(point);
            if (why is not null) return $"tuning grid point '{_points[i].Label}': {why}";
        }
        return null;
    }

    /// <summary>Each grid point fitted together over the members (each member's point i with the others'),
    /// then each member's grid chooses as <see cref="Fit"/> does.</summary>
    public void FitTogether(IReadOnlyList<ICompressor> members, IReadOnlyList<TrainingData> data)
    {
        if (CannotFitTogether(members) is { } why) throw new ArgumentException($"tuning grid fit together: {why}");
        var grids = members.Cast<GridSearchCompressor>().ToArray();
        foreach (var grid in grids) grid.ExpectUnfitted();
        for (var i = 0; i < _points.Length; i++)
        {
            var point = grids.Select(g => g._points[i].Compressor).ToArray();
            ((IEnsembleFit)point[0]).FitTogether(point, data);
            foreach (var grid in grids) grid.ReadValidation(i);
        }
        foreach (var grid in grids) grid.Route();
    }

    /// <summary>Point <paramref name="i"/> fitted: its validation nDCG@10 at every dim it serves.</summary>
    private void ReadValidation(int i)
    {
        var scores = ((IValidationScored)_points[i].Compressor).ValidationNdcgByDim;
        _validation[i].Clear();
        foreach (var d in _points[i].Compressor.Dims)
        {
            if (!scores.TryGetValue(d, out var score) || double.IsNaN(score))
                throw new InvalidOperationException(
                    $"tuning grid point '{_points[i].Label}': {_points[i].Compressor.Name} has no validation nDCG@10 at {d} dims " +
                    "(are there validation queries?); expected one at every dim it serves, so the grid points can be compared");
            _validation[i][d] = score;
        }
    }

    /// <summary>Every point fitted: route each dim, merge the protocols, dispose the points not chosen.</summary>
    private void Route()
    {
        var dims = _points[0].Compressor.Dims;
        foreach (var p in _points.Skip(1))
            if (!p.Compressor.Dims.SequenceEqual(dims))
                throw new InvalidOperationException($"tuning grid point '{p.Label}' serves dims [{string.Join(", ", p.Compressor.Dims)}], the first point [{string.Join(", ", dims)}]: every point must serve the same dims");
        foreach (var (d, i) in Choose(_validation, dims, _selection)) _routing[d] = i;
        _servedDims = [.. dims];
        _protocol = MergeProtocols(_points.Select(p => p.Compressor.Settings).ToArray(), _selection);
        for (var i = 0; i < _fitted.Length; i++)
            if (!_routing.ContainsValue(i))
            {
                _fitted[i]!.Dispose();
                _fitted[i] = null;
            }
    }

    /// <summary>Dim -> chosen point: per dim the best at that dim, or one point for all dims (the best
    /// mean over them); the first of equals.</summary>
    public static IReadOnlyDictionary<int, int> Choose(IReadOnlyList<IReadOnlyDictionary<int, double>> validation, IReadOnlyList<int> dims, DimSelection selection)
    {
        static int ArgMax(IReadOnlyList<double> values)
        {
            var best = 0;
            for (var i = 1; i < values.Count; i++) if (values[i] > values[best]) best = i;
            return best;
        }
        if (selection == DimSelection.Shared)
        {
            var shared = ArgMax(validation.Select(v => dims.Average(d => v[d])).ToArray());
            return dims.ToDictionary(d => d, _ => shared);
        }
        return dims.ToDictionary(d => d, d => ArgMax(validation.Select(v => v[d]).ToArray()));
    }

    public EmbeddingMatrix Compress(EmbeddingMatrix embeddings, int dim, EmbeddingRole role)
    {
        if (_routing.Count == 0) throw new InvalidOperationException("the tuning grid is not fitted (call Fit or Load first)");
        if (!_routing.TryGetValue(dim, out var point))
            throw new ArgumentException($"{Name} (tuning grid) serves dims [{string.Join(", ", _routing.Keys)}], not {dim}");
        return _fitted[point]!.Compress(embeddings, dim, role);
    }

    /// <summary>The point that serves the most dims (the first of equals): its settings are the row's.</summary>
    private int Primary => _routing.Values.GroupBy(i => i).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key;

    public IReadOnlyDictionary<string, string> Settings
    {
        get
        {
            if (_savedSettings is not null) return _savedSettings;
            var settings = new SortedDictionary<string, string>(StringComparer.Ordinal);
            if (_routing.Count == 0) return settings;
            string F(double v) => v.ToString("F4", CultureInfo.InvariantCulture);
            var primary = Primary;
            // The primary point's own settings unprefixed (what reports read, e.g. the kept-start
            // markers), every other chosen point's under its prefix.
            foreach (var (k, v) in _fitted[primary]!.Settings)
                if (!k.StartsWith(ProtocolRecord.Prefix, StringComparison.Ordinal)) settings[k] = v;
            foreach (var i in _routing.Values.Distinct().Where(i => i != primary))
                foreach (var (k, v) in _fitted[i]!.Settings)
                    if (!k.StartsWith(ProtocolRecord.Prefix, StringComparison.Ordinal)) settings[$"tuning.point{i + 1}.{k}"] = v;
            settings["tuning.points"] = _points.Length.ToString(CultureInfo.InvariantCulture);
            settings["tuning.selection"] = _selection == DimSelection.PerDim
                ? "per dim: each dim from the point best at it on validation nDCG@10"
                : "shared: one point for every dim, the best mean validation nDCG@10 over the dims";
            for (var i = 0; i < _points.Length; i++)
                settings[$"tuning.point{i + 1}"] = $"{_points[i].Label}: validation nDCG@10 " +
                    string.Join(" ", _validation[i].Reverse().Select(kv => $"{kv.Key}:{F(kv.Value)}")) +
                    $" (mean {F(_validation[i].Values.Average())})";
            foreach (var (d, i) in _routing) settings[$"tuning.choice@{d}"] = $"point{i + 1} ({_points[i].Label})";
            // Each dim's selected steps are those of the point that serves it (the primary's stand only for its own dims).
            foreach (var (d, i) in _routing)
                if (_fitted[i]!.Settings.TryGetValue(SelectedSteps.Key(d), out var steps)) settings[SelectedSteps.Key(d)] = steps;
                else settings.Remove(SelectedSteps.Key(d));
            foreach (var (k, v) in _protocol) settings[k] = v;
            return settings;
        }
    }

    /// <summary>The protocol of the whole grid from every point's "protocol.*" settings (read after
    /// Fit, before the unchosen points are disposed): steps run and grid points summed over the points
    /// (so grid points = loss forms x tuning points), the learning rates and the other fields as the
    /// distinct values, and the selection criterion followed by the choice among the tuning points.</summary>
    private static IReadOnlyList<KeyValuePair<string, string>> MergeProtocols(IReadOnlyList<IReadOnlyDictionary<string, string>> points, DimSelection selection)
    {
        var merged = new List<KeyValuePair<string, string>>();
        foreach (var key in ProtocolRecord.Keys)
        {
            var values = points.Select(p => p.TryGetValue(ProtocolRecord.Prefix + key, out var v) ? v : null).ToArray();
            if (values.Any(v => v is null)) continue; // a point without a protocol record: nothing to merge
            var text = key switch
            {
                "steps_run" or "grid_points" => values.Sum(v => int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0)
                    .ToString(CultureInfo.InvariantCulture),
                "selection" => string.Join(" / ", values.Distinct()) + $"; then over {points.Count} tuning points, " +
                    (selection == DimSelection.PerDim ? "per dim (the best validation nDCG@10 at each dim)" : "shared (the best mean validation nDCG@10 over the dims)"),
                "lr" => string.Join(", ", values.Distinct()),
                _ => string.Join(" / ", values.Distinct()),
            };
            merged.Add(new(ProtocolRecord.Prefix + key, text));
        }
        return merged;
    }


    public void Save(string directory)
    {
        if (_routing.Count == 0) throw new InvalidOperationException("nothing to save: the tuning grid is not fitted");
        foreach (var i in _routing.Values.Distinct()) _fitted[i]!.Save(Path.Combine(directory, PointFolder(i)));
        var config = new JsonObject
        {
            ["selection"] = _selection.ToString(),
            ["points"] = new JsonArray(_points.Select(p => (JsonNode?)JsonValue.Create(p.Label)).ToArray()),
            ["routing"] = new JsonObject(_routing.Select(kv => KeyValuePair.Create(kv.Key.ToString(CultureInfo.InvariantCulture), (JsonNode?)JsonValue.Create(kv.Value)))),
            ["validation"] = new JsonArray(_validation.Select(v => (JsonNode?)new JsonObject(
                v.Select(kv => KeyValuePair.Create(kv.Key.ToString(CultureInfo.InvariantCulture), (JsonNode?)JsonValue.Create(kv.Value))))).ToArray()),
        };
        SavedModel.Write(directory, Kind, this, config, []);
    }

    private static string PointFolder(int index) => $"point{index + 1}";

    /// <summary>Load a grid saved by <see cref="Save"/>: each chosen point from its sub-folder with the
    /// registry's loaders (<see cref="SavedModel.Load"/>), then the routing.</summary>
    public static GridSearchCompressor Load(SavedModelReader saved, IReadOnlyDictionary<string, Func<SavedModelReader, ICompressor>> loaders)
    {
        saved.Expect(Kind);
        var selection = saved.Get<DimSelection>("selection");
        var labels = saved.Get<string[]>("points");
        var routing = saved.Get<Dictionary<string, int>>("routing");
        var validation = saved.Get<Dictionary<string, double>[]>("validation");
        if (validation.Length != labels.Length)
            throw new InvalidDataException($"{saved.ManifestPath}: {validation.Length} validation records for {labels.Length} points");
        var byDim = new SortedDictionary<int, int>();
        foreach (var (text, i) in routing)
        {
            if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var d) || i < 0 || i >= labels.Length)
                throw new InvalidDataException($"{saved.ManifestPath}: config field 'routing' has '{text}' -> {i}; expected a dim -> a point index below {labels.Length}");
            byDim[d] = i;
        }
        var fitted = new ICompressor?[labels.Length];
        try
        {
            foreach (var i in byDim.Values.Distinct())
                fitted[i] = SavedModel.Load(Path.Combine(saved.Directory, PointFolder(i)), loaders);
        }
        catch
        {
            foreach (var c in fitted) c?.Dispose();
            throw;
        }
        var scores = validation.Select(v => new SortedDictionary<int, double>(
            v.ToDictionary(kv => int.Parse(kv.Key, CultureInfo.InvariantCulture), kv => kv.Value))).ToArray();
        return new GridSearchCompressor(saved.Name, labels, fitted, selection, scores, byDim, saved.Dims, saved.Settings);
    }

    public void Dispose()
    {
        for (var i = 0; i < _fitted.Length; i++)
        {
            _fitted[i]?.Dispose();
            _fitted[i] = null;
        }
    }
}
