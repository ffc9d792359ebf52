/// Plans a table's experiments (every config its cells and claims name, for each seed), reuses
/// cached results, runs the rest one by one with progress lines, and stores each as it finishes.
module Smec.Experiments.Running.Runner

open System
open System.Diagnostics
open Smec.Core.Methods
open Smec.Core.Runtime
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running.Datasets
open Smec.Experiments.Running.Environment
open Smec.Experiments.Store.ResultStore
open Smec.Experiments.Methods
open Smec.Experiments.Store

type Outcome =
    | Finished of ExperimentResult * fromCache: bool
    /// Not run: the data, the method or a probe is not available (the reason says what), or a dry run.
    | NotRun of reason: string
    | Failed of message: string

type PlannedExperiment =
    { Config: ExperimentConfig
      Hash: string
      Cached: bool }

type RunOptions =
    { /// Recompute even when a cached result exists.
      Force: bool
      /// Plan and report only: nothing is computed.
      DryRun: bool
      /// Train the pending experiments that differ only in seed as one ensemble when their method can
      /// fit members together (Smec.Core IEnsembleFit); `smec reproduce --ensemble auto|on|off` decides.
      /// Part of no key: each member is stored under its own key, as it would be trained alone.
      Ensemble: bool }

let defaultOptions = { Force = false; DryRun = false; Ensemble = false }

/// The ensemble a trained retrieval experiment may join: its config without its seed (None: it trains
/// alone). A k-fold fold stays in the key: each fold's training data holds other query embeddings
/// (never its test queries), and an ensemble's members share one table of corpus and query rows.
let ensembleKeyOf (config: ExperimentConfig) =
    match config.Kind, config.Budget with
    | Retrieval, Some _ -> Some(ConfigHash.hash (ExperimentConfig.withSeed 0L config))
    | _ -> None

/// The settings entry of a member trained in an ensemble: the group's size, seeds and member keys.
let ensembleSettingKey = "run.ensemble"

/// The members of an ensemble in words: "seeds 1, 2, 3" (a group is one cell's seeds, of one fold).
let membersText (separator: string) (members: PlannedExperiment list) =
    "seeds " + (members |> List.map (fun p -> string p.Config.Seed) |> String.concat separator)

let ensembleSetting (members: PlannedExperiment list) =
    sprintf "trained as one ensemble of %d members (%s): %s" members.Length (membersText ", " members)
        (members |> List.map (fun p -> p.Hash) |> String.concat " ")

/// A config as one readable line.
let rec describe (config: ExperimentConfig) = describeMembers config ""

/// A config as one readable line, with `members` ("seeds 1,2,3") in place of its own seed (its ensemble's cell).
and describeMembers (config: ExperimentConfig) (members: string) =
    let dims =
        match config.Dims with
        | [] -> ""
        | ds -> sprintf " dims %s" (ds |> List.map string |> String.concat ",")
    let options =
        if config.Options.IsEmpty then ""
        else " [" + (config.Options |> Seq.map (fun kv -> kv.Key + "=" + kv.Value) |> String.concat " ") + "]"
    let source = match config.Source with Mirror -> "" | Manifest _ -> " (manifest)"
    let data = if config.Encoder = "" then config.Dataset else config.Dataset + " x " + config.Encoder
    let what = if config.Method = "" then ExperimentKind.name config.Kind else config.Method
    let seed = if members <> "" then " " + members elif config.Budget.IsSome then sprintf " seed %d" config.Seed else ""
    let fold = match config.Split with KFold(k, _, Some f) -> sprintf " fold %d/%d" (f + 1) k | _ -> ""
    sprintf "%s%s: %s%s%s%s%s" what options data source dims seed fold

/// What computes an experiment: the method's implementation tag, and the probe's for probes.
let implementationOf (env: RunEnvironment) (config: ExperimentConfig) =
    match config.Kind with
    | Retrieval -> env.Methods.ImplementationOf config.Method
    | GradientProbe
    | DimensionImportance ->
        match env.Probes.ImplementationOf config.Kind with
        | "" -> ""
        | probe when config.Kind = GradientProbe -> probe
        | probe -> probe + " + " + env.Methods.ImplementationOf config.Method
    | DatasetDescription -> ""

/// The options that reach the config's method, resolved with their defaults: the method's own
/// options (validated) plus any other option the config names (a probe's, such as "epochs"). A
/// config whose options do not resolve keeps its given ones (running it reports the error).
let resolvedOptionsOf (env: RunEnvironment) (config: ExperimentConfig) =
    match env.Methods.TryEntry config.Method with
    | None -> config.Options
    | Some entry ->
        let known = entry.Options |> List.map (fun o -> o.Name) |> Set.ofList
        let own, other = config.Options |> Map.partition (fun k _ -> known.Contains k)
        match MethodOptions.resolve entry.Key entry.Options own with
        | Ok resolved ->
            let resolved = Map.fold (fun acc k v -> Map.add k v acc) resolved other
            // A searched grid is not an option value: its points are written out, so that a changed
            // grid is another experiment and never reuses a result of the old one.
            match MethodRegistry.gridOf entry.TuningGrid resolved with
            | [ [] ] -> resolved
            | points -> resolved.Add("tuning.points", MethodRegistry.describeGrid points)
        | Error _ -> config.Options

/// A key under this environment: config + the given implementation tag + resolved options, and the
/// data identity when the dataset's copy is not the reference copy, so results of another copy are
/// never mixed with the mirror's (the reference copy keeps its keys).
let private keyWith (implementation: string) (env: RunEnvironment) (config: ExperimentConfig) =
    let key = ConfigHash.resultKey implementation (resolvedOptionsOf env config) config
    match config.Source with
    | Mirror ->
        match Datasets.identityName config.Dataset with
        | Some identity when identity <> Smec.Core.Data.DataIdentity.ReferenceName -> ConfigHash.sha256Hex (key + " data " + identity)
        | _ -> key
    | Manifest _ -> key

/// The key of an experiment's stored result: no other implementation may reuse it.
let keyOf (env: RunEnvironment) (config: ExperimentConfig) = keyWith (implementationOf env config) env config

/// The result stored for a planned experiment from what it computed, with the provenance every result
/// records (implementation, package versions, data checksums, torch threads); trained alone or in an ensemble.
let resultOf (env: RunEnvironment) (hash: string) (config: ExperimentConfig) (output: Experiments.ExperimentOutput)
             (settings: Map<string, string>) (started: DateTime) (seconds: float) : ExperimentResult =
    { Hash = hash
      ConfigHash = ConfigHash.hash config
      Implementation = implementationOf env config
      ConfigJson = ConfigHash.canonical (ConfigHash.toJson config)
      Measurements = output.Measurements
      PerQuery = output.PerQuery
      Settings = settings
      Notes = output.Notes
      PackageVersions = BuildInfo.PackageVersions() |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq
      DataChecksums = output.Checksums
      TorchThreads = Determinism.ConfiguredThreads()
      StartedUtc = started
      Seconds = seconds }

/// What an experiment computes without the code that computes it: its resolved settings and data, not
/// the implementation tag. Blessed cells are named by it, so a changed default is "another
/// configuration" while a changed implementation (a faster kernel, a fix) is judged by the bands.
let settingsKeyOf (env: RunEnvironment) (config: ExperimentConfig) = keyWith "" env config

/// Every experiment a table needs, with seeds applied, in run order: descriptions first, then
/// grouped by data so each dataset is loaded once.
let plan (env: RunEnvironment) (spec: TableSpec) : PlannedExperiment list =
    Catalog.tableExperiments spec
    // A k-fold cell's config is one experiment per fold (FoldResults merges them for the cell).
    |> List.collect Splits.experimentsOf
    |> List.collect (fun c -> spec.Seeds |> List.map (fun s -> ExperimentConfig.withSeed s c))
    |> List.distinct
    |> List.sortBy (fun c -> (c.Kind <> DatasetDescription), string c.Source, c.Dataset, c.Encoder, string c.Split, c.Seed, c.Method, ConfigHash.hash c)
    |> List.map (fun c ->
        let hash = keyOf env c
        { Config = c
          Hash = hash
          Cached = (match tryLoad env.ResultsDir hash with Some(Ok _) -> true | _ -> false) })

let private summary (measurements: Map<string, float>) =
    let ndcg = measurements |> Map.toList |> List.filter (fun (k, _) -> k.StartsWith "ndcg@10@")
    let shown = if ndcg.IsEmpty then measurements |> Map.toList |> List.truncate 4 else ndcg
    shown |> List.map (fun (k, v) -> sprintf "%s %s" k (v.ToString("G5", Globalization.CultureInfo.InvariantCulture))) |> String.concat ", "

/// Run (or reuse) every planned experiment; returns the outcome of each by hash.
let run (env: RunEnvironment) (options: RunOptions) (planned: PlannedExperiment list) : Map<string, Outcome> =
    let total = planned.Length
    if not options.DryRun then
        removeDeadTemporaries (cacheFolder env.ResultsDir)
        removeDeadLocks (cacheFolder env.ResultsDir)
    let mutable loaded : (string * Lazy<LoadedDataset>) option = None
    let dataFor (config: ExperimentConfig) : Result<Lazy<LoadedDataset>, string> =
        // One dataset in memory at a time; the seed only stamps the training data.
        let key = sprintf "%A|%s|%s|%A" config.Source config.Dataset config.Encoder config.Split
        let base' =
            match loaded with
            | Some(k, data) when k = key -> Ok data
            | _ ->
                match resolve env.Datasets config with
                | Available load ->
                    let data = lazy (Timing.time (sprintf "data: %s%s (load or encode)" config.Dataset (if config.Encoder = "" then "" else " x " + config.Encoder)) load)
                    loaded <- Some(key, data)
                    Ok data
                | Missing reason -> Error reason
                | NotMine -> Error "no provider"
        base'
        |> Result.map (fun data ->
            lazy
                (let d = data.Value
                 let t = d.Training
                 { d with Training = TrainingData(t.Corpus, t.Queries, t.Train, t.Validation, config.Seed) }))
    // Ensembles: the planned experiments that differ only in seed, by seed; always the whole group,
    // so a member's numbers never depend on which of its group were stored before (a rerun after a kill).
    let groups =
        if not options.Ensemble || options.DryRun then Map.empty
        else
            planned
            |> List.choose (fun p -> ensembleKeyOf p.Config |> Option.map (fun group -> group, p))
            |> List.groupBy fst
            |> List.filter (fun (_, members) -> members.Length > 1)
            |> List.map (fun (group, members) -> group, members |> List.map snd |> List.sortBy (fun p -> p.Config.Seed))
            |> Map.ofList
    let trainedTogether = Collections.Generic.Dictionary<string, Outcome>()
    let groupsTried = Collections.Generic.HashSet<string>()
    let stored (p: PlannedExperiment) = not options.Force && (match tryLoad env.ResultsDir p.Hash with Some(Ok _) -> true | _ -> false)
    /// Train a group together and store each member not stored yet whose lock this run holds; members
    /// another run holds are left to it (the loop below waits for them). Nothing here when the method
    /// cannot fit them together: the loop then runs each alone.
    let runTogether (members: PlannedExperiment list) =
        let locks = members |> List.filter (stored >> not) |> List.choose (fun p -> tryLock env.ResultsDir p.Hash |> Option.map (fun l -> p, l))
        try
            let mine = locks |> List.map fst |> List.filter (stored >> not) |> List.map (fun p -> p.Hash) |> Set.ofList
            if not mine.IsEmpty then
                let what = sprintf "ensemble of %d (%s)" members.Length (describeMembers members.Head.Config (membersText "," members))
                let data = members |> List.map (fun p -> dataFor p.Config)
                match data |> List.tryPick (function Error reason -> Some reason | Ok _ -> None) with
                | Some reason -> env.Progress(sprintf "%s: no data (%s); its members run alone" what reason)
                | None ->
                    env.Progress(sprintf "%s: training together, storing %d" what mine.Count)
                    let started = DateTime.UtcNow
                    let clock = Stopwatch.StartNew()
                    try
                        match Experiments.retrievalTogether env (members |> List.map (fun p -> p.Config)) (data |> List.map (function Ok d -> d.Value | Error _ -> failwith "unreachable")) with
                        | Error why -> env.Progress(sprintf "%s: cannot train together (%s); its members run alone" what why)
                        | Ok(outputs, _) ->
                            let seconds = clock.Elapsed.TotalSeconds
                            for p, output in List.zip members outputs do
                                if mine.Contains p.Hash then
                                    // The group's time shared by its members.
                                    let result =
                                        resultOf env p.Hash p.Config output (output.Settings.Add(ensembleSettingKey, ensembleSetting members))
                                            started (seconds / float members.Length)
                                    save env.ResultsDir result
                                    env.Progress(sprintf "%s (%s) done in its ensemble: %s" (describe p.Config) (ConfigHash.short p.Hash) (summary result.Measurements))
                                    trainedTogether[p.Hash] <- Finished(result, false)
                    with e ->
                        let message = sprintf "%s: %s (trained in an %s)" (e.GetType().Name) e.Message what
                        env.Progress(sprintf "%s FAILED: %s" what message)
                        for hash in mine do trainedTogether[hash] <- Failed message
        finally
            for _, l in locks do l.Dispose()
    let outcomes =
        planned
        |> List.mapi (fun index p ->
            let label = sprintf "[%d/%d] %s (%s)" (index + 1) total (describe p.Config) (ConfigHash.short p.Hash)
            // A group trains when its first member comes up; its members then find their outcome here.
            match ensembleKeyOf p.Config |> Option.bind groups.TryFind with
            | Some members when groupsTried.Add(ensembleKeyOf(p.Config).Value) -> runTogether members
            | _ -> ()
            let cached = if options.Force then None else tryLoad env.ResultsDir p.Hash
            let outcome =
                match trainedTogether.TryGetValue p.Hash, cached with
                | (true, together), _ ->
                    env.Progress(sprintf "%s trained in its ensemble" label)
                    together
                | _, Some(Ok result) ->
                    env.Progress(sprintf "%s cached" label)
                    Finished(result, true)
                | _ when options.DryRun ->
                    env.Progress(sprintf "%s would run (dry run)" label)
                    NotRun "not run: dry run"
                | _, stale ->
                    // One process computes an experiment; another run of it waits, then reuses the stored result.
                    let reuse () =
                        match (if options.Force then None else tryLoad env.ResultsDir p.Hash) with
                        | Some(Ok result) ->
                            env.Progress(sprintf "%s cached (computed by another run meanwhile)" label)
                            Some(Finished(result, true))
                        | _ -> None
                    withLock env.ResultsDir p.Hash env.Progress reuse (fun () ->
                        match stale with
                        | Some(Error message) -> env.Progress message
                        | _ -> ()
                        let data = if Experiments.needsData p.Config then dataFor p.Config |> Result.map Some else Ok None
                        match data with
                        | Error reason ->
                            env.Progress(sprintf "%s SKIPPED: %s" label reason)
                            NotRun reason
                        | Ok data ->
                            env.Progress(sprintf "%s running..." label)
                            let started = DateTime.UtcNow
                            let clock = Stopwatch.StartNew()
                            try
                                match Experiments.execute env p.Config data with
                                | Error reason ->
                                    env.Progress(sprintf "%s SKIPPED: %s" label reason)
                                    NotRun reason
                                | Ok output ->
                                    let result = resultOf env p.Hash p.Config output output.Settings started clock.Elapsed.TotalSeconds
                                    save env.ResultsDir result
                                    env.Progress(sprintf "%s done in %.1f s: %s" label result.Seconds (summary result.Measurements))
                                    Finished(result, false)
                            with e ->
                                // Data and user errors say what is wrong in words; only a bug needs its class name.
                                let message =
                                    match e with
                                    | :? IO.InvalidDataException | :? IO.IOException | :? Smec.Core.Runtime.UserInputException
                                    | :? Smec.Core.Data.DataVerificationException | :? Smec.Core.Data.DataUnavailableException
                                    | :? Smec.Core.Runtime.TrainingDivergedException -> e.Message
                                    | _ -> sprintf "%s: %s" (e.GetType().Name) e.Message
                                env.Progress(sprintf "%s FAILED: %s" label message)
                                Failed message)
            p.Hash, outcome)
    Map.ofList outcomes
