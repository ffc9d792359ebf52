/// `smec runs export --table N` and `smec runs import [FOLDER]`: ship finished experiments with the
/// repository (paper-results/runs/) and bring them into another checkout's cache (Store.RunArchive).
module Smec.Experiments.Cli.RunsCommand

open System.IO
open Argu
open Smec.Experiments.Catalog
open Smec.Experiments.Running
open Smec.Experiments.Store
open Smec.Experiments.Cli.UserErrors

type RunsArgs =
    | [<MainCommand; ExactlyOnce>] Action of action: string
    | [<Unique>] Table of item: int
    | [<Unique>] Profile of name: string
    | [<Unique>] Seeds of count: int
    | Quick
    | Robustness
    | [<Unique>] Folder of path: string
    | [<Unique>] Results of folder: string

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Action _ -> "export (copy an item's cached experiments into paper-results/runs/item-N-<profile>/) or import (copy shipped runs into the cache; never overwrites)"
            | Table _ -> "export: the catalog item whose experiments to ship"
            | Profile _ -> "local (default) or paper"
            | Seeds _ -> sprintf "export: seeds per trained cell (default %d)" Profiles.defaultSeedCount
            | Quick -> "export: one seed per trained cell"
            | Robustness -> "export: also the experiments of every protocol variant of the item"
            | Folder _ -> "export: the folder to write (default paper-results/runs/item-N-<profile>); import: the folder to read (default: every folder under paper-results/runs)"
            | Results _ -> "results folder whose cache is read or filled (default: results/ in the repository)"

let private exportItem (args: ParseResults<RunsArgs>) =
    let session =
        CatalogSession.openSession None (CatalogSession.seedCount (args.TryGetResult Seeds) (args.Contains Quick)) (args.TryGetResult Results) ignore
    let profile = CatalogSession.parseProfile (args.TryGetResult Profile)
    let item =
        match args.TryGetResult Table with
        | Some n -> (Catalog.find n).Number
        | None -> userError "--table: not given; expected `smec runs export --table N`"
    let primary = Catalog.build item profile session.Context
    let specs = primary :: (if args.Contains Robustness then ReproduceCommand.variantSpecs primary |> List.map snd else [])
    let keys = specs |> List.collect (fun spec -> Runner.plan session.Environment spec |> List.map (fun p -> p.Hash))
    let folder =
        match args.TryGetResult Folder with
        | Some f -> Path.GetFullPath f
        | None -> RunArchive.folderOf session.Environment.PaperResultsDir item (Model.Profile.name profile)
    let summary = RunArchive.export session.Environment.ResultsDir keys folder
    printfn "item %d (%s): %d experiments planned; %d copied into %s, %d already there, %d not cached yet"
        item (Model.Profile.name profile) (List.distinct keys).Length summary.Copied.Length folder summary.AlreadyShipped.Length summary.NotCached.Length
    for key in summary.Differs do
        eprintfn "kept: %s in %s differs from the cache's result of that key (a recomputation); the shipped file is not replaced (delete it to ship the new one)" key folder
    0

let private importFolders (args: ParseResults<RunsArgs>) =
    let root = CatalogSession.repoRoot ()
    let env = Environment.standard root None ignore
    let resultsDir = match args.TryGetResult Results with Some d -> Path.GetFullPath d | None -> env.ResultsDir
    let folders =
        match args.TryGetResult Folder with
        | Some f -> [ Path.GetFullPath f ]
        | None ->
            let shipped = Path.Combine(env.PaperResultsDir, "runs")
            if Directory.Exists shipped then Directory.GetDirectories shipped |> Array.sort |> List.ofArray else []
    if folders.IsEmpty then
        userError "%s: no shipped runs; expected folders of <key>.json files (smec runs export writes them), or --folder" (Path.Combine(env.PaperResultsDir, "runs"))
    let mutable invalid = 0
    for folder in folders do
        let outcomes = RunArchive.import resultsDir folder
        let count f = outcomes |> List.filter (snd >> f) |> List.length
        printfn "%s: %d imported into %s, %d already cached, %d kept (the cache holds another result of that key, computed here)"
            folder (count ((=) RunArchive.Imported)) (ResultStore.cacheFolder resultsDir) (count ((=) RunArchive.AlreadyCached)) (count ((=) RunArchive.KeptLocal))
        for key, outcome in outcomes do
            match outcome with
            | RunArchive.ReplacedUnreadable reason -> eprintfn "replaced an unreadable cache entry with the shipped %s: %s" key reason
            | RunArchive.Invalid reason ->
                invalid <- invalid + 1
                eprintfn "error: not imported: %s" reason
            | _ -> ()
    if invalid > 0 then 1 else 0

let run (args: ParseResults<RunsArgs>) : int =
    CatalogSession.guard (fun () ->
        match args.GetResult Action with
        | "export" -> exportItem args
        | "import" -> importFolders args
        | other -> userError "runs: '%s'; expected export or import" other)
