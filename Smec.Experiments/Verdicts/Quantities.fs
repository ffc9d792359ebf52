/// A cell's number from the experiments' measurements: evaluated once per seed of the table, then
/// summarised as the mean and the sample standard deviation over seeds. For paired statistics, the
/// same quantity is also evaluated on per-query scores (averaged over seeds per query first).
module Smec.Experiments.Verdicts.Quantities

open System
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running.Runner
open Smec.Experiments.Store

type SeedValues =
    { Mean: float
      /// Sample standard deviation over seeds (n - 1 in the denominator); 0 with one seed, or for a
      /// quantity that no seed changes.
      Sd: float
      PerSeed: float list }

/// Sample standard deviation (0 for fewer than two values).
let sampleSd (values: float list) =
    match values with
    | [] | [ _ ] -> 0.0
    | _ ->
        let mean = List.average values
        sqrt ((values |> List.sumBy (fun v -> (v - mean) ** 2.0)) / float (values.Length - 1))

let seedValues (values: float list) = { Mean = List.average values; Sd = sampleSd values; PerSeed = values }

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

/// The quantity from its leaves: `leaf config measure` gives one measurement.
let rec compute (leaf: ExperimentConfig -> string -> Result<float, Gap>) (quantity: Quantity) : Result<float, Gap> =
    let recurse = compute leaf
    match quantity with
    | Measure(config, name) -> leaf config name
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

/// The stored result of an experiment at a seed, or why there is none.
let private resultAt (lookup: ExperimentConfig -> Outcome option) (seed: int64) (config: ExperimentConfig) =
    let config = ExperimentConfig.withSeed seed config
    match lookup config with
    | Some(Finished(result, _)) -> Ok(config, result)
    | Some(NotRun reason) -> Error { Failed = false; Reason = reason }
    | Some(Failed message) -> Error { Failed = true; Reason = sprintf "%s failed: %s" (describe config) message }
    | None -> Error { Failed = false; Reason = sprintf "%s was not planned" (describe config) }

/// The quantity at one seed, from the outcomes of the experiments (looked up by config).
let atSeed (lookup: ExperimentConfig -> Outcome option) (seed: int64) (quantity: Quantity) : Result<float, Gap> =
    let leaf config name =
        resultAt lookup seed config
        |> Result.bind (fun (config, result) ->
            match result.Measurements.TryFind name with
            | Some v -> Ok v
            | None ->
                let why = result.Notes |> List.filter (fun n -> n.Contains "not scored") |> String.concat "; "
                Error { Failed = false; Reason = sprintf "%s has no measurement '%s'%s" (describe config) name (if why = "" then "" else " (" + why + ")") })
    compute leaf quantity

/// Whether any experiment behind the quantity depends on the seed.
let seedDependent (quantity: Quantity) =
    Catalog.experimentsOf quantity |> List.exists (fun c -> c.Budget.IsSome)

/// The seeds a quantity is evaluated at: the table's, or one run for quantities no seed changes.
let seedsFor (seeds: int64 list) (quantity: Quantity) = if seedDependent quantity then seeds else [ List.head seeds ]

let evaluate (lookup: ExperimentConfig -> Outcome option) (seeds: int64 list) (quantity: Quantity) : Evaluation =
    let results = seedsFor seeds quantity |> List.map (fun s -> atSeed lookup s quantity)
    match results |> List.choose (function Error g -> Some g | Ok _ -> None) with
    | [] -> Value(seedValues (results |> List.map (function Ok v -> v | Error _ -> nan)))
    | gaps -> Gap(firstGap gaps)

// ---- per-query samples --------------------------------------------------------------------------

/// The per-query scores behind some quantities, for resampling. Queries are grouped by the test
/// split they belong to (dataset, encoder, data source, split rule); every measurement of a group
/// is aligned to the group's query ids. Each score is the mean over the seeds of its experiment
/// (docs/STATISTICS.md: seeds are replicates; average them per query first).
type QuerySample =
    { /// Group key -> query ids (sorted, ordinal).
      Groups: (string * string[]) list
      /// (config with seed 0, measure) -> (group index, scores aligned to the group's ids).
      Leaves: Map<ExperimentConfig * string, int * float[]> }

    member this.Sizes = this.Groups |> List.map (fun (_, ids) -> ids.Length) |> Array.ofList

let private groupOf (config: ExperimentConfig) =
    sprintf "%s|%s|%A|%A" config.Dataset config.Encoder config.Source config.Split

/// The measurements (config, measure) a quantity reads.
let rec leaves (quantity: Quantity) : (ExperimentConfig * string) list =
    match quantity with
    | Measure(config, name) -> [ config, name ]
    | Mean qs | Spread qs -> qs |> List.collect leaves
    | Difference(a, b) | Ratio(a, b) -> leaves a @ leaves b
    | LosslessFactor(_, reference, candidates) -> leaves reference @ (candidates |> List.collect (snd >> leaves))
    | Constant _ | Unavailable _ -> []

/// Per-query scores of every measurement the quantities read, or why they cannot be had (a gap,
/// or a measurement that is not stored per query, e.g. a probe's).
let querySample (lookup: ExperimentConfig -> Outcome option) (seeds: int64 list) (quantities: Quantity list) : Result<QuerySample, string> =
    let wanted = quantities |> List.collect leaves |> List.map (fun (c, m) -> { c with Seed = 0L }, m) |> List.distinct
    let perSeed (config: ExperimentConfig, measure: string) =
        let seeds = if config.Budget.IsSome then seeds else [ List.head seeds ]
        seeds
        |> List.map (fun seed ->
            match resultAt lookup seed config with
            | Error gap -> Error gap.Reason
            | Ok(config, result) ->
                match result.PerQuery |> Option.bind (ResultStore.PerQueryScores.tryFind measure) with
                | Some pairs -> Ok(Map.ofArray pairs)
                | None -> Error(sprintf "%s has no per-query scores of '%s'" (describe config) measure))
    let collected = wanted |> List.map (fun leaf -> leaf, perSeed leaf)
    match collected |> List.tryPick (fun (_, runs) -> runs |> List.tryPick (function Error e -> Some e | Ok _ -> None)) with
    | Some reason -> Error reason
    | None ->
        // Seed means per query, over the queries every seed scored.
        let means =
            collected
            |> List.map (fun ((config, measure), runs) ->
                let maps = runs |> List.map (function Ok m -> m | Error _ -> Map.empty)
                let common = maps |> List.map (fun m -> m |> Map.keys |> Set.ofSeq) |> Set.intersectMany
                (config, measure), common |> Seq.map (fun id -> id, maps |> List.averageBy (fun m -> m.[id])) |> Map.ofSeq)
        let groups =
            means
            |> List.groupBy (fun ((config, _), _) -> groupOf config)
            |> List.map (fun (key, members) ->
                let ids = members |> List.map (fun (_, m) -> m |> Map.keys |> Set.ofSeq) |> Set.intersectMany
                key, ids |> Seq.sortWith (fun a b -> String.CompareOrdinal(a, b)) |> Array.ofSeq)
        match groups |> List.tryFind (fun (_, ids) -> ids.Length = 0) with
        | Some(key, _) -> Error(sprintf "no query is scored by every measurement of %s" key)
        | None ->
            let index = groups |> List.mapi (fun i (key, _) -> key, i) |> Map.ofList
            let leavesMap =
                means
                |> List.map (fun ((config, measure), scores) ->
                    let g = index.[groupOf config]
                    (config, measure), (g, snd groups.[g] |> Array.map (fun id -> scores.[id])))
                |> Map.ofList
            Ok { Groups = groups; Leaves = leavesMap }

/// The quantity as a function of a draw of queries (per group, the indices drawn): each
/// measurement is the mean of its drawn queries' scores, then the quantity combines them as the
/// table does (so a mean panel weights each dataset as the panel does). Error: a measurement
/// without per-query scores in the sample.
let onDraws (sample: QuerySample) (quantity: Quantity) : Result<int[][] -> Result<float, Gap>, string> =
    // `compute` visits the leaves in one fixed order: record it once, then feed values in that order.
    let order = ResizeArray<ExperimentConfig * string>()
    compute (fun config measure -> order.Add(config, measure); Ok 0.0) quantity |> ignore
    let resolved = order |> Seq.map (fun (config, measure) -> sample.Leaves.TryFind({ config with Seed = 0L }, measure), measure) |> Array.ofSeq
    match resolved |> Array.tryPick (fun (found, measure) -> if found.IsNone then Some measure else None) with
    | Some measure -> Error(sprintf "no per-query scores of '%s'" measure)
    | None ->
        let leaves = resolved |> Array.map (fst >> Option.get)
        Ok(fun (draws: int[][]) ->
            let mutable next = 0
            compute (fun _ _ ->
                let g, scores = leaves.[next]
                next <- next + 1
                let d = draws.[g]
                let mutable sum = 0.0
                for i in d do sum <- sum + scores.[i]
                Ok(sum / float d.Length)) quantity)
