/// The local image items as catalog datasets, on the Core pieces (Smec.Core ImageRetrieval and
/// Multimodal). Item 4 (cifar10, fashion-mnist x resnet18): compressors learn on the class-balanced
/// training subset (ClassRelevanceTraining); the report searches the held-out test gallery, every
/// image querying the rest of it (itself excluded), same class = relevant. Item 5 (flickr8k-1k-t2i,
/// flickr8k-1k-i2t x flickr8k-joint): the learned joint space (MultimodalExperiment), trained once
/// per process and shared by both directions and every method; compressors learn on its
/// compressor-training and validation images (CrossModalTraining), the report searches the held-out images.
module Smec.Experiments.Running.ImageDatasets

open System
open System.Collections.Concurrent
open Smec.Core.Data.Manifests
open Smec.Core.ImageRetrieval
open Smec.Core.Methods
open Smec.Core.Metrics
open Smec.Core.Multimodal
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Items
open Smec.Experiments.Running.Datasets

// ---- item 4: class-labelled images ------------------------------------------------------------

let imageDatasets = [ "cifar10"; "fashion-mnist" ]

/// Seed of the training images held out for validation. Fixed apart from the training seed (as
/// Splits.ValidationSeed is for text), so every method and seed sees the same images.
[<Literal>]
let ImageValidationSeed = 1L

/// The subsets of item 4 (200 train / 100 test per class, 20 held out, subset seed 0).
let imageConfig (dataset: string) (encoder: string) = ImageRetrievalConfig(Dataset = dataset, Encoder = encoder)

/// SHA-256 of the dataset's files as used (its data identity).
let private manifestChecksums (dataset: string) =
    match ManifestCatalog.Default.Datasets.TryGetValue dataset with
    | true, d -> Datasets.dataIdentityChecksums d
    | _ -> []

/// Where the images came from, when a substitute stood in for the catalog's dataset (the report says so).
let private imageSourceNotes (dataset: string) =
    match ManifestCatalog.Default.Datasets.TryGetValue dataset with
    | true, d ->
        let used: DatasetManifest = Smec.Core.Data.DatasetLocator.Effective d
        if used.Id = d.Id then []
        else [ sprintf "images from %s (%s) in place of %s, which is not here: other pixels, so these numbers are keyed by their own data identity and not compared with %s's blessed values" used.Id used.Title d.Id d.Id ]
    | _ -> []

/// Each gallery image judges every other same-class gallery image relevant (gain 1); the image
/// itself is not judged and, with DropSelfMatches, not ranked: what ClassRelevanceEvaluation scores.
let galleryQrels (gallery: LabelledEmbeddings) =
    LabelRelevance.SameClass(gallery.Embeddings.Ids, gallery.Labels, gallery.Embeddings.Ids, gallery.Labels)

/// Item 4's dataset from loaded features (the test gallery never reaches Training).
let imageDataset (features: ImageFeatures) : LoadedDataset =
    let config = features.Config
    let training = ClassRelevanceTraining.Build(features.Train, config.ValidationPerClass, ImageValidationSeed)
    let gallery = features.Test
    let test = galleryQrels gallery
    { Name = sprintf "%s x %s" config.Dataset config.Encoder
      Training = training
      TestQueries = gallery.Embeddings
      TestCorpus = Some gallery.Embeddings
      Test = test
      DropSelfMatches = true
      DataMeasurements = Map.empty
      Checksums =
        [ yield "features key", features.CacheKey
          for KeyValue(part, origin) in features.Origins -> sprintf "features %s from" part, origin
          yield! manifestChecksums config.Dataset ]
        |> Map.ofList
      Notes =
        imageSourceNotes config.Dataset @
        [ sprintf "%s %d-d features of class-balanced subsets (seed %d): %d train images (%d per class), %d per class held out for validation (seed %d); test gallery %d images (%d per class), never trained on"
              config.Encoder features.EncoderDim config.SubsetSeed features.Train.Rows config.TrainPerClass config.ValidationPerClass
              ImageValidationSeed gallery.Rows config.TestPerClass
          sprintf "relevance = same class (binary gain); each of the %d judged test images queries the rest of the gallery, itself excluded" test.QueryCount
          sprintf "%d training corpus images, %d train and %d validation queries" training.Corpus.Rows training.Train.QueryCount training.Validation.QueryCount ] }

/// Item 4's provider: cifar10 / fashion-mnist with ResNet18 features (embedding cache, else encoded now).
let imageProvider () : DatasetProvider =
    let provide (config: ExperimentConfig) =
        match config.Source with
        | Mirror when List.contains config.Dataset imageDatasets ->
            if config.Encoder <> "resnet18" then
                Missing(sprintf "%s x %s: image features exist for resnet18 only" config.Dataset config.Encoder)
            else
                Available(fun () -> imageDataset (ImageRetrievalExperiment.LoadFeatures(imageConfig config.Dataset config.Encoder, true)))
        | _ -> NotMine
    { Name = "image features (item 4)"; Provide = provide }

// ---- item 5: the learned joint space --------------------------------------------------------

/// The encoder name the catalog gives the joint space.
let jointEncoder = Item5Multimodal.flickrJoint
let multimodalDatasets = [ "flickr8k-1k-t2i", CrossModalDirection.TextToImage; "flickr8k-1k-i2t", CrossModalDirection.ImageToText ]

/// Item 5's setting (400 joint / 300 compressor / 100 validation / 200 held-out images, seeds 0).
let multimodalConfig () = MultimodalConfig()

/// Prepared joint spaces by config description: trained once per process, shared by both panels and every method.
let private prepared = ConcurrentDictionary<string, Lazy<MultimodalFeatures * JointSpacePrepared>>()

let private describeConfig (config: MultimodalConfig) =
    config.Describe() |> Seq.map (fun kv -> kv.Key + "=" + kv.Value) |> String.concat "\n"

/// The joint space for a config, prepared on first use.
let jointSpace (config: MultimodalConfig) =
    let create _ =
        lazy
            (let features = MultimodalExperiment.LoadFeatures(config, true)
             features, MultimodalExperiment.PrepareJointSpace features)
    prepared.GetOrAdd(describeConfig config, create).Value

/// Item 5's dataset for one direction: training from the compressor-training and validation images,
/// the test part from the held-out images only.
let multimodalDataset (name: string) (features: MultimodalFeatures) (space: JointSpacePrepared) (direction: CrossModalDirection) : LoadedDataset =
    let config = space.Config
    // The seed only stamps the training data; the runner restamps it with each config's seed.
    let training = CrossModalTraining.Build(space.CompressorTrain, space.Validation, direction, 0L)
    let test = space.Test
    let queries, documents, qrels =
        match direction with
        | CrossModalDirection.TextToImage -> test.Captions, test.Images, test.TextToImageQrels()
        | _ -> test.Images, test.Captions, test.ImageToTextQrels()
    let report = space.Report
    let t2i, i2t = report.HeldOutTextToImage, report.HeldOutImageToText
    let invariant (v: float) = v.ToString("F3", Globalization.CultureInfo.InvariantCulture)
    { Name = name
      Training = training
      TestQueries = queries
      TestCorpus = Some documents
      Test = qrels
      DropSelfMatches = false
      DataMeasurements =
        Map.ofList
            [ Item5Multimodal.jointSpaceMeasure "t2i" "recall_1", t2i.RecallAt1
              Item5Multimodal.jointSpaceMeasure "t2i" "recall_5", t2i.RecallAt5
              Item5Multimodal.jointSpaceMeasure "t2i" "recall_10", t2i.RecallAt10
              Item5Multimodal.jointSpaceMeasure "t2i" "ndcg_cut_10", t2i.Ndcg10
              Item5Multimodal.jointSpaceMeasure "i2t" "recall_10", i2t.RecallAt10
              Item5Multimodal.jointSpaceMeasure "i2t" "ndcg_cut_10", i2t.Ndcg10 ]
      Checksums =
        [ yield "image features key", features.ImageKey
          yield "caption features key", features.TextKey
          for KeyValue(part, origin) in features.Origins -> sprintf "features %s from" part, origin
          yield! manifestChecksums config.Dataset ]
        |> Map.ofList
      Notes =
        [ sprintf "a LEARNED joint space (%d-d, %s projections of %s images and %s captions, symmetric InfoNCE) stands in for the paper's 768-d multimodal encoder"
              config.Joint.Dim (if config.Joint.HiddenDim = 0 then "linear" else sprintf "2-layer (hidden %d)" config.Joint.HiddenDim)
              config.ImageEncoder config.TextEncoder
          sprintf "split by image (seed %d): %d joint-space / %d compressor-training / %d validation / %d held-out images; the held-out images are the test split"
              config.SplitSeed config.JointTrainImages config.CompressorTrainImages config.ValidationImages config.TestImages
          sprintf "joint space alone on the %d held-out images: text->image R@1 %s R@5 %s R@10 %s (required >= 0.5: %s), nDCG@10 %s; image->text recall@10 %s, nDCG@10 %s"
              space.Split.Test.Count (invariant t2i.RecallAt1) (invariant t2i.RecallAt5) (invariant t2i.RecallAt10)
              (if t2i.RecallAt10 >= 0.5 then "met" else "NOT met") (invariant t2i.Ndcg10) (invariant i2t.RecallAt10) (invariant i2t.Ndcg10)
          sprintf "%d test queries (%s), %d documents; %d train and %d validation queries"
              queries.Rows (if direction = CrossModalDirection.TextToImage then "captions, relevant = their image" else "images, relevant = their 5 captions")
              documents.Rows training.Train.QueryCount training.Validation.QueryCount ] }

/// Item 5's provider: flickr8k-1k-t2i / flickr8k-1k-i2t in the learned joint space.
let multimodalProvider () : DatasetProvider =
    let provide (config: ExperimentConfig) =
        match config.Source, multimodalDatasets |> List.tryFind (fun (name, _) -> name = config.Dataset) with
        | Mirror, Some(name, direction) ->
            if config.Encoder <> jointEncoder then
                Missing(sprintf "%s x %s: the multimodal panels use the learned joint space '%s'" config.Dataset config.Encoder jointEncoder)
            else
                Available(fun () ->
                    let features, space = jointSpace (multimodalConfig ())
                    multimodalDataset name features space direction)
        | _ -> NotMine
    { Name = "learned joint space (item 5)"; Provide = provide }
