/// The shape shared by items 2-5: methods (rows) x dims (columns), one panel per dataset and a mean
/// panel, local on the mirror's data or paper on a manifest's entries.
module Smec.Experiments.Catalog.Items.MethodTables

open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Profiles
open Smec.Experiments.Catalog.Builders
open Smec.Experiments.Catalog.Published

/// Cells of one panel: every method at every dims, optionally naming the published value.
let panelCells (panel: string) (display: Display) (methods: MethodSpec list) (dims: int list)
               (valueOf: MethodSpec -> int -> Quantity) (published: MethodSpec -> int -> PublishedKey option) =
    [ for m in methods do
          for d in dims ->
              let c = cell panel m.Row (string d) display (valueOf m d)
              match published m d with
              | Some key -> withPublished key c
              | None -> c ]

let noPublished (_: MethodSpec) (_: int) : PublishedKey option = None

/// A local table over datasets (one panel each, plus their mean when there are several).
let localTable (spec: TableSpec) (encoder: string) (datasets: string list) (withMean: bool) (methods: MethodSpec list)
               (dims: int list) (unsupervised: MethodSpec list) (display: Display) (chart: ChartSpec option) =
    let perDataset ds (m: MethodSpec) d =
        Measure(retrieval ds encoder Mirror (SplitRules.ofDataset ds) dims localBudget m (profileOptions Local m), ndcgAt d)
    let panels = [ for ds in datasets -> datasetTitle ds, perDataset ds ]
    let meanPanels =
        if withMean then [ meanPanelOf datasets.Length, (fun m d -> Mean [ for ds in datasets -> perDataset ds m d ]) ] else []
    let allPanels = panels @ meanPanels
    // Claims on the first dataset and on the mean: the mean is the paper's "BEIR average" analogue.
    let claimPanels = (List.head allPanels) :: meanPanels
    { spec with
        Panels = allPanels |> List.map fst
        Rows = methods |> List.map (fun m -> m.Row)
        Columns = dimsColumns dims
        Cells = [ for name, valueOf in allPanels do yield! panelCells name display methods dims valueOf noPublished ]
        Claims = [ for name, valueOf in claimPanels do yield! Claims.methodsPanelClaims name display valueOf unsupervised dims ]
        Chart = chart }

/// A paper table: the published panel is the mean over the manifest's entries for the encoder.
let paperTable (spec: TableSpec) (context: CatalogContext) (paperEncoder: string) (what: string)
               (publishedPanel: string) (methods: MethodSpec list) (dims: int list) (unsupervised: MethodSpec list)
               (display: Display) (chart: ChartSpec option) =
    let entries = context.Manifest |> Option.map (fun m -> m.For paperEncoder) |> Option.defaultValue []
    let key (m: MethodSpec) d =
        { Item = spec.Item; Panel = publishedPanel; Row = m.Row; Encoder = paperEncoder; Metric = "ndcg@10"; X = d }
    let meanOf : MethodSpec -> int -> Quantity =
        match entries with
        | [] -> fun _ _ -> Unavailable(needsManifest [ paperEncoder ] what)
        | _ -> fun m d -> Mean [ for e in entries -> Measure(manifestRetrieval e dims m [], ndcgAt d) ]
    let entryPanels =
        [ for e in entries -> sprintf "%s (%s)" e.Dataset e.Encoder, (fun (m: MethodSpec) d -> Measure(manifestRetrieval e dims m [], ndcgAt d)) ]
    { spec with
        Panels = publishedPanel :: (entryPanels |> List.map fst)
        Rows = methods |> List.map (fun m -> m.Row)
        Columns = dimsColumns dims
        Cells =
            [ yield! panelCells publishedPanel display methods dims meanOf (fun m d -> Some(key m d))
              for name, valueOf in entryPanels do yield! panelCells name display methods dims valueOf noPublished ]
        Claims = Claims.methodsPanelClaims publishedPanel display meanOf unsupervised dims
        Notes =
            spec.Notes
            @ [ match entries with
                | [] -> sprintf "No embeddings for %s were supplied: every cell is SKIPPED and shows the published value." paperEncoder
                | _ ->
                    sprintf "%s = mean over the manifest's datasets (%s); the paper's BEIR subset is not known."
                        publishedPanel (entries |> List.map (fun e -> e.Dataset) |> String.concat ", ") ]
        Chart = chart }
