/// `smec images`: the local image (catalog item 4) and multimodal (item 5) tables, narrowed to the
/// datasets, methods and dims asked for, with the catalog's configs, cache and checks.
module Smec.Experiments.Cli.ImagesCommand

open Argu
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Profiles
open Smec.Experiments.Catalog.Items
open Smec.Experiments.Running
open Smec.Experiments.Cli.CatalogView

type ImagesArgs =
    | Item of number: int
    | Datasets of ids: string list
    | Methods of names: string list
    | Dims of int list
    | Seed of seed: int64
    | Seeds of count: int
    | Tuning of string
    | Save of dir: string
    | Force
    | Results of folder: string

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Item _ -> "4 (image retrieval: CIFAR-10, Fashion-MNIST) or 5 (multimodal: Flickr8k-1k); default both"
            | Datasets _ -> "item 4 datasets (default cifar10 fashion-mnist)"
            | Methods _ -> "method registry keys (`smec methods`) or the aliases sa, ma (default: the item's rows)"
            | Dims _ -> "target dimensions (default: the item's, so its cached results are reused)"
            | Seed _ -> "the one training seed (default 1, as the catalog)"
            | Seeds _ -> "seeds 1..N per trained cell, mean and spread (default 1)"
            | Tuning _ -> "option tuning of every trained method: default (one point), local-grid or paper-grid (search that profile's tuning grid)"
            | Save _ -> "save every model fitted in this run under DIR/<dataset>/ (cached experiments are not refitted: add --force)"
            | Force -> "recompute experiments even when a cached result exists"
            | Results _ -> "results folder (default: results/ in the repository)"

let private itemRows = [ truncation.Key; pca.Key; searchAdaptor.Key; matryoshkaAdaptor.Key; smec.Key ]

let run (args: ParseResults<ImagesArgs>) : int =
    CatalogSession.guard (fun () ->
        let session = CatalogSession.openSession None (args.TryGetResult Seeds) (args.TryGetResult Results) CatalogSession.consoleProgress
        let session =
            match args.TryGetResult Seed with
            | Some seed -> { session with Context = { session.Context with Seeds = [ seed ] } }
            | None -> session
        let overrides key =
            match Smec.Experiments.Methods.MethodRegistry.standard.TryEntry key, args.TryGetResult Tuning with
            | Some entry, Some tuning when entry.Trains -> [ Smec.Experiments.Methods.MethodRegistry.tuningSpec.Name, tuning ]
            | _ -> []
        let rows defaults =
            args.GetResult(Methods, defaultValue = defaults)
            |> List.map (row session.Environment.Methods overrides)
            |> List.distinctBy (fun r -> r.Key, r.Options)
        let items =
            match args.TryGetResult Item with
            | None -> [ 4; 5 ]
            | Some ((4 | 5) as n) -> [ n ]
            | Some n -> failwithf "--item %d: expected 4 (image retrieval) or 5 (multimodal)" n
        let spec item =
            match item with
            | 4 ->
                let panels =
                    [ for ds in args.GetResult(Datasets, defaultValue = [ "cifar10"; "fashion-mnist" ]) ->
                          { Title = datasetTitle ds; Dataset = ds; Split = SplitRules.ofDataset ds } ]
                panels,
                table 4 session.Context Item4Image.title "ResNet18 (ONNX) 512-d features, relevance = same class; item 4's subsets, split and budget."
                    resnet18 panels (rows itemRows) (dimsOr localImageDims (args.TryGetResult Dims))
            | _ ->
                let panels =
                    [ { Title = "a: text->image"; Dataset = "flickr8k-1k-t2i"; Split = SplitRules.ofDataset "flickr8k-1k" }
                      { Title = "b: image->text"; Dataset = "flickr8k-1k-i2t"; Split = SplitRules.ofDataset "flickr8k-1k" } ]
                let dims = List.ofSeq (Smec.Core.Multimodal.MultimodalConfig().Dims)
                panels,
                table 5 session.Context Item5Multimodal.title "Flickr8k-1k in the learned joint space; item 5's split and budget."
                    Item5Multimodal.flickrJoint panels (rows (itemRows |> List.filter ((<>) truncation.Key))) (dimsOr dims (args.TryGetResult Dims))
        items
        |> List.map (fun item ->
            let panels, spec = spec item
            CatalogView.run session (args.Contains Force) (args.TryGetResult Save) panels spec)
        |> List.max)
