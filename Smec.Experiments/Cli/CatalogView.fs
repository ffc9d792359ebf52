/// What `smec baselines` and `smec images` share: a table of methods x dims on a few datasets, built
/// from the same configs as the catalog items (so the same cache, the same blessed values and the
/// same checks), run by the catalog runner and printed as `smec reproduce` prints an item.
module Smec.Experiments.Cli.CatalogView

open System.IO
open Spectre.Console
open Smec.Core.Methods
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Profiles
open Smec.Experiments.Catalog.Builders
open Smec.Experiments.Running
open Smec.Experiments.Reports
open Smec.Experiments.Methods
open Smec.Experiments.Store
open Smec.Experiments.Verdicts

/// A row: a method registry key, its label, and the options the row gives it.
type ViewRow = { Key: string; Label: string; Trains: bool; Options: (string * string) list }

/// A panel: its title, the dataset id the configs name, and the query split rule.
type ViewPanel = { Title: string; Dataset: string; Split: SplitRule }

/// Older command-line spellings, kept as aliases of registry keys (and options).
let private aliases =
    Map.ofList
        [ "sa", (searchAdaptor.Key, [], None)
          "ma", (matryoshkaAdaptor.Key, [], None)
          "ma-unsup", (matryoshkaAdaptor.Key, [ "supervised", "false" ], Some "MA-unsup")
          "full", (truncation.Key, [], None) ]

/// A row for a command-line name: a registry key or an alias; the catalog's local options
/// (e.g. Search-Adaptor's single grid point) unless the command line overrides them.
let row (registry: MethodRegistry.MethodRegistry) (overrides: string -> (string * string) list) (name: string) : ViewRow =
    let key, aliasOptions, label =
        match aliases.TryFind(name.Trim().ToLowerInvariant()) with
        | Some alias -> alias
        | None -> name.Trim().ToLowerInvariant(), [], None
    match registry.TryEntry key with
    | None ->
        failwithf "--methods: unknown method '%s' (registry keys: %s; aliases: %s)" name (String.concat ", " registry.Keys)
            (aliases |> Map.toList |> List.map fst |> String.concat ", ")
    | Some entry ->
        let catalogDefaults = entry.ProfileOptions Local
        let given = aliasOptions @ overrides key
        let options = (catalogDefaults |> List.filter (fun (k, _) -> not (List.exists (fun (g, _) -> g = k) given))) @ given
        { Key = key; Label = defaultArg label entry.Label; Trains = entry.Trains; Options = options |> List.sortBy fst }

/// Reference figures: a method that learns nothing must reproduce the data's reference figures
/// (paper-results/reference-figures.csv) within their tolerance. They are deterministic
/// computations, so the cell is checked against the figure itself (a declared value, both ways),
/// not by a bootstrap over queries, which would call any small drift a TIE.
let private referenceFigure (figures: ReferenceFigures.ReferenceFigure list) (encoder: string) (p: ViewPanel) (r: ViewRow) (dims: int) =
    if not r.Options.IsEmpty then None
    else
        ReferenceFigures.ndcg10 figures p.Dataset encoder r.Key
        |> List.tryFind (fun f -> f.Dims = dims)
        |> Option.map (fun f ->
            { Value = f.Value
              Tolerance = f.Tolerance
              Source = sprintf "reference figure (%s)" f.Source })

/// A methods x dims table on the given panels, with the catalog's local budget: identical configs
/// to the catalog item `item` whenever the rows, dims and options are the item's.
let table (item: int) (context: CatalogContext) (title: string) (description: string) (encoder: string)
          (panels: ViewPanel list) (rows: ViewRow list) (dims: int list) =
    let valueOf (p: ViewPanel) (r: ViewRow) (d: int) =
        Measure(retrieval p.Dataset encoder Mirror p.Split dims localBudget { Key = r.Key; Row = r.Label; Trains = r.Trains } r.Options, ndcgAt d)
    { Builders.table item Local context title description with
        Panels = panels |> List.map (fun p -> p.Title)
        Rows = rows |> List.map (fun r -> r.Label)
        Columns = dimsColumns dims
        Cells =
            let figures = ReferenceFigures.load ()
            [ for p in panels do
                  for r in rows do
                      for d in dims ->
                          { cell p.Title r.Label (string d) Display.percent (valueOf p r d) with
                              Declared = referenceFigure figures encoder p r d } ] }

/// The registry with every fitted model saved under folder/<key>-<options hash>-seed<seed>, in the
/// one saved-model format (`smec compress --model` reads it). Cached experiments are not refitted.
let savingModels (folder: string) (progress: string -> unit) (registry: MethodRegistry.MethodRegistry) =
    let wrap (entry: MethodRegistry.MethodEntry) =
        let create (request: MethodRegistry.MethodRequest) : ICompressor =
            let inner = entry.Create request
            let optionsHash = ConfigHash.short (ConfigHash.sha256Hex (request.Options |> Map.toList |> List.map (fun (k, v) -> k + "=" + v) |> String.concat ";"))
            // The training data's identity is part of the name: the folds of a k-fold collection train
            // the same method, options and seed on different queries, and each fold's model is kept.
            let targetOf (data: TrainingData) =
                Path.Combine(folder, sprintf "%s-%s-seed%d-data%s" request.Method optionsHash request.Seed
                                        (Smec.Core.Training.TrainingDataHash.Short(Smec.Core.Training.TrainingDataHash.Of data)))
            { new ICompressor with
                member _.Name = inner.Name
                member _.Dims = inner.Dims
                member _.Settings = inner.Settings
                member _.Fit data =
                    inner.Fit data
                    let target = targetOf data
                    inner.Save target
                    progress (sprintf "saved %s to %s" inner.Name target)
                member _.Compress(embeddings, dim, role) = inner.Compress(embeddings, dim, role)
                member _.Save directory = inner.Save directory
                member _.Dispose() = inner.Dispose() }
        { entry with Create = create }
    { registry with Entries = registry.Entries |> Map.map (fun _ e -> wrap e) }

/// Run the table through the catalog runner and print it; exit code 1 when a check or claim fails.
/// With a models folder, each panel runs on its own and its models go to folder/<panel dataset>/.
let run (session: CatalogSession.Session) (force: bool) (saveModels: string option) (panels: ViewPanel list) (spec: TableSpec) =
    let runOne (env: Environment.RunEnvironment) (spec: TableSpec) =
        let result = TableRun.reproduce env session.Published { Runner.Force = force; Runner.DryRun = false; Runner.Ensemble = false } spec
        Terminal.print AnsiConsole.Console result (sprintf "cache: %s (shared with `smec reproduce --table %d`)" (Path.Combine(env.ResultsDir, "cache")) spec.Item)
        if result.Statuses |> List.contains Checks.Fail then 1 else 0
    match saveModels with
    | None -> runOne session.Environment spec
    | Some folder ->
        [ for p in panels ->
              let methods = savingModels (Path.Combine(Path.GetFullPath folder, p.Dataset)) session.Environment.Progress session.Environment.Methods
              runOne { session.Environment with Methods = methods }
                  { spec with
                      Panels = [ p.Title ]
                      Cells = spec.Cells |> List.filter (fun c -> c.Panel = p.Title)
                      Claims = spec.Claims |> List.filter (fun c -> c.Panel = p.Title) } ]
        |> List.max

/// Dims from the command line: each must be positive; the default otherwise.
let dimsOr (defaults: int list) (given: int list option) =
    match given with
    | None -> defaults
    | Some dims ->
        match dims |> List.filter (fun d -> d <= 0) with
        | [] -> dims |> List.distinct |> List.sort
        | bad -> failwithf "--dims: %s is not a positive number of dims" (bad |> List.map string |> String.concat ", ")
