/// `smec baselines`: fit every baseline on SciFact (MiniLM embeddings from the mirror) and print
/// test nDCG@10 per method and dimension, with the reference rows checked against the mirror's figures.
module Smec.Experiments.Cli.BaselinesCommand

open System
open System.Diagnostics
open System.IO
open Argu
open Smec.Core.Data
open Smec.Core.Storage
open Smec.Core.Methods
open Smec.Core.Methods.Baselines
open Smec.Core.Retrieval
open Smec.Core.Runtime
open Smec.Core.Training

[<RequireQualifiedAccess>]
type BaselinesArgs =
    | Dims of int list
    | Methods of string list
    | Seed of int64
    | Sa_Grid of string
    | Ma_Alpha of float
    | Ma_Beta of float
    | Ma_Gamma of float
    | Data_Dir of string
    | Save of string
    | Quiet

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Dims _ -> "target dimensions (default 24 48 96 192 384)"
            | Methods _ -> sprintf "methods to run, any of: %s (default all)" (String.concat ", " BaselineRows.all)
            | Seed _ -> "training seed (default 0); the validation split always uses split seed 0"
            | Sa_Grid _ -> "Search-Adaptor (alpha, beta) grid: full (3 x 3, default) or reduced (3 diagonal points)"
            | Ma_Alpha _ -> "Matryoshka-Adaptor weight of the pairwise loss (default 1)"
            | Ma_Beta _ -> "Matryoshka-Adaptor weight of the reconstruction loss (default 1)"
            | Ma_Gamma _ -> "Matryoshka-Adaptor weight of the ranking loss (default 1)"
            | Data_Dir _ -> "data mirror (default: SMEC_DATA_DIR, then ../shared/data)"
            | Save _ -> "save each fitted method under DIR/<method>"
            | Quiet -> "no progress bars"

/// The figures the mirror's README and docs/METHOD.md ("Reference figures on SciFact") give for SciFact test with MiniLM (exact search, nDCG@10).
let referenceFigures =
    dict [ ("Full", 384), 0.6472
           ("Truncation", 192), 0.6127; ("Truncation", 96), 0.5551; ("Truncation", 48), 0.4406; ("Truncation", 24), 0.2765
           ("PCA", 192), 0.6273; ("PCA", 96), 0.5955; ("PCA", 48), 0.5090; ("PCA", 24), 0.3767 ]

/// Printed figures are rounded to 4 decimals, so 5e-4 is the rounding half-unit plus float32 noise.
let referenceTolerance = 5e-4

/// The split every SciFact experiment shares: 100 of the 809 train queries held out with split seed 0.
let validationQueries, validationSplitSeed = 100, 0L

type SciFact = { Corpus: EmbeddingMatrix; Queries: EmbeddingMatrix; Train: Qrels; Test: Qrels }

let loadSciFact (root: string) =
    let emb = Path.Combine(root, "embeddings", "scifact", "all-MiniLM-L6-v2")
    let qrels = Path.Combine(root, "beir", "scifact", "qrels")
    { Corpus = Npy.ReadEmbeddings(Path.Combine(emb, "corpus.npy"), Path.Combine(emb, "corpus.ids.txt"))
      Queries = Npy.ReadEmbeddings(Path.Combine(emb, "queries.npy"), Path.Combine(emb, "queries.ids.txt"))
      Train = Qrels.Read(Path.Combine(qrels, "train.tsv"))
      Test = Qrels.Read(Path.Combine(qrels, "test.tsv")) }

/// Test nDCG@10 of a fitted method at one dimension: test queries against the whole corpus.
let testNdcg10 (data: SciFact) (testQueries: EmbeddingMatrix) (method: ICompressor) (dim: int) =
    let queries = method.Compress(testQueries, dim, EmbeddingRole.Query)
    let docs = method.Compress(data.Corpus, dim, EmbeddingRole.Document)
    RetrievalEvaluation.NdcgAt10(queries, docs, data.Test)

let private loadAverage () =
    try (File.ReadAllText "/proc/loadavg").Split(' ') |> Array.take 3 |> String.concat " " with _ -> "n/a"

let run (args: ParseResults<BaselinesArgs>) : int =
    let dims = args.GetResult(BaselinesArgs.Dims, defaultValue = [ 24; 48; 96; 192; 384 ]) |> List.sortDescending
    let methods = args.GetResult(BaselinesArgs.Methods, defaultValue = BaselineRows.all)
    let seed = args.GetResult(BaselinesArgs.Seed, defaultValue = 0L)
    let grid =
        match args.GetResult(BaselinesArgs.Sa_Grid, defaultValue = "full") with
        | "full" -> SearchAdaptorOptions.FullGrid
        | "reduced" -> SearchAdaptorOptions.ReducedGrid
        | other -> failwithf "--sa-grid: expected 'full' or 'reduced', got '%s'" other
    let progress = not (args.Contains BaselinesArgs.Quiet)
    let defaults = MatryoshkaAdaptorOptions()
    let maOptions =
        MatryoshkaAdaptorOptions(
            Alpha = args.GetResult(BaselinesArgs.Ma_Alpha, defaultValue = defaults.Alpha),
            Beta = args.GetResult(BaselinesArgs.Ma_Beta, defaultValue = defaults.Beta),
            Gamma = args.GetResult(BaselinesArgs.Ma_Gamma, defaultValue = defaults.Gamma),
            Progress = progress)
    let root =
        match Option.ofObj (DataRoot.TryResolve(args.GetResult(BaselinesArgs.Data_Dir, defaultValue = null))) with
        | Some r -> r.Path
        | None -> failwith "no data mirror found; pass --data-dir or set SMEC_DATA_DIR"
    Determinism.ConfigureTorch()
    let data = loadSciFact root
    let training = ValidationSplit.Carve(data.Corpus, data.Queries, data.Train, validationQueries, validationSplitSeed)
    let training = TrainingData(training.Corpus, training.Queries, training.Train, training.Validation, seed)
    let testIds = data.Queries.Ids |> Seq.filter data.Test.HasQuery |> Array.ofSeq
    let testQueries = data.Queries.Select testIds
    printfn "SciFact test (%d queries, %d docs), all-MiniLM-L6-v2 %d-d; validation: %d of %d train queries (split seed %d); seed %d"
        testIds.Length data.Corpus.Rows data.Corpus.Dim validationQueries data.Train.QueryCount validationSplitSeed seed
    printfn "torch threads %d (SMEC_THREADS=%s), load average at start %s"
        (TorchSharp.torch.get_num_threads ()) (Environment.GetEnvironmentVariable Determinism.ThreadsVariable |> Option.ofObj |> Option.defaultValue "unset") (loadAverage ())

    let rows =
        [ for name in methods ->
            let label, method = BaselineRows.create name dims data.Corpus.Dim maOptions grid progress
            let clock = Stopwatch.StartNew()
            method.Fit training
            let seconds = clock.Elapsed.TotalSeconds
            args.TryGetResult BaselinesArgs.Save |> Option.iter (fun dir -> method.Save(Path.Combine(dir, name)))
            let scores = [ for d in method.Dims do if List.contains d dims then d, testNdcg10 data testQueries method d ] |> Map.ofList
            eprintfn "%s: fitted in %.1f s; %s" label seconds
                (scores |> Map.toList |> List.map (fun (d, s) -> sprintf "%d: %.4f" d s) |> String.concat ", ")
            label, method, seconds, scores ]

    printfn ""
    printfn "| method | %s | fit (s) |" (dims |> List.map string |> String.concat " | ")
    printfn "|---|%s---:|" (String.replicate dims.Length "---:|")
    for label, _, seconds, scores in rows do
        let cells = dims |> List.map (fun d -> scores.TryFind d |> Option.map (sprintf "%.4f") |> Option.defaultValue "-")
        printfn "| %s | %s | %.1f |" label (String.concat " | " cells) seconds
    printfn ""
    let mutable failures = 0
    for label, _, _, scores in rows do
        for KeyValue (d, score) in scores do
            match referenceFigures.TryGetValue((label, d)) with
            | true, expected ->
                let ok = abs (score - expected) <= referenceTolerance
                if not ok then failures <- failures + 1
                printfn "reference %s @%d: expected %.4f, got %.4f, delta %+.4f -> %s" label d expected score (score - expected) (if ok then "OK" else "FAIL")
            | _ -> ()
    printfn ""
    for label, method, _, _ in rows do
        if method.Settings.Count > 0 then
            printfn "%s settings (%s):" label method.Name
            for KeyValue (key, value) in method.Settings do printfn "  %s: %s" key value
    printfn "load average at end %s" (loadAverage ())
    if failures > 0 then 1 else 0
