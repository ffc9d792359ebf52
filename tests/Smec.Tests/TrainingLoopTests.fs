/// The shared training loop: it learns, it is bit-reproducible, and an interrupted run resumes exactly.
module Smec.Tests.TrainingLoopTests

open System.IO
open Expecto
open TorchSharp
open type TorchSharp.torch.nn
open Smec.Core.Losses
open Smec.Core.Methods
open Smec.Core.Runtime
open Smec.Core.Training

/// The smallest objective: a linear map 384 -> 48 trained with InfoNCE.
type private LinearObjective(dim: int) =
    let layer = Linear(384L, int64 dim, hasBias = false)
    member _.Weights() = layer.weight.detach().clone().data<float32>().ToArray()
    interface ITrainingObjective with
        member _.ParameterGroups = [ ParameterGroup([ layer.weight ]) ]
        member _.Loss(batch, _) =
            RankingLoss.Compute(RankingLossForm.InfoNce, layer.forward batch.Queries, layer.forward batch.Docs,
                                batch.Relevance, batch.PositiveColumn, 0.05)
        member _.ValidationDims = [ dim ]
        member _.Compress(x, _, _) = layer.forward x
        member _.Fingerprint = sprintf "linear-%d" dim

let private train seed steps (checkpoint: string) (afterBackward: System.Action<TrainingStep>) =
    Determinism.Seed seed |> ignore
    let objective = LinearObjective 48
    let options =
        TrainingOptions(MaxSteps = steps, EvaluateEvery = 10, Patience = 100, Progress = false, BatchSize = 32,
                        CheckpointPath = checkpoint, AfterBackward = afterBackward)
    let result = TrainingLoop.Run(SciFactFixture.trainingData seed, objective, options)
    result, objective.Weights()

/// A task whose validation only gets worse: a weight that each step pulls down, scored by its value.
type private WorseningTask(initialIsCandidate: bool) =
    let weight = torch.nn.Parameter(torch.ones(1L))
    interface ILoopTask with
        member _.ParameterGroups = [ ParameterGroup([ weight ]) ]
        member _.StepsPerEpoch = 1
        member _.Loss _ = weight.sum()
        member _.CanValidate = true
        member _.Validate() = weight.item<float32>() |> float
        member _.InitialIsCandidate = initialIsCandidate
        member _.Fingerprint = "worsening"

[<Tests>]
let tests =
    testList "TrainingLoop" [
        testCase "training raises validation nDCG@10 of a random linear map" <| fun () ->
            let result, _ = train 1L 40 null null
            let first = result.History.[0].ValidationNdcg10
            Expect.isGreaterThan result.BestValidationNdcg10 (first + 0.05)
                (sprintf "40 InfoNCE steps should add > 0.05 nDCG@10 to a random 48-d map: %.4f -> %.4f" first result.BestValidationNdcg10)

        testCase "same seed and config give the same nDCG to every digit and the same weights" <| fun () ->
            let a, wa = train 3L 20 null null
            let b, wb = train 3L 20 null null
            Expect.equal (a.History |> Seq.map (fun h -> h.ValidationNdcg10) |> List.ofSeq)
                         (b.History |> Seq.map (fun h -> h.ValidationNdcg10) |> List.ofSeq) "validation history"
            Expect.sequenceEqual wa wb "weights bit for bit"

        testCase "a task whose start is no candidate keeps its best trained weights, not the start" <| fun () ->
            let run candidate =
                TrainingLoop.Run(WorseningTask candidate, TrainingOptions(MaxSteps = 30, EvaluateEvery = 5, Patience = 2, Progress = false), 1L)
            let fromStart, trained = run true, run false
            Expect.equal fromStart.BestStep 0 "a candidate start that is never beaten is kept"
            Expect.equal trained.BestStep 5 "otherwise the first validation after training is the best"
            Expect.equal trained.History.[0].Step 0 "the start is still recorded"
            Expect.isLessThan trained.BestValidationNdcg10 trained.History.[0].ValidationNdcg10 "and it scored better than what was kept"

        testCase "an interrupted run resumes from its checkpoint to the same weights" <| fun () ->
            use dir = new TestSupport.TempDir()
            let checkpoint = Path.Combine(dir.Path, "ckpt.bin")
            let _, straight = train 5L 30 null null
            let crash = System.Action<TrainingStep>(fun s -> if s.Step = 25 then failwith "simulated crash")
            Expect.throws (fun () -> train 5L 30 checkpoint crash |> ignore) "the first run crashes at step 25"
            Expect.isTrue (File.Exists checkpoint) "a checkpoint was written at step 20"
            let resumed, weights = train 5L 30 checkpoint null
            Expect.isTrue resumed.Resumed "the second run resumed"
            Expect.sequenceEqual weights straight "resumed weights equal an uninterrupted run's, bit for bit"
    ]
