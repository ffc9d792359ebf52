/// Selection at every dim (issue 26): the shared loop's per-dim snapshots, their checkpoint/resume,
/// and what each trained method serves with selection = per-dim | shared; SMEC's ladder extension.
module Smec.Tests.SelectionTests

open System.IO
open Expecto
open TorchSharp
open type TorchSharp.torch.nn
open Smec.Core.Losses
open Smec.Core.Methods
open Smec.Core.Methods.Baselines
open Smec.Core.Methods.SmecMethod
open Smec.Core.Runtime
open Smec.Core.Training

let private floats (t: torch.Tensor) = t.detach().contiguous().data<float32>().ToArray()

/// One weight w that every step pushes up (loss -w, so Adam moves it by about lr per step). Dim d's
/// validation score is -(w - peak_d)^2: each dim peaks at its own step, so per-dim snapshots must
/// differ from each other and from the one snapshot that is best on the mean.
type private TwoPeaks(peaks: (int * float) list) =
    let weight = torch.nn.Parameter(torch.zeros(1L))
    member _.Weight = weight
    interface ILoopTask with
        member _.ParameterGroups = [ ParameterGroup([ weight ]) ]
        member _.StepsPerEpoch = 1
        member _.Loss _ = weight.sum().neg()
        member _.CanValidate = true
        member this.Validate() = (this :> ILoopTask).ValidateByDim() |> Seq.averageBy (fun struct (_, s) -> s)
        member _.ValidateByDim() =
            let w = float (weight.item<float32>())
            [| for d, peak in peaks -> struct (d, -(w - peak) * (w - peak)) |] :> System.Collections.Generic.IReadOnlyList<_>
        member _.Fingerprint = "two-peaks"

/// A linear map 384 -> 48 trained with InfoNCE at 48 and at its 24-prefix, validated at both.
type private PrefixObjective(dims: int list) =
    let layer = Linear(384L, int64 (List.head dims), hasBias = false)
    member _.Weights() = floats layer.weight
    interface ITrainingObjective with
        member _.ParameterGroups = [ ParameterGroup([ layer.weight ]) ]
        member _.Loss(batch, _) =
            let q, d = layer.forward batch.Queries, layer.forward batch.Docs
            dims
            |> List.map (fun m -> RankingLoss.Compute(RankingLossForm.InfoNce, q.narrow(1L, 0L, int64 m), d.narrow(1L, 0L, int64 m), batch.Relevance, batch.PositiveColumn, 0.05))
            |> List.reduce (fun a b -> a.add b)
        member _.ValidationDims = dims
        member _.Compress(x, dim, _) = layer.forward(x).narrow(1L, 0L, int64 dim)
        member _.Fingerprint = sprintf "prefix-%A" dims

let private loop steps checkpoint afterBackward =
    TrainingOptions(MaxSteps = steps, EvaluateEvery = 5, Patience = 100, Progress = false, BatchSize = 32,
                    CheckpointPath = checkpoint, AfterBackward = afterBackward)

let private trainPrefix seed dims steps selection checkpoint afterBackward =
    Determinism.Seed seed |> ignore
    let objective = PrefixObjective dims
    use set = new TrainingSet(SciFactFixture.trainingData seed, 30)
    let result = TrainingLoop.Run(set, objective, loop steps checkpoint afterBackward, seed, selection)
    result, objective.Weights()

/// The best score at dim d over a run's validation history.
let private bestInHistory (result: TrainingResult) dim =
    result.History |> Seq.collect (fun h -> h.ByDim) |> Seq.filter (fun struct (d, _) -> d = dim) |> Seq.map (fun struct (_, s) -> s) |> Seq.max

let private perDimWeights (result: TrainingResult) =
    [ for b in result.PerDim -> b.Dim, [ for t in b.Weights -> floats t ] ]

[<Tests>]
let loopTests =
    testList "Selection.Loop" [
        testCase "per-dim snapshots follow each dim's own peak; the shared one sits between; patience waits for the last dim" <| fun () ->
            let peaks = [ 10, 0.5; 20, 2.0 ]
            let options = TrainingOptions(MaxSteps = 60, EvaluateEvery = 1, Patience = 3, Progress = false, LearningRate = 0.1, WeightDecay = 0.0)
            let perDimTask, sharedTask = TwoPeaks peaks, TwoPeaks peaks
            let perDim = TrainingLoop.Run(perDimTask, options, 1L, DimSelection.PerDim)
            let shared = TrainingLoop.Run(sharedTask, options, 1L, DimSelection.Shared)
            let at dim = perDim.PerDim |> Seq.find (fun b -> b.Dim = dim)
            let w (b: DimBest) = float (floats b.Weights.[0]).[0]
            let sharedW = float (floats sharedTask.Weight).[0]
            Expect.floatClose Accuracy.low (w (at 10)) 0.5 "dim 10's snapshot is at its own peak (w ~ 0.5)"
            Expect.floatClose Accuracy.low (w (at 20)) 2.0 "dim 20's snapshot is at its own peak (w ~ 2.0)"
            Expect.isTrue ((at 10).BestStep < shared.BestStep && shared.BestStep < (at 20).BestStep)
                (sprintf "the shared checkpoint (step %d) lies between the dims' peaks (%d, %d)" shared.BestStep (at 10).BestStep (at 20).BestStep)
            Expect.isTrue (abs (sharedW - w (at 10)) > 0.3 && abs (sharedW - w (at 20)) > 0.3) (sprintf "the shared weight %.3f is neither dim's best" sharedW)
            for b in perDim.PerDim do
                Expect.equal b.BestValidationNdcg10 (bestInHistory perDim b.Dim) (sprintf "dim %d: the kept score is the best in its history" b.Dim)
            Expect.equal (float (floats perDimTask.Weight).[0]) (w (at 10)) "the loop leaves the first dim's best in place"
            // Improvement = any dim improved: the run only stops Patience validations after dim 20's peak.
            Expect.isTrue perDim.StoppedEarly "it stops early once no dim improves"
            Expect.equal perDim.StepsRun ((at 20).BestStep + options.Patience) "patience counts validations where no dim improved"
            Expect.isLessThan shared.StepsRun perDim.StepsRun "the shared run stops after the mean's peak, sooner"
            perDim.DisposePerDim()

        testCase "per-dim asks a task with one score for scores per dim, with a clear error" <| fun () ->
            let task =
                { new ILoopTask with
                    member _.ParameterGroups = [ ParameterGroup([ torch.nn.Parameter(torch.zeros(1L)) ]) ]
                    member _.StepsPerEpoch = 1
                    member _.Loss _ = torch.zeros(1L, requires_grad = true).sum()
                    member _.CanValidate = true
                    member _.Validate() = 0.0
                    member _.Fingerprint = "one-score" }
            try
                TrainingLoop.Run(task, TrainingOptions(MaxSteps = 2, Progress = false, Label = "one-score"), 1L, DimSelection.PerDim) |> ignore
                failtest "per-dim selection of a one-score task was not refused"
            with :? System.InvalidOperationException as e ->
                Expect.stringContains e.Message "one-score" "names the run"
                Expect.stringContains e.Message "ValidateByDim" "names what is missing"

        testCase "with one validation dim, per-dim selection trains and keeps exactly what shared selection does" <| fun () ->
            // Per-dim bookkeeping must not touch training: same history, same kept weights, bit for bit.
            let shared, sharedWeights = trainPrefix 2L [ 48 ] 20 DimSelection.Shared null null
            let perDim, perDimWeights' = trainPrefix 2L [ 48 ] 20 DimSelection.PerDim null null
            Expect.equal [ for h in perDim.History -> h.ValidationNdcg10 ] [ for h in shared.History -> h.ValidationNdcg10 ] "validation history"
            Expect.sequenceEqual perDimWeights' sharedWeights "kept weights"
            Expect.equal (perDimWeights perDim |> List.exactlyOne |> snd |> List.exactlyOne) sharedWeights "the one per-dim snapshot is the shared best"
            Expect.isNull (box shared.PerDim) "shared selection hands back no per-dim snapshots"
            perDim.DisposePerDim()

        testCase "an interrupted per-dim run resumes to the same per-dim snapshots and history as an uninterrupted one" <| fun () ->
            use dir = new TestSupport.TempDir()
            let checkpoint = Path.Combine(dir.Path, "ckpt.bin")
            let straight, straightWeights = trainPrefix 5L [ 48; 24 ] 30 DimSelection.PerDim null null
            let crash = System.Action<TrainingStep>(fun s -> if s.Step = 22 then failwith "simulated crash")
            Expect.throws (fun () -> trainPrefix 5L [ 48; 24 ] 30 DimSelection.PerDim checkpoint crash |> ignore) "the first run crashes at step 22"
            let resumed, resumedWeights = trainPrefix 5L [ 48; 24 ] 30 DimSelection.PerDim checkpoint null
            Expect.isTrue resumed.Resumed "the second run resumed"
            Expect.equal (perDimWeights resumed) (perDimWeights straight) "every dim's snapshot, bit for bit"
            Expect.sequenceEqual resumedWeights straightWeights "the weights left in place"
            let byDim (r: TrainingResult) = [ for h in r.History -> h.Step, List.ofSeq h.ByDim ]
            Expect.equal (byDim resumed) (byDim straight) "the per-dim validation history"
            Expect.equal [ for b in resumed.PerDim -> b.BestStep ] [ for b in straight.PerDim -> b.BestStep ] "each dim's best step"
            // A shared run may not resume a per-dim checkpoint of the same settings.
            Expect.throwsT<CheckpointMismatchException> (fun () -> trainPrefix 5L [ 48; 24 ] 30 DimSelection.Shared checkpoint null |> ignore)
                "a shared run refuses the per-dim checkpoint"
            straight.DisposePerDim()
            resumed.DisposePerDim()
    ]

/// A tiny MRL (SMEC's module with SMRL, ADS and S-XBM off) on SciFact, both loss forms.
let private mrl selection =
    new SmecCompressor(
        SmecOptions(Ladder = [| 384; 96; 48 |], Smrl = false, Ads = false, Sxbm = false, Selection = selection,
                    LossCandidates = [| RankingLossForm.InfoNce; RankingLossForm.Pairwise |]),
        TrainingOptions(MaxSteps = 8, EvaluateEvery = 4, Patience = 100, Progress = false, BatchSize = 32))

/// The best validation at dim d over every loop run of a SMEC/MRL Fit (steps given 1-based).
let private bestOverRuns (model: SmecCompressor) step dim =
    model.TrainingRuns |> Seq.filter (fun struct (s, _, _) -> s = step) |> Seq.map (fun struct (_, _, r) -> bestInHistory r dim) |> Seq.max

let private maSupervised selection =
    new MatryoshkaAdaptor([ 96; 48; 24 ],
        MatryoshkaAdaptorOptions(MaxStepsPerStage = 10, EvaluateEvery = 5, PatienceSteps = 500, BatchSize = 32, Progress = false,
                                 RankingLossCandidates = [| RankingLossForm.InfoNce; RankingLossForm.Pairwise |], Selection = selection))

[<Tests>]
let methodTests =
    testList "Selection.Methods" [
        testCase "MRL per-dim: each dim is served by its best snapshot over steps and loss forms; save and load give equal outputs" <| fun () ->
            let data = SciFactFixture.trainingData 3L
            use model = mrl DimSelection.PerDim
            model.Fit data
            for d in [ 384; 96; 48 ] do
                Expect.equal model.ValidationNdcgByDim.[d] (bestOverRuns model 1 d) (sprintf "validation at %d after Fit = the best at %d in the history of both loss forms" d d)
            Expect.equal (List.ofSeq model.Chain.SelectionSnapshots) [ struct (0, 48); struct (0, 96) ] "96 and 48 have their own snapshots"
            // This seed's dims pick different loss forms, so serving a dim from the wrong snapshot would show above.
            let chosen = model.StepRecords.[0].Chosen
            Expect.isTrue (chosen.Contains "InfoNce (" && chosen.Contains "Pairwise (") (sprintf "the dims chose different forms: %s" chosen)
            Expect.stringContains (model.Settings.["protocol.selection"]) "per served dim" "the protocol says so"
            use dir = new TestSupport.TempDir()
            model.Save dir.Path
            use loaded = SmecCompressor.Load dir.Path
            for d in [ 384; 96; 48 ] do
                Expect.sequenceEqual (loaded.Compress(data.Queries, d, EmbeddingRole.Query).Values) (model.Compress(data.Queries, d, EmbeddingRole.Query).Values)
                    (sprintf "loaded = trained at %d" d)

        testCase "SMEC per-dim: the smallest dim (the last step's selection) is its own snapshot's best; the chain feeds on the output's best" <| fun () ->
            let data = SciFactFixture.trainingData 4L
            use model =
                new SmecCompressor(
                    SmecOptions(Ladder = [| 384; 192; 96 |], Selection = DimSelection.PerDim, LossCandidates = [| RankingLossForm.InfoNce |]),
                    TrainingOptions(MaxSteps = 10, EvaluateEvery = 5, Patience = 100, Progress = false, BatchSize = 32))
            model.Fit data
            Expect.equal model.ValidationNdcgByDim.[96] (bestOverRuns model 2 96) "96: step 2's best validation at 96"
            Expect.equal model.ValidationNdcgByDim.[384] (bestOverRuns model 1 384) "384: step 1's best validation at its output"
            Expect.equal model.StepRecords.[0].BestValidationNdcg10 (bestOverRuns model 1 384) "step 1 keeps (and feeds step 2 with) its output dim's best"

        testCase "default selection is shared: one checkpoint per step, no snapshots, the protocol says mean over outputs" <| fun () ->
            let data = SciFactFixture.trainingData 3L
            use model = mrl (SmecOptions().Selection)
            model.Fit data
            Expect.isEmpty model.Chain.SelectionSnapshots "no per-dim snapshots"
            Expect.stringContains (model.Settings.["protocol.selection"]) "mean over the step's outputs" "the protocol says shared"
            let run = model.TrainingRuns |> Seq.map (fun struct (_, _, r) -> r) |> Seq.maxBy (fun r -> r.BestValidationNdcg10)
            let atBest = run.History |> Seq.find (fun h -> h.Step = run.BestStep)
            Expect.isNull (box atBest.ByDim) "the shared path records one score per validation"
            Expect.floatClose Accuracy.veryHigh (model.ValidationNdcgByDim.Values |> Seq.average) atBest.ValidationNdcg10 "the kept checkpoint's mean is the best mean"
            Expect.equal (MatryoshkaAdaptorOptions().Selection) DimSelection.Shared "Matryoshka-Adaptor's default is shared"
            Expect.equal (SearchAdaptorOptions().Selection) DimSelection.PerDim "Search-Adaptor's default is per dim (its paper's)"

        testCase "Matryoshka-Adaptor per-dim: each dim is its best snapshot over loss forms; save and load give equal outputs" <| fun () ->
            let data = SciFactFixture.trainingData 2L
            use model = maSupervised DimSelection.PerDim
            model.Fit data
            let supervised = model.TrainingRuns |> Seq.map (fun struct (_, r) -> r) |> List.ofSeq
            Expect.equal supervised.Length 2 "one supervised run per loss form"
            for d in [ 96; 48; 24 ] do
                let best = supervised |> List.map (fun r -> bestInHistory r d) |> List.max
                Expect.equal model.ValidationNdcgByDim.[d] best (sprintf "validation at %d after Fit = the best at %d over both runs' histories" d d)
            Expect.equal model.ServedSelection DimSelection.PerDim "served per dim"
            // This seed's dims keep different (form, step) snapshots, so a wrong snapshot would show above.
            let kept = [ for d in [ 96; 48; 24 ] -> let v = model.Settings.[sprintf "selected @%d" d] in v.Substring(0, v.IndexOf " (") ]
            Expect.isGreaterThan (List.distinct kept).Length 1 (sprintf "the dims kept different snapshots: %A" kept)
            use dir = new TestSupport.TempDir()
            model.Save dir.Path
            use loaded = MatryoshkaAdaptor.Load dir.Path
            Expect.equal loaded.ServedSelection DimSelection.PerDim "loads per dim"
            for d in [ 96; 48; 24 ] do
                Expect.sequenceEqual (loaded.Compress(data.Queries, d, EmbeddingRole.Query).Values) (model.Compress(data.Queries, d, EmbeddingRole.Query).Values)
                    (sprintf "loaded = trained at %d" d)

        testCase "Search-Adaptor shared: one grid point serves every dim, never above the per-dim choice at any dim" <| fun () ->
            let data = SciFactFixture.trainingData 2L
            let options selection =
                SearchAdaptorOptions(Grid = [| RegularizerWeights(0.0, 0.0); RegularizerWeights(1.0, 0.1) |], MaxSteps = 10, EvaluateEvery = 5,
                                     PatienceSteps = 500, BatchSize = 32, Progress = false, Selection = selection)
            use shared = new SearchAdaptor([ 48; 24 ], options DimSelection.Shared)
            use perDim = new SearchAdaptor([ 48; 24 ], options DimSelection.PerDim)
            shared.Fit data
            perDim.Fit data
            let point (s: string) = s.Substring(0, s.IndexOf " (")
            Expect.equal (point shared.Settings.["selected @48"]) (point shared.Settings.["selected @24"]) "one grid point for both dims"
            for d in [ 48; 24 ] do
                Expect.isLessThanOrEqual shared.ValidationNdcgByDim.[d] perDim.ValidationNdcgByDim.[d] (sprintf "at %d the per-dim choice is the max" d)
            Expect.stringContains shared.Settings.["protocol.selection"] "one (alpha, beta) grid point" "the protocol says shared"
            Expect.stringContains perDim.Settings.["protocol.selection"] "per dim" "and per dim"

        testCase "ladder_extension one-below trains one more step to half the smallest dim and serves it with the table's dims" <| fun () ->
            let data = SciFactFixture.trainingData 5L
            use model =
                new SmecCompressor(
                    SmecOptions(Ladder = [| 384; 192; 96 |], LadderExtension = LadderExtension.OneBelow, Selection = DimSelection.PerDim,
                                LossCandidates = [| RankingLossForm.InfoNce |]),
                    TrainingOptions(MaxSteps = 5, EvaluateEvery = 5, Patience = 100, Progress = false, BatchSize = 32))
            model.Fit data
            Expect.sequenceEqual model.Dims [ 384; 192; 96; 48 ] "the table's dims and the extra 48"
            Expect.equal [ for r in model.StepRecords -> r.OutputDim, List.ofArray r.SelectionDims ] [ 384, [ 192 ]; 192, [ 96 ]; 96, [ 48 ] ] "96 is now a step's output"
            for d in [ 384; 192; 96; 48 ] do
                let out = model.Compress(data.Queries, d, EmbeddingRole.Query)
                Expect.equal out.Dim d (sprintf "compresses to %d" d)
            Expect.isTrue (model.ValidationNdcgByDim.ContainsKey 48) "the extra dim is scored on validation too"
            Expect.throwsT<System.ArgumentException> (fun () -> SmecOptions(Ladder = [| 4; 1 |], LadderExtension = LadderExtension.OneBelow).Validate())
                "a ladder ending at 1 cannot go one below"
    ]
