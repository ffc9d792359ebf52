/// A cell's number from the experiments' measurements: evaluated once per seed of the table, then
/// summarised as the mean and the sample standard deviation over seeds. For paired statistics, the
/// same quantity is also evaluated on per-query scores, seed by seed (Bootstrap.seedQueryInterval).
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

/// One measurement's per-query scores in a sample: every seed's row, aligned to its group's ids.
type LeafScores =
    { /// Index into QuerySample.Groups.
      Group: int
      /// Index of the trained experiment (its seeds are resampled together for all its measures);
      /// -1 for a method that learns nothing (one run serves every seed).
      Experiment: int
      /// Seed row -> scores aligned to the group's query ids.
      Scores: float[][] }

/// The per-query scores behind some quantities, for resampling. Queries are grouped by the test
/// split they belong to (dataset, encoder, data source, split rule); every measurement of a group
/// is aligned to the group's query ids, and keeps one row per seed of its experiment, so both
/// levels can be resampled (Bootstrap.seedQueryInterval).
type QuerySample =
    { /// Group key -> query ids (sorted, ordinal).
      Groups: (string * string[]) list
      /// Seeds per trained experiment (indexed by LeafScores.Experiment).
      SeedCounts: int[]
      /// (config with seed 0, measure) -> its scores.
      Leaves: Map<ExperimentConfig * string, LeafScores> }

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
        let runsOf =
            collected |> List.map (fun (leaf, runs) -> leaf, runs |> List.map (function Ok m -> m | Error _ -> Map.empty))
        // A group's queries: those every seed of every measurement scored.
        let groups =
            runsOf
            |> List.groupBy (fun ((config, _), _) -> groupOf config)
            |> List.map (fun (key, members) ->
                let ids = members |> List.collect (fun (_, maps) -> maps |> List.map (fun m -> m |> Map.keys |> Set.ofSeq)) |> Set.intersectMany
                key, ids |> Seq.sortWith (fun a b -> String.CompareOrdinal(a, b)) |> Array.ofSeq)
        match groups |> List.tryFind (fun (_, ids) -> ids.Length = 0) with
        | Some(key, _) -> Error(sprintf "no query is scored by every measurement of %s" key)
        | None ->
            let index = groups |> List.mapi (fun i (key, _) -> key, i) |> Map.ofList
            let trained = wanted |> List.map fst |> List.filter (fun c -> c.Budget.IsSome) |> List.distinct
            let experimentOf (config: ExperimentConfig) =
                if config.Budget.IsSome then List.findIndex ((=) config) trained else -1
            let leavesMap =
                runsOf
                |> List.map (fun ((config, measure), maps) ->
                    let g = index.[groupOf config]
                    let ids = snd groups.[g]
                    (config, measure),
                    { Group = g
                      Experiment = experimentOf config
                      Scores = maps |> List.map (fun m -> ids |> Array.map (fun id -> m.[id])) |> Array.ofList })
                |> Map.ofList
            Ok { Groups = groups; SeedCounts = trained |> List.map (fun _ -> seeds.Length) |> Array.ofList; Leaves = leavesMap }

/// Each query's score averaged over the leaf's seeds (what a query resample reads).
let private seedMeansOf (leaf: LeafScores) = Array.init leaf.Scores.[0].Length (fun q -> leaf.Scores |> Array.averageBy (fun row -> row.[q]))

/// Each seed's score averaged over the leaf's queries (what a seed resample reads).
let private queryMeansOf (leaf: LeafScores) = leaf.Scores |> Array.map Array.average

/// The quantity as a function of a draw (Bootstrap.Draw): each measurement is the mean of its
/// scores over the drawn queries (seeds averaged) or over the drawn seeds (queries as observed),
/// then the quantity combines them as the table does (so a mean panel weights each dataset as the
/// panel does). Error: a measurement without per-query scores in the sample.
let onDraws (sample: QuerySample) (quantity: Quantity) : Result<Bootstrap.Draw -> Result<float, Gap>, string> =
    // `compute` visits the leaves in one fixed order: record it once, then feed values in that order.
    let order = ResizeArray<ExperimentConfig * string>()
    compute (fun config measure -> order.Add(config, measure); Ok 0.0) quantity |> ignore
    let resolved = order |> Seq.map (fun (config, measure) -> sample.Leaves.TryFind({ config with Seed = 0L }, measure), measure) |> Array.ofSeq
    match resolved |> Array.tryPick (fun (found, measure) -> if found.IsNone then Some measure else None) with
    | Some measure -> Error(sprintf "no per-query scores of '%s'" measure)
    | None ->
        let leaves = resolved |> Array.map (fst >> Option.get)
        // Each level's resample reads one summary of the other level: the seed mean of every query,
        // and the query mean of every seed.
        let seedMeans = leaves |> Array.map seedMeansOf
        let queryMeans = leaves |> Array.map queryMeansOf
        let meanOver (indices: int[]) (values: float[]) =
            let mutable sum = 0.0
            for i in indices do sum <- sum + values.[i]
            sum / float indices.Length
        Ok(fun (draw: Bootstrap.Draw) ->
            let mutable next = 0
            compute (fun _ _ ->
                let i = next
                next <- next + 1
                match draw with
                | Bootstrap.Observed -> Ok(Array.average seedMeans.[i])
                | Bootstrap.Queries drawn -> Ok(meanOver drawn.[leaves.[i].Group] seedMeans.[i])
                | Bootstrap.Seeds drawn when leaves.[i].Experiment >= 0 -> Ok(meanOver drawn.[leaves.[i].Experiment] queryMeans.[i])
                | Bootstrap.Seeds _ -> Ok(Array.average queryMeans.[i])) quantity)

/// A quantity that is a weighted sum of measurements plus a constant (Measure, Mean, Difference,
/// Constant) as its leaves' weights (a leaf read twice gets the sum) and the constant; None for any
/// other (Ratio, Spread, LosslessFactor, Unavailable), whose intervals are resampled.
let rec linearWeights (quantity: Quantity) : (Map<ExperimentConfig * string, float> * float) option =
    let scaled (k: float) (weights: Map<_, float>, constant: float) = weights |> Map.map (fun _ w -> k * w), k * constant
    let sum (parts: (Map<_, float> * float) list) =
        parts |> List.fold (fun (acc: Map<_, float>, c) (weights, constant) ->
            (weights |> Map.fold (fun (m: Map<_, float>) key w -> m.Add(key, w + defaultArg (m.TryFind key) 0.0)) acc), c + constant) (Map.empty, 0.0)
    match quantity with
    | Measure(config, name) -> Some(Map.ofList [ ({ config with Seed = 0L }, name), 1.0 ], 0.0)
    | Constant v -> Some(Map.empty, v)
    | Mean [] -> None
    | Mean qs ->
        let parts = qs |> List.map linearWeights
        if parts |> List.forall Option.isSome then Some(scaled (1.0 / float qs.Length) (sum (parts |> List.map Option.get))) else None
    | Difference(a, b) ->
        match linearWeights a, linearWeights b with
        | Some pa, Some pb -> Some(sum [ pa; scaled -1.0 pb ])
        | _ -> None
    | Ratio _ | Spread _ | LosslessFactor _ | Unavailable _ -> None

/// A linear quantity's per-query and per-seed contributions over the sample (Bootstrap.LinearStatistic):
/// each measurement's seed means per query, weighted, summed per group; its query means per seed,
/// weighted, summed per trained experiment. The observed value is what onDraws gives for
/// Bootstrap.Observed. Ok None: the quantity is not linear (resample it with onDraws).
let linearParts (sample: QuerySample) (quantity: Quantity) : Result<Bootstrap.LinearStatistic option, string> =
    match linearWeights quantity with
    | None -> Ok None
    | Some(weights, constant) ->
        let missing = weights |> Map.toList |> List.tryFind (fun (key, _) -> not (sample.Leaves.ContainsKey key))
        match missing with
        | Some((_, measure), _) -> Error(sprintf "no per-query scores of '%s'" measure)
        | None ->
            let queryTerms = sample.Groups |> List.map (fun (_, ids) -> Array.zeroCreate<float> ids.Length) |> Array.ofList
            let seedTerms = sample.SeedCounts |> Array.map (fun n -> Array.zeroCreate<float> n)
            for KeyValue(key, w) in weights do
                let leaf = sample.Leaves.[key]
                let queries = queryTerms.[leaf.Group]
                seedMeansOf leaf |> Array.iteri (fun q m -> queries.[q] <- queries.[q] + w * m)
                if leaf.Experiment >= 0 then
                    let seeds = seedTerms.[leaf.Experiment]
                    queryMeansOf leaf |> Array.iteri (fun s m -> seeds.[s] <- seeds.[s] + w * m)
            let observed = constant + (queryTerms |> Array.sumBy (fun g -> if g.Length = 0 then 0.0 else Array.average g))
            Ok(Some { Observed = observed; QueryTerms = queryTerms; SeedTerms = seedTerms })
