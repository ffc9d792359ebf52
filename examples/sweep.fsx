// A small hyper-parameter sweep from a script, with the harness's shared training loop:
// a learned linear map 384 -> 48 (InfoNCE, as the reference map's loss), one run per temperature,
// early stopping on validation nDCG@10; the configuration is chosen on validation, and the test
// split is only read for the final table.
//
//   SMEC_THREADS=1 dotnet fsi examples/sweep.fsx      (after `make build`; about a minute)
#load "../Smec.fsx"

open System.IO
open TorchSharp
open type TorchSharp.torch.nn
open Smec.Script
open Smec.Core.Data
open Smec.Core.Losses
open Smec.Core.Methods
open Smec.Core.Retrieval
open Smec.Core.Runtime
open Smec.Core.Storage
open Smec.Core.Training

/// The objective the loop trains: one bias-free linear layer, scored by InfoNCE at `temperature`.
type LinearMap(inputDim: int, dim: int, temperature: float) =
    let layer = Linear(int64 inputDim, int64 dim, hasBias = false)
    interface ITrainingObjective with
        member _.ParameterGroups = [ ParameterGroup([ layer.weight ]) ]
        member _.Loss(batch, _) =
            RankingLoss.Compute(RankingLossForm.InfoNce, layer.forward batch.Queries, layer.forward batch.Docs,
                                batch.Relevance, batch.PositiveColumn, temperature)
        member _.ValidationDims = [ dim ]
        member _.Compress(embeddings, _, _) = layer.forward embeddings
        member _.Fingerprint = sprintf "linear-%d-%d-t%g" inputDim dim temperature

/// Compress every row with the trained objective, as an EmbeddingMatrix the evaluator takes.
let compress (objective: ITrainingObjective) (matrix: EmbeddingMatrix) dim role =
    use scope = torch.NewDisposeScope()
    use noGrad = torch.no_grad()
    let codes = objective.Compress(EmbeddingTensors.ToTensor matrix, dim, role)
    EmbeddingMatrix(matrix.Ids, codes.contiguous().data<float32>().ToArray(), dim)

let embeddings = dataFile "embeddings/scifact/all-MiniLM-L6-v2"
let corpus = Npy.ReadEmbeddings(Path.Combine(embeddings, "corpus.npy"), Path.Combine(embeddings, "corpus.ids.txt"))
let queries = Npy.ReadEmbeddings(Path.Combine(embeddings, "queries.npy"), Path.Combine(embeddings, "queries.ids.txt"))
let split = ValidationSplit.Carve(corpus, queries, Qrels.Read(dataFile "beir/scifact/qrels/train.tsv"), 100, 0L)
let testQrels = Qrels.Read(dataFile "beir/scifact/qrels/test.tsv")

let dim, seed = 48, 1L
let options = TrainingOptions(MaxSteps = 300, EvaluateEvery = 25, Patience = 3, BatchSize = 64, Progress = false)

// One TrainingSet (tensors, pairs, mined hard negatives) serves every run of the sweep.
let trainingSet = new TrainingSet(TrainingData(split.Corpus, split.Queries, split.Train, split.Validation, seed), options.HardNegativePool)
let runs =
    [ for temperature in [ 0.02; 0.05; 0.1 ] ->
          Determinism.Seed seed |> ignore
          let objective = LinearMap(corpus.Dim, dim, temperature) :> ITrainingObjective
          let result = TrainingLoop.Run(trainingSet, objective, options, seed)
          temperature, objective, result ]

// Model selection on validation only.
let chosen, chosenObjective, _ = runs |> List.maxBy (fun (_, _, r) -> r.BestValidationNdcg10)
let testNdcg =
    RetrievalEvaluation.NdcgAt10(compress chosenObjective queries dim EmbeddingRole.Query,
                                 compress chosenObjective corpus dim EmbeddingRole.Document, testQrels)

printfn "Linear map 384 -> %d on SciFact (seed %d; %s):" dim seed (options.Describe() |> Seq.map (fun kv -> $"{kv.Key}={kv.Value}") |> String.concat " ")
printTable
    [ "temperature"; "best val nDCG@10"; "at step"; "steps run"; "seconds" ]
    [ for temperature, _, r in runs ->
          [ sprintf "%g%s" temperature (if temperature = chosen then " *" else "")
            sprintf "%.4f" r.BestValidationNdcg10; string r.BestStep; string r.StepsRun; sprintf "%.1f" r.Seconds ] ]
printfn "* chosen on validation; its test nDCG@10 (%d queries): %.4f" testQrels.QueryCount testNdcg
