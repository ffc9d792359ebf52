/// Item 1's measurements: counts and dims of a dataset as the project's loaders read it. The
/// loaders (DatasetLoader) record each file's SHA-256 (the data identity) and verify every count its
/// manifest gives, so a damaged copy fails here with the file named.
module Smec.Experiments.Running.DatasetDescription

open System
open System.IO
open Smec.Core.Data
open Smec.Core.Data.Manifests
open Smec.Core.Storage
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.EmbeddingsManifest

let private judgementLines (path: string) =
    File.ReadLines path
    |> Seq.filter (fun l -> l.Trim() <> "")
    |> Seq.skip 1
    |> Seq.map (fun l -> l.Split((null: char[]), StringSplitOptions.RemoveEmptyEntries).[0])
    |> List.ofSeq

let private embeddingCounts (corpus: EmbeddingMatrix) (queries: EmbeddingMatrix) =
    [ "items", float corpus.Rows; "queries", float queries.Rows; "dims", float corpus.Dim ]

let private identityChecksums (dataset: DatasetManifest) = Datasets.dataIdentityChecksums dataset |> Map.ofList

/// Counts of a dataset of the project (by its data-manifests entry), or of precomputed embeddings.
let private describeMirror (config: ExperimentConfig) =
    let catalog = ManifestCatalog.Default
    match config.Encoder, catalog.Datasets.TryGetValue config.Dataset with
    | _, (false, _) -> Error(sprintf "no data-manifests entry for dataset '%s'" config.Dataset)
    | "", (true, dataset) ->
        let measures =
            match dataset.Kind with
            | "text-retrieval" ->
                let text = DatasetLoader.LoadText dataset
                let judged = text.QrelsBySplit.Values |> Seq.collect (fun q -> q.QueryIds) |> Seq.distinct |> Seq.length
                [ "items", float text.Corpus.Count
                  "queries", float text.Queries.Count
                  "judged_queries", float judged
                  "qrels", float (text.QrelsBySplit.Values |> Seq.sumBy (fun q -> q.JudgementCount)) ]
            | "image-classification" ->
                let images = DatasetLoader.LoadImageClasses dataset
                [ "items", float (images.Split "train").Count
                  "queries", float (images.Split "test").Count
                  "classes", float images.ClassNames.Count ]
            | "image-captions" ->
                let captioned = DatasetLoader.LoadCaptioned dataset
                [ "items", float captioned.ImageIds.Count; "queries", float captioned.Captions.Count ]
            | kind -> failwithf "dataset '%s' has kind '%s', which item 1 does not describe" dataset.Id kind
        Ok(Map.ofList measures, identityChecksums dataset)
    | encoder, (true, dataset) ->
        match catalog.Embeddings |> Seq.tryFind (fun e -> e.Dataset = dataset.Id && e.Encoder = encoder) with
        | None -> Error(sprintf "%s x %s: no precomputed embeddings in data-manifests/embeddings (they would be encoded on first use)" dataset.Id encoder)
        | Some mirror ->
            let encoded = EmbeddingStore.GetOrBuild(dataset.Id, encoder, EncodeOptions(ShowProgress = false))
            let checksums =
                mirror.Parts |> Seq.collect (fun kv -> [ sprintf "%s/%s" mirror.Path kv.Value.Npy.Path, kv.Value.Npy.Sha256 ]) |> Map.ofSeq
            Ok(Map.ofList (embeddingCounts encoded.Corpus encoded.Queries), checksums)

/// Measurements of a description experiment, or why they cannot be taken.
let describe (manifest: EmbeddingsManifest option) (config: ExperimentConfig) : Result<Map<string, float> * Map<string, string>, string> =
    match config.Source with
    | Manifest _ ->
        match Datasets.manifestEntry manifest config with
        | None -> Error(sprintf "no embeddings manifest entry for %s x %s" config.Dataset config.Encoder)
        | Some e ->
            let judged = judgementLines e.QrelsTest @ (e.QrelsTrain |> Option.map judgementLines |> Option.defaultValue [])
            Ok(Map.ofList (embeddingCounts (Npy.ReadEmbeddings(e.Corpus, e.CorpusIds)) (Npy.ReadEmbeddings(e.Queries, e.QueryIds))
                           @ [ "qrels", float judged.Length; "judged_queries", float (judged |> List.distinct |> List.length) ]),
               Map.empty)
    | Mirror -> describeMirror config
