/// Runs a sweep's missing points on this machine: in this process one after another (each dataset
/// loaded once), or in N worker processes, each running one unit at a time (`smec run-experiment
/// KEY...`; WorkUnits: with ensembles on, the points of one cell that differ only in seed are
/// one unit and train together in their worker). By default the workers' torch threads add up to at
/// most the number of cores; workers take the longest expected unit first (WorkQueue).
module Smec.Experiments.Sweeps.LocalExecutor

open System
open System.Diagnostics
open System.IO
open Smec.Core.Runtime
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Running.Environment
open Smec.Experiments.Sweeps.SweepPlan
open Smec.Experiments.Store

type LocalOptions =
    { Workers: int
      /// Torch threads per worker; None = cores / workers (at least 1).
      Threads: int option
      /// Train the points that differ only in seed as one ensemble each (Runner.RunOptions.Ensemble),
      /// each ensemble in one process.
      Ensemble: bool }

/// Threads per worker: the given count, else an equal share of the cores.
let threadsPerWorker (cores: int) (options: LocalOptions) =
    match options.Threads with
    | Some t -> t
    | None -> max 1 (cores / options.Workers)

/// How to start this program again (the host and the assembly), for worker processes and Slurm tasks.
let selfCommand () =
    let assembly = Reflection.Assembly.GetEntryAssembly().Location
    let host = Environment.ProcessPath
    if Path.GetFileNameWithoutExtension(host) = "dotnet" then host, [ assembly ] else host, []

/// Run every point whose result is not stored; returns (computed, not computed with reasons).
let run (env: RunEnvironment) (options: LocalOptions) (points: Point list) =
    let missing = points |> List.filter (fun p -> match ResultStore.tryLoad env.ResultsDir p.Key with Some(Ok _) -> false | _ -> true)
    env.Progress(sprintf "%d points, %d stored, %d to run (local, %d worker%s)" points.Length (points.Length - missing.Length) missing.Length options.Workers (if options.Workers = 1 then "" else "s"))
    let failures = Collections.Concurrent.ConcurrentBag<string * string>()
    if options.Workers <= 1 then
        match options.Threads with
        | Some t -> Environment.SetEnvironmentVariable(Determinism.ThreadsVariable, string t)
        | None -> ()
        // One dataset in memory at a time: points grouped by their data.
        let ordered =
            missing |> List.sortBy (fun p -> string p.Config.Source, p.Config.Dataset, p.Config.Encoder, string p.Config.Split, p.Config.Seed)
        let planned = ordered |> List.map (fun p -> { Runner.Config = p.Config; Runner.Hash = p.Key; Runner.Cached = false })
        let outcomes = Runner.run env { Runner.defaultOptions with Ensemble = options.Ensemble } planned
        for p in ordered do
            match outcomes.TryFind p.Key with
            | Some(Runner.Finished _) -> ()
            | Some(Runner.NotRun reason) -> failures.Add(p.Key, reason)
            | Some(Runner.Failed message) -> failures.Add(p.Key, "failed: " + message)
            | None -> failures.Add(p.Key, "no outcome")
    else
        let threads = threadsPerWorker Environment.ProcessorCount options
        let host, prefix = selfCommand ()
        let units = WorkUnits.group options.Ensemble missing
        let queue = WorkQueue.Queue(units)
        let total = units.Length
        let started = ref 0
        let worker () =
            let mutable next = queue.Take()
            while next.IsSome do
                let unit = next.Value
                let clock = Stopwatch.StartNew()
                let index = Threading.Interlocked.Increment(&started.contents)
                let label = WorkUnits.describe unit
                env.Progress(sprintf "[%d/%d] %s running in a worker..." index total label)
                let info = ProcessStartInfo(host)
                for a in prefix @ [ "run-experiment" ] @ (unit |> List.map (fun p -> p.Key)) @ [ "--ensemble"; (if options.Ensemble then "on" else "off"); "--results"; env.ResultsDir ] do
                    info.ArgumentList.Add a
                info.Environment[Determinism.ThreadsVariable] <- string threads
                info.RedirectStandardOutput <- true
                info.RedirectStandardError <- true
                use proc = Process.Start info
                let output = proc.StandardOutput.ReadToEndAsync()
                let errors = proc.StandardError.ReadToEndAsync()
                proc.WaitForExit()
                let lastLine (text: string) = text.Split('\n', StringSplitOptions.RemoveEmptyEntries) |> Array.tryLast |> Option.defaultValue ""
                if proc.ExitCode = 0 then
                    queue.Finished(unit, clock.Elapsed.TotalSeconds)
                    env.Progress(sprintf "[%d/%d] %s: %s" index total label (lastLine output.Result))
                else
                    let tail = errors.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries) |> Array.truncate 6 |> String.concat " | "
                    let why = sprintf "worker exit %d: %s" proc.ExitCode (if tail = "" then lastLine output.Result else tail)
                    env.Progress(sprintf "[%d/%d] %s FAILED: %s" index total label why)
                    // A unit's worker reports each key it could not compute; the others are stored.
                    for p in unit do
                        match ResultStore.tryLoad env.ResultsDir p.Key with
                        | Some(Ok _) -> ()
                        | _ -> failures.Add(p.Key, why)
                next <- queue.Take()
        [ for _ in 1 .. options.Workers -> Threading.Tasks.Task.Run worker ] |> Array.ofList |> Threading.Tasks.Task.WaitAll
    missing.Length - failures.Count, List.ofSeq failures
