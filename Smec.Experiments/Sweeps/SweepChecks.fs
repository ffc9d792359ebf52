/// What a sweep is checked for before anything is written: its size (a grid of 594,000 points
/// wrote one file per point for minutes) and its data (every user file, every dim against the
/// encoder's width, every split rule against the queries), so plan and run fail at once, with exit 2.
module Smec.Experiments.Sweeps.SweepChecks

open System
open Smec.Core.Data.Manifests
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.EmbeddingsManifest
open Smec.Experiments.Running
open Smec.Experiments.Methods
open Smec.Experiments.Sweeps.SweepSpec
open Smec.Experiments.Verify

/// Above this many points a sweep is planned or run only with --force.
let forceAbove = 10_000

/// The points the spec expands to at most (before equal points are merged), counted without
/// expanding: a k-fold dataset (SplitRules) counts k times, one point per fold.
let pointCount (spec: SweepSpec) =
    let grid = spec.Grid |> List.fold (fun n a -> n * int64 a.Values.Length) 1L
    let zip = match spec.Zip with [] -> 1L | first :: _ -> int64 first.Values.Length
    let foldsOf (dataset: string) =
        match (try Some(SplitRules.ofDataset dataset) with _ -> None) with
        | Some(KFold(folds, _, _)) -> int64 folds
        | _ -> 1L
    (spec.Datasets |> List.sumBy foldsOf) * int64 spec.Encoders.Length * int64 spec.Methods.Length * grid * zip * int64 spec.Seeds.Length

/// Refuse a sweep over `forceAbove` points unless forced.
let requireSize (spec: SweepSpec) (force: bool) =
    let points = pointCount spec
    if points > int64 forceAbove && not force then
        raise (Smec.Core.Runtime.UserInputException(
                sprintf "%s: %d points (datasets, a k-fold one once per fold, x encoders x methods x grid x zip x seeds); expected at most %d, or --force to plan and run them all (each point is a file and an experiment)"
                    spec.File points forceAbove))

/// A library's message in the spec's words: a field named as the code names it (LossTemperature)
/// becomes the option or budget field the spec writes (loss_temperature).
let private inSpecWords (names: string list) (message: string) =
    Text.RegularExpressions.Regex.Replace(message, "\\b[A-Z][A-Za-z0-9]+\\b", fun m ->
        let snake = MethodOptions.snakeCase m.Value
        if List.contains snake names then snake else m.Value)

/// Build each distinct method setting once (no data, no training): the methods check their
/// option values (a temperature of 0, a ladder that does not fit), which the spec's types cannot.
let private requireMethods (registry: MethodRegistry.MethodRegistry) (plan: SweepPlan.SweepPlan) (widthOf: ExperimentConfig -> int) =
    for config in plan.Points |> List.map (fun p -> p.Config) |> List.distinctBy (fun c -> c.Method, c.Options, c.Budget, c.Dims, widthOf c) do
        match registry.TryEntry config.Method, registry.ResolveOptions(config.Method, config.Options) with
        | Some entry, Ok options when widthOf config > 0 ->
            let request: MethodRegistry.MethodRequest =
                { Method = config.Method; Options = options; Dims = config.Dims |> List.filter (fun d -> d <= widthOf config)
                  InputDim = widthOf config; Budget = config.Budget; Seed = config.Seed; Progress = false; CheckpointPath = None }
            try (entry.Create request).Dispose()
            with :? ArgumentException as e ->
                let names = (entry.Options |> List.map (fun o -> o.Name)) @ SweepSpec.budgetFields
                raise (Smec.Core.Runtime.UserInputException(
                        sprintf "%s: method '%s' with %s: %s; expected values the method accepts (`smec methods %s` lists its options)"
                            plan.Spec.File config.Method (if config.Options.IsEmpty then "its default options" else config.Options |> Map.toList |> List.map (fun (k, v) -> sprintf "%s=%s" k v) |> String.concat ", ")
                            (inSpecWords names e.Message) config.Method))
        | _ -> ()

/// Every (dataset, encoder) of the plan: its files verified and its dims within the encoder's width.
let requireData (registry: MethodRegistry.MethodRegistry) (catalog: ManifestCatalog) (manifest: EmbeddingsManifest option) (plan: SweepPlan.SweepPlan) =
    let spec = plan.Spec
    let dimField i = match spec.Dims with Some _ -> sprintf "dims[%d]" i | None -> sprintf "dims (the %s profile's ladder; give dims: [...])" (Profile.name spec.Profile)
    let field i = match spec.Lines.TryFind(dimField i) |> Option.orElse (spec.Lines.TryFind "dims") with Some line -> sprintf "%s: %s (line %d)" spec.File (dimField i) line | None -> sprintf "%s: %s" spec.File (dimField i)
    let widths = Collections.Generic.Dictionary<_, int>()
    // A k-fold dataset's folds are one collection to check (its rule without the fold: every fold sized).
    for config in plan.Points |> List.map (fun p -> { p.Config with Split = Splits.unfolded p.Config.Split }) |> List.distinctBy (fun c -> c.Source, c.Dataset, c.Encoder, c.Split) do
        let width =
            match config.Source with
            | Manifest fingerprint ->
                let m = manifest.Value
                let entry = m.Entries |> List.find (fun e -> e.Fingerprint = fingerprint && e.Dataset = config.Dataset && e.Encoder = config.Encoder)
                UserData.embeddingsEntry m.Path config.Split entry
            | Mirror ->
                let declared = catalog.Datasets[config.Dataset]
                if UserData.isUsers catalog declared then UserData.collection declared config.Split
                catalog.Encoders[config.Encoder].Dim
        if width > 0 then UserData.dimsFit field config.Dims config.Encoder width
        widths[(config.Source, config.Dataset, config.Encoder)] <- width
    requireMethods registry plan (fun c -> widths[(c.Source, c.Dataset, c.Encoder)])
