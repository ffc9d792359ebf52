/// Runs a sweep as a Slurm array job: an sbatch script with one task per unit (or per chunk of
/// units), each task running `smec run-experiment KEY...` with torch threads = its allocated CPUs.
/// A unit is a point, or with ensembles (`--ensemble on`; auto is decided on the submitting machine, so
/// pass `on` for a GPU partition from a CPU login node) the points of one cell that differ only in seed
/// (WorkUnits): they reach one task and train there as one ensemble.
/// Submits with sbatch, follows with squeue (sacct may be absent), and on a later run submits only
/// the points that are neither stored nor in a job still queued or running.
module Smec.Experiments.Sweeps.SlurmExecutor

open System
open System.Diagnostics
open System.IO
open Smec.Core.Data.Manifests
open Smec.Core.Runtime
open Smec.Experiments.Running
open Smec.Experiments.Running.Environment
open Smec.Experiments.Sweeps.SweepPlan
open Smec.Experiments.Store

type SlurmOptions =
    { Partition: string option
      /// sbatch --time (e.g. 02:00:00).
      Time: string option
      /// sbatch --mem (e.g. 8G).
      Memory: string option
      CpusPerTask: int
      /// Units per array task.
      Chunk: int
      /// A cell's seeds in one unit, trained in their task as one ensemble.
      Ensemble: bool
      /// At most this many tasks at once (sbatch --array=...%N).
      MaxParallel: int option
      /// Seconds between squeue polls.
      PollSeconds: float
      /// Follow the job until it ends (else return after submitting).
      Wait: bool }

let defaults =
    { Partition = None
      Time = None
      Memory = None
      CpusPerTask = 1
      Chunk = 1
      Ensemble = false
      MaxParallel = None
      PollSeconds = 2.0
      Wait = true }

let slurmFolder (sweepDir: string) = Path.Combine(sweepDir, "slurm")
let jobsFile (sweepDir: string) = Path.Combine(slurmFolder sweepDir, "jobs.tsv")

let installHint =
    "Slurm's client commands (sbatch, squeue) are not on PATH. On a cluster, load Slurm (e.g. `module load slurm`) "
    + "or run on a login node; on Debian/Ubuntu install it with `apt-get install slurm-wlm` and configure slurm.conf "
    + "(SLURM_CONF); or run the sweep here with `--executor local`."

/// The full path of a program on PATH, if any.
let onPath (program: string) =
    (Environment.GetEnvironmentVariable "PATH" |> Option.ofObj |> Option.defaultValue "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
    |> Array.map (fun dir -> Path.Combine(dir, program))
    |> Array.tryFind File.Exists

let requireSlurm () =
    for program in [ "sbatch"; "squeue" ] do
        if (onPath program).IsNone then failwith installHint

/// Run a Slurm client command; returns (exit code, stdout, stderr).
let private call (program: string) (args: string list) =
    let info = ProcessStartInfo(program)
    for a in args do info.ArgumentList.Add a
    info.RedirectStandardOutput <- true
    info.RedirectStandardError <- true
    use proc = Process.Start info
    let output = proc.StandardOutput.ReadToEndAsync()
    let errors = proc.StandardError.ReadToEndAsync()
    proc.WaitForExit()
    proc.ExitCode, output.Result, errors.Result

let private quote (text: string) = "'" + text.Replace("'", "'\\''") + "'"

/// The sbatch script for `keysFile` (one unit a line: its keys, separated by spaces; `count` units):
/// task i runs lines i*chunk+1 .. (i+1)*chunk, each line as one `run-experiment`.
let script (env: RunEnvironment) (sweepName: string) (sweepDir: string) (keysFile: string) (count: int) (options: SlurmOptions) =
    let host, prefix = LocalExecutor.selfCommand ()
    let tasks = (count + options.Chunk - 1) / options.Chunk
    let logs = Path.Combine(slurmFolder sweepDir, "logs")
    let exported =
        // GLIBC_TUNABLES: the heap setting (NativeHeap) must be in a task's environment when its process starts.
        [ ManifestCatalog.Variable; Smec.Core.Data.DataRoot.Variable; Smec.Experiments.Catalog.EmbeddingsManifest.Variable; "SMEC_CACHE_DIR"
          Smec.Core.Runtime.NativeHeap.TunablesVariable ]
        |> List.choose (fun name -> Environment.GetEnvironmentVariable name |> Option.ofObj |> Option.map (fun v -> name, v))
    let lines =
        [ yield "#!/bin/bash"
          yield sprintf "#SBATCH --job-name=smec-%s" sweepName
          yield sprintf "#SBATCH --array=0-%d%s" (tasks - 1) (match options.MaxParallel with Some n -> sprintf "%%%d" n | None -> "")
          yield sprintf "#SBATCH --cpus-per-task=%d" options.CpusPerTask
          yield "#SBATCH --ntasks=1"
          match options.Partition with Some p -> yield sprintf "#SBATCH --partition=%s" p | None -> ()
          match options.Time with Some t -> yield sprintf "#SBATCH --time=%s" t | None -> ()
          match options.Memory with Some m -> yield sprintf "#SBATCH --mem=%s" m | None -> ()
          yield sprintf "#SBATCH --chdir=%s" Environment.CurrentDirectory
          yield sprintf "#SBATCH --output=%s/%%A_%%a.out" logs
          yield "# Written by `smec sweep run --executor slurm`: each task runs its points by key; a stored"
          yield "# result is never recomputed, and results go to the shared results folder below."
          yield "set -euo pipefail"
          yield "export SMEC_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"   # torch threads = the CPUs Slurm allocated"
          yield "export OMP_WAIT_POLICY=PASSIVE"
          for name, value in exported -> sprintf "export %s=%s" name (quote value)
          yield sprintf "keys=%s" (quote keysFile)
          yield sprintf "chunk=%d" options.Chunk
          yield "first=$(( SLURM_ARRAY_TASK_ID * chunk + 1 ))"
          yield "last=$(( first + chunk - 1 ))"
          yield "status=0"
          yield "while read -r unit; do"
          yield "  # shellcheck disable=SC2086 # a unit's keys (hex) are separate arguments"
          yield sprintf "  %s run-experiment $unit --ensemble %s --results %s || status=$?"
                    (String.concat " " (host :: prefix |> List.map quote)) (if options.Ensemble then "on" else "off") (quote env.ResultsDir)
          yield "done < <(sed -n \"${first},${last}p\" \"$keys\")"
          yield "exit $status" ]
    String.concat "\n" lines + "\n"

type Job =
    { Id: string
      KeysFile: string }

/// Jobs this sweep submitted (jobs.tsv: id, keys file, time).
let jobs (sweepDir: string) =
    let file = jobsFile sweepDir
    if not (File.Exists file) then []
    else
        File.ReadAllLines file
        |> Array.choose (fun line ->
            match line.Split('\t') with
            | [| id; keys; _ |] -> Some { Id = id; KeysFile = keys }
            | _ -> None)
        |> List.ofArray

/// Task states of a job by squeue ("123_4 RUNNING", "123_[5-9] PENDING"); empty once Slurm forgot it.
let taskStates (job: Job) : (string * string) list =
    let code, output, _ = call "squeue" [ "-h"; "-t"; "all"; "-j"; job.Id; "-o"; "%i %T" ]
    if code <> 0 then []
    else
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
        |> Array.choose (fun line -> match line.Split(' ') with [| id; state |] -> Some(id, state) | _ -> None)
        |> List.ofArray

let private activeStates = set [ "PENDING"; "RUNNING"; "CONFIGURING"; "COMPLETING"; "SUSPENDED"; "REQUEUED"; "RESIZING"; "SIGNALING"; "STAGE_OUT" ]

let isActive (states: (string * string) list) = states |> List.exists (fun (_, s) -> activeStates.Contains s)

/// Keys of points in jobs that are still queued or running.
let activeKeys (sweepDir: string) =
    if (onPath "squeue").IsNone then Set.empty
    else
        jobs sweepDir
        |> List.filter (fun j -> File.Exists j.KeysFile && isActive (taskStates j))
        |> List.collect (fun j -> File.ReadAllLines j.KeysFile |> Array.collect (fun line -> line.Split(' ', StringSplitOptions.RemoveEmptyEntries)) |> List.ofArray)
        |> Set.ofList

/// Counts of task states, for progress lines ("2 RUNNING, 3 PENDING").
let summarise (states: (string * string) list) =
    let count (id: string) =
        // "123_[4-9%2]" stands for several pending tasks.
        match id.IndexOf '[' with
        | -1 -> 1
        | at ->
            let inside = id.Substring(at + 1).TrimEnd(']').Split('%')[0]
            inside.Split(',')
            |> Array.sumBy (fun part ->
                match part.Split('-') with
                | [| a; b |] -> (match Int32.TryParse a, Int32.TryParse b with | (true, x), (true, y) -> y - x + 1 | _ -> 1)
                | _ -> 1)
    states |> List.groupBy snd |> List.map (fun (state, ids) -> sprintf "%d %s" (ids |> List.sumBy (fst >> count)) state) |> String.concat ", "

/// Follow a job until no task is queued or running.
let follow (env: RunEnvironment) (options: SlurmOptions) (job: Job) =
    let mutable last = ""
    let mutable states = taskStates job
    while isActive states do
        let line = summarise states
        if line <> last then
            env.Progress(sprintf "job %s: %s" job.Id line)
            last <- line
        Threading.Thread.Sleep(TimeSpan.FromSeconds options.PollSeconds)
        states <- taskStates job
    if not states.IsEmpty then env.Progress(sprintf "job %s ended: %s" job.Id (summarise states))

type Submission =
    | NothingToSubmit of stored: int * active: int
    | DryRun of script: string
    | Submitted of Job

/// Write the script for the points that are neither stored nor in an active job; submit it unless dry.
let submit (env: RunEnvironment) (sweepName: string) (sweepDir: string) (options: SlurmOptions) (dryRun: bool) (points: Point list) =
    if options.Chunk < 1 then failwith "--chunk must be at least 1"
    if options.CpusPerTask < 1 then failwith "--cpus-per-task must be at least 1"
    if not dryRun then requireSlurm ()
    let stored = points |> List.filter (fun p -> match ResultStore.tryLoad env.ResultsDir p.Key with Some(Ok _) -> true | _ -> false) |> List.map (fun p -> p.Key) |> Set.ofList
    let active = if dryRun then Set.empty else activeKeys sweepDir
    let todo = points |> List.filter (fun p -> not (stored.Contains p.Key) && not (active.Contains p.Key))
    if todo.IsEmpty then NothingToSubmit(stored.Count, active.Count)
    else
        let folder = slurmFolder sweepDir
        let stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss-fff")
        let keysFile = Path.Combine(folder, sprintf "submit-%s.keys" stamp)
        let scriptFile = Path.Combine(folder, sprintf "submit-%s.sbatch" stamp)
        let units = WorkUnits.group options.Ensemble todo
        let text = script env sweepName sweepDir keysFile units.Length options
        if dryRun then DryRun text
        else
            Directory.CreateDirectory(Path.Combine(folder, "logs")) |> ignore
            SweepFolder.writeText keysFile (units |> List.map (fun unit -> (unit |> List.map (fun p -> p.Key) |> String.concat " ") + "\n") |> String.concat "")
            SweepFolder.writeText scriptFile text
            let code, output, errors = call "sbatch" [ "--parsable"; scriptFile ]
            if code <> 0 then failwithf "sbatch %s failed (exit %d): %s" scriptFile code (errors.Trim())
            let id = output.Trim().Split(';')[0]
            File.AppendAllText(jobsFile sweepDir, sprintf "%s\t%s\t%s\n" id keysFile (DateTime.UtcNow.ToString "o"))
            env.Progress(sprintf "submitted job %s: %d points in %d units, %d array tasks (%s)" id todo.Length units.Length ((units.Length + options.Chunk - 1) / options.Chunk) scriptFile)
            Submitted { Id = id; KeysFile = keysFile }
