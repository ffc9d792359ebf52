/// `smec train`: fit a method of the registry (default SMEC) on precomputed embeddings and print
/// validation (and, when asked, test) nDCG@10 per dim. The method is built by its registry entry and
/// its options are the registry's (`smec methods KEY`), the vocabulary of the catalog and sweeps
/// (`--option ads_learning_rate_scale=5`); the short flags (--lr, --ads-lr-scale, --no-ads, ...) are
/// aliases of those options and of the budget. With no arguments it runs SMEC on SciFact / MiniLM
/// with the local profile.
module Smec.Experiments.Cli.TrainCommand

open System
open System.Globalization
open System.IO
open Argu
open Smec.Core.Data
open Smec.Core.Methods
open Smec.Core.Methods.SmecMethod
open Smec.Core.Retrieval
open Smec.Core.Runtime
open Smec.Core.Storage
open Smec.Core.Training
open Smec.Core.Analysis
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Methods
open Smec.Experiments.Running
open Smec.Experiments.Cli.UserErrors

type TrainArgs =
    | Dataset_Embeddings of dir: string
    | Qrels of dir: string
    | Out of dir: string
    | Method of key: string
    | [<CustomCommandLine("--option")>] Method_Option of setting: string
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
            | Out _ -> "save the trained model here (model.json + tensors.bin, sealed with seal.json; `smec compress --model` reads it)"
            | Method _ -> "method registry key (`smec methods`; default smec)"
            | Method_Option _ -> "a method option NAME=VALUE as the catalog and sweeps name it (`smec methods KEY` lists them), repeatable"
            | Seed _ -> "training seed (default 1)"
            | Validation_Queries _ -> "train queries held out for validation / early stopping (default 100)"
            | Validation_Seed _ -> "seed of the validation hold-out (default 0)"
            | Profile _ -> "the catalog profile whose dims, budget and method options apply: local (384 -> 24, default) or paper (3584 -> 128)"
            | Ladder _ -> "explicit dimension ladder, e.g. 384,192,96,48,24 (the input dim, then the trained dims)"
            | No_Smrl -> "ablation: one layer with the summed nested losses (MRL); = --option smrl=false"
            | No_Ads -> "ablation: prefix selection instead of ADS; = --option ads=false"
            | No_Sxbm -> "ablation: in-batch only, no cross-batch memory; = --option sxbm=false"
            | Residual -> "residual steps (x + f(x)) instead of plain linear; = --option residual=true"
            | Step_Input _ -> "full (default) or selected: what feeds step s > 1; = --option step_input"
            | Init _ -> "pca (default), identity or random; = --option init"
            | Dim_Source _ -> "validation (default: chosen per dim), selection or step-output; = --option dim_source"
            | Loss _ -> "infonce or pairwise: train only this form (default: both, the better on validation per step); = --option loss_candidates"
            | Loss_Temperature _ -> "score temperature of the supervised loss (default 0.05); = --option loss_temperature"
            | Similarity_Weight _ -> "weight of similarity preservation on random docs (default 0); = --option similarity_weight"
            | Ads_Lr_Scale _ -> "ADS logits' learning rate relative to the layer's (default 10); = --option ads_learning_rate_scale"
            | Ads_Temperature _ -> "ADS Gumbel temperature start and end (default 1.0 0.1); = --option ads_temperature_start, ads_temperature_end"
            | Ads_Anneal_Steps _ -> "steps over which the ADS temperature anneals; no early stop before (default 300); = --option ads_anneal_steps"
            | Sxbm_Weight _ -> "S-XBM loss weight (default 1.0); = --option sxbm_weight"
            | Sxbm_Capacity _ -> "S-XBM memory capacity (default 4096); = --option sxbm_capacity"
            | Sxbm_Top_K _ -> "S-XBM neighbours per sample (default 10); = --option sxbm_top_k"
            | Sxbm_Warmup _ -> "steps before the S-XBM loss applies (default 0); = --option sxbm_warmup_steps"
            | Max_Steps _ -> "step budget (SMEC: per SMRL step; default: the profile's, local 1500)"
            | Batch_Size _ -> "(query, positive) pairs per batch (default: the profile's, local 64)"
            | Lr _ -> "learning rate (default: the profile's, 1e-3)"
            | Weight_Decay _ -> "weight decay (default 0.01); = --option weight_decay"
            | Optimizer _ -> "adamw (default) or adam; = --option optimizer"
            | Hard_Negatives _ -> "mined hard negatives per query (default 1); = --option hard_negatives_per_query"
            | Eval_Every _ -> "validate every N steps (default: the profile's, local 50)"
            | Patience _ -> "validations without improvement before stopping (default: the profile's, local 8)"
            | Checkpoint _ -> "checkpoint path prefix; an interrupted run resumes from it (SMEC and MRL)"
            | Report_Test -> "also print test nDCG@10 (final reports only: never tune on it)"
            | Quiet -> "no progress bar"
            | Gradient_Probe _ -> "instead of training, run the catalog item 8 gradient probe (MRL vs SMRL) and write its CSV here"
            | Probe_Epochs _ -> "epochs of the gradient probe (default 40)"

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

let private number (value: float) = value.ToString("R", CultureInfo.InvariantCulture)

/// The short flags, each an alias of a registry option: (flag, option name, value) for those given.
let aliasOptions (args: ParseResults<TrainArgs>) : (string * string * string) list =
    [ if args.Contains No_Smrl then yield "--no-smrl", "smrl", "false"
      if args.Contains No_Ads then yield "--no-ads", "ads", "false"
      if args.Contains No_Sxbm then yield "--no-sxbm", "sxbm", "false"
      if args.Contains Residual then yield "--residual", "residual", "true"
      for v in args.TryGetResult Step_Input |> Option.toList -> "--step-input", "step_input", (if v = "selected" then "selected-half" else v)
      for v in args.TryGetResult Init |> Option.toList -> "--init", "init", v
      for v in args.TryGetResult Dim_Source |> Option.toList -> "--dim-source", "dim_source", v
      for v in args.TryGetResult Loss |> Option.toList -> "--loss", "loss_candidates", v
      for v in args.TryGetResult Loss_Temperature |> Option.toList -> "--loss-temperature", "loss_temperature", number v
      for v in args.TryGetResult Similarity_Weight |> Option.toList -> "--similarity-weight", "similarity_weight", number v
      for v in args.TryGetResult Ads_Lr_Scale |> Option.toList -> "--ads-lr-scale", "ads_learning_rate_scale", number v
      match args.TryGetResult Ads_Temperature with
      | Some(start, finish) ->
          yield "--ads-temperature", "ads_temperature_start", number start
          yield "--ads-temperature", "ads_temperature_end", number finish
      | None -> ()
      for v in args.TryGetResult Ads_Anneal_Steps |> Option.toList -> "--ads-anneal-steps", "ads_anneal_steps", string v
      for v in args.TryGetResult Sxbm_Weight |> Option.toList -> "--sxbm-weight", "sxbm_weight", number v
      for v in args.TryGetResult Sxbm_Capacity |> Option.toList -> "--sxbm-capacity", "sxbm_capacity", string v
      for v in args.TryGetResult Sxbm_Top_K |> Option.toList -> "--sxbm-top-k", "sxbm_top_k", string v
      for v in args.TryGetResult Sxbm_Warmup |> Option.toList -> "--sxbm-warmup", "sxbm_warmup_steps", string v
      for v in args.TryGetResult Weight_Decay |> Option.toList -> "--weight-decay", "weight_decay", number v
      for v in args.TryGetResult Optimizer |> Option.toList -> "--optimizer", "optimizer", v
      for v in args.TryGetResult Hard_Negatives |> Option.toList -> "--hard-negatives", "hard_negatives_per_query", string v ]

/// The method's entry and its options: the profile's, then the aliases, then every --option NAME=VALUE,
/// each checked against the entry's option specs (an error names the flag and what it expects).
let methodOptions (args: ParseResults<TrainArgs>) (profile: Profile) =
    let entry =
        match MethodRegistry.standard.Resolve(args.GetResult(Method, MethodRegistry.smec.Key)) with
        | Ok entry -> entry
        | Error message -> userError "--method: %s" message
    let explicitOptions =
        [ for setting in args.GetResults Method_Option ->
              match setting.Split('=', 2) with
              | [| name; value |] when name.Trim() <> "" -> "--option", name.Trim(), value.Trim()
              | _ -> userError "--option: '%s' is not NAME=VALUE; expected e.g. --option ads_learning_rate_scale=5" setting ]
    let given =
        [ for flag, name, value in aliasOptions args @ explicitOptions ->
              match entry.Options |> List.tryFind (fun spec -> spec.Name = name) with
              | None ->
                  userError "%s: method '%s' has no option '%s'; known: %s" flag entry.Key name
                      (if entry.Options.IsEmpty then "none" else entry.Options |> List.map (fun s -> s.Name) |> String.concat ", ")
              | Some spec ->
                  match MethodOptions.canonical spec value with
                  | Ok canonical -> name, canonical
                  | Error message -> userError "%s: %s" flag message ]
    let fromProfile = entry.ProfileOptions profile |> List.filter (fun (name, _) -> not (given |> List.exists (fun (g, _) -> g = name)))
    match MethodOptions.resolve entry.Key entry.Options (Map.ofList (fromProfile @ given)) with
    | Ok options -> entry, options
    | Error message -> userError "%s" message

/// The profile, its training budget with the budget flags applied, and the ladder (input dim first).
let budgetAndLadder (args: ParseResults<TrainArgs>) =
    let profile =
        match args.GetResult(Profile, "local") with
        | "local" -> Local
        | "paper" -> Paper
        | p -> userError "--profile: unknown profile '%s'; expected local or paper" p
    let profileBudget, profileDims =
        match profile with
        | Local -> Profiles.localBudget, Profiles.localDims
        | Paper -> Profiles.paperBudget, Profiles.paperDims7B
    let budget =
        { MaxSteps = args.GetResult(Max_Steps, profileBudget.MaxSteps)
          BatchSize = args.GetResult(Batch_Size, profileBudget.BatchSize)
          LearningRate = args.GetResult(Lr, profileBudget.LearningRate)
          Patience = args.GetResult(Patience, profileBudget.Patience)
          ValidateEvery = args.GetResult(Eval_Every, profileBudget.ValidateEvery) }
    let ladder =
        match args.TryGetResult Ladder with
        | Some text ->
            let dims = text.Split(',') |> Array.map (fun s -> match Int32.TryParse(s.Trim()) with | true, v when v > 0 -> v | _ -> userError "--ladder: '%s' is not a positive integer; expected dims from large to small, e.g. 384,192,96,48,24" s)
            if dims.Length < 2 || Array.pairwise dims |> Array.exists (fun (a, b) -> b >= a) then
                userError "--ladder: '%s' does not go from large to small; expected the input dim then smaller dims, e.g. 384,192,96,48,24" text
            List.ofArray dims
        // The profile's dims: the largest is the profile's input dim (384 local, 3584 paper).
        | None -> MethodRegistry.ladder (List.max profileDims) profileDims
    profile, budget, ladder

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
let private saveSealed (model: ICompressor) (dir: string) (data: (string * string) list) (settings: (string * string) list) =
    AtomicFolder.Write(dir, fun staging ->
        model.Save staging
        ModelSeal.Write(staging, readOnlyDict data, readOnlyDict settings))

let run (args: ParseResults<TrainArgs>) : int =
    let clock = Diagnostics.Stopwatch.StartNew()
    // Options and output folders first: a mistake there costs no data loading and no training.
    let profile, budget, ladder = budgetAndLadder args
    let entry, options = methodOptions args profile
    let validationQueries = args.GetResult(Validation_Queries, 100)
    TrainChecks.options budget options validationQueries
    checkOutputs args
    let embDir, qrelsDir, corpus, queries, train, test = loadData args
    if args.TryGetResult Gradient_Probe |> Option.isNone && ladder.Head <> corpus.Dim then
        userError "--ladder: starts at %d dims, but %s holds %d-d embeddings; expected a ladder starting at %d" ladder.Head (Path.Combine(embDir, "corpus.npy")) corpus.Dim corpus.Dim
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
        // By the method, not the built object: a tuning grid wraps SMEC's compressors, each point
        // checkpointing under its own prefix (<path>.tuning<i>).
        if args.Contains Checkpoint && entry.Key <> MethodRegistry.smec.Key && entry.Key <> MethodRegistry.mrl.Key then
            userError "--checkpoint: method '%s' does not checkpoint; expected --method %s or %s" entry.Key MethodRegistry.smec.Key MethodRegistry.mrl.Key
        // The method as the catalog's runner builds it: its registry entry, from resolved options.
        Determinism.Seed seed |> ignore
        use model =
            entry.Create
                { Method = entry.Key; Options = options; Dims = ladder; InputDim = corpus.Dim
                  Budget = (if entry.Trains then Some budget else None); Seed = seed
                  Progress = not (args.Contains Quiet); CheckpointPath = args.TryGetResult Checkpoint }
        model.Fit data
        let fitSeconds = clock.Elapsed.TotalSeconds
        printfn "%s on %s (%d docs, %d train / %d validation queries), seed %d, torch threads %d (SMEC_THREADS=%s), fit %.1f s"
            model.Name embDir corpus.Rows data.Train.QueryCount data.Validation.QueryCount seed
            (TorchSharp.torch.get_num_threads ()) (Environment.GetEnvironmentVariable Determinism.ThreadsVariable |> Option.ofObj |> Option.defaultValue "unset") fitSeconds
        let reportTest = args.Contains Report_Test
        // The runner's evaluation: each judged query searches the whole corpus, both compressed.
        let ndcg10 (compressor: ICompressor) (qrels: Qrels) dim =
            Experiments.ndcg10At compressor (SearchOptions()) corpus (Experiments.judgedQueries queries qrels) qrels dim
        printfn "%6s  %10s%s" "dim" "val nDCG@10" (if reportTest then "  test nDCG@10" else "")
        for dim in model.Dims do
            let v = ndcg10 model data.Validation dim
            match model with
            | :? SmecCompressor as smec ->
                // A dim made twice (a step's selected half and the next step's full output): show the other one too.
                let other = if smec.Chain.SourceFor dim = DimSource.Selection then DimSource.StepOutput else DimSource.Selection
                let alternative = ndcg10 (new SourcedCompressor(smec, other)) data.Validation dim
                if alternative <> v then eprintfn "  dim %d: val nDCG@10 %.4f with --dim-source %A" dim alternative other
            | _ -> ()
            if reportTest then printfn "%6d  %10.4f  %13.4f" dim v (ndcg10 model (test.Force()) dim)
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
                  yield "method", entry.Key
                  for KeyValue(k, v) in options -> "option." + k, v
                  yield "budget", sprintf "%A" budget
                  yield "seed", string seed
                  yield "validation-seed", string (args.GetResult(Validation_Seed, 0L)) ]
            saveSealed model dir data settings
            printfn "saved to %s" dir
        | None -> ()
        0
