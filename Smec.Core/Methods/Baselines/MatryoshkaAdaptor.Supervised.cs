using System.Globalization;
using Smec.Core.Losses;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.Baselines;

/// <summary>What the supervised stage did over its ranking-loss forms: time, steps and the forms tried.</summary>
internal sealed record SupervisedOutcome(double Seconds, int Steps, IReadOnlyList<RankingLossForm> Tried);

public sealed partial class MatryoshkaAdaptor
{
    /// <summary>
    /// The supervised stage once per ranking-loss candidate, each from the unsupervised state, and the choice among
    /// them: the weights with the best validation nDCG@10 (mean over dims), or per dim its best snapshot and form.
    /// Who trains a form does not matter to it: <see cref="Fit"/> runs each form alone, <see cref="FitTogether"/>
    /// runs each form for all members as one ensemble; either way every form is <see cref="Reset"/> then
    /// <see cref="Record"/>ed in candidate order, and <see cref="Finish"/> keeps and records the choice, so a member
    /// chooses exactly as it would alone.
    /// </summary>
    private sealed class SupervisedSearch
    {
        private readonly MatryoshkaAdaptor _owner;
        private readonly Tensor[] _parameters;
        /// <summary>The unsupervised state every form starts from.</summary>
        private readonly Tensor[] _start;
        private Tensor[]? _best;
        private double _bestScore = double.NegativeInfinity;
        private int _bestStep;
        private RankingLossForm? _bestForm;
        /// <summary>Per-dim selection: each dim -> its best score over the forms so far, with the snapshot and form.</summary>
        private readonly SortedDictionary<int, (double Score, int Step, IReadOnlyList<Tensor> Weights, RankingLossForm Form)> _dimBest = new();
        private double _seconds;
        private int _steps;

        public SupervisedSearch(MatryoshkaAdaptor owner)
        {
            _owner = owner;
            _parameters = owner._adaptor!.parameters().ToArray();
            _start = _parameters.Select(p => p.detach().clone()).ToArray();
            Forms = owner._options.RankingLossCandidates.Count > 0 ? owner._options.RankingLossCandidates : [owner._options.RankingLoss];
        }

        /// <summary>The ranking-loss forms tried, in order.</summary>
        public IReadOnlyList<RankingLossForm> Forms { get; }

        /// <summary>The stage's name for a form (its loop label and settings key).</summary>
        public string Stage(RankingLossForm form) => Forms.Count > 1 ? $"supervised, {form}" : "supervised";

        /// <summary>The options a form trains with.</summary>
        public MatryoshkaAdaptorOptions OptionsFor(RankingLossForm form) => _owner._options with { RankingLoss = form };

        /// <summary>Before each form: the adaptor back at the unsupervised state.</summary>
        public void Reset()
        {
            using (no_grad())
                for (var i = 0; i < _parameters.Length; i++) _parameters[i].copy_(_start[i]);
        }

        /// <summary>A form trained (the adaptor holds its kept weights, <paramref name="result"/> the loop's record and
        /// under per-dim selection its snapshots, owned from here): recorded, and kept where it beats the forms before.</summary>
        public void Record(RankingLossForm form, TrainingResult result)
        {
            var stage = Stage(form);
            _owner._runs.Add((stage, result));
            _owner._settings[$"{stage} stage"] = result.PerDim is null
                ? string.Create(CultureInfo.InvariantCulture, $"best validation nDCG@10 (mean over dims) {result.BestValidationNdcg10:F4} at step {result.BestStep} of {result.StepsRun}{(result.StoppedEarly ? ", early stop" : "")}")
                : string.Create(CultureInfo.InvariantCulture, $"best validation nDCG@10 per dim (mean of the dims' bests) {result.BestValidationNdcg10:F4}, the largest dim's at step {result.BestStep} of {result.StepsRun}{(result.StoppedEarly ? ", early stop" : "")}");
            foreach (var b in result.PerDim ?? [])
            {
                if (_dimBest.TryGetValue(b.Dim, out var kept) && !(b.BestValidationNdcg10 > kept.Score))
                {
                    foreach (var t in b.Weights) t.Dispose();
                    continue;
                }
                foreach (var t in kept.Weights ?? []) t.Dispose();
                _dimBest[b.Dim] = (b.BestValidationNdcg10, b.BestStep, b.Weights, form);
            }
            _seconds += result.Seconds;
            _steps += result.StepsRun;
            if (result.BestValidationNdcg10 > _bestScore)
            {
                _bestScore = result.BestValidationNdcg10;
                _bestStep = result.BestStep;
                _bestForm = form;
                foreach (var b in _best ?? []) b.Dispose();
                _best = _parameters.Select(p => p.detach().clone()).ToArray();
            }
        }

        /// <summary>Every form recorded: the adaptor (and per dim its snapshot) holds the chosen weights, the choice is in Settings.</summary>
        public SupervisedOutcome Finish()
        {
            var adaptor = _owner._adaptor!;
            var dims = _owner.Dims;
            var settings = _owner._settings;
            using (no_grad())
                for (var i = 0; i < _parameters.Length; i++) _parameters[i].copy_(_best![i]);
            foreach (var t in _start.Concat(_best!)) t.Dispose();
            settings["ranking loss (chosen on validation)"] = _bestForm!.ToString()!;
            // The supervised stage is the one part selected on validation; the corpus-only stage before it
            // never keeps its start (its start is no candidate), so it is not listed: a dim whose supervised
            // step is 0 shows the unsupervised adaptor's number, which training on labels did not improve.
            // (Per dim: a dim without its own snapshot is served by the one adaptor, which holds the largest dim's.)
            foreach (var dim in dims)
                settings[SelectedSteps.Key(dim)] = SelectedSteps.Format([_dimBest.Count == 0 ? _bestStep
                    : _dimBest.TryGetValue(dim, out var atDim) ? atDim.Step : _dimBest[dims[0]].Step]);
            if (_dimBest.Count > 0)
            {
                // Every dim served by its own snapshot; the one adaptor keeps the largest dim's (what Dims[0] serves).
                foreach (var (dim, (score, step, weights, form)) in _dimBest)
                {
                    var snapshot = CopyOf(adaptor);
                    TrainingLoop.CopyInto(snapshot.parameters().ToArray(), weights);
                    _owner._perDim[dim] = snapshot;
                    settings[$"selected @{dim}"] = string.Create(CultureInfo.InvariantCulture, $"{form} at step {step} (validation nDCG@10 {score:F4})");
                }
                TrainingLoop.CopyInto(_parameters, _dimBest[dims[0]].Weights);
                foreach (var (_, _, weights, _) in _dimBest.Values)
                    foreach (var t in weights) t.Dispose();
            }
            return new SupervisedOutcome(_seconds, _steps, Forms);
        }
    }
}
