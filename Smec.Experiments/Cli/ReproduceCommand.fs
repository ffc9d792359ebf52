/// `smec reproduce --table N [--profile local|paper]`: run (or reuse) a catalog item's experiments,
/// judge every cell, print the table and write results/item-N/<profile>/.
module Smec.Experiments.Cli.ReproduceCommand

open Argu
open Spectre.Console
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Reports
open Smec.Experiments.Cli.UserErrors
open Smec.Experiments.Store
open Smec.Experiments.Verdicts

type ReproduceArgs =
    | [<Unique>] Table of item: int
    | All
    | [<Unique>] Profile of name: string
    | [<Unique>] Seeds of count: int
    | Quick
    | [<Unique>] Embeddings of manifest: string
    | Force
    | Dry_Run
    | List
    | [<Unique>] Results of folder: string
    | [<Unique>] Jobs of workers: int
    | Robustness
    | [<Unique>] Variant of name: string
    | [<Unique>] Ensemble of policy: string

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Table _ -> "catalog item to reproduce (1-9; `smec list` shows them)"
            | All -> "every item"
            | Profile _ -> "local (default: the project's data and encoders) or paper (the paper's embeddings, from a manifest)"
            | Seeds _ -> sprintf "seeds per trained cell (default %d: mean and sample SD over seeds 1..N)" Smec.Experiments.Catalog.Profiles.defaultSeedCount
            | Quick -> "one seed per trained cell (seed 1): a quick look, labelled as such in every output"
            | Embeddings _ -> "embeddings manifest (YAML/JSON) for the paper profile; default $SMEC_EMBEDDINGS"
            | Force -> "recompute experiments even when a cached result exists"
            | Dry_Run -> "plan only: show what is cached and what would run, from the cache"
            | List -> "list the table's experiments with their hashes and whether they are cached"
            | Results _ -> "results folder (default: results/ in the repository)"
            | Jobs _ -> "worker processes for the trained experiments, one torch thread each (default: one per core, at most 4; 1 = all in this process)"
            | Robustness -> "also run each protocol variant (residual MLP, shared selection, untuned) and judge every claim under each: robustness.md beside the report"
            | Variant _ -> "run (or --list, --dry-run) the table under one protocol variant instead of the primary protocol: residual MLP, shared selection or untuned"
            | Ensemble _ -> "auto (default: on when torch runs on CUDA, off on the CPU), on or off: train the experiments of a cell that differ only in seed as one ensemble, in this process; changes no result key"

/// Whether a standard method has an option of that name (what a protocol variant may set).
let private hasOption (methodKey: string) (name: string) =
    match Smec.Experiments.Methods.MethodRegistry.standard.TryEntry methodKey with
    | Some entry -> entry.Options |> List.exists (fun o -> o.Name = name)
    | None -> false

/// The table of each protocol variant that changes something in `spec` (what --robustness runs).
let variantSpecs (spec: TableSpec) =
    Robustness.standardVariants
    |> List.filter (fun v -> Robustness.changes hasOption v spec)
    |> List.map (fun v -> v, Robustness.specOf hasOption v spec)

/// The table of an item under the primary protocol, or under the variant given.
let private specOf (session: CatalogSession.Session) (profile: Profile) (variant: Robustness.Variant option) (item: int) =
    let spec = Catalog.build item profile session.Context
    match variant with
    | Some v -> Robustness.specOf hasOption v spec
    | None -> spec

/// Run (or reuse) a table's experiments and judge it.
let private runTable (session: CatalogSession.Session) (options: Runner.RunOptions) (workers: int) (spec: TableSpec) =
    // Trained experiments first, in parallel worker processes; the table below then reads the cache.
    // With ensembles, each worker trains one cell's seeds together.
    if workers > 1 && not options.DryRun && not options.Force then
        Timing.time (sprintf "training in %d worker processes" workers) (fun () ->
            Smec.Experiments.Sweeps.ItemWorkers.run session.Environment workers options.Ensemble (Runner.plan session.Environment spec))
    TableRun.reproduce session.Environment session.Published options spec

/// Each claim's verdict under every protocol variant that applies to the table, written as
/// robustness.md beside the report (the variants' experiments share the result cache). In a dry
/// run (`smec check --robustness`) nothing trains: a variant not yet run judges its claims SKIPPED.
let robustness (session: CatalogSession.Session) (options: Runner.RunOptions) (workers: int) (primary: TableRun.TableResult) (folder: string option) =
    let applicable = Robustness.standardVariants |> List.filter (fun v -> Robustness.changes hasOption v primary.Spec)
    let judged =
        [ for v in Robustness.standardVariants ->
              if List.contains v applicable then
                  Timing.time (sprintf "robustness: %s" v.Name) (fun () ->
                      let result = runTable session options workers (Robustness.specOf hasOption v primary.Spec)
                      v, Some result)
              else v, None ]
    let rows = Robustness.rows primary.Claims (judged |> List.map (fun (v, r) -> v, r |> Option.map (fun r -> r.Claims)))
    // A chain's verdict says whether an ordering holds; the pairwise intervals under each variant say
    // by how much each pair moved, which is what a reader weighs when a verdict changes.
    let intervals =
        [ yield "### Pairwise intervals, primary protocol"
          yield ""
          yield Markdown.pairwiseTables "####" primary.Pairwise
          for v, result in judged do
              match result with
              | Some r when not r.Pairwise.IsEmpty ->
                  yield sprintf "### Pairwise intervals, %s" v.Name
                  yield ""
                  yield Markdown.pairwiseTables "####" r.Pairwise
              | _ -> () ]
    let text = Robustness.markdown Robustness.standardVariants rows + "\n" + String.concat "\n" intervals
    folder |> Option.iter (fun f -> Smec.Core.Storage.AtomicFile.WriteAllText(System.IO.Path.Combine(f, "robustness.md"), text))
    printfn "%s" text

/// Experiments this run would compute that are shipped with the repository (paper-results/runs/):
/// said before training starts, since importing them takes seconds and computing them hours.
let private shippedNote (session: CatalogSession.Session) (profile: Profile) (options: Runner.RunOptions) (item: int) (spec: TableSpec) =
    if not options.Force then
        let missing = Runner.plan session.Environment spec |> List.filter (fun p -> not p.Cached) |> List.map (fun p -> p.Hash)
        let folder = RunArchive.folderOf session.Environment.PaperResultsDir item (Profile.name profile)
        match RunArchive.shippedCount folder missing with
        | 0 -> ()
        | n ->
            AnsiConsole.MarkupLine(
                Markup.Escape(sprintf "note: %d of the %d experiments item %d would compute are shipped in %s; `smec runs import` copies them into the cache in seconds (stop this run first), or let it compute them here" n missing.Length item folder))

/// Reproduce one item; returns its result and the folder of its report (None in a dry run).
let reproduceItem (session: CatalogSession.Session) (profile: Profile) (options: Runner.RunOptions) (workers: int) (item: int) =
    let spec = specOf session profile None item
    shippedNote session profile options item spec
    let result = runTable session options workers spec
    let folder = if options.DryRun then None else Some(Timing.time "reports (files)" (fun () -> ReportWriter.write session.Environment.ResultsDir result))
    result, folder

let listExperiments (session: CatalogSession.Session) (profile: Profile) (variant: Robustness.Variant option) (item: int) =
    let spec = specOf session profile variant item
    let planned = Runner.plan session.Environment spec
    let table = Spectre.Console.Table(Title = TableTitle(Markup.Escape(sprintf "item %d (%s): %d experiments" item (Profile.name profile) planned.Length)))
    for h in [ "hash"; "experiment"; "cached" ] do table.AddColumn h |> ignore
    for p in planned do
        table.AddRow(ConfigHash.short p.Hash, Markup.Escape(Runner.describe p.Config), (if p.Cached then "[green]yes[/]" else "no")) |> ignore
    AnsiConsole.Write table

/// Cells a manifest was passed for but could not serve: their reasons still ask for a manifest.
let private unservedByManifest (result: TableRun.TableResult) =
    result.Cells
    |> List.choose (fun c ->
        match c.Value with
        | Quantities.Gap gap when gap.Reason.Contains Profiles.manifestHint -> Some(gap.Reason.Replace(": " + Profiles.manifestHint, ""))
        | _ -> None)

let run (args: ParseResults<ReproduceArgs>) : int =
    CatalogSession.guard (fun () ->
        let items =
            match args.TryGetResult Table, args.Contains All with
            | Some n, false ->
                let numbers = Catalog.items |> List.map (fun i -> string i.Number)
                oneOf "--table" "catalog item" numbers (string n) |> ignore
                [ n ]
            | None, true -> Catalog.items |> List.map (fun i -> i.Number)
            | None, false -> userError "--table: not given; expected --table N (1-9) or --all"
            | Some _, true -> userError "--table: given with --all; expected one of them"
        let profile = CatalogSession.parseProfile (args.TryGetResult Profile)
        let writes = not (args.Contains Dry_Run || args.Contains List)
        args.TryGetResult Results |> Option.iter (fun d -> if writes then requireWritableFolder "--results" d)
        let session =
            CatalogSession.openSession (args.TryGetResult Embeddings) (CatalogSession.seedCount (args.TryGetResult Seeds) (args.Contains Quick)) (args.TryGetResult Results)
                CatalogSession.consoleProgress
        if writes then requireWritableFolder "--results" session.Environment.ResultsDir
        // Every file of the manifest is read and checked (ids, dims, qrels, split rule) before anything runs.
        session.Context.Manifest |> Option.iter (fun m -> Smec.Experiments.Verify.UserData.embeddingsManifest m Builders.manifestSplit)
        // So is a user's own dataset manifest (SMEC_MANIFESTS_DIR) that stands for a dataset the items read:
        // its corpus, queries and qrels whole, and the split rule against its queries, as sweeps check them.
        let datasets = Smec.Core.Data.Manifests.ManifestCatalog.Default
        for item in items do
            let spec = Catalog.build item profile session.Context
            spec.Cells
            |> List.collect (fun cell -> Catalog.experimentsOf cell.Value)
            |> List.filter (fun c -> c.Source = Mirror && c.Kind = Retrieval)
            |> List.distinctBy (fun c -> c.Dataset, c.Split)
            |> List.iter (fun c ->
                match datasets.Datasets.TryGetValue c.Dataset with
                | true, declared when Smec.Experiments.Verify.UserData.isUsers datasets declared ->
                    Smec.Experiments.Verify.UserData.collection declared c.Split
                | _ -> ())
        let variant =
            args.TryGetResult Variant
            |> Option.map (fun name ->
                match Robustness.tryFind name with
                | Some v -> v
                | None -> userError "--variant: '%s'; expected one of %s" name (Robustness.standardVariants |> List.map (fun v -> v.Name) |> String.concat ", "))
        if variant.IsSome && not (args.Contains List || args.Contains Dry_Run) then
            userError "--variant: runs a variant's experiments only with --list or --dry-run; use --robustness to run every variant and judge the claims"
        if args.Contains List then
            for item in items do listExperiments session profile variant item
            0
        elif variant.IsSome then
            let options = { Runner.Force = false; Runner.DryRun = true; Runner.Ensemble = false }
            for item in items do
                let result = TableRun.reproduce session.Environment session.Published options (specOf session profile variant item)
                Terminal.print AnsiConsole.Console result "(dry run of a protocol variant: no report written)"
            0
        else
            let ensemble =
                match EnsemblePolicy.parse (defaultArg (args.TryGetResult Ensemble) "auto") with
                | Ok policy -> EnsemblePolicy.resolve policy
                | Error message -> userError "--ensemble: %s" message
            let options = { Runner.Force = args.Contains Force; Runner.DryRun = args.Contains Dry_Run; Runner.Ensemble = ensemble }
            let workers =
                match args.TryGetResult Jobs with
                | Some n when n < 1 -> userError "--jobs: %d; expected a number of worker processes >= 1" n
                | Some n -> n
                | None -> Smec.Experiments.Sweeps.ItemWorkers.defaultWorkers ()
            // Workers find the manifest the way this process did.
            args.TryGetResult Embeddings |> Option.iter (fun m -> System.Environment.SetEnvironmentVariable(EmbeddingsManifest.Variable, System.IO.Path.GetFullPath m))
            // Fail fast and once: every dataset the items need is found (or fetched) before anything runs.
            let missing =
                if options.DryRun then []
                else
                    items
                    |> List.choose (fun item ->
                        match DataPreflight.check session.Environment (Catalog.build item profile session.Context) with
                        | [] -> None
                        | m -> Some(DataPreflight.describe item m))
            if not missing.IsEmpty then
                for m in missing do eprintfn "error: %s" m
                2
            else
                // Every item runs and writes its report; the exit code then says what went wrong.
                let problems =
                    [ for index, item in List.indexed items do
                          if index > 0 then Timing.reset ()
                          let result, folder = reproduceItem session profile options workers item
                          if args.Contains Robustness then robustness session options workers result folder
                          Timing.time "reports (terminal)" (fun () -> Terminal.print AnsiConsole.Console result (defaultArg folder "(dry run: no report written)"))
                          let breakdown = Timing.snapshot ()
                          folder |> Option.iter (fun f -> Timing.store f breakdown)
                          eprintf "%s" (Timing.text breakdown)
                          let failed = result.Outcomes |> Map.toList |> List.choose (fun (h, o) -> match o with Runner.Failed m -> Some(h, m) | _ -> None)
                          for hash, message in failed do
                              let config = result.Planned |> List.tryFind (fun p -> p.Hash = hash) |> Option.map (fun p -> Runner.describe p.Config) |> Option.defaultValue hash
                              yield 1, sprintf "item %d: experiment %s (%s) failed: %s" item config (ConfigHash.short hash) message
                          match session.Context.Manifest with
                          | Some manifest when profile = Paper ->
                              match unservedByManifest result with
                              | [] -> ()
                              | needs ->
                                  let has = manifest.Entries |> List.map (fun e -> sprintf "%s (stands for %s) x %s" e.Encoder e.StandsFor e.Dataset) |> List.distinct
                                  yield 2, sprintf "%s: matched nothing item %d needs for %d cell(s) (%s); the manifest has %s; expected an entry whose stands_for names the paper's encoder"
                                              manifest.Path item needs.Length (needs |> List.distinct |> String.concat "; ") (String.concat ", " has)
                          | _ -> () ]
                for _, message in problems do eprintfn "error: %s" message
                match problems with
                | [] -> 0
                | _ -> problems |> List.map fst |> List.max)
