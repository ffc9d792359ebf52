/// Item 1: the datasets, encoders and dimensions used (a description table, no training). Local:
/// counts and dims measured on the data, checked against what the data mirror's README declares,
/// and checksums against its SHA256SUMS. Paper: the paper's encoders and dims as the record gives them.
module Smec.Experiments.Catalog.Items.Item1Datasets

open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Profiles
open Smec.Experiments.Catalog.Builders

let title = "Datasets, encoders and dimensions"

/// Columns, and the measurement each one shows (Running/DatasetDescription.fs computes them).
let columns =
    [ "docs", "docs"
      "queries", "queries"
      "judged queries", "judged_queries"
      "qrels", "qrels"
      "dims", "dims"
      "checksum mismatches", "checksum_mismatches" ]

let describe (dataset: string) (encoder: string) (source: DataSource) =
    { Kind = DatasetDescription
      Dataset = dataset
      Encoder = encoder
      Source = source
      Split = localSplit dataset
      Method = ""
      Options = Map.empty
      Dims = []
      Seed = 0L
      Budget = None }

let private factCell panel row column display value declared =
    { cell panel row column display value with Declared = declared; HigherIsBetter = None }

/// Local rows: (row, dataset, encoder, declared values by column) from the data mirror's README.
let private localRows =
    [ "SciFact", "scifact", "", [ "docs", 5183.0; "queries", 1109.0; "judged queries", 1109.0; "qrels", 1258.0; "checksum mismatches", 0.0 ]
      "Cranfield", "cranfield", "", [ "docs", 1400.0; "queries", 225.0; "qrels", 1837.0; "checksum mismatches", 0.0 ]
      "CACM", "cacm", "", [ "docs", 3204.0; "queries", 64.0; "judged queries", 52.0; "qrels", 796.0; "checksum mismatches", 0.0 ]
      "SciFact x all-MiniLM-L6-v2", "scifact", miniLM, [ "docs", 5183.0; "queries", 1109.0; "dims", 384.0; "checksum mismatches", 0.0 ] ]

/// Image and multimodal data: described by another task's data manifests.
let private pendingRows =
    [ "CIFAR-10 x ResNet18", "cifar10"; "Fashion-MNIST x ResNet18", "fashion-mnist"; "Flickr8k-1k", "flickr8k-1k" ]

let private local (context: CatalogContext) =
    let panel = "local data"
    let textCells =
        [ for row, dataset, encoder, declared in localRows do
              for column, measure in columns do
                  let expected = declared |> List.tryFind (fst >> (=) column) |> Option.map snd
                  // A column the data does not have (dims of a text collection) is left out.
                  let applies = not (encoder = "" && column = "dims") && not (encoder <> "" && (column = "judged queries" || column = "qrels"))
                  if applies then
                      yield factCell panel row column Display.count (Measure(describe dataset encoder Mirror, measure)) expected ]
    let pendingCells =
        [ for row, dataset in pendingRows ->
              factCell panel row "docs" Display.count
                  (Unavailable(sprintf "%s is described once the image-features task lands its data manifest" (datasetTitle dataset))) None ]
    { table 1 Local context title "The local datasets and encoders: counts measured on the data mirror, checked against its README and SHA256SUMS." with
        Panels = [ panel ]
        Rows = (localRows |> List.map (fun (r, _, _, _) -> r)) @ (pendingRows |> List.map fst)
        Columns = columns |> List.map fst
        Cells = textCells @ pendingCells
        Notes = [ "Declared counts: the data mirror's README (SciFact: 809 train + 300 test queries, 919 + 339 qrels)." ] }

/// The paper's encoders and their output dims (METHOD.md).
let private paperEncoders =
    [ llm2vec7B, 3584.0; llm2vec1B, 1536.0; openAiLarge, 3072.0; image1024, 1024.0; multimodal768, 768.0 ]

let private paper (context: CatalogContext) =
    let encoderCells = [ for name, dims in paperEncoders -> factCell "paper encoders" name "dims" Display.count (Constant dims) None ]
    let entries = context.Manifest |> Option.map (fun m -> m.Entries) |> Option.defaultValue []
    let entryRow (e: EmbeddingsManifest.ManifestEntry) = sprintf "%s x %s (for %s)" e.Dataset e.Encoder e.StandsFor
    let manifestCells =
        [ for e in entries do
              for column, measure in columns |> List.filter (fun (c, _) -> c <> "checksum mismatches") ->
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
      PaperSource = "text of the paper, PAPER-RESULTS.md"
      PaperEncoders = []
      Build = function Local -> local | Paper -> paper }
