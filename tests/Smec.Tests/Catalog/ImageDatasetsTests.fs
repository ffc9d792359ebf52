/// Items 4 and 5 in the catalog: the image providers resolve their datasets, the test images never
/// reach training, class relevance as qrels scores what ClassRelevanceEvaluation scores, and a
/// reduced item-4 table through the runner gives the numbers of the same methods fitted and scored directly. Real cached features
/// (the embedding cache; encoded on first use).
module Smec.Tests.Catalog.ImageDatasetsTests

open System.Collections.Generic
open Expecto
open Smec.Core.ImageRetrieval
open Smec.Core.Methods
open Smec.Core.Methods.Baselines
open Smec.Core.Metrics
open Smec.Core.Multimodal
open Smec.Core.Retrieval
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Running.Datasets
open Smec.Experiments.Methods
open Smec.Experiments.Verdicts
open Smec.Tests.TestSupport
open Smec.Tests.Catalog.CatalogTestSupport

let private context = { Seeds = [ 1L ]; Manifest = None }

/// The distinct (dataset, encoder) retrieval configs of a local item.
let private retrievalConfigs (item: int) =
    Catalog.tableExperiments (Catalog.build item Local context)
    |> List.filter (fun c -> c.Kind = Retrieval)
    |> List.distinctBy (fun c -> c.Dataset, c.Encoder)

let private load (config: ExperimentConfig) =
    let env, _ = environment (System.IO.Path.GetTempPath()) MethodRegistry.standard None
    match resolve env.Datasets config with
    | Available load -> load ()
    | other -> failtestf "%s x %s did not resolve: %A" config.Dataset config.Encoder other

/// Every id the training data holds: corpus, queries, and both qrels (queries and judged documents).
let private trainingIds (data: LoadedDataset) =
    let t = data.Training
    let judged (q: Smec.Core.Data.Qrels) = [ for id in q.QueryIds do yield id; yield! (q.ForQuery id).Keys ]
    set [ yield! t.Corpus.Ids; yield! t.Queries.Ids; yield! judged t.Train; yield! judged t.Validation ]

let private expectNoTestInTraining (data: LoadedDataset) =
    let training = trainingIds data
    let test = set [ yield! data.TestQueries.Ids; yield! (testCorpus data).Ids ]
    Expect.isNonEmpty test "a test split"
    Expect.isEmpty (Set.intersect training test) (sprintf "%s: no test id in the training data" data.Name)

[<Tests>]
let tests =
    testSequenced <| testList "Catalog.ImageDatasets" [
        testCase "the standard providers resolve the four image datasets of items 4 and 5" <| fun () ->
            let env, _ = environment (System.IO.Path.GetTempPath()) MethodRegistry.standard None
            let configs = retrievalConfigs 4 @ retrievalConfigs 5
            Expect.equal (configs |> List.map (fun c -> c.Dataset) |> set)
                (set [ "cifar10"; "fashion-mnist"; "flickr8k-1k-t2i"; "flickr8k-1k-i2t" ]) "the local items name these datasets"
            for c in configs do
                match resolve env.Datasets c with
                | Available _ -> ()
                | other -> failtestf "%s x %s: %A" c.Dataset c.Encoder other

        testCase "item 4: the test gallery is the report's corpus and never reaches training" <| fun () ->
            for config in retrievalConfigs 4 do
                let data = load config
                expectNoTestInTraining data
                Expect.isTrue data.DropSelfMatches "a gallery image does not retrieve itself"
                Expect.equal data.TestQueries.Rows 1000 "100 test images per class, 10 classes"
                Expect.equal (testCorpus data).Ids data.TestQueries.Ids "each test image queries the rest of the gallery"
                // 200 per class, 20 per class held out: 1,800 corpus images, 200 validation queries.
                Expect.equal data.Training.Corpus.Rows 1800 "training corpus"
                Expect.equal data.Training.Validation.QueryCount 200 "validation queries"
                for id in data.Test.QueryIds do
                    Expect.isFalse ((data.Test.ForQuery id).ContainsKey id) "an image is not judged relevant to itself"
                Expect.isTrue (data.Checksums.ContainsKey "features key") "the features' cache key is recorded"

        testCase "item 5: held-out images and their captions never reach training; one joint space serves both panels" <| fun () ->
            let datasets = retrievalConfigs 5 |> List.map load
            for data in datasets do expectNoTestInTraining data
            let t2i = datasets |> List.find (fun d -> d.Name = "flickr8k-1k-t2i")
            let i2t = datasets |> List.find (fun d -> d.Name = "flickr8k-1k-i2t")
            Expect.equal t2i.TestQueries.Ids (testCorpus i2t).Ids "t2i queries are i2t's documents (the held-out captions)"
            Expect.equal i2t.TestQueries.Rows 200 "200 held-out images"
            Expect.equal t2i.TestQueries.Rows 1000 "their 5 captions each"
            for id in i2t.Test.QueryIds do Expect.equal (i2t.Test.ForQuery id).Count 5 "an image's 5 captions are relevant"
            for id in t2i.Test.QueryIds do Expect.equal (t2i.Test.ForQuery id).Count 1 "a caption's own image is relevant"
            let (_, first), (_, second) = ImageDatasets.jointSpace (ImageDatasets.multimodalConfig ()), ImageDatasets.jointSpace (ImageDatasets.multimodalConfig ())
            Expect.isTrue (obj.ReferenceEquals(first, second)) "the joint space is prepared once per process"
            Expect.isTrue (t2i.Notes |> List.exists (fun n -> n.Contains "R@10")) "the joint space's held-out R@10 is in the notes"
            let key = Smec.Experiments.Catalog.Items.Item5Multimodal.jointSpaceMeasure "t2i" "recall_10"
            Expect.equal (t2i.DataMeasurements.TryFind key) (Some first.Report.HeldOutTextToImage.RecallAt10) "and in the measurements the claim reads"
            Expect.equal i2t.DataMeasurements t2i.DataMeasurements "both panels record the same joint space"

        testCase "class relevance as qrels: nDCG@10 and P@10 equal ClassRelevanceEvaluation's on real CIFAR-10 features" <| fun () ->
            let features = ImageRetrievalExperiment.LoadFeatures(ImageDatasets.imageConfig "cifar10" "resnet18", false)
            // A small real gallery: the first 300 test images (classes of unequal size), PCA to 32 dims
            // fitted on the training subset so that near-ties occur as in a real cell.
            let gallery = features.Test.SelectRows([| 0 .. 299 |])
            let pca = new Pca([| 32 |]) :> ICompressor
            pca.Fit(ClassRelevanceTraining.Build(features.Train, 20, 1L))
            let queries = pca.Compress(gallery.Embeddings, 32, EmbeddingRole.Query)
            let docs = pca.Compress(gallery.Embeddings, 32, EmbeddingRole.Document)
            let expected = ClassRelevanceEvaluation.Evaluate(queries, docs, gallery.Labels)
            let result =
                RetrievalEvaluation.Evaluate(queries, docs, ImageDatasets.galleryQrels gallery, [| Measure.Ndcg10; Measure.PrecisionAt 10 |],
                                             SearchOptions(IgnoreIdenticalIds = true))
            // Same search, same tie order, same per-query measure code: only the order of summing
            // the per-query values may differ, so 1e-12.
            let tolerance = { absolute = 1e-12; relative = 0.0 }
            Expect.equal result.QueryCount expected.Queries "the same queries are judged"
            Expect.floatClose tolerance (result.Mean Measure.Ndcg10) expected.Ndcg10 "nDCG@10"
            Expect.floatClose tolerance (result.Mean(Measure.PrecisionAt 10)) expected.PrecisionAt10 "P@10"

        testCase "item 4 through the runner: PCA and truncation on CIFAR-10 equal the method fitted and scored directly" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path MethodRegistry.standard None
            let spec = Catalog.build 4 Local context
            let keep (c: Cell) = c.Panel = "CIFAR-10" && (c.Row = Profiles.pca.Row || c.Row = Profiles.truncation.Row)
            let reduced = { spec with Cells = spec.Cells |> List.filter keep; Claims = [] }
            let result = TableRun.reproduce env (published ()) Runner.defaultOptions reduced
            Expect.equal result.Planned.Length 2 "two experiments: PCA and truncation (every dim in each)"
            // The direct path: fit on the class-balanced training subset, score the test gallery with
            // ClassRelevanceEvaluation (its own search and measures, not the runner's qrels path).
            let features = ImageRetrievalExperiment.LoadFeatures(ImageDatasets.imageConfig "cifar10" "resnet18", false)
            let training = ClassRelevanceTraining.Build(features.Train, features.Config.ValidationPerClass, ImageDatasets.ImageValidationSeed)
            let gallery = features.Test
            let dims = List<int>(Profiles.localImageDims)
            for row, method in [ Profiles.pca.Row, (new Pca(dims) :> ICompressor); Profiles.truncation.Row, (new Truncation(dims) :> ICompressor) ] do
                use method = method
                method.Fit training
                for d in Profiles.localImageDims do
                    let direct =
                        ClassRelevanceEvaluation.Evaluate(
                            method.Compress(gallery.Embeddings, d, EmbeddingRole.Query), method.Compress(gallery.Embeddings, d, EmbeddingRole.Document), gallery.Labels)
                    let c = result.Cells |> List.find (fun c -> c.Cell.Row = row && c.Cell.Column = string d)
                    match c.Value with
                    | Quantities.Value v ->
                        // The same fit and the same rankings; the two means sum per-query values in
                        // different orders, so 1e-12.
                        Expect.floatClose { absolute = 1e-12; relative = 0.0 } v.Mean direct.Ndcg10 (sprintf "%s @%d" row d)
                    | Quantities.Gap g -> failtestf "%s @%d has no value: %s" row d g.Reason
    ]
