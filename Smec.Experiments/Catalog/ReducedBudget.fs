/// "The same table with a reduced training budget": every experiment of a table that learns gets a
/// smaller budget, so a notebook can run a quick version of an item whose full run takes long. The
/// budget is part of an experiment's config hash, so the reduced results are cached apart from the
/// full-budget ones and never stand in for them (nor overwrite them).
module Smec.Experiments.Catalog.ReducedBudget

open Smec.Experiments.Catalog.Model

/// The quantity with every experiment config it names passed through `f`.
let rec mapConfigs (f: ExperimentConfig -> ExperimentConfig) (quantity: Quantity) : Quantity =
    match quantity with
    | Measure(config, measure) -> Measure(f config, measure)
    | Mean qs -> Mean(List.map (mapConfigs f) qs)
    | Spread qs -> Spread(List.map (mapConfigs f) qs)
    | Difference(a, b) -> Difference(mapConfigs f a, mapConfigs f b)
    | Ratio(a, b) -> Ratio(mapConfigs f a, mapConfigs f b)
    | LosslessFactor(fullDims, reference, candidates) ->
        LosslessFactor(fullDims, mapConfigs f reference, candidates |> List.map (fun (d, q) -> d, mapConfigs f q))
    | Constant _
    | Unavailable _ -> quantity

let private mapAssertion (f: Quantity -> Quantity) =
    let term (t: ClaimTerm) = { t with Value = f t.Value }
    function
    | Chain(first, rest) -> Chain(term first, rest |> List.map (fun (relation, t) -> relation, term t))
    | Bound(t, relation, bound) -> Bound(term t, relation, bound)

/// A short description of a budget, for titles and notes.
let describe (budget: TrainingBudget) =
    sprintf "at most %d steps, batch %d, lr %g, validation every %d steps, patience %d"
        budget.MaxSteps budget.BatchSize budget.LearningRate budget.ValidateEvery budget.Patience

/// Appended to a reduced table's title.
let titleMark = " [reduced budget]"

/// Whether the table is a reduced-budget version (made by withBudget).
let isReduced (spec: TableSpec) = spec.Title.EndsWith titleMark

/// A quick look trains one candidate per selection grid: every list-valued option a method has
/// (its loss forms, ADS initialisations, ...) that the config does not set is cut to its first
/// (default) entry, so the reduced table costs one grid point where the full one searches several.
let private firstCandidates (config: ExperimentConfig) =
    match Smec.Experiments.Methods.MethodRegistry.standard.TryEntry config.Method with
    | None -> config.Options
    | Some entry ->
        entry.Options
        |> List.fold (fun (options: Map<string, string>) spec ->
            match spec.Kind with
            | Smec.Experiments.Methods.MethodOptions.ChoiceList _ when not (options.ContainsKey spec.Name) ->
                options.Add(spec.Name, spec.Default.Split(',')[0])
            | _ -> options) config.Options

/// The table with `budget` on every experiment that learns (those with a budget); experiments that
/// learn nothing (no budget: truncation, PCA, dataset descriptions) are left as they are. The title
/// and notes say the table is a reduced-budget version.
let withBudget (budget: TrainingBudget) (spec: TableSpec) : TableSpec =
    let reduce (config: ExperimentConfig) =
        match config.Budget with
        | Some _ -> { config with Budget = Some budget; Options = firstCandidates config }
        | None -> config
    let quantity = mapConfigs reduce
    { spec with
        Title = spec.Title + titleMark
        Cells = spec.Cells |> List.map (fun c -> { c with Value = quantity c.Value })
        Claims = spec.Claims |> List.map (fun c -> { c with Assertion = mapAssertion quantity c.Assertion })
        Notes =
            spec.Notes
            @ [ sprintf "REDUCED BUDGET (%s; one candidate per selection grid): a quick version, not the full `make reproduce TABLE=%d`; trained cells are cached apart from the full run's." (describe budget) spec.Item ] }
