/// Search-Adaptor's whole fit of many (SearchAdaptor.Together.cs): K compressors of one cell (seeds, a fold)
/// fitted together end as each fitted alone; its local tuning grid routes alike; what it cannot express it refuses.
module Smec.Tests.EnsembleFitSearchAdaptorTests

open System
open Expecto
open Smec.Core.Losses
open Smec.Core.Methods
open Smec.Core.Methods.Baselines
open Smec.Core.Training

let private dims = [| 96; 48 |]

/// Tiny budgets: 8 steps validated every 2, patience one validation (so models stop early at different steps),
/// both loss forms, in the residual-MLP form a narrow hidden layer, to keep the test in seconds.
let private adaptorOptions (functionClass: FunctionClass) (selection: DimSelection) (grid: RegularizerWeights list) =
    SearchAdaptorOptions(
        Grid = Array.ofList grid, Selection = selection, FunctionClass = functionClass,
        HiddenDim = (if functionClass = FunctionClass.ResidualMlp then Nullable 96 else Nullable()),
        RankingLossCandidates = [| RankingLossForm.InfoNce; RankingLossForm.Pairwise |],
        MaxSteps = 8, EvaluateEvery = 2, PatienceSteps = 2, BatchSize = 32, Progress = false)

/// SciFact's training data held out by another split seed: the same embeddings, other validation queries (a fold).
let private foldData (split: int64) (seed: int64) =
    let d = ValidationSplit.Carve(TestSupport.SciFact.corpus (), TestSupport.SciFact.queries (), TestSupport.SciFact.qrels "train", 100, split)
    TrainingData(d.Corpus, d.Queries, d.Train, d.Validation, seed)

/// Seeds 1 and 2 on one split, and seed 1 on another split (differing from the first only in its training data).
let private cellData () = [| SciFactFixture.trainingData 1L; SciFactFixture.trainingData 2L; foldData 1L 1L |]

/// "alpha=0.1 beta=0.01 info-nce (validation nDCG@10 0.6123)" -> the point, and "...: 0.6123 (step 4)" entries -> (point, score, step).
let private pointOf (selected: string) = selected.Substring(0, selected.IndexOf " (")
let private gridEntries (grid: string) =
    [ for entry in grid.Split "; " ->
          let colon = entry.LastIndexOf ": "
          let score, step = let rest = entry.Substring(colon + 2) in rest.Substring(0, rest.IndexOf ' '), rest.Substring(rest.IndexOf "(step ")
          entry.Substring(0, colon), float score, step ]

/// Each member fitted together against itself fitted alone: every setting but the seconds (the scored ones: the same
/// points and steps, scores within 2e-3), its validation per dim (2e-3) and its compressed rows (1e-4).
let private expectSearchAdaptorsAlike (together: SearchAdaptor list) (alone: SearchAdaptor list) =
    let probe = Smec.Core.Storage.EmbeddingMatrix([| for i in 0..19 -> string i |], (SciFactFixture.trainingData 1L).Corpus.Values.[.. 20 * 384 - 1], 384)
    for k, (t, a) in List.indexed (List.zip together alone) do
        Expect.sequenceEqual (t.Settings.Keys |> Seq.sort) (a.Settings.Keys |> Seq.sort) (sprintf "member %d: the same settings keys" k)
        for KeyValue(key, expected) in a.Settings do
            let actual = t.Settings.[key]
            if key.StartsWith "grid @" then
                for (tp, ts, tstep), (ap, score, astep) in List.zip (gridEntries actual) (gridEntries expected) do
                    Expect.equal (tp, tstep) (ap, astep) (sprintf "member %d, %s: the same point and best step" k key)
                    Expect.floatClose { absolute = 2e-3; relative = 0.0 } ts score (sprintf "member %d, %s, %s: validation" k key ap)
            elif key.StartsWith "selected @" then Expect.equal (pointOf actual) (pointOf expected) (sprintf "member %d, %s: the same point and form" k key)
            elif key <> "training seconds" then Expect.equal actual expected (sprintf "member %d: setting %s" k key)
        for KeyValue(d, v) in a.ValidationNdcgByDim do
            Expect.floatClose { absolute = 2e-3; relative = 0.0 } t.ValidationNdcgByDim.[d] v (sprintf "member %d at %d dims: validation" k d)
        for d in a.Dims do
            let gap = (Seq.zip (t.Compress(probe, d, EmbeddingRole.Document).Values) (a.Compress(probe, d, EmbeddingRole.Document).Values)
                       |> Seq.map (fun (x, y) -> abs (x - y)) |> Seq.max)
            Expect.isLessThan gap 1e-4f (sprintf "member %d at %d dims: compressed rows differ by %g" k d gap)

/// Fits `options` members on `data` together (under `budget` bytes per ensemble) and alone, and compares them.
let private fitTogetherAndAlone (options: SearchAdaptorOptions) (data: TrainingData[]) (budget: int64) =
    let together = [ for _ in data -> new SearchAdaptor(dims, options) ]
    let alone = [ for _ in data -> new SearchAdaptor(dims, options) ]
    let members = together |> List.map (fun c -> c :> ICompressor) |> Array.ofList
    Expect.isNull (EnsembleFit.CannotFitTogether members) "Search-Adaptor members of one cell fit together"
    together.Head.FitTogether(members, data, budget)
    for c, d in List.zip alone (List.ofArray data) do c.Fit d
    let keptSteps = [ for c in alone do for d in dims -> c.Settings.[SelectedSteps.Key d] ]
    Expect.exists keptSteps (fun s -> s <> "0") (sprintf "some dim keeps a trained step, so trained models are compared, not only their starts (%A)" keptSteps)
    expectSearchAdaptorsAlike together alone
    for c in together @ alone do c.Dispose()

/// The footprint FitTogether sizes its ensembles with (one model, its projection padded to the widest dim).
let private footprint (options: SearchAdaptorOptions) =
    let hidden = if options.FunctionClass = FunctionClass.Linear then 0 else options.HiddenDim.Value
    use set = new TrainingSet(SciFactFixture.trainingData 1L, options.HardNegativePool)
    EnsembleSizing.SearchAdaptor(EnsembleData(set.Corpus.shape.[0], set.Queries.shape.[0], set.Dim, int64 set.ValidationQueryRows.Length, 0L),
                                 384, hidden, dims.[0], options.Loop(dims.[0], options.Grid.[0]))

[<Tests>]
let tests =
    testList "EnsembleFit.SearchAdaptor" [
        testCase "Search-Adaptor fitted together (residual MLP; seeds and a fold, both loss forms, per-dim selection, early stops, split by the memory rule) equals each member fitted alone" <| fun () ->
            let options = adaptorOptions FunctionClass.ResidualMlp DimSelection.PerDim [ RegularizerWeights(0.1, 0.01) ]
            // 3 members x 2 dims x 2 forms = 12 models; a budget of 5 models' bytes splits them into 3 ensembles of 4.
            let footprint = footprint options
            let budget = footprint.Bytes 5
            Expect.equal (List.ofSeq (EnsembleSizing.Split(12, budget, footprint))) [ 4; 4; 4 ] "the memory rule splits the 12 models into three ensembles"
            fitTogetherAndAlone options (cellData ()) budget

        testCase "Search-Adaptor fitted together (linear; shared selection over two (alpha, beta) points, in one ensemble) equals each member fitted alone" <| fun () ->
            let options = adaptorOptions FunctionClass.Linear DimSelection.Shared [ RegularizerWeights(0.1, 0.01); RegularizerWeights(1.0, 0.1) ]
            let data = (cellData ()).[1..]
            let footprint = footprint options
            Expect.equal (EnsembleSizing.Split(16, EnsembleSizing.DefaultBudgetBytes, footprint).Count) 1 "16 small models fit one ensemble under the default budget"
            fitTogetherAndAlone options data EnsembleSizing.DefaultBudgetBytes

        testCase "Search-Adaptor's local tuning grid fitted together routes every dim as each grid fitted alone (per dim, per point)" <| fun () ->
            let registry = Smec.Experiments.Methods.MethodRegistry.standard
            let options =
                match registry.ResolveOptions(SearchAdaptor.Kind, Map [ "tuning", "local-grid"; "selection", "per-dim"; "function_class", "linear" ]) with
                | Ok o -> o
                | Error e -> failtest e
            let build seed : ICompressor =
                (registry.Entries[SearchAdaptor.Kind]).Create
                    { Method = SearchAdaptor.Kind; Options = options; Dims = List.ofArray dims; InputDim = 384; Seed = seed; Progress = false; CheckpointPath = None
                      Budget = Some { MaxSteps = 4; BatchSize = 32; LearningRate = 1e-3; Patience = 100; ValidateEvery = 2 } }
            let data = [| SciFactFixture.trainingData 1L; foldData 1L 2L |]
            let together = [| for d in data -> build d.Seed |]
            let alone = [| for d in data -> build d.Seed |]
            EnsembleGridChecks.expectGridsRouteAlike together alone data (List.ofArray dims) (fun _ _ _ -> ())

        testCase "Search-Adaptor says why it cannot fit members together (differing options or dims, a loaded model), so the runner fits them alone" <| fun () ->
            let options = adaptorOptions FunctionClass.ResidualMlp DimSelection.PerDim [ RegularizerWeights(0.1, 0.01) ]
            let refusal (members: ICompressor list) = EnsembleFit.CannotFitTogether(Array.ofList members)
            let adaptor (o: SearchAdaptorOptions) = new SearchAdaptor(dims, o) :> ICompressor
            Expect.stringContains (refusal [ adaptor options; adaptor (adaptorOptions FunctionClass.Linear DimSelection.PerDim [ RegularizerWeights(0.1, 0.01) ]) ])
                "function_class ResidualMlp vs Linear" "members of another function class are refused, naming the option and both values"
            Expect.stringContains (refusal [ adaptor options; adaptor (adaptorOptions FunctionClass.ResidualMlp DimSelection.PerDim [ RegularizerWeights(1.0, 0.1) ]) ]) "grid (alpha, beta)"
                "members with other (alpha, beta) are refused, naming the option"
            Expect.stringContains (refusal [ adaptor options; adaptor (adaptorOptions FunctionClass.ResidualMlp DimSelection.Shared [ RegularizerWeights(0.1, 0.01) ]) ]) "selection PerDim vs Shared"
                "members with another selection are refused, naming the option and both values"
            Expect.stringContains (refusal [ adaptor options; new SearchAdaptor([| 48 |], options) :> ICompressor ]) "dims" "members with other dims are refused"
            Expect.stringContains (refusal [ adaptor options; new Pca(dims) :> ICompressor ]) "not Search-Adaptor" "another method is refused"
            // A loaded model: fit and save a 1-step model, load it back.
            let tiny = SearchAdaptorOptions(Grid = [| RegularizerWeights(0.1, 0.01) |], HiddenDim = Nullable 96, MaxSteps = 1, EvaluateEvery = 1, BatchSize = 8, Progress = false)
            use fitted = new SearchAdaptor([| 48 |], tiny)
            fitted.Fit(SciFactFixture.trainingData 1L)
            let folder = IO.Path.Combine(IO.Path.GetTempPath(), sprintf "smec-sa-loaded-%s" (Guid.NewGuid().ToString "N"))
            try
                fitted.Save folder
                use loaded = SearchAdaptor.Load folder
                Expect.stringContains (refusal [ new SearchAdaptor([| 48 |], tiny) :> ICompressor; loaded :> ICompressor ]) "loaded model" "a loaded model is refused"
            finally
                if IO.Directory.Exists folder then IO.Directory.Delete(folder, true)
    ]
