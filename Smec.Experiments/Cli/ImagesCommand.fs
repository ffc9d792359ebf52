/// `smec images`: the local image (catalog item 4) and multimodal (item 5) experiments, end to
/// end, printed as tables: features from the embedding cache or encoded now, every method fitted
/// on the training images and scored on the held-out test images at every dim.
module Smec.Experiments.Cli.ImagesCommand

open System
open System.Collections.Generic
open System.Diagnostics
open System.Globalization
open Argu
open Smec.Core.ImageRetrieval
open Smec.Core.Methods
open Smec.Core.Methods.Baselines
open Smec.Core.Multimodal

type ImagesArgs =
    | Item of number: int
    | Datasets of ids: string list
    | Methods of names: string list
    | Seed of seed: int64
    | Train_Per_Class of n: int
    | Test_Per_Class of n: int
    | Validation_Per_Class of n: int
    | Joint_Hidden of width: int
    | Sa_Grid of string
    | Max_Steps of n: int
    | Patience_Steps of n: int
    | Evaluate_Every of n: int
    | Features_Only
    | No_Progress

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Item _ -> "4 (image retrieval: CIFAR-10, Fashion-MNIST) or 5 (multimodal: Flickr8k-1k); default both"
            | Datasets _ -> "item 4 datasets (default cifar10 fashion-mnist)"
            | Methods _ -> sprintf "methods to run (default all: %s)" (String.Join(", ", ImageMethods.names))
            | Seed _ -> "training seed of the compressors (default 1)"
            | Train_Per_Class _ -> "item 4: training images per class (default 200)"
            | Test_Per_Class _ -> "item 4: test gallery images per class (default 100)"
            | Validation_Per_Class _ -> "item 4: training images per class held out for early stopping (default 20)"
            | Joint_Hidden _ -> "item 5: hidden width of the joint-space projections (0 = linear)"
            | Sa_Grid _ -> "Search-Adaptor (alpha, beta) grid: reduced (3 diagonal points, default here for the time budget) or full (3 x 3)"
            | Max_Steps _ -> "step budget of each training run of a trained method (default 500; class labels on 1,800 images overfit within a few hundred steps)"
            | Patience_Steps _ -> "early stopping: steps without a validation gain (default 150)"
            | Evaluate_Every _ -> "validate every N steps (default 25)"
            | Features_Only -> "encode (or load) the features and stop"
            | No_Progress -> "no progress bars"

let private invariant (format: string) (value: float) = value.ToString(format, CultureInfo.InvariantCulture)

/// A table: a title, column headers (dims), and rows of (label, values); values printed x100 with one decimal.
let private printTable (title: string) (dims: int list) (rows: (string * float list) list) =
    printfn ""
    printfn "%s" title
    let width = max 22 (rows |> List.map (fst >> String.length) |> List.fold max 0)
    printfn "  %s %s" ("dims".PadRight width) (dims |> List.map (fun d -> (string d).PadLeft 7) |> String.concat "")
    for label, values in rows do
        printfn "  %s %s" (label.PadRight width) (values |> List.map (fun v -> (invariant "F1" (100.0 * v)).PadLeft 7) |> String.concat "")

let private timed (f: unit -> 'a) =
    let clock = Stopwatch.StartNew()
    let result = f ()
    result, clock.Elapsed.TotalSeconds

let private runImageItem (args: ParseResults<ImagesArgs>) (methods: ImageMethods.MethodEntry list) (options: ImageMethods.MethodOptions) seed =
    let datasets = args.GetResult(Datasets, defaultValue = [ "cifar10"; "fashion-mnist" ])
    for dataset in datasets do
        let config =
            ImageRetrievalConfig(
                Dataset = dataset,
                TrainPerClass = args.GetResult(Train_Per_Class, defaultValue = 200),
                TestPerClass = args.GetResult(Test_Per_Class, defaultValue = 100),
                ValidationPerClass = args.GetResult(Validation_Per_Class, defaultValue = 20))
        let features = ImageRetrievalExperiment.LoadFeatures(config, options.Progress)
        printfn ""
        printfn "== Item 4 (local): image retrieval on %s, %s %d-d features, class labels as relevance" dataset config.Encoder features.EncoderDim
        printfn "   train %d images (%d per class, %d per class held out for validation), test gallery %d images (%d per class), subset seed %d"
            features.Train.Rows config.TrainPerClass config.ValidationPerClass features.Test.Rows config.TestPerClass config.SubsetSeed
        printfn "   features: %s in %.1f s (key %s)" (features.Origins |> Seq.map (fun kv -> kv.Key + " " + kv.Value) |> String.concat ", ") features.Seconds features.CacheKey
        if not (args.Contains Features_Only) then
            let dims = List.ofSeq config.Dims
            let frozen = ClassRelevanceEvaluation.Evaluate(features.Test.Embeddings, features.Test.Embeddings, features.Test.Labels)
            let results =
                [ for m in methods do
                    let result = ImageRetrievalExperiment.Run(features, (fun dims inputDim -> m.Create options dims inputDim), seed)
                    eprintfn "%s on %s: fit %.1f s, evaluate %.1f s" m.Label dataset result.FitSeconds result.EvaluateSeconds
                    yield m.Label, result ]
            let rowsOf (pick: ClassRetrievalMetrics -> float) =
                [ for label, r in results -> label, [ for d in dims -> pick (r.At d) ] ]
            let frozenNote = sprintf "frozen %s at %d dims" config.Encoder features.EncoderDim
            printTable (sprintf "%s, nDCG@10 x100 (binary class relevance; %s: %.1f)" dataset frozenNote (100.0 * frozen.Ndcg10)) dims (rowsOf (fun m -> m.Ndcg10))
            printTable (sprintf "%s, mAP@R x100 (%s: %.1f)" dataset frozenNote (100.0 * frozen.MapAtR)) dims (rowsOf (fun m -> m.MapAtR))
            printTable (sprintf "%s, P@10 x100 (%s: %.1f)" dataset frozenNote (100.0 * frozen.PrecisionAt10)) dims (rowsOf (fun m -> m.PrecisionAt10))
            printfn "   %d test queries per cell; seed %d; fit seconds: %s" frozen.Queries seed
                (results |> List.map (fun (label, r) -> sprintf "%s %.0f" label r.FitSeconds) |> String.concat ", ")

let private runMultimodalItem (args: ParseResults<ImagesArgs>) (methods: ImageMethods.MethodEntry list) (options: ImageMethods.MethodOptions) seed =
    let config = MultimodalConfig(Joint = JointSpaceOptions(HiddenDim = args.GetResult(Joint_Hidden, defaultValue = 0), Progress = options.Progress))
    let features = MultimodalExperiment.LoadFeatures(config, options.Progress)
    printfn ""
    printfn "== Item 5 (local): multimodal retrieval on %s, %s images + %s captions in a learned joint space" config.Dataset config.ImageEncoder config.TextEncoder
    printfn "   %d images, %d captions; features: %s in %.1f s"
        features.Raw.Images.Rows features.Raw.Captions.Rows
        (features.Origins |> Seq.map (fun kv -> kv.Key + " " + kv.Value) |> String.concat ", ") features.Seconds
    if not (args.Contains Features_Only) then
        let prepared, jointSeconds = timed (fun () -> MultimodalExperiment.PrepareJointSpace features)
        let report = prepared.Report
        let t2i, i2t = report.HeldOutTextToImage, report.HeldOutImageToText
        printfn "   The joint space is a LEARNED STAND-IN for the paper's 768-d multimodal encoder: a %s projection of each"
            (if config.Joint.HiddenDim = 0 then "linear" else sprintf "2-layer (hidden %d)" config.Joint.HiddenDim)
        printfn "   modality into %d dims, symmetric InfoNCE, fitted on %d images; the compressors learn from %s, both stop early"
            config.Joint.Dim config.JointTrainImages
            (if prepared.Split.SharedTraining then "the same images" else sprintf "%d other images" config.CompressorTrainImages)
        printfn "   on %d validation images; %d images are held out (split seed %d)." config.ValidationImages config.TestImages config.SplitSeed
        printfn "   joint space alone, held-out %d images: text->image R@1 %.3f R@5 %.3f R@10 %.3f (chance R@10 %.3f), nDCG@10 %.3f"
            prepared.Split.Test.Count t2i.RecallAt1 t2i.RecallAt5 t2i.RecallAt10 (10.0 / float prepared.Split.Test.Count) t2i.Ndcg10
        printfn "   image->text recall@10 (share of the 5 captions) %.3f, nDCG@10 %.3f; trained %d steps (best %d) in %.1f s"
            i2t.RecallAt10 i2t.Ndcg10 report.Training.StepsRun report.Training.BestStep jointSeconds
        let dims = List.ofSeq config.Dims
        let results =
            [ for m in methods do
                let result = MultimodalExperiment.Run(prepared, (fun dims inputDim -> m.Create options dims inputDim), seed)
                eprintfn "%s on %s (both panels): fit %.1f s, evaluate %.1f s" m.Label config.Dataset result.FitSeconds result.EvaluateSeconds
                yield m.Label, result ]
        for direction, panel, full in [ CrossModalDirection.TextToImage, "a: text->image", t2i; CrossModalDirection.ImageToText, "b: image->text", i2t ] do
            let rowsOf (pick: CrossModalMetrics -> float) =
                [ for label, (r: MultimodalResult) in results -> label, [ for d in r.Panel direction -> pick d.Metrics ] ]
            printTable (sprintf "panel %s, nDCG@10 x100 (joint space at %d dims: %.1f)" panel config.Joint.Dim (100.0 * full.Ndcg10)) dims (rowsOf (fun m -> m.Ndcg10))
            printTable (sprintf "panel %s, recall@10 x100 (joint space at %d dims: %.1f)" panel config.Joint.Dim (100.0 * full.RecallAt10)) dims (rowsOf (fun m -> m.RecallAt10))
        printfn "   held-out queries: %d captions (panel a), %d images (panel b); seed %d"
            (prepared.Test.Captions.Rows) (prepared.Test.Images.Rows) seed

let run (args: ParseResults<ImagesArgs>) : int =
    let clock = Stopwatch.StartNew()
    let seed = args.GetResult(Seed, defaultValue = 1L)
    let options: ImageMethods.MethodOptions =
        { Progress = not (args.Contains No_Progress)
          SearchAdaptorGrid =
            match args.GetResult(Sa_Grid, defaultValue = "reduced") with
            | "reduced" -> List.ofSeq SearchAdaptorOptions.ReducedGrid
            | "full" -> List.ofSeq SearchAdaptorOptions.FullGrid
            | other -> failwithf "--sa-grid %s: expected full or reduced" other
          MaxSteps = args.GetResult(Max_Steps, defaultValue = 500)
          PatienceSteps = args.GetResult(Patience_Steps, defaultValue = 150)
          EvaluateEvery = args.GetResult(Evaluate_Every, defaultValue = 25) }
    let methods = ImageMethods.select (args.GetResult(Methods, defaultValue = ImageMethods.names))
    let items = match args.TryGetResult Item with Some n -> [ n ] | None -> [ 4; 5 ]
    for item in items do
        let itemClock = Stopwatch.StartNew()
        match item with
        | 4 -> runImageItem args methods options seed
        | 5 -> runMultimodalItem args methods options seed
        | n -> failwithf "--item %d: `smec images` runs items 4 and 5" n
        printfn ""
        printfn "item %d took %.1f s (SMEC_THREADS=%s, load average %s)" item itemClock.Elapsed.TotalSeconds
            (Environment.GetEnvironmentVariable "SMEC_THREADS" |> Option.ofObj |> Option.defaultValue "unset")
            (try (IO.File.ReadAllText "/proc/loadavg").Split(' ').[0] with _ -> "?")
    printfn "total %.1f s" clock.Elapsed.TotalSeconds
    0
