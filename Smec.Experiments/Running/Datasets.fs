/// Resolving an experiment's (dataset, encoder, source) to embeddings and judgements. Providers are
/// a list: the mirror's precomputed embeddings, a user's embeddings manifest, and (wired in by the
/// lead as they land) the encoders with their embedding cache and the image features.
module Smec.Experiments.Running.Datasets

open System
open System.IO
open System.Security.Cryptography
open Smec.Core.Data
open Smec.Core.Methods
open Smec.Core.Storage
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.EmbeddingsManifest

/// Everything a retrieval experiment needs; the test split is kept apart from `Training`.
type LoadedDataset =
    { Name: string
      Training: TrainingData
      TestQueries: EmbeddingMatrix
      Test: Qrels
      /// Drop the document whose id equals the query id (BEIR's rule for Quora and ArguAna).
      DropSelfMatches: bool
      /// File name -> SHA-256 of every input file.
      Checksums: Map<string, string>
      Notes: string list }

type Provision =
    /// This provider does not handle the config.
    | NotMine
    /// It would, but something is missing: the reason says what.
    | Missing of reason: string
    | Available of load: (unit -> LoadedDataset)

type DatasetProvider =
    { Name: string
      Provide: ExperimentConfig -> Provision }

let sha256File (path: string) =
    use stream = File.OpenRead path
    Convert.ToHexString(SHA256.HashData stream).ToLowerInvariant()

/// Build the training data and the test part from full embeddings and qrels by the split rule.
let assemble (name: string) (corpus: EmbeddingMatrix) (queries: EmbeddingMatrix) (trainQrels: Qrels option) (testQrels: Qrels)
             (rule: SplitRule) (seed: int64) (dropSelf: bool) (checksums: Map<string, string>) =
    let parts = Splits.split rule trainQrels testQrels
    let known = queries.IndexById()
    let need (ids: string list) what =
        match ids |> List.filter (known.ContainsKey >> not) with
        | [] -> ()
        | missing -> failwithf "%s: %d %s queries have no embedding (first: %s)" name missing.Length what missing.Head
    need parts.Train "train"
    need parts.Validation "validation"
    need parts.Test "test"
    let judgements = match rule with GivenTrainTest _ -> trainQrels.Value | QueryHalves _ -> testQrels
    let training =
        TrainingData(
            corpus,
            queries.Select(List.toArray (parts.Train @ parts.Validation)),
            judgements.Restrict parts.Train,
            judgements.Restrict parts.Validation,
            seed
        )
    { Name = name
      Training = training
      TestQueries = queries.Select(List.toArray parts.Test)
      Test = testQrels.Restrict parts.Test
      DropSelfMatches = dropSelf
      Checksums = checksums
      Notes =
        [ Splits.describe rule
          sprintf "%d train, %d validation, %d test queries; %d documents" parts.Train.Length parts.Validation.Length parts.Test.Length corpus.Rows ] }

let private checksumsOf (files: string list) =
    files |> List.map (fun f -> Path.GetFileName(Path.GetDirectoryName f) + "/" + Path.GetFileName f, sha256File f) |> Map.ofList

/// Precomputed embeddings in the data mirror: embeddings/<dataset>/<encoder>/{corpus,queries}.npy
/// with their .ids.txt, and the BEIR-layout qrels beir/<dataset>/qrels/{train,test}.tsv.
let mirrorEmbeddings (dataRoot: string option) : DatasetProvider =
    let provide (config: ExperimentConfig) =
        match config.Source, dataRoot with
        | Manifest _, _ -> NotMine
        | Mirror, None -> NotMine
        | Mirror, Some root ->
            let folder = Path.Combine(root, "embeddings", config.Dataset, config.Encoder)
            let qrelsFolder = Path.Combine(root, "beir", config.Dataset, "qrels")
            let file name = Path.Combine(folder, name)
            let files = [ file "corpus.npy"; file "corpus.ids.txt"; file "queries.npy"; file "queries.ids.txt" ]
            let testQrels = Path.Combine(qrelsFolder, "test.tsv")
            let trainQrels = Path.Combine(qrelsFolder, "train.tsv")
            if not (files |> List.forall File.Exists) || not (File.Exists testQrels) then NotMine
            else
                Available(fun () ->
                    let train = if File.Exists trainQrels then Some(Qrels.Read trainQrels) else None
                    let inputs = files @ [ testQrels ] @ (if File.Exists trainQrels then [ trainQrels ] else [])
                    assemble (sprintf "%s x %s (mirror)" config.Dataset config.Encoder)
                        (Npy.ReadEmbeddings(file "corpus.npy", file "corpus.ids.txt"))
                        (Npy.ReadEmbeddings(file "queries.npy", file "queries.ids.txt"))
                        train (Qrels.Read testQrels) config.Split config.Seed false (checksumsOf inputs))
    { Name = "data mirror (precomputed embeddings)"; Provide = provide }

/// The entry of a manifest that a config names (by fingerprint, dataset and encoder).
let manifestEntry (manifest: EmbeddingsManifest option) (config: ExperimentConfig) =
    match config.Source, manifest with
    | Manifest fingerprint, Some m ->
        m.Entries |> List.tryFind (fun e -> e.Fingerprint = fingerprint && e.Dataset = config.Dataset && e.Encoder = config.Encoder)
    | _ -> None

/// A user's embeddings manifest (the paper profile).
let manifestProvider (manifest: EmbeddingsManifest option) : DatasetProvider =
    let provide (config: ExperimentConfig) =
        match config.Source with
        | Mirror -> NotMine
        | Manifest _ ->
            match manifestEntry manifest config with
            | None ->
                Missing(sprintf "no entry of the embeddings manifest matches %s x %s with these files (was the manifest changed?)" config.Dataset config.Encoder)
            | Some e ->
                Available(fun () ->
                    let inputs = [ e.Corpus; e.CorpusIds; e.Queries; e.QueryIds; e.QrelsTest ] @ Option.toList e.QrelsTrain
                    assemble (sprintf "%s x %s (manifest line %d)" e.Dataset e.Encoder e.Line)
                        (Npy.ReadEmbeddings(e.Corpus, e.CorpusIds))
                        (Npy.ReadEmbeddings(e.Queries, e.QueryIds))
                        (e.QrelsTrain |> Option.map Qrels.Read) (Qrels.Read e.QrelsTest) config.Split config.Seed e.DropSelfMatches
                        (inputs |> List.map (fun f -> f, sha256File f) |> Map.ofList))
    { Name = "embeddings manifest"; Provide = provide }

/// Why no provider has the data: what is not wired in yet, and where it comes from.
let private notProvided (config: ExperimentConfig) =
    match config.Dataset with
    | "cifar10" | "fashion-mnist" | "flickr8k-1k" | "flickr8k-1k-t2i" | "flickr8k-1k-i2t" ->
        sprintf "%s x %s: image features are not implemented yet (the image-features task)" config.Dataset config.Encoder
    | _ ->
        sprintf "%s x %s: no embeddings yet; they come from the encoders and the embedding cache (branch data), not wired into the catalog yet"
            config.Dataset config.Encoder

/// The first provider that handles the config.
let resolve (providers: DatasetProvider list) (config: ExperimentConfig) : Provision =
    providers
    |> List.map (fun p -> p.Provide config)
    |> List.tryFind (function NotMine -> false | _ -> true)
    |> Option.defaultValue (Missing(notProvided config))
