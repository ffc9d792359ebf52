/// The ensemble path of the training loop: K members trained as one batched model, each equal to
/// itself trained alone; a stopped member is frozen; the batched step runs on any device.
module Smec.Tests.EnsembleTests

open Expecto
open TorchSharp
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

        testCase "MRL fitted together (seeds, both loss forms, per-dim selection, weighted dims) equals each member fitted alone" <| fun () ->
            let data = [ SciFactFixture.trainingData 1L; SciFactFixture.trainingData 2L ]
            let together = [ for _ in data -> mrlCompressor Smec.Core.Methods.FunctionClass.Linear ]
            let alone = [ for _ in data -> mrlCompressor Smec.Core.Methods.FunctionClass.Linear ]
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
            Expect.isTrue (together.[0] :? Smec.Core.Methods.GridSearchCompressor) "local-grid builds a tuning grid of 4 points"
            Expect.isNull (Smec.Core.Methods.EnsembleFit.CannotFitTogether together) "the grids of one cell fit together"
            (together.[0] :?> Smec.Core.Methods.IEnsembleFit).FitTogether(together, data)
            for c, d in Array.zip alone data do c.Fit d
            for k in 0 .. 1 do
                let t, a = together.[k] :?> Smec.Core.Methods.GridSearchCompressor, alone.[k] :?> Smec.Core.Methods.GridSearchCompressor
                Expect.equal (Map.ofSeq (t.Routing |> Seq.map (fun kv -> kv.Key, kv.Value))) (Map.ofSeq (a.Routing |> Seq.map (fun kv -> kv.Key, kv.Value))) (sprintf "member %d: each dim from the same point" k)
                for i in 0 .. t.PointValidation.Count - 1 do
                    for KeyValue(d, v) in a.PointValidation.[i] do
                        Expect.floatClose { absolute = 2e-3; relative = 0.0 } t.PointValidation.[i].[d] v (sprintf "member %d, point %d, %d dims: validation" k (i + 1) d)
                for d in [ 96; 48 ] do
                    Expect.equal t.Settings.[Smec.Core.Methods.SelectedSteps.Key d] a.Settings.[Smec.Core.Methods.SelectedSteps.Key d] (sprintf "member %d at %d dims: the same selected steps" k d)
            for c in Array.append together alone do c.Dispose()

        testCase "MRL says why it cannot fit members together (residual-MLP, differing options), so the runner fits them alone" <| fun () ->
            let residual = [| for _ in 1..2 -> mrlCompressor Smec.Core.Methods.FunctionClass.ResidualMlp :> Smec.Core.Methods.ICompressor |]
            Expect.stringContains (Smec.Core.Methods.EnsembleFit.CannotFitTogether residual) "residual-mlp" "the residual-MLP form is refused with its option named"
            let differing = [| mrlCompressor Smec.Core.Methods.FunctionClass.Linear :> Smec.Core.Methods.ICompressor
                               new SmecCompressor(SmecOptions(Ladder = [| 384; 48 |], Smrl = false, Ads = false, Sxbm = false)) |]
            Expect.stringContains (Smec.Core.Methods.EnsembleFit.CannotFitTogether differing) "smec.ladder" "members with other options are refused, naming the option"

        testCase "a Search-Adaptor member's first 20 losses, validation and outputs equal its training alone (seeds x dims x grid x forms)" <| fun () ->
            let members =
                [ 1L, 96, RegularizerWeights(0.1, 0.01), RankingLossForm.Pairwise
                  2L, 48, RegularizerWeights(0.0, 0.0), RankingLossForm.InfoNce
                  1L, 96, RegularizerWeights(1.0, 0.1), RankingLossForm.InfoNce ]
            expectSame (compareSearchAdaptor members (training 20 100)) 1e-4f

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
