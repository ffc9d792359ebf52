/// Training steps for `smec bench`: one step (loss, backward, optimizer) of each method's training
/// objective at the torch.catalog's local settings, built from the harness's own pieces (ResidualAdaptor,
/// SearchAdaptorModel, the loss classes, NestedLoss, RankingLoss, AdamOptimizer). The same step is
/// written in PyTorch in bench/torch/steps.py; `export` writes the inputs and initial weights as .npy
/// so the script can check it computes the same losses (tests run that check) and time the same work.
/// Inputs are RANDOM unit vectors: speed and equality only, never a retrieval result.
module Smec.Experiments.Cli.BenchSteps

open System
open System.IO
open TorchSharp
open TorchSharp.Modules
open Smec.Core.Losses
open Smec.Core.Losses.Baselines
open Smec.Core.Methods.Baselines
open Smec.Core.Storage
open Smec.Core.Training

/// The shapes of the torch.catalog's local profile (384-d MiniLM; ladder 384 -> 192 -> 96 -> 48 -> 24).
[<Literal>]
let Dim = 384
let prefixes = [| 192; 96; 48; 24 |]
[<Literal>]
let AdaptorBatch = 128 // AdaptorTrainingOptions.BatchSize
[<Literal>]
let SmecBatch = 64 // TrainingOptions.BatchSize
[<Literal>]
let TopK = 10 // MatryoshkaAdaptorOptions.TopK
[<Literal>]
let Temperature = 0.05
[<Literal>]
let SearchAdaptorDim = 96

/// One benchmarked training step with everything it holds.
type StepCase =
    { Key: string
      Description: string
      /// One optimizer step on the fixed batch; returns the loss before the update.
      Step: unit -> float32
      /// Inputs, weights and buffers as they are before the first step (name, tensor), for the PyTorch side.
      Exported: (string * torch.Tensor) list
      Dispose: unit -> unit }

let cases = [ "mrl"; "ma-unsupervised"; "ma-supervised"; "search-adaptor" ]

let private unitRows (rows: int) (generator: torch.Generator) =
    torch.nn.functional.normalize(torch.randn([| int64 rows; int64 Dim |], generator = generator), dim = 1L)

/// A batch as PairBatcher builds it: B queries, their positives (column i) then one hard negative each.
type private Batch =
    { Queries: torch.Tensor; Docs: torch.Tensor; Relevance: torch.Tensor; PositiveColumn: torch.Tensor }

let private batch (size: int) (generator: torch.Generator) =
    { Queries = unitRows size generator
      Docs = unitRows (2 * size) generator
      Relevance = torch.cat([| torch.eye(int64 size); torch.zeros(int64 size, int64 size) |], 1L)
      PositiveColumn = torch.arange(int64 size, dtype = torch.ScalarType.Int64) }

let private batchTensors (b: Batch) =
    [ "queries", b.Queries; "docs", b.Docs; "relevance", b.Relevance; "positive_column", b.PositiveColumn ]

let private parametersOf (prefix: string) (m: torch.nn.Module) =
    [ for struct (name, p) in m.named_parameters() -> prefix + name, (p :> torch.Tensor) ]

let private buffersOf (prefix: string) (m: torch.nn.Module) =
    [ for struct (name, b) in m.named_buffers() -> prefix + name, b ]

/// Runs one step inside its own dispose scope, as TrainingLoop does.
let private stepWith (optimizer: AdamOptimizer) (loss: unit -> torch.Tensor) () =
    use scope = torch.NewDisposeScope()
    optimizer.ZeroGrad()
    let l = loss ()
    l.backward ()
    optimizer.Step()
    l.item<float32> ()

let private nestedInfoNce (queries: torch.Tensor) (docs: torch.Tensor) (b: Batch) =
    NestedLoss.Sum(prefixes, fun m ->
        RankingLoss.Compute(RankingLossForm.InfoNce, NestedLoss.FirstColumns(queries, m), NestedLoss.FirstColumns(docs, m),
            b.Relevance, b.PositiveColumn, Temperature))

/// Build a case from a seed (the same seed gives the same inputs and weights).
let build (key: string) (seed: int64) : StepCase =
    Smec.Core.Runtime.Determinism.Seed seed |> ignore
    let generator = new torch.Generator(uint64 seed)
    match key with
    | "mrl" ->
        // MRL: one 384 -> 192 layer trained with the nested InfoNCE loss over every prefix (AdamW).
        let b = batch SmecBatch generator
        let layer = torch.nn.Linear(int64 Dim, int64 prefixes.[0])
        let optimizer = new AdamOptimizer(layer.parameters() |> Seq.toArray, 1e-3, 0.01, decoupled = true)
        { Key = key
          Description = sprintf "MRL: 384->192 linear, nested InfoNCE over %A, batch %d, AdamW" prefixes SmecBatch
          Step = stepWith optimizer (fun () -> nestedInfoNce (layer.forward b.Queries) (layer.forward b.Docs) b)
          Exported = batchTensors b @ parametersOf "layer." layer
          Dispose = fun () -> optimizer.Dispose(); layer.Dispose() }
    | "ma-unsupervised"
    | "ma-supervised" ->
        // Matryoshka-Adaptor: e' = x + f(x), x in the corpus PCA basis; top-k, pairwise and reconstruction
        // terms on random corpus anchors and their k neighbours; the supervised stage adds the nested ranking loss.
        let supervised = key = "ma-supervised"
        let b = batch AdaptorBatch generator
        let anchors = unitRows AdaptorBatch generator
        let neighbours = unitRows (AdaptorBatch * TopK) generator |> fun t -> t.reshape(int64 AdaptorBatch, int64 TopK, int64 Dim)
        let adaptor = new ResidualAdaptor(Dim, Dim)
        let mean = unitRows 1 generator * 0.1
        let basis = (let struct (q, _) = torch.linalg.qr(torch.randn([| int64 Dim; int64 Dim |], generator = generator)) in q)
        adaptor.SetInputMap(mean, basis)
        // The output layer starts at zero (e' = e); give it small weights so the first gradients are generic.
        use _ = torch.no_grad ()
        for struct (name, p) in adaptor.named_parameters() do
            if name.StartsWith "output" then p.copy_(torch.randn(p.shape, generator = generator) * 0.01) |> ignore
        let optimizer = new AdamOptimizer(adaptor.parameters() |> Seq.toArray, 1e-3, 0.0, decoupled = false)
        let loss () =
            adaptor.train ()
            // The trained objective itself, at its defaults (alpha = beta = 1, L1 reconstruction).
            let unsupervised = MatryoshkaAdaptorLoss.Unsupervised(adaptor, anchors, neighbours, prefixes, MatryoshkaAdaptorOptions())
            if not supervised then unsupervised
            else
                let ranking = nestedInfoNce (adaptor.forward b.Queries) (adaptor.forward b.Docs) b
                unsupervised.Add(ranking.Times(1.0 / float prefixes.Length))
        { Key = key
          Description =
            sprintf "Matryoshka-Adaptor %s stage: 384-384-384 residual MLP, %d anchors x %d neighbours%s, Adam"
                (if supervised then "supervised" else "unsupervised") AdaptorBatch TopK
                (if supervised then sprintf " + nested InfoNCE on batch %d" AdaptorBatch else "")
          Step = stepWith optimizer loss
          Exported =
            batchTensors b @ [ "anchors", anchors; "neighbours", neighbours ]
            @ parametersOf "adaptor." adaptor @ buffersOf "adaptor." adaptor
          Dispose = fun () -> optimizer.Dispose(); adaptor.Dispose() }
    | "search-adaptor" ->
        // Search-Adaptor at 96 dims: pairwise ranking loss on the projected embeddings, alpha x L1 recovery,
        // beta x query prediction (the grid point alpha = beta = 0.1).
        let b = batch AdaptorBatch generator
        let model = new SearchAdaptorModel(Dim, Dim, SearchAdaptorDim)
        let predictor = torch.nn.Linear(int64 SearchAdaptorDim, int64 Dim)
        use _ = torch.no_grad ()
        for struct (name, p) in model.named_parameters() do
            if name.Contains "output" then p.copy_(torch.randn(p.shape, generator = generator) * 0.01) |> ignore
        let optimizer =
            new AdamOptimizer(Seq.append (model.parameters()) (predictor.parameters()) |> Seq.toArray, 1e-3, 0.0, decoupled = false)
        let alpha, beta = 0.1, 0.1
        let loss () =
            model.train ()
            let adaptedQueries = model.Adapt b.Queries
            let adaptedDocs = model.Adapt b.Docs
            let queries = model.Project adaptedQueries
            let docs = model.Project adaptedDocs
            let ranking = RankingLoss.Compute(RankingLossForm.Pairwise, queries, docs, b.Relevance, b.PositiveColumn, Temperature)
            let recovery = ReconstructionLoss.Compute(torch.cat([| b.Queries; b.Docs |], 0L), torch.cat([| adaptedQueries; adaptedDocs |], 0L), ReconstructionNorm.L1)
            let positives = docs.index_select(0L, b.PositiveColumn)
            let relevance = b.Relevance.gather(1L, b.PositiveColumn.unsqueeze(1L)).squeeze(1L)
            let prediction = QueryPredictionLoss.Compute(predictor.forward positives, b.Queries, relevance)
            ranking.Add(recovery.Times alpha).Add(prediction.Times beta)
        { Key = key
          Description = sprintf "Search-Adaptor at %d dims: residual MLP + projection, pairwise loss, recovery and query prediction (0.1 each), batch %d, Adam" SearchAdaptorDim AdaptorBatch
          Step = stepWith optimizer loss
          Exported =
            batchTensors b @ parametersOf "model." model @ buffersOf "model." model @ parametersOf "predictor." predictor
          Dispose = fun () -> optimizer.Dispose(); predictor.Dispose(); model.Dispose() }
    | other -> invalidArg "key" (sprintf "unknown training-step case '%s' (known: %s)" other (String.concat ", " cases))

/// Write a case's inputs and initial weights (float32 .npy, flattened to [1, n]; shapes in manifest.txt)
/// and the losses of its first `steps` .NET steps (dotnet_losses.npy). Call before any step.
let export (case: StepCase) (folder: string) (steps: int) =
    Directory.CreateDirectory folder |> ignore
    let manifest =
        [ for name, t in case.Exported ->
              let values = t.detach().to_type(torch.ScalarType.Float32).contiguous().data<float32>().ToArray()
              Npy.WriteFloat32(Path.Combine(folder, name + ".npy"), ReadOnlySpan values, 1, values.Length)
              sprintf "%s %s" name (t.shape |> Array.map string |> String.concat ",") ]
    File.WriteAllLines(Path.Combine(folder, "manifest.txt"), manifest)
    let losses = Array.init steps (fun _ -> case.Step())
    Npy.WriteFloat32(Path.Combine(folder, "dotnet_losses.npy"), ReadOnlySpan losses, 1, losses.Length)
    losses
