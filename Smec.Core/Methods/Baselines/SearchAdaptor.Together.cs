using System.Collections;
using System.Globalization;
using System.Text.RegularExpressions;
using Smec.Core.Training;
using TorchSharp.Modules;

namespace Smec.Core.Methods.Baselines;

/// <summary>
/// Search-Adaptor's fit of many (<see cref="IEnsembleFit"/>): K Search-Adaptor compressors built with the same
/// options and dims (their experiments differ only in seed, or in a fold's training data) fitted together.
/// Fit trains one model per (dim, loss form, grid point); here every such model of every member is a member of
/// one <see cref="SearchAdaptorEnsemble"/> (it trains members of different dims, forms and (alpha, beta) points
/// together), split into several ensembles when <see cref="EnsembleSizing"/> says they do not fit the memory
/// budget. Each model starts as Fit starts it (seeded with its member's seed, its PCA start, then its predictor)
/// and trains with its member's loop seed and training set; each member then records and keeps its models in
/// Fit's order (<see cref="GridRecord"/>), so its settings, chosen point per dim, best step and validation are
/// Fit's. Both function classes (the ensemble trains the linear form as the projection alone). Search-Adaptor never checkpoints (its options have no checkpoint path), so there is no checkpointing member to refuse.
/// </summary>
public sealed partial class SearchAdaptor : IEnsembleFit
{
    public string? CannotFitTogether(IReadOnlyList<ICompressor> members)
    {
        var options = OptionTexts(_options);
        for (var k = 0; k < members.Count; k++)
        {
            if (members[k] is not SearchAdaptor member) return $"member {k} is {members[k].Name} ({members[k].GetType().Name}), not {MethodName}";
            if (member._loaded) return $"member {k} is a loaded model; build it from the method registry to fit it";
            if (!member.Dims.SequenceEqual(Dims)) return $"member {k}'s dims [{string.Join(", ", member.Dims)}] are not member 0's [{string.Join(", ", Dims)}]";
            var theirs = OptionTexts(member._options);
            if (SettingsDifferences.Between(options, theirs) is { } differing) return $"member {k}'s options differ from member 0's: {differing}";
        }
        return null;
    }

    public void FitTogether(IReadOnlyList<ICompressor> members, IReadOnlyList<TrainingData> data) =>
        FitTogether(members, data, EnsembleSizing.DefaultBudgetBytes);

    /// <summary>As <see cref="FitTogether(IReadOnlyList{ICompressor}, IReadOnlyList{TrainingData})"/>, with the memory
    /// one ensemble may take: the models are split into as many ensembles as <see cref="EnsembleSizing.Split"/> says.</summary>
    public void FitTogether(IReadOnlyList<ICompressor> members, IReadOnlyList<TrainingData> data, long budgetBytes)
    {
        if (CannotFitTogether(members) is { } why) throw new ArgumentException($"{MethodName} fit together: {why}");
        if (data.Count != members.Count) throw new ArgumentException($"{MethodName} fit together: {data.Count} training data for {members.Count} members; expected one per member");
        var all = members.Cast<SearchAdaptor>().ToArray();
        var sets = new List<TrainingSet>();
        var records = new List<GridRecord>();
        try
        {
            var starts = new FitStart[all.Length];
            for (var k = 0; k < all.Length; k++)
            {
                // As Fit: the member's setup, then its training set.
                starts[k] = all[k].Begin(data[k]);
                sets.Add(new TrainingSet(data[k], all[k]._options.HardNegativePool));
                records.Add(new GridRecord(all[k]));
            }
            // Widest dim first, then Fit's order within a dim, then the member: the members of one ensemble have
            // near dims (the projection pads to the widest), and each member's runs finish nearly in Fit's order.
            var planned = Enumerable.Range(0, records[0].Runs.Count).SelectMany(i => Enumerable.Range(0, all.Length).Select(k => (Member: k, Run: i))).ToArray();
            var training = _options.Loop(Dims[0], _options.Grid[0]);
            var footprint = Footprint(sets[0], starts[0]);
            var sizes = EnsembleSizing.Split(planned.Length, budgetBytes, footprint);
            var offset = 0;
            for (var part = 0; part < sizes.Count; part++)
            {
                var models = planned.Skip(offset).Take(sizes[part]).ToArray();
                offset += sizes[part];
                var started = models.Select(p => all[p.Member].StartModel(records[p.Member].Runs[p.Run], data[p.Member].Seed, starts[p.Member])).ToArray();
                IReadOnlyList<TrainingResult> results;
                try
                {
                    results = SearchAdaptorEnsemble.Train(
                        models.Select((p, i) => new SearchAdaptorMember(started[i].Model, started[i].Predictor, records[p.Member].Runs[p.Run].Weights,
                            records[p.Member].Runs[p.Run].Form, sets[p.Member], data[p.Member].Seed)).ToArray(),
                        _options, training with { Label = $"{MethodName} ensemble {part + 1} of {sizes.Count} ({models.Length} models of {all.Length} members)" });
                }
                catch
                {
                    foreach (var (model, _) in started) model.Dispose();
                    throw;
                }
                finally
                {
                    foreach (var (_, predictor) in started) predictor.Dispose();
                }
                // Each model is charged its share of the ensemble's time.
                for (var i = 0; i < models.Length; i++)
                    records[models[i].Member].Record(models[i].Run, started[i].Model, results[i], results[i].Seconds / models.Length);
            }
            foreach (var record in records) record.Finish();
        }
        catch
        {
            foreach (var record in records) record.Abandon();
            throw;
        }
        finally
        {
            foreach (var set in sets) set.Dispose();
        }
    }

    /// <summary>One model of this fit in an ensemble (<see cref="EnsembleSizing.SearchAdaptor"/>), its projection padded to the widest dim.</summary>
    private EnsembleFootprint Footprint(TrainingSet set, FitStart start) =>
        EnsembleSizing.SearchAdaptor(
            new EnsembleData(set.Corpus.shape[0], set.Queries.shape[0], set.Dim, set.ValidationQueryRows.Length, AnchorItems: 0),
            start.InputDim, _options.FunctionClass == FunctionClass.Linear ? 0 : start.HiddenDim, Dims[0], _options.Loop(Dims[0], _options.Grid[0]));

    /// <summary>Every option of <paramref name="options"/> as text under its option name (PascalCase -> snake_case, as
    /// the method registry names them), read by reflection so an option added later is compared too. Not compared:
    /// progress (a display) and ranking_loss (Fit sets it to each of ranking_loss_candidates).</summary>
    private static IReadOnlyDictionary<string, string> OptionTexts(SearchAdaptorOptions options) =>
        typeof(SearchAdaptorOptions).GetProperties()
            .Where(p => p.GetMethod is { IsPublic: true, IsStatic: false } && p.Name is not (nameof(SearchAdaptorOptions.Progress)) and not (nameof(SearchAdaptorOptions.RankingLoss)))
            .ToDictionary(p => p.Name == nameof(SearchAdaptorOptions.Grid) ? "grid (alpha, beta)" : SnakeCase(p.Name), p => Text(p.GetValue(options)));

    private static string SnakeCase(string name) => Regex.Replace(name, "(?<=[a-z0-9])([A-Z])", "_$1").ToLowerInvariant();

    private static string Text(object? value) => value switch
    {
        null => "auto",
        string s => s,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        IEnumerable items => "[" + string.Join("; ", items.Cast<object?>().Select(Text)) + "]",
        _ => value.ToString() ?? "",
    };
}
