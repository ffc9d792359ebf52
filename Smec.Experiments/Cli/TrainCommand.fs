/// `smec train`: fit SMEC (or an ablation) on precomputed embeddings and print validation (and,
/// when asked, test) nDCG@10 per dim. With no arguments it runs the SciFact / MiniLM local profile.
module Smec.Experiments.Cli.TrainCommand

open System
open System.IO
open Argu
open Smec.Core.Data
open Smec.Core.Losses
open Smec.Core.Methods
open Smec.Core.Methods.SmecMethod
open Smec.Core.Runtime
open Smec.Core.Storage
open Smec.Core.Training
open Smec.Core.Analysis
open Smec.Experiments.Cli.UserErrors

type TrainArgs =
    | Dataset_Embeddings of dir: string
    | Qrels of dir: string
    | Out of dir: string
    | Seed of int64
    | Validation_Queries of int
    | Validation_Seed of int64
    | Profile of string
    | Ladder of dims: string
    | No_Smrl
    | No_Ads
    | No_Sxbm
    | Residual
    | Step_Input of string
    | Init of string
    | Dim_Source of string
    | Loss of string
    | Loss_Temperature of float
    | Similarity_Weight of float
    | Ads_Lr_Scale of float
    | Ads_Temperature of start: float * finish: float
    | Ads_Anneal_Steps of int
    | Sxbm_Weight of float
    | Sxbm_Capacity of int
    | Sxbm_Top_K of int
    | Sxbm_Warmup of int
    | Max_Steps of int
    | Batch_Size of int
    | Lr of float
    | Weight_Decay of float
    | Optimizer of string
    | Hard_Negatives of int
    | Eval_Every of int
    | Patience of int
    | Checkpoint of path: string
    | Report_Test
    | Quiet
    | Gradient_Probe of csv: string
    | Probe_Epochs of int

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Dataset_Embeddings _ -> "folder with corpus.npy/.ids.txt and queries.npy/.ids.txt (default: the mirror's SciFact all-MiniLM-L6-v2)"
            | Qrels _ -> "folder with train.tsv (and test.tsv for --report-test) (default: the mirror's SciFact qrels)"
            | Out _ -> "save the trained model here (model.json + tensors.bin, sealed)"
            | Seed _ -> "training seed (default 1)"
            | Validation_Queries _ -> "train queries held out for validation / early stopping (default 100)"
            | Validation_Seed _ -> "seed of the validation hold-out (default 0)"
            | Profile _ -> "local (384->192->96->48->24, default) or paper (3584->1536->768->512->256->128)"
            | Ladder _ -> "explicit dimension ladder, e.g. 384,192,96,48,24"
            | No_Smrl -> "ablation: one layer with the summed nested losses (MRL)"
            | No_Ads -> "ablation: prefix selection instead of ADS"
            | No_Sxbm -> "ablation: in-batch only, no cross-batch memory"
            | Residual -> "residual steps (x + f(x)) instead of plain linear"
            | Step_Input _ -> "full (default) or selected: what feeds step s > 1"
            | Init _ -> "pca (default), identity or random"
            | Dim_Source _ -> "validation (default: chosen per dim), selection or step-output: which output serves a dim produced twice"
            | Loss _ -> "infonce or pairwise: train only this form (default: both, the better on validation per step)"
            | Loss_Temperature _ -> "score temperature of the supervised loss (default 0.05)"
            | Similarity_Weight _ -> "weight of similarity preservation on random docs (default 0)"
            | Ads_Lr_Scale _ -> "ADS logits' learning rate relative to the layer's (default 10)"
            | Ads_Temperature _ -> "ADS Gumbel temperature start and end (default 1.0 0.1)"
            | Ads_Anneal_Steps _ -> "steps over which the ADS temperature anneals; no early stop before (default 300)"
            | Sxbm_Weight _ -> "S-XBM loss weight (default 1.0)"
            | Sxbm_Capacity _ -> "S-XBM memory capacity (default 4096)"
            | Sxbm_Top_K _ -> "S-XBM neighbours per sample (default 10)"
            | Sxbm_Warmup _ -> "steps before the S-XBM loss applies (default 0)"
            | Max_Steps _ -> "step budget per SMRL step (default 1500)"
            | Batch_Size _ -> "(query, positive) pairs per batch (default 64)"
            | Lr _ -> "learning rate (default 1e-3)"
            | Weight_Decay _ -> "weight decay (default 0.01)"
            | Optimizer _ -> "adamw (default) or adam"
            | Hard_Negatives _ -> "mined hard negatives per query (default 1)"
            | Eval_Every _ -> "validate every N steps (default 50)"
            | Patience _ -> "validations without improvement before stopping (default 8)"
            | Checkpoint _ -> "checkpoint path prefix; an interrupted run resumes from it"
            | Report_Test -> "also print test nDCG@10 (final reports only: never tune on it)"
            | Quiet -> "no progress bar"
            | Gradient_Probe _ -> "instead of training SMEC, run the catalog item 8 gradient probe (MRL vs SMRL) and write its CSV here"
            | Probe_Epochs _ -> "epochs of the gradient probe (default 40)"

let private parseEnum<'T when 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> (flag: string) (text: string) : 'T =
    match Enum.TryParse<'T>(text.Replace("-", ""), true) with
    | true, v -> v
    | _ -> userError "--%s: '%s' is not a valid value; expected %s" flag text (String.Join(", ", Enum.GetNames(typeof<'T>) |> Array.map (fun n -> n.ToLowerInvariant())))

/// Embeddings and judgements: the given folders, or SciFact with all-MiniLM-L6-v2 from the data layer.
let private loadData (args: ParseResults<TrainArgs>) =
    // No folders given: SciFact with all-MiniLM-L6-v2 from the data layer (mirror, embedded copy or download).
    let stored = lazy (Smec.Experiments.Running.Datasets.loadText "scifact" "all-MiniLM-L6-v2" true)
    let embDir =
        match args.TryGetResult Dataset_Embeddings with
        | Some dir -> requireFolder "--dataset-embeddings" dir
        | None -> (fst (stored.Force())).Folder
    let qrelsDir = args.TryGetResult Qrels |> Option.map (requireFolder "--qrels")
    let qrelsOf split =
        match qrelsDir with
        | Some dir -> Qrels.Read(requireFile "--qrels" (Path.Combine(dir, split + ".tsv")))
        | None ->
            match (snd (stored.Force())).TryGetValue split with
            | true, q -> q
            | _ -> userError "scifact: no '%s' qrels split; expected --qrels DIR with %s.tsv" split split
    let read name =
        match args.TryGetResult Dataset_Embeddings with
        | Some _ -> Npy.ReadEmbeddings(requireFile "--dataset-embeddings" (Path.Combine(embDir, name + ".npy")), requireFile "--dataset-embeddings" (Path.Combine(embDir, name + ".ids.txt")))
        | None -> (fst (stored.Force())).Part name
    let corpus, queries = read "corpus", read "queries"
    if corpus.Rows = 0 then userError "%s: 0 rows; expected a corpus of at least one document" (Path.Combine(embDir, "corpus.npy"))
    if corpus.Dim <> queries.Dim then
        userError "%s: %d-d queries, but corpus.npy holds %d-d documents; expected embeddings of one space (same dims)" (Path.Combine(embDir, "queries.npy")) queries.Dim corpus.Dim
    embDir, defaultArg qrelsDir "", corpus, queries, qrelsOf "train", lazy (qrelsOf "test")

/// The options as parsed (SMEC, the loop).
let options (args: ParseResults<TrainArgs>) =
    let baseOptions =
        match args.GetResult(Profile, "local") with
        | "local" -> SmecOptions.Local
        | "paper" -> SmecOptions.Paper
        | p -> userError "--profile: unknown profile '%s'; expected local or paper" p
    let ladder =
        match args.TryGetResult Ladder with
        | Some text ->
            let dims = text.Split(',') |> Array.map (fun s -> match Int32.TryParse(s.Trim()) with | true, v when v > 0 -> v | _ -> userError "--ladder: '%s' is not a positive integer; expected dims from large to small, e.g. 384,192,96,48,24" s)
            if dims.Length < 2 || Array.pairwise dims |> Array.exists (fun (a, b) -> b >= a) then
                userError "--ladder: '%s' does not go from large to small; expected the input dim then smaller dims, e.g. 384,192,96,48,24" text
            dims
        | None -> baseOptions.Ladder
    let d = SmecOptions()
    let adsStart, adsEnd = args.GetResult(Ads_Temperature, (d.AdsTemperatureStart, d.AdsTemperatureEnd))
    let smec =
        SmecOptions(
            Ladder = ladder,
            Smrl = not (args.Contains No_Smrl), Ads = not (args.Contains No_Ads), Sxbm = not (args.Contains No_Sxbm),
            Residual = args.Contains Residual,
            StepInput = (args.TryGetResult Step_Input |> Option.map (fun s -> parseEnum<StepInput> "step-input" (if s = "selected" then "SelectedHalf" else s)) |> Option.defaultValue d.StepInput),
            Init = (args.TryGetResult Init |> Option.map (parseEnum<LayerInit> "init") |> Option.defaultValue d.Init),
            DimSource = (args.TryGetResult Dim_Source |> Option.map (parseEnum<DimSource> "dim-source") |> Option.defaultValue d.DimSource),
            LossCandidates = (args.TryGetResult Loss |> Option.map (fun l -> [| parseEnum<RankingLossForm> "loss" l |] :> Collections.Generic.IReadOnlyList<_>) |> Option.defaultValue d.LossCandidates),
            LossTemperature = args.GetResult(Loss_Temperature, d.LossTemperature),
            SimilarityWeight = args.GetResult(Similarity_Weight, d.SimilarityWeight),
            AdsLearningRateScale = args.GetResult(Ads_Lr_Scale, d.AdsLearningRateScale),
            AdsTemperatureStart = adsStart, AdsTemperatureEnd = adsEnd, AdsAnnealSteps = args.GetResult(Ads_Anneal_Steps, d.AdsAnnealSteps),
            SxbmWeight = args.GetResult(Sxbm_Weight, d.SxbmWeight),
            SxbmCapacity = args.GetResult(Sxbm_Capacity, d.SxbmCapacity),
            SxbmTopK = args.GetResult(Sxbm_Top_K, d.SxbmTopK),
            SxbmWarmupSteps = args.GetResult(Sxbm_Warmup, d.SxbmWarmupSteps))
    let t = TrainingOptions()
    let training =
        TrainingOptions(
            MaxSteps = args.GetResult(Max_Steps, t.MaxSteps),
            BatchSize = args.GetResult(Batch_Size, t.BatchSize),
            LearningRate = args.GetResult(Lr, t.LearningRate),
            WeightDecay = args.GetResult(Weight_Decay, t.WeightDecay),
            Optimizer = (args.TryGetResult Optimizer |> Option.map (parseEnum<OptimizerKind> "optimizer") |> Option.defaultValue t.Optimizer),
            HardNegativesPerQuery = args.GetResult(Hard_Negatives, t.HardNegativesPerQuery),
            EvaluateEvery = args.GetResult(Eval_Every, t.EvaluateEvery),
            Patience = args.GetResult(Patience, t.Patience),
            CheckpointPath = (args.TryGetResult Checkpoint |> Option.toObj),
            Progress = not (args.Contains Quiet))
    smec, training

/// The model seen through the other DimSource (validation comparison only).
type private SourcedCompressor(model: SmecCompressor, source: DimSource) =
    interface ICompressor with
        member _.Name = model.Name
        member _.Dims = model.Dims
        member _.Fit _ = invalidOp "view only"
        member _.Compress(e, dim, role) = model.Compress(e, dim, role, System.Nullable source)
        member _.Settings = model.Settings
        member _.Save _ = invalidOp "view only"
    interface IDisposable with
        member _.Dispose() = () // the model is the caller's

/// Catalog item 8: per-epoch gradient statistics of the shared and unshared weights, MRL vs SMRL.
let private gradientProbe (args: ParseResults<TrainArgs>) (data: TrainingData) (csv: string) =
    let rows = GradientProbe.Run(data, GradientProbeOptions(Epochs = args.GetResult(Probe_Epochs, 40)))
    printfn "%-5s %5s %14s %14s %12s %12s %10s" "" "epoch" "|g| w[0,96)" "|g| w[96,192)" "var w[0,96)" "var w[96,192)" "loss"
    for r in rows do
        printfn "%-5s %5d %14.6g %14.6g %12.4g %12.4g %10.5f" r.Method r.Epoch r.MeanAbsGradShared r.MeanAbsGradUnshared r.GradVarianceShared r.GradVarianceUnshared r.MeanTrainLoss
    GradientProbe.WriteCsv(csv, rows)
    printfn "wrote %s" csv
    0

/// Files a saved model folder may hold: anything else there means --out names someone's other folder.
let private modelFiles = set [ SavedModel.ManifestFile; SavedModel.TensorsFile; ModelSeal.FileName ]

/// --out and --checkpoint are checked before any data is read or any step trained.
let private checkOutputs (args: ParseResults<TrainArgs>) =
    args.TryGetResult Out |> Option.iter (fun dir ->
        if File.Exists dir then userError "--out: %s is a file; expected a folder for the model" dir
        if Directory.Exists dir then
            match Directory.EnumerateFileSystemEntries dir |> Seq.map Path.GetFileName |> Seq.filter (modelFiles.Contains >> not) |> Seq.tryHead with
            | Some other -> userError "--out: folder %s holds '%s', which is not part of a saved model; expected a new or empty folder, or a saved model to replace" dir other
            | None -> ()
        requireWritableFolder "--out" (Path.GetDirectoryName(Path.GetFullPath dir)))
    args.TryGetResult Checkpoint |> Option.iter (requireWritableFile "--checkpoint" >> ignore)
    args.TryGetResult Gradient_Probe |> Option.iter (requireWritableFile "--gradient-probe" >> ignore)

/// The checksums of the files a model was trained from, for its seal.
let private inputChecksums (embDir: string) (qrelsDir: string) =
    [ for name in [ "corpus.npy"; "corpus.ids.txt"; "queries.npy"; "queries.ids.txt" ] do yield Path.Combine(embDir, name)
      yield Path.Combine(qrelsDir, "train.tsv") ]
    |> List.filter File.Exists
    |> List.map (fun f -> Path.GetFullPath f, ModelSeal.Sha256 f)

/// Save and seal in a staging folder, then swap it in: a kill or a full disk leaves the old model or the new, never a mix.
let private saveSealed (model: SmecCompressor) (dir: string) (data: (string * string) list) (settings: (string * string) list) =
    AtomicFolder.Write(dir, fun staging ->
        model.Save staging
        ModelSeal.Write(staging, readOnlyDict data, readOnlyDict settings))

let run (args: ParseResults<TrainArgs>) : int =
    let clock = Diagnostics.Stopwatch.StartNew()
    // Options and output folders first: a mistake there costs no data loading and no training.
    let smec, training = options args
    let validationQueries = args.GetResult(Validation_Queries, 100)
    TrainChecks.options smec training validationQueries
    checkOutputs args
    let embDir, qrelsDir, corpus, queries, train, test = loadData args
    if args.TryGetResult Gradient_Probe |> Option.isNone && smec.InputDim <> corpus.Dim then
        userError "--ladder: starts at %d dims, but %s holds %d-d embeddings; expected a ladder starting at %d" smec.InputDim (Path.Combine(embDir, "corpus.npy")) corpus.Dim corpus.Dim
    if args.Contains Dataset_Embeddings then
        TrainChecks.data (if qrelsDir = "" then "the train qrels" else Path.Combine(qrelsDir, "train.tsv")) corpus queries train validationQueries
    let seed = args.GetResult(Seed, 1L)
    let data = ValidationSplit.Carve(corpus, queries, train, validationQueries, args.GetResult(Validation_Seed, 0L))
    TrainChecks.carved (if qrelsDir = "" then "the train qrels" else Path.Combine(qrelsDir, "train.tsv")) data
    let data = TrainingData(data.Corpus, data.Queries, data.Train, data.Validation, seed)
    Determinism.ConfigureTorch()
    match args.TryGetResult Gradient_Probe with
    | Some csv -> gradientProbe args data csv
    | None ->
        use model = new SmecCompressor(smec, training)
        model.Fit data
        let fitSeconds = clock.Elapsed.TotalSeconds
        printfn "%s on %s (%d docs, %d train / %d validation queries), seed %d, torch threads %d (SMEC_THREADS=%s), fit %.1f s"
            model.Name embDir corpus.Rows data.Train.QueryCount data.Validation.QueryCount seed
            (TorchSharp.torch.get_num_threads ()) (Environment.GetEnvironmentVariable Determinism.ThreadsVariable |> Option.ofObj |> Option.defaultValue "unset") fitSeconds
        let reportTest = args.Contains Report_Test
        printfn "%6s  %10s%s" "dim" "val nDCG@10" (if reportTest then "  test nDCG@10" else "")
        for dim in model.Dims do
            let v = CompressionEvaluation.Ndcg10(model, corpus, queries, data.Validation, dim)
            // A dim made twice (a step's selected half and the next step's full output): show the other one too.
            let other = if model.Chain.SourceFor dim = DimSource.Selection then DimSource.StepOutput else DimSource.Selection
            let alternative = CompressionEvaluation.Ndcg10(new SourcedCompressor(model, other), corpus, queries, data.Validation, dim)
            if alternative <> v then eprintfn "  dim %d: val nDCG@10 %.4f with --dim-source %A" dim alternative other
            if reportTest then
                let t = CompressionEvaluation.Ndcg10(model, corpus, queries, test.Force(), dim)
                printfn "%6d  %10.4f  %13.4f" dim v t
            else printfn "%6d  %10.4f" dim v
        for KeyValue (k, v) in model.Settings do printfn "  %s = %s" k v
        match args.TryGetResult Out with
        | Some dir ->
            let data =
                [ yield "identity", TrainingDataHash.Of data
                  yield "validation queries", string data.Validation.QueryCount
                  for file, sha in inputChecksums embDir qrelsDir -> file, sha ]
            let settings =
                [ for KeyValue(k, v) in model.Settings -> k, v
                  for KeyValue(k, v) in training.Describe() -> "training." + k, v
                  yield "seed", string seed
                  yield "validation-seed", string (args.GetResult(Validation_Seed, 0L)) ]
            saveSealed model dir data settings
            printfn "saved to %s" dir
        | None -> ()
        0
