/// Resolving an experiment's (dataset, encoder, source) to embeddings and judgements. Providers are
/// a list: the project's encoders with their embedding cache (which reuses the mirror's
/// precomputed embeddings), a user's embeddings manifest, and image features (ImageDatasets).
module Smec.Experiments.Running.Datasets

open System
open System.IO
open Smec.Core.Data
open Smec.Core.Data.Manifests
open Smec.Core.Methods
open Smec.Core.Storage
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.EmbeddingsManifest

/// Everything a retrieval experiment needs; the test split is kept apart from `Training`.
type LoadedDataset =
    { Name: string
      Training: TrainingData
      TestQueries: EmbeddingMatrix
      /// The documents the test queries search; None = Training.Corpus (text datasets). Image
      /// items search a held-out gallery that training never sees.
      TestCorpus: EmbeddingMatrix option
      Test: Qrels
      /// Drop the document whose id equals the query id (BEIR's rule for Quora and ArguAna).
      DropSelfMatches: bool
      /// File name -> SHA-256 of every input file.
      Checksums: Map<string, string>
      /// Figures of the data itself, recorded with every experiment on it (e.g. item 5's joint
      /// space's own held-out recall, which a claim checks).
      DataMeasurements: Map<string, float>
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

/// The checksums of the copy of a project dataset actually used (its data identity), as
/// "dataset/path" -> SHA-256 plus "data identity dataset" -> "reference" or the identity hash.
/// Never the manifest's pinned sums: a copy with other bytes is recorded as what it is.
let dataIdentityChecksums (dataset: DatasetManifest) =
    let identity = DatasetLoader.Identity dataset
    [ yield sprintf "data identity %s" dataset.Id, identity.Name
      if identity.DatasetId <> dataset.Id then
          // A substitute stood in (e.g. CIFAR-10's original archive for the mirror's JPEG copy): say so.
          yield sprintf "data source %s" dataset.Id, sprintf "%s (substitute; %s)" identity.DatasetId (ManifestCatalog.Default.Dataset identity.DatasetId).Title
      for (path, sha) in identity.Files -> sprintf "%s/%s" dataset.Id path, sha ]

let private identityNames = System.Collections.Concurrent.ConcurrentDictionary<string, string option>()

/// The data identity of the local copy of a project dataset ("reference" for the mirror's and
/// the embedded bytes), or None when the dataset is not a project dataset or is not here (no
/// download is started). Computed once per process.
let identityName (datasetId: string) : string option =
    match identityNames.TryGetValue datasetId with
    | true, known -> known
    | _ ->
        match (try Some ManifestCatalog.Default with _ -> None) with
        | None -> None
        | Some catalog ->
            match catalog.Datasets.TryGetValue datasetId with
            | true, d when d.Format <> "external" ->
                try
                    let identity = DatasetLoader.Identity(d, DataLoadOptions(AllowDownload = false))
                    // A substitute's identity names it: "cifar10-official:<hash>".
                    let name = if identity.DatasetId = d.Id then identity.Name else identity.DatasetId + ":" + identity.Name
                    identityNames[datasetId] <- Some name
                    Some name
                with :? DataUnavailableException | :? DataVerificationException -> None // not here yet: ask again later
            | _ ->
                identityNames[datasetId] <- None
                None

/// The data a cell's numbers are made on: "" when every project dataset its experiments read is
/// the reference copy (or not here), else "dataset=identity" pairs in dataset order. Recorded
/// with blessed values; a regression check compares only values made on the same data.
let cellDataIdentity (quantity: Quantity) =
    let named =
        Smec.Experiments.Catalog.Catalog.experimentsOf quantity
        |> List.filter (fun c -> c.Source = Mirror)
        |> List.map (fun c -> c.Dataset)
        |> List.distinct
        |> List.sort
        |> List.map (fun d -> d, identityName d |> Option.defaultValue DataIdentity.ReferenceName)
    if named |> List.forall (fun (_, i) -> i = DataIdentity.ReferenceName) then ""
    else named |> List.map (fun (d, i) -> d + "=" + i) |> String.concat ";"

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
    let judgements, testJudgements = Splits.judgementsOf rule trainQrels testQrels
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
      TestCorpus = None
      Test = testJudgements.Restrict parts.Test
      DropSelfMatches = dropSelf
      Checksums = checksums
      DataMeasurements = Map.empty
      Notes =
        [ Splits.describe rule
          sprintf "%d train, %d validation, %d test queries; %d documents" parts.Train.Length parts.Validation.Length parts.Test.Length corpus.Rows ] }

/// The report's line on where an experiment's split rule came from: the dataset's own rule
/// (SplitRules: its manifest's `split` field or the default), or the experiment's config.
let private withSplitSource (rule: SplitRule) (source: SplitRules.RuleSource) (config: ExperimentConfig) (loaded: LoadedDataset) =
    let line =
        // A fold's config is its dataset's k-fold rule with the fold named.
        if rule = Splits.unfolded config.Split then SplitRules.describe rule source
        else "split rule: set by the experiment's config, not the dataset's own rule"
    { loaded with Notes = loaded.Notes @ [ line ] }

/// A text dataset as the data layer gives it: its embeddings by one encoder (EmbeddingStore: the
/// mirror's precomputed files when their key matches, else the cache, else encoded now) and its
/// judgements by split (DatasetLoader, which verifies checksums and applies relevance mappings).
let loadText (dataset: string) (encoder: string) (showProgress: bool) =
    let encoded = EmbeddingStore.GetOrBuild(dataset, encoder, EncodeOptions(ShowProgress = showProgress))
    let text = DatasetLoader.LoadText dataset
    encoded, text.QrelsBySplit

/// The project's own text data: embeddings from EmbeddingStore (the mirror's precomputed files
/// when their key matches, else the embedding cache, else the encoder, then cached), judgements
/// from DatasetLoader (which applies each dataset's relevance mapping, e.g. Cranfield's codes).
let encoderStore () : DatasetProvider =
    let provide (config: ExperimentConfig) =
        match config.Source with
        | Manifest _ -> NotMine
        | Mirror ->
            let catalog = try Some ManifestCatalog.Default with _ -> None
            let dataset = catalog |> Option.bind (fun c -> match c.Datasets.TryGetValue config.Dataset with | true, d -> Some d | _ -> None)
            let encoder = catalog |> Option.bind (fun c -> match c.Encoders.TryGetValue config.Encoder with | true, e -> Some e | _ -> None)
            match dataset, encoder with
            | Some d, Some e when d.Kind = "text-retrieval" && e.Kind <> "precomputed" ->
                Available(fun () ->
                    let encoded, qrelsBySplit = loadText config.Dataset config.Encoder true
                    let split name = match qrelsBySplit.TryGetValue name with | true, q -> Some q | _ -> None
                    let test =
                        match split "test", split "all" with
                        | Some q, _ | None, Some q -> q
                        | None, None -> failwithf "dataset '%s' has neither a 'test' nor an 'all' qrels split" config.Dataset
                    let checksums =
                        [ yield "embeddings key", encoded.Key
                          for KeyValue(part, origin) in encoded.Origins -> sprintf "embeddings %s from" part, origin
                          yield! dataIdentityChecksums d ]
                        |> Map.ofList
                    let rule, source = SplitRules.ofDatasetWithSource config.Dataset
                    assemble (sprintf "%s x %s" config.Dataset config.Encoder) encoded.Corpus encoded.Queries (split "train") test
                        config.Split config.Seed false checksums
                    |> withSplitSource rule source config)
            | _ -> NotMine
    { Name = "encoders and embedding cache"; Provide = provide }

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
                        (Smec.Core.Encoders.PrecomputedEncoder.Read(e.Corpus, e.CorpusIds)) // .npy or .safetensors
                        (Smec.Core.Encoders.PrecomputedEncoder.Read(e.Queries, e.QueryIds))
                        (e.QrelsTrain |> Option.map Qrels.Read) (Qrels.Read e.QrelsTest) config.Split config.Seed e.DropSelfMatches
                        (inputs |> List.map (fun f -> f, FileChecksums.Sha256 f) |> Map.ofList)
                    |> withSplitSource (Smec.Experiments.Catalog.Builders.manifestSplit e) SplitRules.Default config)
    { Name = "embeddings manifest"; Provide = provide }

/// Why no provider has the data.
let private notProvided (config: ExperimentConfig) =
    sprintf "%s x %s: no data-manifests entry for this dataset and encoder" config.Dataset config.Encoder

/// The test split's documents: the held-out gallery where there is one, else the training corpus.
let testCorpus (data: LoadedDataset) = data.TestCorpus |> Option.defaultValue data.Training.Corpus

/// The first provider that handles the config.
let resolve (providers: DatasetProvider list) (config: ExperimentConfig) : Provision =
    providers
    |> List.map (fun p -> p.Provide config)
    |> List.tryFind (function NotMine -> false | _ -> true)
    |> Option.defaultValue (Missing(notProvided config))
