/// The ensemble path of the training loop: K members trained as one batched model, each equal to
/// itself trained alone; a stopped member is frozen; the batched step runs on any device.
module Smec.Tests.EnsembleTests

open System.Collections.Generic
open Expecto
open TorchSharp
open Smec.Core.Data
open Smec.Core.Storage
open Smec.Core.Methods
open Smec.Core.Losses
open Smec.Core.Methods.Baselines
open Smec.Core.Methods.SmecMethod
open Smec.Core.Training

/// MRL at a small ladder: one 384 -> 384 layer, the loss on its output and its 96- and 48-d prefixes.
let private mrlWith (form: RankingLossForm) =
    SmecOptions(Ladder = [| 384; 96; 48 |], Smrl = false, Ads = false, Sxbm = false, LossForm = form)
let private mrlOptions = mrlWith RankingLossForm.InfoNce

let private training steps patience =
    TrainingOptions(MaxSteps = steps, EvaluateEvery = 1, Patience = patience, Progress = false, BatchSize = 32)

/// A fresh MRL layer at its PCA start on the set's corpus (what SmecCompressor.Fit starts from).
let private startingStep (set: TrainingSet) =
    let step = new SmrlStep(384, 384, [| 96; 48 |], false, false)
    LayerInitialiser.Initialise(step, LayerInit.Pca, set.Corpus)
    step

/// The member trained alone, as SmecCompressor trains an MRL grid point: SmrlStepObjective on the shared loop.
let private alone (set: TrainingSet) (form: RankingLossForm) (seed: int64) (options: TrainingOptions) =
    let step = startingStep set
    let chain = new SmecChain(mrlOptions.StepInput, mrlOptions.DimSource)
    chain.AddStep step
    use objective = new SmrlStepObjective(chain, 0, mrlWith form, set)
    let result = TrainingLoop.Run(set, objective, options, seed)
    result, step.Layer.weight.detach().clone()

let private relativeDifference (a: float) (b: float) = abs (a - b) / max 1e-12 (max (abs a) (abs b))

/// Members: (seed, form). Trains them together and each alone; returns (ensemble result, weight) and (alone result, weight) per member.
let private compare (members: (int64 * RankingLossForm) list) (options: TrainingOptions) =
    use set = new TrainingSet(SciFactFixture.trainingData 1L, options.HardNegativePool)
    let steps = members |> List.map (fun _ -> startingStep set)
    let together =
        MrlEnsemble.Train([| for step, (seed, form) in List.zip steps members -> MrlMember(step, set, seed, form) |], mrlOptions, options)
    [ for k, (seed, form) in List.indexed members ->
          (together.[k], steps.[k].Layer.weight.detach().clone()), alone set form seed options ]

/// A Search-Adaptor member as SearchAdaptor.Fit starts it: seeded model, prefix projection, then the predictor.
let private searchAdaptorStart (seed: int64) (dim: int) =
    Smec.Core.Runtime.Determinism.Seed seed |> ignore
    let model = new SearchAdaptorModel(384, 384, dim)
    model.InitialiseProjection(torch.eye(384L, int64 dim, dtype = torch.ScalarType.Float64), torch.zeros(1L, 384L, dtype = torch.ScalarType.Float64))
    model, torch.nn.Linear(int64 dim, 384L)

/// Search-Adaptor members (seed, dim, (alpha, beta), form) together and each alone: (result, projected corpus rows) pairs.
let private compareSearchAdaptor (members: (int64 * int * RegularizerWeights * RankingLossForm) list) (options: TrainingOptions) =
    use set = new TrainingSet(SciFactFixture.trainingData 1L, options.HardNegativePool)
    let adaptorOptions = SearchAdaptorOptions()
    let probe = set.Corpus.narrow(0L, 0L, 50L)
    let outputOf (model: SearchAdaptorModel) = (use _ = torch.no_grad () in model.eval (); model.forward(probe).detach().clone())
    let started = [ for seed, dim, _, _ in members -> searchAdaptorStart seed dim ]
    let together =
        SearchAdaptorEnsemble.Train(
            [| for (model, predictor), (seed, _, weights, form) in List.zip started members -> SearchAdaptorMember(model, predictor, weights, form, set, seed) |],
            adaptorOptions, options)
    [ for k, (seed, dim, weights, form) in List.indexed members ->
          let model, predictor = searchAdaptorStart seed dim
          let objective = SearchAdaptorObjective(model, predictor, weights, SearchAdaptorOptions(RankingLoss = form))
          let solo = TrainingLoop.Run(set, objective, options, seed)
          (together.[k], outputOf (fst started.[k])), (solo, outputOf model) ]

/// One SMEC step with SMRL, ADS and S-XBM on: 384 -> 96, ADS keeping 48. A small memory (wraps within a few
/// steps), searched from step 2 on (warm-up 2), so the 20 compared steps use it.
let private smecStepWith (form: RankingLossForm) =
    SmecOptions(Ladder = [| 384; 96; 48 |], LossForm = form, SxbmCapacity = 256, SxbmWarmupSteps = 2, SxbmTopK = 5)

/// A fresh SMEC step at its PCA start, ADS logits drawn from the seed (members start apart, as grid points of ADS init do).
let private startingSmecStep (set: TrainingSet) (seed: int64) =
    let step = new SmrlStep(384, 96, [| 48 |], true, false)
    LayerInitialiser.Initialise(step, LayerInit.Pca, set.Corpus)
    step.Selections.[0].InitialiseLogits(torch.randn([| 96L |], generator = new torch.Generator(uint64 seed)))
    let chain = new SmecChain(StepInput.Full, DimSource.Validation)
    chain.AddStep step
    chain, step

/// SMEC step members (seed, form) together and each alone (SmrlStepObjective with its own anchor-cosine table, as
/// SmecCompressor trains a grid point): ((result, weight), (result, weight)) per member, and each side's selected dims.
let private compareSmecStep (members: (int64 * RankingLossForm) list) (options: TrainingOptions) =
    use set = new TrainingSet(SciFactFixture.trainingData 1L, options.HardNegativePool)
    let started = [ for seed, _ in members -> startingSmecStep set seed ]
    let together =
        SmecStepEnsemble.Train([| for (chain, _), (seed, form) in List.zip started members -> SmecStepMember(chain, 0, set, seed, form) |],
                               smecStepWith RankingLossForm.InfoNce, options)
    [ for k, (seed, form) in List.indexed members ->
          let chain, step = startingSmecStep set seed
          let stepOptions = smecStepWith form
          use items = SmrlStepObjective.Items set
          use cosines = ItemCosines.TryBuild(items, SmrlStepObjective.AnchorItems(set, stepOptions))
          Expect.isNotNull cosines "the anchor-cosine table fits its budget (so both sides look cosines up)"
          use objective = new SmrlStepObjective(chain, 0, stepOptions, set, cosines)
          let solo = TrainingLoop.Run(set, objective, options, seed)
          let togetherStep = snd started.[k]
          ((together.[k], togetherStep.Layer.weight.detach().clone()), (solo, step.Layer.weight.detach().clone())),
          (togetherStep.Selections.[0].SelectedIndices(), step.Selections.[0].SelectedIndices()) ]

/// The sizing rule's data for a training set (its anchors: the union of the members' S-XBM anchors; here one set).
let private sizingData (set: TrainingSet) (options: SmecOptions) =
    EnsembleData(set.Corpus.shape.[0], set.Queries.shape.[0], set.Dim, int64 set.ValidationQueryRows.Length,
                 int64 (SmrlStepObjective.AnchorItems(set, options).Count))

/// Bytes of the tensors a SMEC step ensemble of `members` members allocates in one training step (forward and
/// backward, S-XBM's memory in use): every tensor the step's scope holds, views excluded (non-contiguous), plus the gradients.
let private measuredStepBytes (set: TrainingSet) (members: int) (options: TrainingOptions) =
    let started = [ for seed in 1L .. int64 members -> startingSmecStep set seed ]
    use ensemble =
        new SmecStepEnsemble([| for (chain, _), seed in List.zip started [ 1L .. int64 members ] -> SmecStepMember(chain, 0, set, seed, RankingLossForm.InfoNce) |],
                             smecStepWith RankingLossForm.InfoNce, options)
    let task = ensemble :> IEnsembleTask
    let mutable measured = 0L
    for step in 0 .. 3 do
        let generators = [| for seed in 1L .. int64 members -> new torch.Generator(SeedMix.Mix(seed, SeedMix.NoiseStream, int64 step)) |]
        let steps = [| for g in generators -> TrainingStep(step, 10, 0, g) |]
        use scope = torch.NewDisposeScope()
        let losses = task.Losses steps
        losses.sum().backward()
        task.AfterStep steps
        if step = 3 then
            let tensorBytes (t: torch.Tensor) = t.NumberOfElements * t.ElementSize
            let held = scope.DisposablesView |> Seq.choose (function :? torch.Tensor as t when not t.IsInvalid && t.is_contiguous () -> Some t | _ -> None)
            let gradients = task.ParameterGroups |> Seq.collect (fun g -> g.Parameters) |> Seq.sumBy (fun p -> tensorBytes p.grad)
            measured <- (held |> Seq.sumBy tensorBytes) + gradients
        for g in generators do g.Dispose()
        for g in task.ParameterGroups do for p in g.Parameters do p.grad <- null
    measured, ensemble.SharedTableBytes, ensemble.MemoryBytes(members - 1)

/// Each member's losses (per step, within 1e-5 relative), validation (within 2e-3) and final tensor (within `tolerance`) against its run alone.
let private expectSame (results: ((TrainingResult * torch.Tensor) * (TrainingResult * torch.Tensor)) list) (tolerance: float32) =
    for k, ((together, togetherTensor), (solo, soloTensor)) in List.indexed results do
        Expect.equal together.History.Count solo.History.Count (sprintf "member %d: validations" k)
        for t, s in Seq.zip together.History solo.History |> Seq.skip 1 do
            Expect.isLessThan (relativeDifference t.MeanTrainLoss s.MeanTrainLoss) 1e-5
                (sprintf "member %d, step %d: loss %.7f together vs %.7f alone" k s.Step t.MeanTrainLoss s.MeanTrainLoss)
            Expect.floatClose { absolute = 2e-3; relative = 0.0 } t.ValidationNdcg10 s.ValidationNdcg10
                (sprintf "member %d, step %d: validation nDCG@10" k s.Step)
        Expect.equal together.StepsRun solo.StepsRun (sprintf "member %d stops when it stops alone" k)
        Expect.equal together.BestStep solo.BestStep (sprintf "member %d keeps the same best step" k)
        let gap = (togetherTensor - soloTensor).abs().max().item<float32>()
        Expect.isLessThan gap tolerance (sprintf "member %d: final weights/outputs differ by %g at most" k gap)


/// Matryoshka-Adaptor's tiny synthetic problem: 40 queries, each a noisy copy of "its" doc among 80 (16-d);
/// fold 0 validates on queries 0-7, fold 1 on 8-15 (each trains on the rest). Equivalence only, never a result.
let private maCorpus =
    let random = System.Random 1
    EmbeddingMatrix([| for i in 0 .. 79 -> sprintf "d%d" i |], Array.init (80 * 16) (fun _ -> float32 (random.NextDouble() * 2.0 - 1.0)), 16)

let private maData (fold: int) (seed: int64) =
    let random = System.Random 2
    let queries = EmbeddingMatrix([| for i in 0 .. 39 -> sprintf "q%d" i |], Array.init (40 * 16) (fun i -> maCorpus.Values.[i] + float32 (random.NextDouble() - 0.5)), 16)
    let qrels ids = Qrels(Dictionary(dict [ for i in ids -> sprintf "q%d" i, Dictionary(dict [ sprintf "d%d" i, 1 ]) ]))
    let validation = [ 8 * fold .. 8 * fold + 7 ]
    TrainingData(maCorpus, queries, qrels [ for i in 0 .. 39 do if not (List.contains i validation) then yield i ], qrels validation, seed)

let private maDims = [| 8; 4 |]

/// A member's options: both stages 20 steps (`steps`), validation every step, the given patience, one ranking-loss form.
let private maOptions (functionClass: FunctionClass) (selection: DimSelection) (steps: int) (patience: int) (alpha, beta, gamma) (form: RankingLossForm) =
    MatryoshkaAdaptorOptions(
        FunctionClass = functionClass, Selection = selection, MaxStepsPerStage = steps, EvaluateEvery = 1, PatienceSteps = patience,
        BatchSize = 8, HardNegativePool = 5, TopK = 3, UnsupervisedHeldOutDocs = 16, Progress = false,
        Alpha = alpha, Beta = beta, Gamma = gamma, RankingLoss = form, RankingLossCandidates = [| form |])

/// The member's largest-dim output on the corpus, normalised (what Compress serves).
let private maOutput (forward: torch.Tensor -> torch.Tensor) =
    use _ = torch.no_grad ()
    use corpus = Smec.Core.Retrieval.EmbeddingTensors.ToTensor maCorpus
    torch.nn.functional.normalize((forward corpus).narrow(1L, 0L, int64 maDims.[0]), dim = 1L).detach().clone()

/// Members (fold, seed, weights, form): both stages together (MatryoshkaAdaptorCorpusEnsemble, then
/// MatryoshkaAdaptorEnsemble from its weights), and each member alone (MatryoshkaAdaptor.Fit with its one form).
/// Returns per member ((stage 1, stage 2, output) together, (stage 1, stage 2, output, validation by dim) alone).
let private compareMatryoshka (functionClass: FunctionClass) (selection: DimSelection) (steps: int) (patience: int) members =
    let data = [ for fold, seed, _, _ in members -> maData fold seed ]
    let options = [ for _, _, weights, form in members -> maOptions functionClass selection steps patience weights form ]
    let adaptors =
        [ for d, o in List.zip data options ->
              Smec.Core.Runtime.Determinism.Seed d.Seed |> ignore
              MatryoshkaAdaptor.StartingAdaptor(o, d.Corpus) ]
    let corpusResults =
        MatryoshkaAdaptorCorpusEnsemble.Train(
            [| for (a, o), d in List.zip (List.zip adaptors options) data -> MatryoshkaAdaptorCorpusMember(a, o, d.Seed) |], maCorpus, maDims)
    let sets = [ for d, o in List.zip data options -> new TrainingSet(d, o.HardNegativePool) ]
    try
        let supervised =
            MatryoshkaAdaptorEnsemble.Train(
                [| for ((a, o), d), set in List.zip (List.zip (List.zip adaptors options) data) sets -> MatryoshkaAdaptorMember(a, o, set, d.Seed) |], maDims)
        [ for k in 0 .. List.length members - 1 ->
              let together = corpusResults.[k], supervised.[k], maOutput adaptors.[k].forward
              use solo = new MatryoshkaAdaptor(maDims, options.[k])
              solo.Fit data.[k]
              let output =
                  let compressed = solo.Compress(maCorpus, maDims.[0], EmbeddingRole.Document)
                  Smec.Core.Retrieval.EmbeddingTensors.ToTensor compressed
              together, (solo.UnsupervisedRun, (let struct (_, run) = solo.TrainingRuns.[0] in run), output, solo.ValidationNdcgByDim) ]
    finally
        for set in sets do set.Dispose()

/// Each member against itself alone: per stage its losses (1e-5 relative), its stop and kept step; then its
/// validation per dim and its output at the largest dim.
let private expectSameMatryoshka results =
    for k, ((corpus: CorpusOnlyResult, supervised: TrainingResult, output: torch.Tensor), (soloCorpus: CorpusOnlyResult, soloSupervised: TrainingResult, soloOutput: torch.Tensor, soloByDim: IReadOnlyDictionary<int, float>)) in List.indexed results do
        Expect.equal corpus.TrainLosses.Count soloCorpus.TrainLosses.Count (sprintf "member %d, corpus-only stage: validations" k)
        for (step, t), (_, s) in Seq.zip corpus.TrainLosses soloCorpus.TrainLosses |> Seq.skip 1 do
            Expect.isLessThan (relativeDifference t s) 1e-5 (sprintf "member %d, corpus-only step %d: loss %.7f together vs %.7f alone" k step t s)
        for (step, t), (_, s) in Seq.zip corpus.History soloCorpus.History do
            Expect.isLessThan (relativeDifference t s) 1e-5 (sprintf "member %d, corpus-only step %d: held-out loss %.7f together vs %.7f alone" k step t s)
        Expect.equal (corpus.StepsRun, corpus.BestStep, corpus.StoppedEarly) (soloCorpus.StepsRun, soloCorpus.BestStep, soloCorpus.StoppedEarly)
            (sprintf "member %d: the corpus-only stage stops and keeps as alone" k)
        Expect.equal supervised.History.Count soloSupervised.History.Count (sprintf "member %d, supervised stage: validations" k)
        for t, s in Seq.zip supervised.History soloSupervised.History |> Seq.skip 1 do
            Expect.isLessThan (relativeDifference t.MeanTrainLoss s.MeanTrainLoss) 1e-5
                (sprintf "member %d, supervised step %d: loss %.7f together vs %.7f alone" k s.Step t.MeanTrainLoss s.MeanTrainLoss)
            Expect.floatClose { absolute = 2e-3; relative = 0.0 } t.ValidationNdcg10 s.ValidationNdcg10 (sprintf "member %d, step %d: validation nDCG@10" k s.Step)
        Expect.equal (supervised.StepsRun, supervised.BestStep) (soloSupervised.StepsRun, soloSupervised.BestStep) (sprintf "member %d: the supervised stage stops and keeps as alone" k)
        // What the kept weights score: per dim its own best (per-dim selection), else the shared checkpoint's mean over dims.
        match supervised.PerDim with
        | null ->
            Expect.floatClose { absolute = 2e-3; relative = 0.0 } supervised.BestValidationNdcg10 (Seq.average soloByDim.Values)
                (sprintf "member %d: validation nDCG@10 of the kept weights (mean over dims)" k)
        | perDim ->
            for best in perDim do
                Expect.floatClose { absolute = 2e-3; relative = 0.0 } best.BestValidationNdcg10 soloByDim.[best.Dim] (sprintf "member %d: validation nDCG@10 at %d" k best.Dim)
        supervised.DisposePerDim()
        let gap = (output - soloOutput).abs().max().item<float32>()
        Expect.isLessThan gap 1e-4f (sprintf "member %d: outputs at %d dims differ by %g at most" k maDims.[0] gap)

let private maMembers =
    [ 0, 1L, (1.0, 1.0, 1.0), RankingLossForm.InfoNce
      0, 2L, (0.1, 0.1, 1.0), RankingLossForm.Pairwise
      1, 1L, (0.5, 2.0, 0.5), RankingLossForm.InfoNce ]

/// K MRL experiments of one cell (seeds 1 and 2) as SmecCompressor fits them: per-dim selection, the
/// non-uniform dim weighting of MRL's tuning grid, both loss forms.
let private mrlCompressor (functionClass: Smec.Core.Methods.FunctionClass) =
    let options =
        SmecOptions(Ladder = [| 384; 96; 48 |], Smrl = false, Ads = false, Sxbm = false, Selection = Smec.Core.Methods.DimSelection.PerDim,
                    DimWeighting = DimWeighting.TowardSmall, FunctionClass = functionClass)
    new SmecCompressor(options, TrainingOptions(MaxSteps = 10, EvaluateEvery = 4, Patience = 100, Progress = false, BatchSize = 32))

/// Each member fitted together against itself fitted alone: every grid point's losses (1e-5 relative) and
/// validation (2e-3), the chosen point and step at every dim, and the compressed rows (1e-4).
let private expectFitsAlike (together: SmecCompressor list) (alone: SmecCompressor list) =
    let probe = Smec.Core.Storage.EmbeddingMatrix([| for i in 0..19 -> string i |], (SciFactFixture.trainingData 1L).Corpus.Values.[.. 20 * 384 - 1], 384)
    for k, (t, a) in List.indexed (List.zip together alone) do
        Expect.equal t.TrainingRuns.Count a.TrainingRuns.Count (sprintf "member %d: loop runs" k)
        for (_, tp, tr), (_, ap, ar) in Seq.zip t.TrainingRuns a.TrainingRuns do
            Expect.equal tp ap (sprintf "member %d: grid point" k)
            Expect.equal tr.History.Count ar.History.Count (sprintf "member %d [%s]: validations" k tp)
            for th, ah in Seq.zip tr.History ar.History |> Seq.skip 1 do
                Expect.isLessThan (relativeDifference th.MeanTrainLoss ah.MeanTrainLoss) 1e-5
                    (sprintf "member %d [%s] step %d: loss %.7f together vs %.7f alone" k tp ah.Step th.MeanTrainLoss ah.MeanTrainLoss)
                Expect.floatClose { absolute = 2e-3; relative = 0.0 } th.ValidationNdcg10 ah.ValidationNdcg10 (sprintf "member %d [%s] step %d: validation" k tp ah.Step)
        Expect.equal t.StepRecords.[0].Chosen a.StepRecords.[0].Chosen (sprintf "member %d: the point and step chosen at each dim" k)
        for d in a.Dims do
            let gap = (Seq.zip (t.Compress(probe, d, Smec.Core.Methods.EmbeddingRole.Document).Values) (a.Compress(probe, d, Smec.Core.Methods.EmbeddingRole.Document).Values)
                       |> Seq.map (fun (x, y) -> abs (x - y)) |> Seq.max)
            Expect.isLessThan gap 1e-4f (sprintf "member %d at %d dims: compressed rows differ by %g" k d gap)

[<Tests>]
let tests =
    testList "Ensemble" [
        testCase "an MRL member's first 20 losses, validation and weights equal its training alone (seeds x loss forms)" <| fun () ->
            expectSame (compare [ 1L, RankingLossForm.InfoNce; 2L, RankingLossForm.InfoNce; 1L, RankingLossForm.Pairwise ] (training 20 100)) 1e-4f

        testCase "a member that stops early is frozen while the others train on, and still equals itself alone" <| fun () ->
            // Patience 1: a member stops at its first validation without improvement; the members stop at different steps.
            let results = compare [ 1L, RankingLossForm.InfoNce; 3L, RankingLossForm.Pairwise; 5L, RankingLossForm.InfoNce ] (training 60 1)
            let stepsRun = results |> List.map (fun ((t, _), _) -> t.StepsRun)
            Expect.isGreaterThan (List.max stepsRun) (List.min stepsRun)
                (sprintf "one member stops while another trains on (steps run %A)" stepsRun)
            expectSame results 1e-4f

        for functionClass in [ Smec.Core.Methods.FunctionClass.Linear; Smec.Core.Methods.FunctionClass.ResidualMlp ] do
            testCase (sprintf "MRL fitted together (%A; seeds, both loss forms, per-dim selection, weighted dims) equals each member fitted alone" functionClass) <| fun () ->
                let data = [ SciFactFixture.trainingData 1L; SciFactFixture.trainingData 2L ]
                let together = [ for _ in data -> mrlCompressor functionClass ]
                let alone = [ for _ in data -> mrlCompressor functionClass ]
                let members = together |> List.map (fun c -> c :> Smec.Core.Methods.ICompressor) |> Array.ofList
                Expect.isNull (Smec.Core.Methods.EnsembleFit.CannotFitTogether members) "MRL members of one cell fit together"
                (members.[0] :?> Smec.Core.Methods.IEnsembleFit).FitTogether(members, Array.ofList data)
                for c, d in List.zip alone data do c.Fit d
                expectFitsAlike together alone
                for c in together @ alone do c.Dispose()

        testCase "MRL's local tuning grid fitted together routes every dim as each grid fitted alone (per dim, per point)" <| fun () ->
            let registry = Smec.Experiments.Methods.MethodRegistry.standard
            let options =
                match registry.ResolveOptions("mrl", Map [ "tuning", "local-grid"; "selection", "per-dim" ]) with
                | Ok o -> o
                | Error e -> failtest e
            let build seed : Smec.Core.Methods.ICompressor =
                (registry.Entries["mrl"]).Create
                    { Method = "mrl"; Options = options; Dims = [ 96; 48 ]; InputDim = 384; Seed = seed; Progress = false; CheckpointPath = None
                      Budget = Some { MaxSteps = 6; BatchSize = 32; LearningRate = 1e-3; Patience = 100; ValidateEvery = 3 } }
            let data = [| SciFactFixture.trainingData 1L; SciFactFixture.trainingData 2L |]
            let together = [| for d in data -> build d.Seed |]
            let alone = [| for d in data -> build d.Seed |]
            EnsembleGridChecks.expectGridsRouteAlike together alone data [ 96; 48 ] (fun _ _ _ -> ())

        testCase "MRL says why it cannot fit members together (another function class, differing options), so the runner fits them alone" <| fun () ->
            let mixed = [| mrlCompressor Smec.Core.Methods.FunctionClass.Linear :> Smec.Core.Methods.ICompressor
                           mrlCompressor Smec.Core.Methods.FunctionClass.ResidualMlp |]
            Expect.stringContains (Smec.Core.Methods.EnsembleFit.CannotFitTogether mixed) "function_class" "members of two function classes do not mix, the option named"
            let differing = [| mrlCompressor Smec.Core.Methods.FunctionClass.Linear :> Smec.Core.Methods.ICompressor
                               new SmecCompressor(SmecOptions(Ladder = [| 384; 48 |], Smrl = false, Ads = false, Sxbm = false)) |]
            Expect.stringContains (Smec.Core.Methods.EnsembleFit.CannotFitTogether differing) "smec.ladder" "members with other options are refused, naming the option"

        testCase "a Search-Adaptor member's first 20 losses, validation and outputs equal its training alone (seeds x dims x grid x forms)" <| fun () ->
            let members =
                [ 1L, 96, RegularizerWeights(0.1, 0.01), RankingLossForm.Pairwise
                  2L, 48, RegularizerWeights(0.0, 0.0), RankingLossForm.InfoNce
                  1L, 96, RegularizerWeights(1.0, 0.1), RankingLossForm.InfoNce ]
            expectSame (compareSearchAdaptor members (training 20 100)) 1e-4f

        for functionClass, selection in [ FunctionClass.Linear, DimSelection.PerDim; FunctionClass.ResidualMlp, DimSelection.Shared ] do
            testCase (sprintf "a Matryoshka-Adaptor member's first 20 losses of both stages, validation and outputs equal its Fit alone (%A, %A; seeds x folds x weights x forms)" functionClass selection) <| fun () ->
                expectSameMatryoshka (compareMatryoshka functionClass selection 20 100 maMembers)

        testCase "a Matryoshka-Adaptor member that stops early is frozen while the others train on, and still equals its Fit alone" <| fun () ->
            // Patience 1 (one validation): each member stops at its first validation without improvement, in each stage.
            let results = compareMatryoshka FunctionClass.Linear DimSelection.Shared 60 1 maMembers
            let stepsRun = results |> List.collect (fun ((c, s, _), _) -> [ c.StepsRun; s.StepsRun ])
            Expect.isTrue (stepsRun |> List.exists (fun n -> n < 60)) (sprintf "a member stops early (steps run per stage %A)" stepsRun)
            let supervisedSteps = results |> List.map (fun ((_, s, _), _) -> s.StepsRun)
            let corpusSteps = results |> List.map (fun ((c, _, _), _) -> c.StepsRun)
            Expect.isTrue (List.distinct supervisedSteps |> List.length > 1 || List.distinct corpusSteps |> List.length > 1)
                (sprintf "one member stops while another trains on (corpus-only %A, supervised %A)" corpusSteps supervisedSteps)
            expectSameMatryoshka results

        testCase "a Matryoshka-Adaptor ensemble refuses members that differ beyond alpha, beta, gamma and the form, naming the setting" <| fun () ->
            let data = maData 0 1L
            let options = maOptions FunctionClass.Linear DimSelection.Shared 5 100 (1.0, 1.0, 1.0) RankingLossForm.InfoNce
            let wider =
                MatryoshkaAdaptorOptions(FunctionClass = FunctionClass.Linear, MaxStepsPerStage = 5, EvaluateEvery = 1, PatienceSteps = 100,
                                         BatchSize = 8, HardNegativePool = 5, TopK = 4, UnsupervisedHeldOutDocs = 16, Progress = false)
            use a = MatryoshkaAdaptor.StartingAdaptor(options, data.Corpus)
            use b = MatryoshkaAdaptor.StartingAdaptor(wider, data.Corpus)
            let error =
                Expect.throwsC (fun () ->
                    MatryoshkaAdaptorCorpusEnsemble.Train([| MatryoshkaAdaptorCorpusMember(a, options, 1L); MatryoshkaAdaptorCorpusMember(b, wider, 2L) |], maCorpus, maDims) |> ignore)
                    id
            Expect.stringContains error.Message "top_k" "the message names the differing setting"

        testCase "a SMEC step member (ADS, S-XBM on) equals its step alone: first 20 losses, validation, weights and selected dims (seeds x forms)" <| fun () ->
            let results = compareSmecStep [ 1L, RankingLossForm.InfoNce; 2L, RankingLossForm.InfoNce; 1L, RankingLossForm.Pairwise; 4L, RankingLossForm.Pairwise ] (training 20 100)
            expectSame (results |> List.map fst) 1e-4f
            for k, (_, (together, alone)) in List.indexed results do
                Expect.sequenceEqual together alone (sprintf "member %d selects the dims it selects alone" k)

        testCase "a stopped SMEC step member is frozen while the others train on, and still equals its step alone" <| fun () ->
            let results = compareSmecStep [ 1L, RankingLossForm.InfoNce; 3L, RankingLossForm.Pairwise; 5L, RankingLossForm.InfoNce ] (training 40 1)
            let stepsRun = results |> List.map (fun (((t, _), _), _) -> t.StepsRun)
            Expect.isGreaterThan (List.max stepsRun) (List.min stepsRun) (sprintf "one member stops while another trains on (steps run %A)" stepsRun)
            expectSame (results |> List.map fst) 1e-4f
            for k, (_, (together, alone)) in List.indexed results do
                Expect.sequenceEqual together alone (sprintf "member %d selects the dims it selects alone" k)

        testCase "ensemble sizing: MaxMembers grows with the budget, the shared part is counted once, a group splits into fitting ensembles" <| fun () ->
            let data = EnsembleData(5183L, 1109L, 384, 100L, 700L)
            let options = smecStepWith RankingLossForm.InfoNce
            let footprint = EnsembleSizing.SmecStep(data, 384, 96, [| 48 |], options, training 20 100, true)
            Expect.isGreaterThan footprint.SharedBytes 0L "the training embeddings and the cosine table are shared"
            Expect.equal (footprint.Bytes 32 - footprint.Bytes 1) (31L * footprint.PerMemberBytes) "32 members add 31 members' bytes to one: nothing shared is multiplied"
            // More anchors: a larger cosine table, shared: the per-member bytes stay.
            let moreAnchors = EnsembleSizing.SmecStep(EnsembleData(5183L, 1109L, 384, 100L, 1400L), 384, 96, [| 48 |], options, training 20 100, true)
            Expect.equal moreAnchors.PerMemberBytes footprint.PerMemberBytes "the cosine table is not a member's"
            Expect.equal (moreAnchors.SharedBytes - footprint.SharedBytes) (700L * (5183L + 1109L) * 4L) "700 more anchor rows of the shared table, once"
            let mutable previous = 0
            for budget in [ 0L; footprint.Bytes 1 - 1L; footprint.Bytes 1; footprint.Bytes 7 + 1L; footprint.Bytes 8; 4L <<< 30; 16L <<< 30 ] do
                let most = EnsembleSizing.MaxMembers(budget, footprint)
                Expect.isGreaterThanOrEqual most previous (sprintf "monotone in the budget (%d bytes)" budget)
                Expect.isLessThanOrEqual (footprint.Bytes most) (max budget (footprint.Bytes 0)) (sprintf "%d members fit %d bytes" most budget)
                Expect.isGreaterThan (footprint.Bytes (most + 1)) budget (sprintf "one more member would not fit %d bytes" budget)
                previous <- most
            Expect.equal (EnsembleSizing.MaxMembers(footprint.Bytes 8, footprint)) 8 "a budget of exactly 8 members' bytes holds 8"
            let parts = EnsembleSizing.Split(20, footprint.Bytes 8, footprint)
            Expect.equal (List.ofSeq parts) [ 7; 7; 6 ] "20 members under an 8-member budget: three even ensembles"
            Expect.throwsT<System.ArgumentException> (fun () -> EnsembleSizing.Split(3, footprint.Bytes 1 - 1L, footprint) |> ignore) "a budget below one member is refused"

        testCase "ensemble sizing: the estimate bounds the tensors a SMEC step ensemble allocates, and members share the big tables" <| fun () ->
            use set = new TrainingSet(SciFactFixture.trainingData 1L, 30)
            let options = training 20 100
            let stepOptions = smecStepWith RankingLossForm.InfoNce
            let footprint = EnsembleSizing.SmecStep(sizingData set stepOptions, 384, 96, [| 48 |], stepOptions, options, true)
            // A member's step: its activations (forward and backward) and its parameters' gradients, measured as the K=4 step less the K=1 step.
            let one, sharedOne, memoryOne = measuredStepBytes set 1 options
            let four, sharedFour, memoryFour = measuredStepBytes set 4 options
            let perMember = float (four - one) / 3.0
            let parameters = 96L * 384L + 96L + 96L
            let memory = EnsembleSizing.SmecStepMemoryBytes(stepOptions, 384)
            let estimatedStep = float (footprint.PerMemberBytes - EnsembleSizing.ParameterBytes parameters - memory + 4L * parameters)
            printfn "measured step bytes: K=1 %d, K=4 %d, per member %.0f; estimated per member step %.0f; shared tables %d (K=1) %d (K=4)" one four perMember estimatedStep sharedOne sharedFour
            Expect.isLessThan (abs (perMember - estimatedStep) / perMember) 0.25 (sprintf "a member's step: estimated %.0f bytes, measured %.0f (within 25%%)" estimatedStep perMember)
            Expect.equal memoryOne memory "a member's S-XBM memory is what the rule counts"
            Expect.equal memoryFour memory "every member's S-XBM memory is its own, the same size"
            Expect.equal sharedFour sharedOne "four members hold the shared tables once, as one member does"
            let data = sizingData set stepOptions
            Expect.equal sharedOne (EnsembleSizing.EmbeddingBytes data / 2L + EnsembleSizing.CosineTableBytes data) "the shared tables are the items table and the anchor-cosine table the rule counts"

        testCase "members of later steps with the same frozen prefix share one step input table" <| fun () ->
            use set = new TrainingSet(SciFactFixture.trainingData 1L, 30)
            let laterStep seed =
                let chain, first = startingSmecStep set 1L // the same frozen first step for every member
                for p in first.parameters () do p.requires_grad <- false
                chain.eval ()
                let step = new SmrlStep(96, 48, [| 24 |], true, false)
                chain.AddStep step
                step.Selections.[0].InitialiseLogits(torch.randn([| 48L |], generator = new torch.Generator(uint64 seed)))
                SmecStepMember(chain, 1, set, seed, RankingLossForm.InfoNce)
            use ensemble = new SmecStepEnsemble([| laterStep 1L; laterStep 2L; laterStep 3L |], smecStepWith RankingLossForm.InfoNce, training 2 100)
            Expect.equal ensemble.StepInputTables 1 "three members, one step input table"

        testCase "the optimizer leaves a stopped member's weights and moments exactly as they are" <| fun () ->
            // float32 takes the fused pass per member slice, float64 the tensor form a GPU takes (where on a device mask).
            for dtype in [ torch.ScalarType.Float32; torch.ScalarType.Float64 ] do
                let generator = new torch.Generator(11UL)
                let initial = torch.randn([| 3L; 37L; 5L |], dtype = dtype, generator = generator)
                let ensemble = torch.nn.Parameter(initial.clone())
                let alone = torch.nn.Parameter(initial.[0].clone())
                use mask = new MemberMask(3)
                use together = new AdamOptimizer([| ensemble |], 1e-2, 0.01, true)
                use solo = new AdamOptimizer([| alone |], 1e-2, 0.01, true)
                let mutable frozen = None
                for step in 1..10 do
                    let target = torch.randn([| 3L; 37L; 5L |], dtype = dtype, generator = generator)
                    ensemble.grad <- null
                    alone.grad <- null
                    (ensemble * target).sum().backward()
                    (alone * target.[0]).sum().backward()
                    if step = 4 then
                        mask.Stop 1
                        frozen <- Some(ensemble.[1].detach().clone())
                    together.Step mask
                    solo.Step()
                Expect.isTrue (ensemble.[1].detach().eq(frozen.Value).all().item<bool>()) (sprintf "%O: member 1 did not move after it stopped" dtype)
                Expect.isFalse (ensemble.[2].detach().eq(initial.[2]).all().item<bool>()) (sprintf "%O: member 2 trained on" dtype)
                let gap = (ensemble.[0].detach() - alone.detach()).abs().max().ToDouble()
                Expect.isLessThan gap 1e-6 (sprintf "%O: member 0 equals its update alone (gap %g)" dtype gap)

        // The same code on every device this machine has (CI: the CPU); a GPU adds itself.
        let devices = [ yield torch.CPU; if torch.cuda.is_available () then yield torch.CUDA ]
        for device in devices do
            testCase (sprintf "a batched MRL ensemble step on %O gives each member's own loss (padded doc columns excluded)" device) <| fun () ->
                use set = new TrainingSet(SciFactFixture.trainingData 1L, 30)
                let seeds = [| 1L; 2L; 3L; 4L |]
                let batchers = seeds |> Array.map (fun s -> PairBatcher(set, 32, 1, 0, s))
                use scope = torch.NewDisposeScope()
                let rows = batchers |> Array.map (fun b -> b.Rows 0)
                Expect.isGreaterThan (rows |> Array.map (fun r -> r.DocRows.Length) |> Array.distinct |> Array.length) 1 "the members' doc counts differ, so columns are padded"
                let batch = EnsembleBatch.Stack(rows, set.Corpus.shape.[0], device)
                let items = torch.cat([| set.Corpus; set.Queries |], 0L).``to``(device)
                let weight = torch.randn([| 4L; 96L; 384L |], generator = new torch.Generator(3UL)).``to``(device).requires_grad_(true)
                let inputs = items.index_select(0L, batch.Items.flatten()).view(4L, int64 (batch.Queries + batch.Docs), -1L)
                let output = inputs.bmm(weight.transpose(1L, 2L))
                let forms = [| RankingLossForm.InfoNce; RankingLossForm.Pairwise; RankingLossForm.InfoNce; RankingLossForm.Pairwise |]
                let losses = EnsembleRankingLoss.Compute(forms, output.narrow(1L, 0L, int64 batch.Queries), output.narrow(1L, int64 batch.Queries, int64 batch.Docs), batch, 0.05)
                Expect.equal losses.device_type device.``type`` "the losses stay on the members' device"
                losses.sum().backward()
                Expect.equal weight.grad.device_type device.``type`` "the gradient stays on the members' device"
                let cpuWeight = weight.detach().cpu()
                for k in 0 .. 3 do
                    let b = batchers.[k].Batch 0
                    let w = cpuWeight.[k]
                    let expected =
                        RankingLoss.Compute(forms.[k], b.Queries.matmul(w.t()), b.Docs.matmul(w.t()), b.Relevance, b.PositiveColumn, 0.05).item<float32>()
                    let actual = losses.cpu().[k].item<float32>()
                    Expect.isLessThan (relativeDifference (float actual) (float expected)) 1e-5 (sprintf "member %d (%O): %f vs %f" k forms.[k] actual expected)
    ]
