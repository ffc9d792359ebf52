/// One experiment by its key, in this process (what `smec run-experiment KEY` and each Slurm task
/// do). A stored result is never recomputed. While it runs, the point holds a lock file beside the
/// cache (created exclusively, so two tasks never compute one entry at once); the result itself is
/// written to a temporary file and renamed into place, so a reader never sees half an entry.
module Smec.Experiments.Sweeps.PointRunner

open System
open System.IO
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Running.Environment
open Smec.Experiments.Running.Runner

let locksFolder (resultsDir: string) = Path.Combine(resultsDir, "sweeps", "locks")
let lockFile (resultsDir: string) (key: string) = Path.Combine(locksFolder resultsDir, key + ".lock")

/// Who holds a lock: "host pid started".
let private holder () = sprintf "%s %d %s" Environment.MachineName Environment.ProcessId (DateTime.UtcNow.ToString "o")

type LockState =
    | Acquired of release: (unit -> unit)
    | HeldBy of string

/// Take the point's lock; a lock left by a process of this host that has ended is taken over.
let rec tryLock (resultsDir: string) (key: string) (attempt: int) : LockState =
    let path = lockFile resultsDir key
    Directory.CreateDirectory(Path.GetDirectoryName path) |> ignore
    try
        (use stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None)
         use writer = new StreamWriter(stream)
         writer.Write(holder ()))
        let released = ref false
        let release () =
            if not released.Value then
                released.Value <- true
                try File.Delete path with _ -> ()
        // Slurm's scancel sends SIGTERM: .NET then runs ProcessExit, which frees the lock.
        AppDomain.CurrentDomain.ProcessExit.Add(fun _ -> release ())
        Acquired release
    with :? IOException when File.Exists path ->
        let text = try File.ReadAllText path with _ -> ""
        let parts = text.Split(' ')
        let stale = parts.Length >= 2 && parts[0] = Environment.MachineName && (match Int32.TryParse parts[1] with | true, pid -> not (ResultStore.processAlive pid) | _ -> true)
        if stale && attempt < 3 then
            (try File.Delete path with _ -> ())
            tryLock resultsDir key (attempt + 1)
        else HeldBy(sprintf "%s (lock %s)" text path)

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
        match tryLock env.ResultsDir key 0 with
        | HeldBy who -> RunningElsewhere who
        | Acquired release ->
            try
                let planned = { Config = config; Hash = key; Cached = false }
                match (Runner.run env defaultOptions [ planned ]).TryFind key with
                | Some(Finished(result, true)) -> ignore result; AlreadyStored
                | Some(Finished(result, false)) -> Computed result
                | Some(NotRun reason) -> NotComputed reason
                | Some(Failed message) -> NotComputed("failed: " + message)
                | None -> NotComputed "no outcome"
            finally
                release ()
