/// A cell's number from the experiments' measurements: evaluated once per seed of the table, then
/// summarised as mean and spread (max - min over seeds).
module Smec.Experiments.Running.Quantities

open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running.Runner

type SeedValues =
    { Mean: float
      /// max - min over the seeds (0 with one seed, or for a quantity that no seed changes).
      Spread: float
      PerSeed: float list }

/// Why a number is not there: a failure (an experiment threw) or a skip (something to provide).
type Gap = { Failed: bool; Reason: string }

type Evaluation =
    | Value of SeedValues
    | Gap of Gap

let private firstGap (gaps: Gap list) =
    match gaps |> List.tryFind (fun g -> g.Failed) with
    | Some g -> g
    | None -> gaps.Head

let private combine (results: Result<float, Gap> list) (f: float list -> float) =
    match results |> List.choose (function Error g -> Some g | Ok _ -> None) with
    | [] -> Ok(f (results |> List.map (function Ok v -> v | Error _ -> nan)))
    | gaps -> Error(firstGap gaps)

/// The quantity at one seed, from the outcomes of the experiments (looked up by config).
let rec atSeed (lookup: ExperimentConfig -> Outcome option) (seed: int64) (quantity: Quantity) : Result<float, Gap> =
    let recurse = atSeed lookup seed
    match quantity with
    | Measure(config, name) ->
        let config = ExperimentConfig.withSeed seed config
        match lookup config with
        | Some(Finished(result, _)) ->
            match result.Measurements.TryFind name with
            | Some v -> Ok v
            | None ->
                let why = result.Notes |> List.filter (fun n -> n.Contains "not scored") |> String.concat "; "
                Error { Failed = false; Reason = sprintf "%s has no measurement '%s'%s" (describe config) name (if why = "" then "" else " (" + why + ")") }
        | Some(NotRun reason) -> Error { Failed = false; Reason = reason }
        | Some(Failed message) -> Error { Failed = true; Reason = sprintf "%s failed: %s" (describe config) message }
        | None -> Error { Failed = false; Reason = sprintf "%s was not planned" (describe config) }
    | Mean qs -> combine (qs |> List.map recurse) List.average
    | Spread qs -> combine (qs |> List.map recurse) (fun vs -> List.max vs - List.min vs)
    | Difference(a, b) -> combine [ recurse a; recurse b ] (fun vs -> vs.[0] - vs.[1])
    | Ratio(a, b) -> combine [ recurse a; recurse b ] (fun vs -> vs.[0] / vs.[1])
    | LosslessFactor(full, reference, candidates) ->
        let sorted = candidates |> List.sortBy fst
        combine (recurse reference :: (sorted |> List.map (snd >> recurse))) (fun vs ->
            let frozen = vs.Head
            // full / the smallest d that matches the frozen encoder at full dims; 0 if none does.
            match List.zip (sorted |> List.map fst) vs.Tail |> List.tryFind (fun (_, v) -> v >= frozen) with
            | Some(d, _) -> float full / float d
            | None -> 0.0)
    | Constant v -> Ok v
    | Unavailable reason -> Error { Failed = false; Reason = reason }

/// Whether any experiment behind the quantity depends on the seed.
let seedDependent (quantity: Quantity) =
    Catalog.experimentsOf quantity |> List.exists (fun c -> c.Budget.IsSome)

let evaluate (lookup: ExperimentConfig -> Outcome option) (seeds: int64 list) (quantity: Quantity) : Evaluation =
    let seeds = if seedDependent quantity then seeds else [ List.head seeds ]
    let results = seeds |> List.map (fun s -> atSeed lookup s quantity)
    match results |> List.choose (function Error g -> Some g | Ok _ -> None) with
    | [] ->
        let values = results |> List.map (function Ok v -> v | Error _ -> nan)
        Value { Mean = List.average values; Spread = List.max values - List.min values; PerSeed = values }
    | gaps -> Gap(firstGap gaps)
