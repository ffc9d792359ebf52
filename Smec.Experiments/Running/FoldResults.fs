/// A k-fold cell's result from its fold experiments (Model.KFold): every judged query scored once,
/// by the model of the fold that held it out, so the cell's per-query rows, its mean, intervals and
/// pairwise comparisons read as those of a fixed split (one row per query per seed).
module Smec.Experiments.Running.FoldResults

open System
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running.Runner
open Smec.Experiments.Store
open Smec.Experiments.Store.ResultStore

/// Validation figures (Experiments.retrieval's "val-" measurements) are the mean over folds: each
/// fold selects on its own validation queries. Every other measurement is a mean over test queries.
let private isValidation (name: string) = name.StartsWith "val-"

/// The per-query scores of the folds as one set, each query once, in ordinal id order.
let private mergePerQuery (folds: (int * ExperimentResult) list) : PerQueryScores option =
    let scored = folds |> List.choose (fun (_, r) -> r.PerQuery)
    if scored.Length <> folds.Length then None
    else
        let rows =
            [ for pq in scored do
                  for i in 0 .. pq.QueryIds.Length - 1 -> pq.QueryIds[i], pq.Scores |> Map.map (fun _ values -> values[i]) ]
        match rows |> List.countBy fst |> List.tryFind (fun (_, n) -> n > 1) with
        | Some(query, _) -> failwithf "query '%s' was tested by more than one fold: the folds do not partition the judged queries" query
        | None -> ()
        let rows = rows |> List.sortWith (fun (a, _) (b, _) -> String.CompareOrdinal(a, b))
        let names = scored |> List.map (fun pq -> pq.Scores |> Map.keys |> Set.ofSeq) |> Set.intersectMany
        Some
            { QueryIds = rows |> List.map fst |> Array.ofList
              Scores = names |> Seq.map (fun name -> name, rows |> List.map (fun (_, s) -> s[name]) |> Array.ofList) |> Map.ofSeq }

/// Measurements every fold has: test measures weighted by each fold's test queries (the mean over
/// all queries), validation figures the plain mean over folds.
let private mergeMeasurements (folds: (int * ExperimentResult) list) =
    let weight (r: ExperimentResult) = match r.PerQuery with Some pq -> float pq.QueryIds.Length | None -> 1.0
    let names = folds |> List.map (fun (_, r) -> r.Measurements |> Map.keys |> Set.ofSeq) |> Set.intersectMany
    [ for name in names ->
          let pairs = folds |> List.map (fun (_, r) -> r.Measurements[name], (if isValidation name then 1.0 else weight r))
          let total = pairs |> List.sumBy snd
          // No fold names its queries (a result without per-query ids): the plain mean over folds.
          name, (if total = 0.0 then pairs |> List.averageBy fst else (pairs |> List.sumBy (fun (v, w) -> v * w)) / total) ]
    |> Map.ofList

/// A fold as texts show it: counted from 1, as progress lines do (configs index folds from 0).
let private foldName (folds: int) (f: int) = sprintf "fold %d/%d" (f + 1) folds

/// Settings alike in every fold as they are; others as "fold 1/5: v | fold 2/5: w | ...".
let private mergeSettings (folds: (int * ExperimentResult) list) =
    let keys = folds |> List.collect (fun (_, r) -> r.Settings |> Map.keys |> List.ofSeq) |> List.distinct
    [ for key in keys ->
          let values = folds |> List.map (fun (f, r) -> f, r.Settings.TryFind key |> Option.defaultValue "")
          match values |> List.map snd |> List.distinct with
          | [ one ] -> key, one
          | _ -> key, values |> List.map (fun (f, v) -> sprintf "%s: %s" (foldName folds.Length f) v) |> String.concat " | " ]
    |> Map.ofList

/// One result standing for the folds of a k-fold config (not stored: made from the stored folds).
let mergeResults (config: ExperimentConfig) (folds: (int * ExperimentResult) list) : ExperimentResult =
    let first = snd folds.Head
    { first with
        Hash = ConfigHash.hash config
        ConfigHash = ConfigHash.hash config
        ConfigJson = ConfigHash.canonical (ConfigHash.toJson config)
        Measurements = mergeMeasurements folds
        PerQuery = mergePerQuery folds
        Settings = mergeSettings folds
        Notes = folds |> List.collect (fun (f, r) -> r.Notes |> List.map (fun n -> sprintf "%s: %s" (foldName folds.Length f) n))
        DataChecksums = folds |> List.fold (fun acc (_, r) -> Map.fold (fun a k v -> Map.add k v a) acc r.DataChecksums) Map.empty
        StartedUtc = folds |> List.map (fun (_, r) -> r.StartedUtc) |> List.min
        Seconds = folds |> List.sumBy (fun (_, r) -> r.Seconds) }

/// A k-fold config's outcome from its folds': finished when every fold finished, else the first
/// fold's failure (or reason for not running), naming the fold.
let merge (config: ExperimentConfig) (folds: (int * Outcome) list) : Outcome =
    let failed = folds |> List.tryPick (fun (f, o) -> match o with Failed m -> Some(f, m) | _ -> None)
    let notRun = folds |> List.tryPick (fun (f, o) -> match o with NotRun m -> Some(f, m) | _ -> None)
    match failed, notRun with
    | Some(f, message), _ -> Failed(sprintf "%s: %s" (foldName folds.Length f) message)
    | None, Some(f, reason) -> NotRun(sprintf "%s: %s" (foldName folds.Length f) reason)
    | None, None ->
        let finished = folds |> List.map (fun (f, o) -> match o with Finished(r, cached) -> (f, r), cached | _ -> failwith "unreachable")
        Finished(mergeResults config (finished |> List.map fst), finished |> List.forall snd)

/// The fold index of a fold experiment's config.
let foldOf (config: ExperimentConfig) =
    match config.Split with
    | KFold(_, _, Some f) -> f
    | _ -> 0

/// A cell config's outcome: its own for a fixed split, its folds' merged for k-fold (None when a
/// fold was not planned).
let lookup (outcomeOf: ExperimentConfig -> Outcome option) (config: ExperimentConfig) : Outcome option =
    match Splits.experimentsOf config with
    | [ single ] when single = config -> outcomeOf config
    | folds ->
        let outcomes = folds |> List.map (fun f -> outcomeOf f |> Option.map (fun o -> foldOf f, o))
        if outcomes |> List.exists Option.isNone then None
        else Some(merge config (List.choose id outcomes))
