/// One experiment by its key, in this process (what `smec run-experiment KEY` and each Slurm task
/// do). A stored result is never recomputed. A point whose experiment lock (ResultStore.withLock,
/// the one lock of every run) is held by a live process is left to it; the result itself is written
/// to a temporary file and renamed into place, so a reader never sees half an entry.
module Smec.Experiments.Sweeps.PointRunner

open System
open System.IO
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Running.Environment
open Smec.Experiments.Running.Runner
open Smec.Experiments.Store

/// What became of one point.
type PointOutcome =
    | AlreadyStored
    | Computed of ExperimentResult: ResultStore.ExperimentResult
    | RunningElsewhere of holder: string
    | NotComputed of reason: string

/// Run one experiment unless its result is stored. `key` must be the config's key in this build.
let run (env: RunEnvironment) (key: string) (config: ExperimentConfig) : PointOutcome =
    let actual = keyOf env config
    if actual <> key then
        raise (
            InvalidDataException(
                sprintf "the point's config gives key %s in this build, not %s: the method's implementation or the config schema changed since the sweep was planned; run `smec sweep plan SPEC` again" actual key
            )
        )
    match ResultStore.tryLoad env.ResultsDir key with
    | Some(Ok _) -> AlreadyStored
    | _ ->
        match ResultStore.lockHolder env.ResultsDir key with
        | Some who -> RunningElsewhere who
        | None ->
            // The runner takes the experiment's lock; a task that lost a race for it waits, then
            // reuses the stored result (AlreadyStored).
            let planned = { Config = config; Hash = key; Cached = false }
            match (Runner.run env defaultOptions [ planned ]).TryFind key with
            | Some(Finished(result, true)) -> ignore result; AlreadyStored
            | Some(Finished(result, false)) -> Computed result
            | Some(NotRun reason) -> NotComputed reason
            | Some(Failed message) -> NotComputed("failed: " + message)
            | None -> NotComputed "no outcome"
