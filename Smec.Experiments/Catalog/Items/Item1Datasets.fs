/// Item 1: the datasets, encoders and dimensions used (a description table, no training). Local:
/// the project's datasets as its loaders read them, checked against the counts their
/// data-manifests declare (the loaders also verify every pinned SHA-256). Paper: the paper's
/// encoders and dims as the public record gives them, and the embeddings a manifest supplies.
module Smec.Experiments.Catalog.Items.Item1Datasets

open Smec.Core.Data.Manifests
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Profiles
open Smec.Experiments.Catalog.Builders

let title = "Datasets, encoders and dimensions"

/// Columns and the measurement each shows. "items" are documents (text), train images (image
/// classes) or images (captioned); "queries" are queries, test images or captions.
let columns =
    [ "items", "items"
      "queries", "queries"
      "judged queries", "judged_queries"
      "qrels", "qrels"
      "classes", "classes"
      "dims", "dims" ]

let describe (dataset: string) (encoder: string) (source: DataSource) =
    { Kind = DatasetDescription
      Dataset = dataset
      Encoder = encoder
      Source = source
      Split = SplitRules.ofDataset dataset
      Method = ""
      Options = Map.empty
      Dims = []
      Seed = 0L
      Budget = None }

let private factCell panel row column display value declared =
    let fromDocumentation (count: float) =
        { Value = count; Tolerance = 0.0; Source = "declared by the data's documentation; must match exactly" }
    { cell panel row column display value with Declared = Option.map fromDocumentation declared; HigherIsBetter = None }

/// The datasets the local profile uses (docs/CATALOG.md, "Local data, encoders and dims") and the precomputed embeddings the data ships.
let localDatasets = [ "scifact"; "cranfield"; "cacm"; "cifar10"; "fashion-mnist"; "flickr8k-1k" ]

/// What a dataset's manifest declares, by column.
let declaredCounts (dataset: DatasetManifest) : (string * float) list =
    match Option.ofObj dataset.Counts with
    | None -> []
    | Some counts ->
        let some (column: string) (v: System.Nullable<int>) = if v.HasValue then [ column, float v.Value ] else []
        let splitSum (pick: SplitCounts -> System.Nullable<int>) =
            let values = counts.Splits.Values |> Seq.map pick |> List.ofSeq
            if not values.IsEmpty && values |> List.forall (fun v -> v.HasValue) then System.Nullable(values |> List.sumBy (fun v -> v.Value))
            else System.Nullable()
        let splitImages name =
            match counts.Splits.TryGetValue name with
            | true, s -> s.Images
            | _ -> System.Nullable()
        match dataset.Kind with
        | "text-retrieval" ->
            let judged = if counts.JudgedQueries.HasValue then counts.JudgedQueries else splitSum (fun s -> s.Queries)
            some "items" counts.Docs @ some "queries" counts.Queries @ some "judged queries" judged @ some "qrels" (splitSum (fun s -> s.Qrels))
        | "image-classification" -> some "items" (splitImages "train") @ some "queries" (splitImages "test") @ some "classes" counts.Classes
        | "image-captions" -> some "items" counts.Images @ some "queries" counts.Captions
        | _ -> []

let private local (context: CatalogContext) =
    let catalog = ManifestCatalog.Default
    let panel = "local data"
    let datasetRows =
        [ for id in localDatasets ->
              let dataset = catalog.Dataset id
              let declared = declaredCounts dataset
              let applicable =
                  match dataset.Kind with
                  | "text-retrieval" -> [ "items"; "queries"; "judged queries"; "qrels" ]
                  | "image-classification" -> [ "items"; "queries"; "classes" ]
                  | _ -> [ "items"; "queries" ]
              datasetTitle id,
              [ for column, measure in columns do
                    if List.contains column applicable then
                        yield factCell panel (datasetTitle id) column Display.count (Measure(describe id "" Mirror, measure))
                                  (declared |> List.tryFind (fst >> (=) column) |> Option.map snd) ] ]
    let embeddingRows =
        [ for e in catalog.Embeddings do
              if List.contains e.Dataset localDatasets then
                  let row = sprintf "%s x %s" (datasetTitle e.Dataset) e.Encoder
                  let rows part = match e.Parts.TryGetValue part with | true, p -> Some(float p.Rows) | _ -> None
                  let dims = e.Parts.Values |> Seq.tryHead |> Option.map (fun p -> float p.Dim)
                  yield
                      row,
                      [ for column, measure, declared in [ "items", "items", rows "corpus"; "queries", "queries", rows "queries"; "dims", "dims", dims ] ->
                            factCell panel row column Display.count (Measure(describe e.Dataset e.Encoder Mirror, measure)) declared ] ]
    let rows = datasetRows @ embeddingRows
    { table 1 Local context title "The project's datasets and precomputed embeddings as its loaders read them; counts checked against data-manifests, files against their pinned SHA-256." with
        Panels = [ panel ]
        Rows = rows |> List.map fst
        Columns = columns |> List.map fst
        Cells = rows |> List.collect snd
        Notes =
            [ "items = documents (text), train images (image classes) or images (captioned); queries = queries, test images or captions."
              "A checksum or count that differs from data-manifests makes the loader fail, and the row FAIL with the file named." ] }

/// The paper's encoders (row name, encoder manifest id); their dims come from data-manifests/encoders.
let private paperEncoders =
    [ llm2vec7B, "llm2vec-7b"; llm2vec1B, "llm2vec-1b"; openAiLarge, "text-embedding-3-large"
      image1024, "paper-image-1024"; multimodal768, "paper-multimodal-768" ]

let private manifestDim (encoderId: string) =
    float (Smec.Core.Data.Manifests.ManifestCatalog.Default.Encoder encoderId).Dim

let private paper (context: CatalogContext) =
    let encoderCells = [ for name, id in paperEncoders -> factCell "paper encoders" name "dims" Display.count (Constant(manifestDim id)) None ]
    let entries = context.Manifest |> Option.map (fun m -> m.Entries) |> Option.defaultValue []
    let entryRow (e: EmbeddingsManifest.ManifestEntry) = sprintf "%s x %s (for %s)" e.Dataset e.Encoder e.StandsFor
    let manifestCells =
        [ for e in entries do
              for column, measure in columns |> List.filter (fun (c, _) -> c <> "classes") ->
                  factCell "supplied embeddings" (entryRow e) column Display.count
                      (Measure(describe e.Dataset e.Encoder (Manifest e.Fingerprint), measure)) None ]
    { table 1 Paper context title "The paper's encoders and dims, and the embeddings the manifest supplies." with
        Panels = [ "paper encoders" ] @ (if entries.IsEmpty then [] else [ "supplied embeddings" ])
        Rows = (paperEncoders |> List.map fst) @ (entries |> List.map entryRow)
        Columns = columns |> List.map fst
        Cells = encoderCells @ manifestCells
        Notes =
            [ "Datasets in the paper: BEIR (which datasets enter the average is not known), BEIR Quora, Products-10K and Fashion-200K (both inferred)."
              (if entries.IsEmpty then "No embeddings manifest: " + manifestHint else sprintf "Embeddings manifest: %d entries." entries.Length) ] }

let item =
    { Number = 1
      Title = title
      PaperSource = "text of the paper, docs/PAPER-RESULTS.md"
      PaperEncoders = []
      Build = function Local -> local | Paper -> paper }
