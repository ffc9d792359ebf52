/// Experiments by their keys, in this process (what `smec run-experiment KEY...`, each local worker
/// and each Slurm task do). A stored result is never recomputed. A point whose experiment lock (ResultStore.withLock,
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

/// Run the experiments unless their results are stored; `ensemble`: those of one cell that differ only
/// in seed train as one ensemble (Runner.RunOptions.Ensemble). Each key must be its config's
/// key in this build. Returns each key's outcome, in the order given.
let runAll (env: RunEnvironment) (ensemble: bool) (points: (string * ExperimentConfig) list) : (string * PointOutcome) list =
    for key, config in points do
        let actual = keyOf env config
        if actual <> key then
            raise (
                InvalidDataException(
                    sprintf "the point's config gives key %s in this build, not %s: the method's implementation or the config schema changed since the sweep was planned; run `smec sweep plan SPEC` again" actual key
                )
            )
    let before =
        points
        |> List.map (fun (key, config) ->
            match ResultStore.tryLoad env.ResultsDir key with
            | Some(Ok _) -> key, Some AlreadyStored
            | _ ->
                match ResultStore.lockHolder env.ResultsDir key with
                | Some who -> key, Some(RunningElsewhere who)
                | None -> key, None)
        |> Map.ofList
    // The runner takes each experiment's lock; a task that lost a race for it waits, then reuses the
    // stored result (AlreadyStored).
    let planned = points |> List.filter (fun (key, _) -> before[key].IsNone) |> List.map (fun (key, config) -> { Config = config; Hash = key; Cached = false })
    let outcomes = if planned.IsEmpty then Map.empty else Runner.run env { defaultOptions with Ensemble = ensemble } planned
    points
    |> List.map (fun (key, _) ->
        match before[key] with
        | Some outcome -> key, outcome
        | None ->
            key,
            match outcomes.TryFind key with
            | Some(Finished(_, true)) -> AlreadyStored
            | Some(Finished(result, false)) -> Computed result
            | Some(NotRun reason) -> NotComputed reason
            | Some(Failed message) -> NotComputed("failed: " + message)
            | None -> NotComputed "no outcome")
