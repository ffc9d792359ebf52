/// Runs a catalog item's missing trained experiments in worker processes before its table is built
/// from the cache. Training here is bound by per-op overhead, not arithmetic: one torch thread runs a
/// step as fast as two (measured on 2 cores, SMEC on CACM: 127 s with 1 thread, 125 s with 2), so
/// N single-threaded workers train N experiments in about the time of one. Each worker is
/// `smec run-experiment KEY` (LocalExecutor), holds one torch thread whatever the machine's core
/// count (so the numbers do not depend on it), and stores its result in the shared cache; the
/// table then reads every result from there. An experiment a worker could not compute is left for
/// the table, which runs it in this process and reports what went wrong.
module Smec.Experiments.Sweeps.ItemWorkers

open System
open Smec.Experiments.Running
open Smec.Experiments.Running.Environment
open Smec.Experiments.Sweeps.SweepPlan

/// The sweep folder that holds the workers' point files (results/sweeps/reproduce/points/).
let folderName = "reproduce"

/// Torch threads per worker: one, on every machine.
let threadsPerWorker = 1

/// The default number of workers: one per core, at most 4 (each holds a dataset in memory).
let defaultWorkers () = max 1 (min 4 Environment.ProcessorCount)

/// Trained experiments largest corpus first (its data-manifests doc count; unknown sizes last), the
/// plan order otherwise (a stable sort). Why: training time grows with the corpus, and a queue that
/// ends on the biggest dataset leaves one worker idle while the other finishes a long experiment
/// (item 2 ended on SciFact: ~35 s of 2 x 1,284 s unused). The workers' queue (WorkQueue) starts from
/// this order and then prefers the longest expected points as their times become known. Only the
/// order changes, never a number.
let largestFirst (points: Runner.PlannedExperiment list) =
    let docs (dataset: string) =
        match Smec.Core.Data.Manifests.ManifestCatalog.Default.Datasets.TryGetValue dataset with
        | true, manifest when not (isNull manifest.Counts) -> manifest.Counts.Docs |> Option.ofNullable |> Option.defaultValue 0
        | _ -> 0
    points |> List.sortBy (fun p -> -(docs p.Config.Dataset))

/// Untrained experiments (no budget: PCA, truncation) run here first and in order: they are quick,
/// and they bring each dataset's embeddings into the cache once, so no two workers encode the
/// same data at the same time. Then the trained ones go to `workers` processes, largest corpus first;
/// with `ensemble`, a cell's seeds go to one worker together and train there as one ensemble.
let run (env: RunEnvironment) (workers: int) (ensemble: bool) (planned: Runner.PlannedExperiment list) =
    let missing = planned |> List.filter (fun p -> not p.Cached)
    let untrained, trained = missing |> List.partition (fun p -> p.Config.Budget.IsNone)
    if not untrained.IsEmpty then Runner.run env Runner.defaultOptions untrained |> ignore
    if not trained.IsEmpty then
        let sweepDir = SweepFolder.folderOf env.ResultsDir folderName
        IO.Directory.CreateDirectory(SweepFolder.pointsFolder sweepDir) |> ignore
        let points =
            largestFirst trained |> List.map (fun p -> { Config = p.Config; Key = p.Hash; Values = Map.empty; Setting = Runner.describe p.Config })
        for p in points do SweepFolder.writePoint sweepDir folderName p
        LocalExecutor.run env { Workers = workers; Threads = Some threadsPerWorker; Ensemble = ensemble } points |> ignore
