/// Matryoshka-Adaptor's whole fit of many (IEnsembleFit): K members of one cell (seeds, a fold) fitted together
/// each end as Fit alone leaves them (both stages, the loss form and steps chosen, validation, outputs); its
/// local tuning grid routes every dim as alone; what it cannot express it refuses, naming why.
module Smec.Tests.EnsembleFitMatryoshkaTests

open System.IO
open Expecto
open Smec.Core.Losses
open Smec.Core.Methods
open Smec.Core.Methods.Baselines
open Smec.Core.Training

/// A small synthetic cell, so that each fit takes a fraction of a second: 300 docs and 120 queries (32-d), query i
/// matching doc i on dims 0-15 (up to small noise) and drawn afresh on dims 16-31, which vary 1.5x as much: PCA's
/// leading dims are the unmatched ones, so training on the judgements has something to move within a few steps.
/// Fold f validates on queries 20f .. 20f + 19 and trains on the other 100. Equivalence only, never a result.
let private corpus =
    let random = System.Random 3
    Smec.Core.Storage.EmbeddingMatrix([| for i in 0..299 -> sprintf "d%d" i |],
        Array.init (300 * 32) (fun i -> float32 ((random.NextDouble() * 2.0 - 1.0) * (if i % 32 < 16 then 1.0 else 1.5))), 32)

let private queries =
    let random = System.Random 4
    Smec.Core.Storage.EmbeddingMatrix([| for i in 0..119 -> sprintf "q%d" i |],
        Array.init (120 * 32) (fun i ->
            if i % 32 < 16 then corpus.Values.[i] + float32 ((random.NextDouble() - 0.5) * 0.5)
            else float32 ((random.NextDouble() * 2.0 - 1.0) * 1.5)), 32)

let private foldData (fold: int) (seed: int64) =
    let qrels ids = Smec.Core.Data.Qrels(System.Collections.Generic.Dictionary(dict [ for i in ids -> sprintf "q%d" i, System.Collections.Generic.Dictionary(dict [ sprintf "d%d" i, 1 ]) ]))
    let validation = [ 20 * fold .. 20 * fold + 19 ]
    TrainingData(corpus, queries, qrels [ for i in 0..119 do if not (List.contains i validation) then yield i ], qrels validation, seed)

let private dims = [| 16; 8 |]

/// A tiny budget: 12 steps a stage, validated every 2, both ranking-loss forms tried; a rate high enough (1e-2)
/// that the supervised stage moves off its start within it (so the forms' starts and choices are tested).
let private options (functionClass: FunctionClass) (selection: DimSelection) (supervised: bool) =
    MatryoshkaAdaptorOptions(
        FunctionClass = functionClass, Selection = selection, Supervised = supervised, MaxStepsPerStage = 12, EvaluateEvery = 2, LearningRate = 1e-2,
        PatienceSteps = 100, BatchSize = 16, HardNegativePool = 10, TopK = 3, UnsupervisedHeldOutDocs = 40, Progress = false)

/// Three experiments of one cell: seeds 1 and 2 on fold 0, and seed 1 on fold 1 (other training judgements and
/// validation queries; the same embeddings).
let private cellData () = [| foldData 0 1L; foldData 0 2L; foldData 1 1L |]

let private relativeDifference (a: float) (b: float) = abs (a - b) / max 1e-12 (max (abs a) (abs b))

/// The first 20 docs: what the compressed rows are compared on.
let private probe () =
    Smec.Core.Storage.EmbeddingMatrix([| for i in 0..19 -> string i |], corpus.Values.[.. 20 * corpus.Dim - 1], corpus.Dim)

/// Settings whose values are measured (time, or a validation figure printed to 4 digits, compared as numbers instead).
let private measured (key: string) =
    key = "training seconds" || key.EndsWith " stage" || key.StartsWith "selected @"

/// Member k fitted together against itself fitted alone: each stage's losses (1e-5 relative), validation (2e-3),
/// stop and kept step; the form and steps chosen per dim; validation per dim; Settings; compressed rows (1e-4).
let private expectFitsAlike (together: MatryoshkaAdaptor[]) (alone: MatryoshkaAdaptor[]) =
    let rows = probe ()
    for k, (t, a) in Array.indexed (Array.zip together alone) do
        let tu, au = t.UnsupervisedRun, a.UnsupervisedRun
        Expect.equal (tu.StepsRun, tu.BestStep, tu.StoppedEarly) (au.StepsRun, au.BestStep, au.StoppedEarly) (sprintf "member %d: the corpus-only stage stops and keeps as alone" k)
        for (step, x), (_, y) in Seq.zip tu.History au.History do
            Expect.isLessThan (relativeDifference x y) 1e-5 (sprintf "member %d, corpus-only step %d: held-out loss %.7f together vs %.7f alone" k step x y)
        Expect.equal (t.TrainingRuns |> Seq.map (fun struct (s, _) -> s) |> List.ofSeq) (a.TrainingRuns |> Seq.map (fun struct (s, _) -> s) |> List.ofSeq)
            (sprintf "member %d: the same supervised stages (one per form)" k)
        for struct (stage, tr), struct (_, ar) in Seq.zip t.TrainingRuns a.TrainingRuns do
            Expect.equal tr.History.Count ar.History.Count (sprintf "member %d [%s]: validations" k stage)
            for th, ah in Seq.zip tr.History ar.History |> Seq.skip 1 do
                Expect.isLessThan (relativeDifference th.MeanTrainLoss ah.MeanTrainLoss) 1e-5
                    (sprintf "member %d [%s] step %d: loss %.7f together vs %.7f alone" k stage ah.Step th.MeanTrainLoss ah.MeanTrainLoss)
                Expect.floatClose { absolute = 2e-3; relative = 0.0 } th.ValidationNdcg10 ah.ValidationNdcg10 (sprintf "member %d [%s] step %d: validation" k stage ah.Step)
            Expect.equal (tr.StepsRun, tr.BestStep, tr.StoppedEarly) (ar.StepsRun, ar.BestStep, ar.StoppedEarly) (sprintf "member %d [%s]: stops and keeps as alone" k stage)
        Expect.equal t.ServedSelection a.ServedSelection (sprintf "member %d: served per dim or by one adaptor as alone" k)
        Expect.equal (Set.ofSeq t.Settings.Keys) (Set.ofSeq a.Settings.Keys) (sprintf "member %d: the same settings keys" k)
        for KeyValue(key, value) in a.Settings do
            if not (measured key) then Expect.equal t.Settings.[key] value (sprintf "member %d: setting %s" k key)
            elif key.StartsWith "selected @" then
                // "<form> at step <n> (validation nDCG@10 ...)": the form and step exactly, the figure as a number below.
                let choice (text: string) = text.Substring(0, text.IndexOf " (")
                Expect.equal (choice t.Settings.[key]) (choice value) (sprintf "member %d: %s" k key)
        Expect.equal (Set.ofSeq t.ValidationNdcgByDim.Keys) (Set.ofSeq a.ValidationNdcgByDim.Keys) (sprintf "member %d: validation scored at the same dims" k)
        for KeyValue(d, v) in a.ValidationNdcgByDim do
            Expect.floatClose { absolute = 2e-3; relative = 0.0 } t.ValidationNdcgByDim.[d] v (sprintf "member %d at %d dims: validation nDCG@10 of the kept weights" k d)
        for d in dims do
            let gap =
                Seq.zip (t.Compress(rows, d, EmbeddingRole.Document).Values) (a.Compress(rows, d, EmbeddingRole.Document).Values)
                |> Seq.map (fun (x, y) -> abs (x - y)) |> Seq.max
            Expect.isLessThan gap 1e-4f (sprintf "member %d at %d dims: compressed rows differ by %g" k d gap)

/// The cell's members built alike, fitted together and each alone; compared, then disposed.
let private fitTogetherAndAlone (build: unit -> MatryoshkaAdaptor) (data: TrainingData[]) =
    let together = [| for _ in data -> build () |]
    let alone = [| for _ in data -> build () |]
    try
        let members = together |> Array.map (fun c -> c :> ICompressor)
        Expect.isNull (EnsembleFit.CannotFitTogether members) "Matryoshka-Adaptor members of one cell fit together"
        (members.[0] :?> IEnsembleFit).FitTogether(members, data)
        for c, d in Array.zip alone data do c.Fit d
        expectFitsAlike together alone
        if alone.[0].Options.Supervised then
            let kept = [ for c in alone do for d in dims -> int c.Settings.[SelectedSteps.Key d] ]
            Expect.exists kept (fun step -> step > 0) (sprintf "the supervised stage keeps a trained step somewhere (selected steps %A), so the comparison sees training" kept)
    finally
        for c in Array.append together alone do c.Dispose()

let private registry = Smec.Experiments.Methods.MethodRegistry.standard

/// A Matryoshka-Adaptor compressor from the method registry with these options over its defaults, at the tiny budget.
let private fromRegistry (given: (string * string) list) (seed: int64) : ICompressor =
    let small = [ "top_k", "3"; "unsupervised_held_out_docs", "40"; "hard_negative_pool", "10" ]
    let options =
        match registry.ResolveOptions(MatryoshkaAdaptor.Kind, Map(small @ given)) with
        | Ok o -> o
        | Error e -> failtest e
    (registry.Entries[MatryoshkaAdaptor.Kind]).Create
        { Method = MatryoshkaAdaptor.Kind; Options = options; Dims = List.ofArray dims; InputDim = 32; Seed = seed; Progress = false; CheckpointPath = None
          Budget = Some { MaxSteps = 4; BatchSize = 16; LearningRate = 1e-3; Patience = 100; ValidateEvery = 2 } }

[<Tests>]
let tests =
    testList "EnsembleFit.MatryoshkaAdaptor" [
        for functionClass, selection in [ FunctionClass.Linear, DimSelection.PerDim; FunctionClass.ResidualMlp, DimSelection.Shared ] do
            testCase (sprintf "members fitted together (seeds and a fold, both loss forms; %A, %A) each equal the member fitted alone" functionClass selection) <| fun () ->
                fitTogetherAndAlone (fun () -> new MatryoshkaAdaptor(dims, options functionClass selection true)) (cellData ())

        testCase "MA-unsup members fitted together (corpus-only stage) each equal the member fitted alone" <| fun () ->
            fitTogetherAndAlone (fun () -> new MatryoshkaAdaptor(dims, options FunctionClass.ResidualMlp DimSelection.Shared false)) (cellData ()).[.. 1]

        testCase "the local tuning grid fitted together routes every dim as each grid fitted alone (per dim, per point)" <| fun () ->
            let build seed = fromRegistry [ "tuning", "local-grid"; "selection", "per-dim" ] seed
            let data = (cellData ()).[.. 1]
            let together = [| for d in data -> build d.Seed |]
            let alone = [| for d in data -> build d.Seed |]
            EnsembleGridChecks.expectGridsRouteAlike together alone data (List.ofArray dims) (fun k t a ->
                for d in dims do
                    Expect.equal t.Settings.[sprintf "tuning.choice@%d" d] a.Settings.[sprintf "tuning.choice@%d" d] (sprintf "member %d at %d dims: the same point" k d))

        testCase "Matryoshka-Adaptor says why it cannot fit members together (other options, query anchors, a loaded model, another method)" <| fun () ->
            let reason (members: ICompressor list) =
                let why = EnsembleFit.CannotFitTogether(Array.ofList members)
                for m in members do m.Dispose()
                why
            let build (o: MatryoshkaAdaptorOptions) = new MatryoshkaAdaptor(dims, o) :> ICompressor
            let plain = options FunctionClass.Linear DimSelection.Shared true
            let differing (topK: int) (learningRate: float) =
                MatryoshkaAdaptorOptions(
                    FunctionClass = FunctionClass.Linear, MaxStepsPerStage = 8, EvaluateEvery = 2, PatienceSteps = 100, BatchSize = 16,
                    HardNegativePool = 10, TopK = topK, UnsupervisedHeldOutDocs = 40, Progress = false, LearningRate = learningRate)
            Expect.stringContains (reason [ build plain; build (differing 5 1e-3) ]) "top_k 3 vs 5" "members with another top-k are refused, naming the option and both values"
            Expect.stringContains (reason [ build plain; build (differing 3 3e-3) ]) "lr 0.003" "members with another learning rate (one optimizer rate per ensemble) are refused, naming it"
            Expect.stringContains (reason [ fromRegistry [] 1L; fromRegistry [ "function_class", "linear" ] 2L ]) "function class" "members with another function class are refused, naming it"
            Expect.stringContains (reason [ build (MatryoshkaAdaptorOptions(QueryAnchors = 4, Progress = false)); build (MatryoshkaAdaptorOptions(QueryAnchors = 4, Progress = false)) ])
                "query_anchors" "query anchors are not batched: refused, naming the option"
            Expect.stringContains (reason [ build plain; new Truncation(dims) ]) "not Matryoshka-Adaptor" "another method is refused"
            Expect.stringContains (reason [ build plain ]) "one member" "one member has nothing to fit together"
            // A loaded model: its options are only what inference needs.
            let folder = Path.Combine(Path.GetTempPath(), sprintf "smec-ma-loaded-%d" (System.Diagnostics.Process.GetCurrentProcess().Id))
            try
                use fitted = new MatryoshkaAdaptor(dims, options FunctionClass.Linear DimSelection.Shared false)
                fitted.Fit(foldData 0 1L)
                fitted.Save folder
                Expect.stringContains (reason [ MatryoshkaAdaptor.Load folder; build plain ]) "loaded model" "a loaded model is refused"
            finally
                if Directory.Exists folder then Directory.Delete(folder, true)
    ]
