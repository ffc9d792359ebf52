/// SMEC's whole fit of many (SmecCompressor.FitTogether): K members of one cell (seeds, and a fold's other
/// training data) fitted together, step by step down the ladder, each equal to itself fitted alone; its
/// local tuning grid fitted together routes every dim as each grid alone; what it cannot express, it refuses
/// with the option named (the runner then fits those members alone).
module Smec.Tests.EnsembleFitSmecTests

open System.IO
open Expecto
open TorchSharp
open Smec.Core.Losses
open Smec.Core.Methods
open Smec.Core.Methods.SmecMethod
open Smec.Core.Storage
open Smec.Core.Training

/// A smaller SciFact, so the many fits here take seconds: its train queries, the docs they judge and the
/// first 500 others (the mirror's MiniLM embeddings, the train judgements).
let private smallSciFact =
    lazy
        (let corpus, queries, train = TestSupport.SciFact.corpus (), TestSupport.SciFact.queries (), TestSupport.SciFact.qrels "train"
         let judged = train.QueryIds |> Seq.collect (fun q -> (train.ForQuery q).Keys) |> set
         let docs = corpus.Ids |> Seq.indexed |> Seq.filter (fun (i, id) -> i < 500 || judged.Contains id) |> Seq.map snd |> Array.ofSeq
         corpus.Select docs, queries.Select(train.QueryIds |> Seq.sort |> Array.ofSeq), train)

/// One fold's training data: 100 train queries held out for validation by split seed `split` (another split:
/// other validation queries, so other training pairs and S-XBM anchors), the training seed `seed`.
let private foldData (split: int64) (seed: int64) =
    let corpus, queries, train = smallSciFact.Force()
    let d = ValidationSplit.Carve(corpus, queries, train, 100, split)
    TrainingData(d.Corpus, d.Queries, d.Train, d.Validation, seed)

/// SMEC proper (SMRL, ADS, S-XBM on) at a small ladder: steps 384 -> 384 -> [96] and 96 -> 96 -> [48], both
/// loss forms (2 grid points a step), a small S-XBM memory that fills within the budget.
let private smecOptions (selection: DimSelection) =
    SmecOptions(Ladder = [| 384; 96; 48 |], Selection = selection, SxbmCapacity = 256, SxbmWarmupSteps = 2, SxbmTopK = 5)

/// SMEC proper in the residual-MLP function class (an MLP x + W2 relu(W1 x) before each step's layer, W2
/// starting at zero: W1 moves from the second update on, within the test's 6 steps).
let private smecMlpOptions () =
    SmecOptions(Ladder = [| 384; 96; 48 |], Selection = DimSelection.PerDim, SxbmCapacity = 256, SxbmWarmupSteps = 2, SxbmTopK = 5,
                FunctionClass = FunctionClass.ResidualMlp)

let private smecCompressor (options: SmecOptions) =
    new SmecCompressor(options, TrainingOptions(MaxSteps = 6, EvaluateEvery = 3, Patience = 100, Progress = false, BatchSize = 32))

let private relativeDifference (a: float) (b: float) = abs (a - b) / max 1e-12 (max (abs a) (abs b))

/// Each member fitted together against itself fitted alone: every step's grid points (losses within 1e-5
/// relative, validation within 2e-3), the point and snapshot kept at every dim of every step, the dims ADS
/// selects, each duplicated dim's source, the validation curve (2e-3) and the compressed rows (1e-4).
let private expectFitsAlike (together: SmecCompressor list) (alone: SmecCompressor list) =
    let probe = EmbeddingMatrix([| for i in 0..19 -> string i |], (foldData 0L 1L).Corpus.Values.[.. 20 * 384 - 1], 384)
    for k, (t, a) in List.indexed (List.zip together alone) do
        Expect.equal t.TrainingRuns.Count a.TrainingRuns.Count (sprintf "member %d: loop runs" k)
        for (ts, tp, tr), (s, ap, ar) in Seq.zip t.TrainingRuns a.TrainingRuns do
            Expect.equal (ts, tp) (s, ap) (sprintf "member %d: step and grid point" k)
            Expect.equal tr.History.Count ar.History.Count (sprintf "member %d step %d [%s]: validations" k s ap)
            for th, ah in Seq.zip tr.History ar.History |> Seq.skip 1 do
                Expect.isLessThan (relativeDifference th.MeanTrainLoss ah.MeanTrainLoss) 1e-5
                    (sprintf "member %d step %d [%s] at %d: loss %.7f together vs %.7f alone" k s ap ah.Step th.MeanTrainLoss ah.MeanTrainLoss)
                Expect.floatClose { absolute = 2e-3; relative = 0.0 } th.ValidationNdcg10 ah.ValidationNdcg10 (sprintf "member %d step %d [%s] at %d: validation" k s ap ah.Step)
        Expect.equal t.StepRecords.Count a.StepRecords.Count (sprintf "member %d: steps" k)
        for tr, ar in Seq.zip t.StepRecords a.StepRecords do
            Expect.equal tr.Chosen ar.Chosen (sprintf "member %d step %d: the point (and step) kept at each dim" k ar.Step)
            Expect.equal (tr.BestStep, tr.SelectionSteps |> Option.ofObj |> Option.map (Seq.map (fun kv -> kv.Key, kv.Value) >> Map.ofSeq))
                         (ar.BestStep, ar.SelectionSteps |> Option.ofObj |> Option.map (Seq.map (fun kv -> kv.Key, kv.Value) >> Map.ofSeq))
                         (sprintf "member %d step %d: the snapshot step of each dim" k ar.Step)
        for i, (ts, s) in Seq.indexed (Seq.zip t.Chain.Steps a.Chain.Steps) do
            for j, (tads, ads) in Seq.indexed (Seq.zip ts.Selections s.Selections) do
                Expect.sequenceEqual (tads.SelectedIndices()) (ads.SelectedIndices()) (sprintf "member %d step %d selection %d: the dims ADS keeps" k (i + 1) (j + 1))
        Expect.equal (Map.ofSeq (t.Chain.ChosenSources |> Seq.map (fun kv -> kv.Key, kv.Value))) (Map.ofSeq (a.Chain.ChosenSources |> Seq.map (fun kv -> kv.Key, kv.Value)))
            (sprintf "member %d: each duplicated dim's source" k)
        Expect.equal (List.ofSeq t.ValidationCurve.Keys) (List.ofSeq a.ValidationCurve.Keys) (sprintf "member %d: served dims" k)
        for KeyValue(d, v) in a.ValidationCurve do
            Expect.floatClose { absolute = 2e-3; relative = 0.0 } t.ValidationCurve.[d] v (sprintf "member %d at %d dims: validation nDCG@10" k d)
        for d in a.Dims do
            Expect.equal t.Settings.[SelectedSteps.Key d] a.Settings.[SelectedSteps.Key d] (sprintf "member %d at %d dims: the same selected steps" k d)
            let gap = (Seq.zip (t.Compress(probe, d, EmbeddingRole.Document).Values) (a.Compress(probe, d, EmbeddingRole.Document).Values)
                       |> Seq.map (fun (x, y) -> abs (x - y)) |> Seq.max)
            Expect.isLessThan gap 1e-4f (sprintf "member %d at %d dims: compressed rows differ by %g" k d gap)

/// Fit `options`' members on `data` together and each alone (fresh compressors), compare them, dispose them.
let private expectTogetherAsAlone (options: SmecOptions) (data: TrainingData list) =
    let together = [ for _ in data -> smecCompressor options ]
    let alone = [ for _ in data -> smecCompressor options ]
    try
        let members = together |> List.map (fun c -> c :> ICompressor) |> Array.ofList
        Expect.isNull (EnsembleFit.CannotFitTogether members) "the members of one cell fit together"
        (members.[0] :?> IEnsembleFit).FitTogether(members, Array.ofList data)
        for c, d in List.zip alone data do c.Fit d
        expectFitsAlike together alone
    finally
        for c in together @ alone do c.Dispose()

/// Why `options`' two members cannot be fitted together.
let private refusal (options: SmecOptions) =
    EnsembleFit.CannotFitTogether [| for _ in 1..2 -> smecCompressor options :> ICompressor |]

[<Tests>]
let tests =
    testList "EnsembleFit.Smec" [
        testCase "SMEC fitted together (seeds, a fold's other training data; ADS, S-XBM, per-dim selection, both loss forms) equals each member fitted alone, step by step" <| fun () ->
            // Seeds 1 and 2 on one fold, and seed 1 on a fold that validates on other queries (other anchors, other pairs).
            expectTogetherAsAlone (smecOptions DimSelection.PerDim) [ foldData 0L 1L; foldData 0L 2L; foldData 5L 1L ]

        testCase "SMEC in the residual-MLP form fitted together (seeds, a fold's other data; ADS, S-XBM, per-dim selection) equals each member fitted alone" <| fun () ->
            expectTogetherAsAlone (smecMlpOptions ()) [ foldData 0L 1L; foldData 5L 2L ]

        testCase "SMEC's ablations fitted together (w/o SMRL: one layer under ADS and S-XBM, both ADS inits, shared selection; w/o ADS from a random layer start) equal each member fitted alone" <| fun () ->
            let data = [ foldData 0L 3L; foldData 7L 4L ]
            let withoutSmrl = SmecOptions(Ladder = [| 384; 96; 48 |], Smrl = false, Selection = DimSelection.Shared, AdsInitCandidates = [| AdsLogitInit.Variance; AdsLogitInit.Zero |],
                                          SxbmCapacity = 256, SxbmWarmupSteps = 2, SxbmTopK = 5)
            // A random layer start: each step's layer keeps what it drew from torch's global generator, so each member
            // must draw its later step (and its per-dim snapshots before it) from its own generator state, as alone.
            let withoutAds = SmecOptions(Ladder = [| 384; 96; 48 |], Ads = false, Selection = DimSelection.PerDim, SxbmCapacity = 256, SxbmTopK = 5,
                                         LossCandidates = [| RankingLossForm.Pairwise |], Init = LayerInit.Random)
            expectTogetherAsAlone withoutSmrl data
            expectTogetherAsAlone withoutAds data

        testCase "the members share one anchor-cosine table (the union of their anchors), counted once by the sizing rule, and each looks up its own table's cosines" <| fun () ->
            let options = smecOptions DimSelection.PerDim
            use first = new TrainingSet(foldData 0L 1L, 30)
            use other = new TrainingSet(foldData 5L 1L, 30)
            use shared = SmecCompressor.SharedCosines([| first; other |], options)
            Expect.isNotNull shared "the union's table fits its budget"
            let anchors (set: TrainingSet) = SmrlStepObjective.AnchorItems(set, options)
            let union = Seq.append (anchors first) (anchors other) |> Seq.distinct |> Seq.length
            Expect.isGreaterThan union (anchors first).Count "the other fold trains on other queries: more anchors than one member's"
            let data = EnsembleData(first.Corpus.shape.[0], first.Queries.shape.[0], first.Dim, int64 first.ValidationQueryRows.Length, int64 union)
            Expect.equal shared.Bytes (EnsembleSizing.CosineTableBytes data) "the table is the one the sizing rule counts as shared (once, whatever K)"
            use items = SmrlStepObjective.Items first
            for set in [ first; other ] do
                use own = ItemCosines.TryBuild(items, anchors set)
                let anchorIds = anchors set |> Seq.take 64 |> Array.ofSeq
                use slots = torch.tensor([| 0L .. 37L .. int64 items.shape.[0] - 1L |])
                use a = own.Between(anchorIds, slots)
                use b = shared.Between(anchorIds, slots)
                use gap = (a - b).abs().max()
                Expect.isLessThan (gap.item<float32> ()) 1e-6f "a member's anchors read the cosines its own table holds"
            Expect.isNull (SmecCompressor.SharedCosines([| first |], SmecOptions(Sxbm = false))) "without S-XBM there is no table"

        testCase "SMEC's local tuning grid fitted together routes every dim as each grid fitted alone (per dim, per point)" <| fun () ->
            let registry = Smec.Experiments.Methods.MethodRegistry.standard
            let options =
                match registry.ResolveOptions("smec", Map [ "tuning", "local-grid"; "selection", "per-dim"; "sxbm_capacity", "256"; "loss_candidates", "info-nce" ]) with
                | Ok o -> o
                | Error e -> failtest e
            let build seed : ICompressor =
                (registry.Entries["smec"]).Create
                    { Method = "smec"; Options = options; Dims = [ 96; 48 ]; InputDim = 384; Seed = seed; Progress = false; CheckpointPath = None
                      Budget = Some { MaxSteps = 4; BatchSize = 32; LearningRate = 1e-3; Patience = 100; ValidateEvery = 2 } }
            let data = [| foldData 0L 1L; foldData 5L 2L |]
            let together = [| for d in data -> build d.Seed |]
            let alone = [| for d in data -> build d.Seed |]
            EnsembleGridChecks.expectGridsRouteAlike together alone data [ 96; 48 ] (fun _ _ _ -> ())

        testCase "SMEC says why it cannot fit members together, naming the option (residual steps, similarity term, docs as anchors, differing options incl. the function class, checkpoints, a loaded model)" <| fun () ->
            let options = smecOptions DimSelection.PerDim
            let ladder = [| 384; 96; 48 |]
            Expect.isNull (refusal (SmecOptions(Ladder = ladder, FunctionClass = FunctionClass.ResidualMlp))) "the residual-MLP form fits together"
            let mixed = [| smecCompressor (SmecOptions(Ladder = ladder)) :> ICompressor; smecCompressor (SmecOptions(Ladder = ladder, FunctionClass = FunctionClass.ResidualMlp)) |]
            Expect.stringContains (EnsembleFit.CannotFitTogether mixed) "function_class" "members of two function classes do not mix, the option named"
            Expect.stringContains (refusal (SmecOptions(Ladder = ladder, Residual = true))) "residual=true" "residual steps"
            Expect.stringContains (refusal (SmecOptions(Ladder = ladder, SimilarityWeight = 0.5))) "similarity_weight=0.5" "the similarity term"
            Expect.stringContains (refusal (SmecOptions(Ladder = ladder, SxbmAnchors = SxbmAnchors.QueriesAndDocs))) "sxbm_anchors=queries-and-docs" "docs as S-XBM anchors"
            let differing = [| smecCompressor (SmecOptions(Ladder = ladder)) :> ICompressor; smecCompressor (SmecOptions(Ladder = ladder, SxbmTopK = 7)) |]
            Expect.stringContains (EnsembleFit.CannotFitTogether differing) "smec.sxbm_top_k" "members with other options, the option named"
            let checkpointing =
                [| smecCompressor options :> ICompressor
                   new SmecCompressor(options, TrainingOptions(MaxSteps = 8, EvaluateEvery = 4, Patience = 100, Progress = false, BatchSize = 32, CheckpointPath = "fit.ckpt")) |]
            Expect.stringContains (EnsembleFit.CannotFitTogether checkpointing) "checkpoints" "a checkpointing member"
            // A loaded model: a tiny fit (one step, one form, two loop steps), saved and read back.
            let tiny = SmecOptions(Ladder = [| 384; 48 |], LossCandidates = [| RankingLossForm.InfoNce |], SxbmCapacity = 64)
            let dir = Path.Combine(Path.GetTempPath(), sprintf "smec-ensemble-loaded-%s" (System.Guid.NewGuid().ToString "N"))
            try
                use fitted = new SmecCompressor(tiny, TrainingOptions(MaxSteps = 2, EvaluateEvery = 2, Patience = 100, Progress = false, BatchSize = 16))
                fitted.Fit(foldData 0L 1L)
                fitted.Save dir
                use loaded = SmecCompressor.Load dir
                Expect.stringContains (EnsembleFit.CannotFitTogether [| new SmecCompressor(tiny) :> ICompressor; loaded |]) "loaded model" "a loaded member"
            finally
                if Directory.Exists dir then Directory.Delete(dir, true)
            let mrl = SmecOptions(Ladder = [| 384; 48 |], Smrl = false, Ads = false, Sxbm = false)
            Expect.stringContains (EnsembleFit.CannotFitTogether [| smecCompressor options :> ICompressor; smecCompressor mrl |]) "smec.smrl" "SMEC and MRL members do not mix"
    ]
