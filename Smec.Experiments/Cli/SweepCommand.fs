/// `smec sweep plan|run|status|report SPEC`: a declarative sweep (examples/sweeps/*.yaml) planned
/// into experiments, run locally or as a Slurm array job, and reported from the result cache.
module Smec.Experiments.Cli.SweepCommand

open System
open System.IO
open Argu
open Spectre.Console
open Smec.Core.Data.Manifests
open Smec.Experiments.Catalog
open Smec.Experiments.Running
open Smec.Experiments.Sweeps
open Smec.Experiments.Store

type SweepArgs =
    | [<MainCommand; ExactlyOnce>] Target of action: string * spec: string
    | [<Unique>] Executor of name: string
    | [<Unique>] Workers of count: int
    | [<Unique>] Threads of count: int
    | Dry_Run
    | [<Unique>] Partition of name: string
    | [<Unique>] Time of limit: string
    | [<Unique>] Mem of size: string
    | [<Unique>] Cpus_Per_Task of count: int
    | [<Unique>] Chunk of points: int
    | [<Unique>] Max_Parallel of tasks: int
    | No_Wait
    | [<Unique>] Poll of seconds: float
    | [<Unique>] Results of folder: string
    | Manifests of folder: string
    | [<Unique>] Embeddings of manifest: string
    | Force
    | [<Unique>] Ensemble of policy: string

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Target _ -> "plan | run | status | report, then the sweep spec (YAML)"
            | Executor _ -> "run: local (default) or slurm"
            | Workers _ -> "local: worker processes (default 1: in this process, one point after another)"
            | Threads _ -> "local: torch threads per worker (default: cores / workers)"
            | Dry_Run -> "run --executor slurm: print the sbatch script and submit nothing"
            | Partition _ -> "slurm: partition (sbatch --partition)"
            | Time _ -> "slurm: time limit per task (sbatch --time, e.g. 02:00:00)"
            | Mem _ -> "slurm: memory per task (sbatch --mem, e.g. 8G)"
            | Cpus_Per_Task _ -> "slurm: CPUs per task (default 1); the task's torch threads follow them"
            | Chunk _ -> "slurm: units per array task (default 1; a unit is a point, or with --ensemble on a cell's seeds)"
            | Max_Parallel _ -> "slurm: at most this many array tasks at once"
            | No_Wait -> "slurm: return after submitting (follow later with `smec sweep status SPEC`)"
            | Poll _ -> "slurm: seconds between squeue polls (default 2)"
            | Ensemble _ -> "run: auto (default: on when torch runs on CUDA here, off on the CPU), on or off: train the points that differ only in seed as one ensemble, in one process or Slurm task; changes no key"
            | Results _ -> "results folder (default results/; on a cluster, a folder on shared storage)"
            | Manifests _ -> "a folder of data manifests (datasets/, encoders/, embeddings/) added to the repository's; repeatable"
            | Embeddings _ -> "embeddings manifest for precomputed embeddings (default $SMEC_EMBEDDINGS)"
            | Force -> sprintf "plan or run a sweep of more than %d points" SweepChecks.forceAbove

/// Manifest folders and the embeddings manifest go into the environment, so worker processes and
/// Slurm tasks see the same data.
let applyDataOptions (manifests: string list) (embeddings: string option) =
    for folder in manifests do ManifestCatalog.AddUserFolder folder
    match embeddings with
    | Some file -> Environment.SetEnvironmentVariable(EmbeddingsManifest.Variable, Path.GetFullPath file)
    | None -> ()

let private printPlan (resultsDir: string) (plan: SweepPlan.SweepPlan) =
    let table = Table(Title = TableTitle(Markup.Escape(sprintf "sweep %s: %d points" plan.Spec.Name plan.Points.Length)))
    for h in [ "key"; "setting"; "seed"; "experiment"; "stored" ] do table.AddColumn h |> ignore
    for p in plan.Points do
        let stored = match ResultStore.tryLoad resultsDir p.Key with Some(Ok _) -> "[green]yes[/]" | _ -> "no"
        table.AddRow(ConfigHash.short p.Key, Markup.Escape p.Setting, p.Values[SweepPlan.seedColumn], Markup.Escape(Runner.describe p.Config), stored) |> ignore
    AnsiConsole.Write table

let private printTable (title: string) (header: string list, rows: string list list) =
    let table = Table(Title = TableTitle(Markup.Escape title))
    for h in header do table.AddColumn(Markup.Escape h) |> ignore
    for r in rows do table.AddRow(r |> List.map Markup.Escape |> Array.ofList) |> ignore
    AnsiConsole.Write table

let private report (resultsDir: string) (sweepDir: string) (plan: SweepPlan.SweepPlan) =
    let r = SweepReport.build resultsDir plan
    SweepReport.write sweepDir r
    printTable (sprintf "sweep %s: best setting per dim, chosen on validation" plan.Spec.Name) (SweepReport.bestTable r)
    printTable "every setting (nDCG@10 x100; TEST columns are not used for selection)" (SweepReport.settingsTable r)
    AnsiConsole.MarkupLine(Markup.Escape(sprintf "%s. Report: %s" (SweepReport.summaryLine r) (Path.Combine(sweepDir, "report.html"))))
    r

let private status (resultsDir: string) (sweepDir: string) (plan: SweepPlan.SweepPlan) =
    let stored = plan.Points |> List.filter (fun p -> match ResultStore.tryLoad resultsDir p.Key with Some(Ok _) -> true | _ -> false)
    let locked = plan.Points |> List.filter (fun p -> (ResultStore.lockHolder resultsDir p.Key).IsSome)
    printfn "sweep %s: %d points, %d stored, %d running (locked), %d missing" plan.Spec.Name plan.Points.Length stored.Length locked.Length
        (plan.Points.Length - stored.Length - locked.Length)
    if (SlurmExecutor.onPath "squeue").IsSome then
        for job in SlurmExecutor.jobs sweepDir do
            match SlurmExecutor.taskStates job with
            | [] -> printfn "slurm job %s: no longer listed by squeue" job.Id
            | states -> printfn "slurm job %s: %s" job.Id (SlurmExecutor.summarise states)
    let storedKeys = stored |> List.map (fun p -> p.Key) |> Set.ofList
    for p in plan.Points do
        if not (storedKeys.Contains p.Key) then
            printfn "  missing %s %s seed %s" (ConfigHash.short p.Key) p.Setting p.Values[SweepPlan.seedColumn]
    if stored.Length = plan.Points.Length then 0 else 1

let run (args: ParseResults<SweepArgs>) : int =
    CatalogSession.guard (fun () ->
        let action, specFile = args.GetResult Target
        UserErrors.oneOf "sweep" "action" [ "plan"; "run"; "status"; "report" ] action |> ignore
        // Everything is checked before anything is written: the options, the spec, its size, its data.
        args.TryGetResult Results |> Option.iter (UserErrors.requireWritableFolder "--results")
        applyDataOptions (args.GetResults Manifests) (args.TryGetResult Embeddings)
        let session = CatalogSession.openSession (args.TryGetResult Embeddings) None (args.TryGetResult Results) CatalogSession.consoleProgress
        let env = session.Environment
        let spec = SweepSpec.read specFile
        SweepChecks.requireSize spec (args.Contains Force)
        let plan = SweepPlan.expand env.Methods ManifestCatalog.Default env.Manifest (Runner.keyOf env) spec
        if action = "plan" || action = "run" then SweepChecks.requireData env.Methods ManifestCatalog.Default env.Manifest plan
        let sweepDir = SweepFolder.folderOf env.ResultsDir spec.Name
        let ensemble () =
            match EnsemblePolicy.parse (defaultArg (args.TryGetResult Ensemble) "auto") with
            | Ok policy -> EnsemblePolicy.resolve policy
            | Error message -> UserErrors.userError "--ensemble: %s" message
        match action with
        | "plan" ->
            SweepFolder.writePlan sweepDir plan
            printPlan env.ResultsDir plan
            printfn "Point configs: %s" (SweepFolder.pointsFolder sweepDir)
            0
        | "status" -> status env.ResultsDir sweepDir plan
        | "report" ->
            let r = report env.ResultsDir sweepDir plan
            if r.Missing.IsEmpty then 0 else 1
        | "run" ->
            match defaultArg (args.TryGetResult Executor) "local" with
            | "local" ->
                if args.Contains Dry_Run then
                    printPlan env.ResultsDir plan
                    0
                else
                    let workers = defaultArg (args.TryGetResult Workers) 1
                    if workers < 1 then UserErrors.userError "--workers: %d is not positive; expected a number of worker processes >= 1" workers
                    match args.TryGetResult Threads with
                    | Some t when t < 1 -> UserErrors.userError "--threads: %d is not positive; expected 1 to %d threads per worker" t Environment.ProcessorCount
                    | Some t when t * workers > Environment.ProcessorCount ->
                        eprintfn "warning: %d workers x %d threads exceed the %d cores; expect them to slow each other down" workers t Environment.ProcessorCount
                    | _ -> ()
                    SweepFolder.writePlan sweepDir plan
                    let _, failures = LocalExecutor.run env { Workers = workers; Threads = args.TryGetResult Threads; Ensemble = ensemble () } plan.Points
                    for key, why in failures do eprintfn "point %s not computed: %s" (ConfigHash.short key) why
                    let r = report env.ResultsDir sweepDir plan
                    if r.Missing.IsEmpty then 0 else 1
            | "slurm" ->
                let options: SlurmExecutor.SlurmOptions =
                    { Partition = args.TryGetResult Partition
                      Time = args.TryGetResult Time
                      Memory = args.TryGetResult Mem
                      CpusPerTask = defaultArg (args.TryGetResult Cpus_Per_Task) 1
                      Chunk = defaultArg (args.TryGetResult Chunk) 1
                      Ensemble = ensemble ()
                      MaxParallel = args.TryGetResult Max_Parallel
                      PollSeconds = defaultArg (args.TryGetResult Poll) 2.0
                      Wait = not (args.Contains No_Wait) }
                let dry = args.Contains Dry_Run
                if not dry then SweepFolder.writePlan sweepDir plan
                match SlurmExecutor.submit env spec.Name sweepDir options dry plan.Points with
                | SlurmExecutor.DryRun script ->
                    printf "%s" script
                    0
                | SlurmExecutor.NothingToSubmit(stored, active) ->
                    printfn "nothing to submit: %d points stored, %d in jobs still queued or running" stored active
                    if active > 0 && options.Wait then
                        for job in SlurmExecutor.jobs sweepDir do SlurmExecutor.follow env options job
                    let r = report env.ResultsDir sweepDir plan
                    if r.Missing.IsEmpty then 0 else 1
                | SlurmExecutor.Submitted job ->
                    if options.Wait then
                        SlurmExecutor.follow env options job
                        let r = report env.ResultsDir sweepDir plan
                        if r.Missing.IsEmpty then 0 else 1
                    else
                        printfn "follow with: smec sweep status %s" specFile
                        0
            | other -> UserErrors.userError "--executor: unknown executor '%s'; expected local or slurm" other
        | other -> UserErrors.userError "sweep: unknown action '%s'; expected plan, run, status or report" other)
