/// `smec reproduce --table N [--profile local|paper]`: run (or reuse) a catalog item's experiments,
/// judge every cell, print the table and write results/item-N/<profile>/.
module Smec.Experiments.Cli.ReproduceCommand

open Argu
open Spectre.Console
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Reports

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

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Table _ -> "catalog item to reproduce (1-9; `smec list` shows them)"
            | All -> "every item"
            | Profile _ -> "local (default: the project's data and encoders) or paper (the paper's embeddings, from a manifest)"
            | Seeds _ -> "seeds per trained cell (default 3: mean and sample SD over seeds 1..N)"
            | Quick -> "one seed per trained cell (seed 1): a quick look, labelled as such in every output"
            | Embeddings _ -> "embeddings manifest (YAML/JSON) for the paper profile; default $SMEC_EMBEDDINGS"
            | Force -> "recompute experiments even when a cached result exists"
            | Dry_Run -> "plan only: show what is cached and what would run, from the cache"
            | List -> "list the table's experiments with their hashes and whether they are cached"
            | Results _ -> "results folder (default: results/ in the repository)"

/// Reproduce one item; returns its result and the folder of its report (None in a dry run).
let reproduceItem (session: CatalogSession.Session) (profile: Profile) (options: Runner.RunOptions) (item: int) =
    let spec = Catalog.build item profile session.Context
    let result = TableRun.reproduce session.Environment session.Published options spec
    let folder = if options.DryRun then None else Some(ReportWriter.write session.Environment.ResultsDir result)
    result, folder

let listExperiments (session: CatalogSession.Session) (profile: Profile) (item: int) =
    let spec = Catalog.build item profile session.Context
    let planned = Runner.plan session.Environment spec
    let table = Spectre.Console.Table(Title = TableTitle(Markup.Escape(sprintf "item %d (%s): %d experiments" item (Profile.name profile) planned.Length)))
    for h in [ "hash"; "experiment"; "cached" ] do table.AddColumn h |> ignore
    for p in planned do
        table.AddRow(ConfigHash.short p.Hash, Markup.Escape(Runner.describe p.Config), (if p.Cached then "[green]yes[/]" else "no")) |> ignore
    AnsiConsole.Write table

let run (args: ParseResults<ReproduceArgs>) : int =
    CatalogSession.guard (fun () ->
        let session =
            CatalogSession.openSession (args.TryGetResult Embeddings) (CatalogSession.seedCount (args.TryGetResult Seeds) (args.Contains Quick)) (args.TryGetResult Results)
                CatalogSession.consoleProgress
        let profile = CatalogSession.parseProfile (args.TryGetResult Profile)
        let items =
            match args.TryGetResult Table, args.Contains All with
            | Some n, false -> [ (Catalog.find n).Number ]
            | None, true -> Catalog.items |> List.map (fun i -> i.Number)
            | None, false -> failwith "give --table N (1-9) or --all"
            | Some _, true -> failwith "give either --table N or --all, not both"
        if args.Contains List then
            for item in items do listExperiments session profile item
            0
        else
            let options = { Runner.Force = args.Contains Force; Runner.DryRun = args.Contains Dry_Run }
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
                for item in items do
                    let result, folder = reproduceItem session profile options item
                    Terminal.print AnsiConsole.Console result (defaultArg folder "(dry run: no report written)")
                0)
