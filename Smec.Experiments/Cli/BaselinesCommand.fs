/// `smec baselines`: methods x dims on SciFact (or other text datasets) with the catalog's configs,
/// cache and checks: a view of catalog item 2 narrowed to what the command line asks for. Truncation
/// and PCA must reproduce the reference figures (paper-results/reference-figures.csv), as claims.
module Smec.Experiments.Cli.BaselinesCommand

open System.Globalization
open Argu
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Profiles
open Smec.Experiments.Running
open Smec.Experiments.Cli.CatalogView

/// Rows in table order when --methods is not given.
let defaultMethods = [ truncation.Key; pca.Key; mrl.Key; searchAdaptor.Key; "ma-unsup"; matryoshkaAdaptor.Key; smec.Key ]

[<RequireQualifiedAccess>]
type BaselinesArgs =
    | Datasets of ids: string list
    | Encoder of id: string
    | Dims of int list
    | Methods of string list
    | Seed of int64
    | Seeds of count: int
    | Tuning of string
    | Ma_Alpha of float
    | Ma_Beta of float
    | Ma_Gamma of float
    | Save of dir: string
    | Force
    | Results of folder: string

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Datasets _ -> "text datasets, one panel each (default scifact; e.g. scifact cranfield cacm)"
            | Encoder _ -> sprintf "encoder (default %s)" miniLM
            | Dims _ -> "target dimensions (default 24 48 96 192 384: the catalog's, so item 2's cached results are reused)"
            | Methods _ ->
                sprintf "method registry keys (`smec methods`), or the aliases sa, ma, ma-unsup, full (default: %s)" (String.concat " " defaultMethods)
            | Seed _ -> "the one training seed (default 1, as the catalog)"
            | Seeds _ -> "seeds 1..N per trained cell, mean and spread (default 1)"
            | Tuning _ -> "option tuning of every trained method: default (one point), local-grid or paper-grid (search that profile's tuning grid; `smec methods KEY` lists it)"
            | Ma_Alpha _ -> "Matryoshka-Adaptor weight of the pairwise loss (option alpha)"
            | Ma_Beta _ -> "Matryoshka-Adaptor weight of the reconstruction loss (option beta)"
            | Ma_Gamma _ -> "Matryoshka-Adaptor weight of the ranking loss (option gamma)"
            | Save _ -> "save every model fitted in this run under DIR/<dataset>/ (`smec compress --model` reads them; cached experiments are not refitted: add --force)"
            | Force -> "recompute experiments even when a cached result exists"
            | Results _ -> "results folder (default: results/ in the repository)"

let private number (value: float) = value.ToString("R", CultureInfo.InvariantCulture)

/// Options the command line gives a registry key.
let private overrides (args: ParseResults<BaselinesArgs>) (key: string) =
    let trains = Smec.Experiments.Methods.MethodRegistry.standard.TryEntry key |> Option.exists (fun e -> e.Trains)
    let tuning =
        [ if trains then
              for t in args.TryGetResult BaselinesArgs.Tuning |> Option.toList -> Smec.Experiments.Methods.MethodRegistry.tuningSpec.Name, t ]
    let weights =
        if key = matryoshkaAdaptor.Key then
            [ match args.TryGetResult BaselinesArgs.Ma_Alpha with Some v -> yield "alpha", number v | None -> ()
              match args.TryGetResult BaselinesArgs.Ma_Beta with Some v -> yield "beta", number v | None -> ()
              match args.TryGetResult BaselinesArgs.Ma_Gamma with Some v -> yield "gamma", number v | None -> () ]
        else []
    tuning @ weights

let run (args: ParseResults<BaselinesArgs>) : int =
    CatalogSession.guard (fun () ->
        let session = CatalogSession.openSession None (args.TryGetResult BaselinesArgs.Seeds) (args.TryGetResult BaselinesArgs.Results) CatalogSession.consoleProgress
        let session =
            match args.TryGetResult BaselinesArgs.Seed with
            | Some seed -> { session with Context = { session.Context with Seeds = [ seed ] } }
            | None -> session
        let encoder = args.GetResult(BaselinesArgs.Encoder, defaultValue = miniLM)
        let panels =
            [ for ds in args.GetResult(BaselinesArgs.Datasets, defaultValue = [ "scifact" ]) ->
                  { Title = datasetTitle ds; Dataset = ds; Split = SplitRules.ofDataset ds } ]
        let rows =
            args.GetResult(BaselinesArgs.Methods, defaultValue = defaultMethods)
            |> List.map (row session.Environment.Methods (overrides args))
            |> List.distinctBy (fun r -> r.Key, r.Options)
        let dims = dimsOr localDims (args.TryGetResult BaselinesArgs.Dims)
        let spec =
            table 2 session.Context "Baselines: methods x dims"
                (sprintf "%s with %s; the catalog's local split, budget and options (item 2's configs)" (panels |> List.map (fun p -> p.Title) |> String.concat ", ") encoder)
                encoder panels rows dims
        CatalogView.run session (args.Contains BaselinesArgs.Force) (args.TryGetResult BaselinesArgs.Save) panels spec)
