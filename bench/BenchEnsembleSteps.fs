/// Ensemble training steps for `smec bench` (issue 27): K members of a method's step trained as one
/// batched model, the step EnsembleTrainingLoop takes. Member k has exactly the inputs and initial
/// weights of the solo case `BenchSteps.build key (seed + k)`, stacked along a leading member dim, so
/// one run times the ensemble step against K solo steps of the same members (`solo`); bench/torch/steps.py has
/// the same K-member step in PyTorch (functorch.vmap over the member's step for MRL, hand-batched for the
/// adaptors, whose judged pairs differ in number between members) and checks its losses.
/// Inputs are RANDOM unit vectors: speed and equality only, never a retrieval result.
module Smec.Experiments.Bench.BenchEnsembleSteps

open System
open TorchSharp
open TorchSharp.Modules
open Smec.Core.Losses
open Smec.Core.Methods.Baselines
open Smec.Core.Methods.SmecMethod
open Smec.Experiments.Methods
open Smec.Core.Training

/// The methods whose ensemble step the bench times (each has an IEnsembleTask); the PyTorch case is key + "-ensemble".
let cases = [ MethodRegistry.mrl.Key; MethodRegistry.smec.Key; MethodRegistry.searchAdaptor.Key; "ma-supervised" ]

/// Members per ensemble row: 1 (the cost of the batched form itself), then two ensemble sizes.
let memberCounts = [ 1; 8; 32 ]

/// One benchmarked ensemble step with everything it holds.
type EnsembleCase =
    { Key: string
      Members: int
      Description: string
      /// One optimizer step of every member; returns each member's loss before the update.
      Step: unit -> float32[]
      /// Inputs and weights before the first step, stacked over the members (name, tensor).
      Exported: (string * torch.Tensor) list
      Dispose: unit -> unit }

let private exportedTensor (case: BenchSteps.StepCase) (name: string) =
    case.Exported |> List.find (fst >> (=) name) |> snd

/// The members' fixed batches as one EnsembleBatch: the items are every member's queries, then every
/// member's docs; each member's rows name its own.
let private stackedBatch (queries: torch.Tensor) (docs: torch.Tensor) (relevance: torch.Tensor) (positive: torch.Tensor) (members: int) =
    let b, m = int queries.shape.[1], int docs.shape.[1]
    let items = torch.cat([| queries.reshape(-1L, int64 BenchSteps.Dim); docs.reshape(-1L, int64 BenchSteps.Dim) |], 0L)
    let rows =
        [| for k in 0 .. members - 1 ->
               BatchRows(Array.init b (fun i -> k * b + i), Array.init m (fun j -> members * b + k * m + j),
                         relevance.[k].contiguous().data<float32>().ToArray(), positive.[k].contiguous().data<int64>().ToArray(), [||]) |]
    items, EnsembleBatch.Stack(rows, 0L, torch.CPU)

/// One ensemble step in its own dispose scope, as EnsembleTrainingLoop takes it: the [K] losses, the gradient
/// of their sum, the masked optimizer step; returns the losses (read back here only, for the PyTorch check).
let private stepWith (optimizer: AdamOptimizer) (active: MemberMask) (losses: unit -> torch.Tensor) () =
    use scope = torch.NewDisposeScope()
    optimizer.ZeroGrad()
    let values = losses ()
    values.sum().backward()
    optimizer.Step active
    values.data<float32>().ToArray()

/// Matryoshka-Adaptor's rows in each member's input space: training maps the corpus and queries once per stage
/// (MappedEmbeddings), so a trained step starts from mapped rows, alone or together. Member k's map is its solo
/// case's (a random mean and orthonormal basis).
let private mappedRows (case: BenchSteps.StepCase) =
    let mean, basis = exportedTensor case "adaptor.inputMean", exportedTensor case "adaptor.inputBasis"
    use _ = torch.no_grad ()
    let map (t: torch.Tensor) = (t - mean).matmul(basis).detach()
    map (exportedTensor case "anchors"), map (exportedTensor case "neighbours"), map (exportedTensor case "queries"), map (exportedTensor case "docs")

/// One solo step of `key` at seed `seed`, as that member trains alone (the K solo steps the ensemble row is timed
/// against): BenchSteps' case, but for Matryoshka-Adaptor the trained step on rows mapped once
/// (MatryoshkaAdaptorObjective: UnsupervisedMapped, ForwardCentred), not BenchSteps' step that maps every batch.
let solo (key: string) (seed: int64) : (unit -> float32) * (unit -> unit) =
    let case = BenchSteps.build key seed
    if key <> "ma-supervised" then case.Step, case.Dispose
    else
        let adaptor = new ResidualAdaptor(BenchSteps.Dim, BenchSteps.Dim)
        (use _ = torch.no_grad ()
         for struct (name, p) in adaptor.named_parameters() do p.copy_(exportedTensor case ("adaptor." + name)) |> ignore)
        let anchors, neighbours, queries, docs = mappedRows case
        let relevance, positive = exportedTensor case "relevance", exportedTensor case "positive_column"
        let options = MatryoshkaAdaptorOptions()
        let optimizer = new AdamOptimizer(adaptor.parameters() |> Seq.toArray, 1e-3, 0.0, decoupled = false)
        let step () =
            use scope = torch.NewDisposeScope()
            optimizer.ZeroGrad()
            adaptor.train ()
            let q, d = adaptor.ForwardCentred queries, adaptor.ForwardCentred docs
            let ranking =
                NestedLoss.Sum(BenchSteps.prefixes, fun m ->
                    RankingLoss.Compute(RankingLossForm.InfoNce, NestedLoss.FirstColumns(q, m), NestedLoss.FirstColumns(d, m), relevance, positive, BenchSteps.Temperature))
            let loss = MatryoshkaAdaptorLoss.UnsupervisedMapped(adaptor, anchors, neighbours, BenchSteps.prefixes, options).Add(ranking.Times(1.0 / float BenchSteps.prefixes.Length))
            loss.backward ()
            optimizer.Step()
            loss.item<float32> ()
        step, fun () ->
            optimizer.Dispose(); adaptor.Dispose(); case.Dispose()
            for t in [ anchors; neighbours; queries; docs ] do t.Dispose()

/// Build the K-member ensemble of `key`'s step from the solo cases of seeds seed .. seed + K - 1.
let build (key: string) (members: int) (seed: int64) : EnsembleCase =
    let solo = [ for k in 0 .. members - 1 -> BenchSteps.build key (seed + int64 k) ]
    try
        let stacked name = torch.stack([| for case in solo -> (exportedTensor case name).detach() |])
        match key with
        | key when key = MethodRegistry.mrl.Key ->
            let queries, docs = stacked "queries", stacked "docs"                 // [K, B, D], [K, 2B, D]
            let relevance, positive = stacked "relevance", stacked "positive_column"
            let weight = new Parameter(stacked "layer.weight")                  // [K, 192, 384]
            let bias = new Parameter(stacked "layer.bias")                      // [K, 192]
            let items, batch = stackedBatch queries docs relevance positive members
            let optimizer = new AdamOptimizer([| weight; bias |], 1e-3, 0.01, decoupled = true)
            let active = new MemberMask(members)
            let forms = Array.create members RankingLossForm.InfoNce
            let views = Array.append [| int weight.shape.[1] |] BenchSteps.prefixes.[1..]
            let step = stepWith optimizer active (fun () -> MrlEnsemble.StepLosses(weight, bias, items, batch, views, forms, BenchSteps.Temperature))
            { Key = key
              Members = members
              Description = sprintf "MRL x %d: [K,192,384] layer, batched nested InfoNCE over %A, batch %d per member, AdamW" members BenchSteps.prefixes BenchSteps.SmecBatch
              Step = step
              Exported =
                [ "queries", queries; "docs", docs; "relevance", relevance; "positive_column", positive
                  "layer.weight", (weight :> torch.Tensor); "layer.bias", (bias :> torch.Tensor) ]
              Dispose = fun () ->
                optimizer.Dispose(); active.Dispose(); batch.Dispose(); items.Dispose(); weight.Dispose(); bias.Dispose()
                for t in [ queries; docs; relevance; positive ] do t.Dispose() }
        | key when key = MethodRegistry.smec.Key ->
            // SMEC's first SMRL step (BenchSteps' solo case) for K members: SmecStepEnsemble's loss on the stacked
            // rows; each member searches its own full, fixed memory (its own ItemCosines: its items are its own
            // random rows) and draws its ADS noise from the generator its step alone uses (NoiseSeed + step).
            let queries, docs, memoryRows = stacked "queries", stacked "docs", stacked "memory"   // [K, B, D], [K, 2B, D], [K, 4096, D]
            let relevance, positive = stacked "relevance", stacked "positive_column"
            let weight = new Parameter(stacked "step.layer.weight")                               // [K, 192, 384]
            let bias = new Parameter(stacked "step.layer.bias")
            let logits = new Parameter(stacked "step.selections.0.logits")                         // [K, 192]
            let noise = stacked "noise"
            let options = SmecOptions()
            let b = int queries.shape.[1]
            let queryItems = Array.init b (fun i -> int64 (BenchSteps.MemorySize + i))
            let memories =
                [| for k in 0 .. members - 1 ->
                       let memory = new CrossBatchMemory(BenchSteps.MemorySize, BenchSteps.Dim)
                       memory.Enqueue(memoryRows.[k], Array.init BenchSteps.MemorySize int64)
                       use items = torch.cat([| memoryRows.[k]; queries.[k] |], 0L)
                       memory, ItemCosines.TryBuild(items, queryItems) |]
            let noExclusions = Array.init b (fun _ -> Array.empty<int64> :> Collections.Generic.IReadOnlyCollection<int64>)
            let items, batch = stackedBatch queries docs relevance positive members
            let layerOptimizer = new AdamOptimizer([| weight; bias |], 1e-3, 0.01, decoupled = true)
            let logitOptimizer = new AdamOptimizer([| logits |], 1e-3 * options.AdsLearningRateScale, 0.0, decoupled = true)
            let active = new MemberMask(members)
            let forms = Array.create members RankingLossForm.InfoNce
            let keep = BenchSteps.prefixes.[1]
            let mutable stepIndex = 0L
            let losses () =
                let memoryStart = 3 * b
                let chosen =
                    [| for memory, cosines in memories ->
                           let struct (slots, valid) = memory.SelectBy(cosines.Between(queryItems, memory.ItemIds), queryItems, noExclusions, BenchSteps.SxbmTopK)
                           let struct (memoryItems, memoryIndex) =
                               SmrlStepLoss.MemoryRows(memory.ItemIds.index_select(0L, slots.flatten()).data<int64>().ToArray(), memoryStart)
                           memoryItems, memoryIndex, valid |]
                let width = chosen |> Array.map (fun (i, _, _) -> i.Length) |> Array.max
                // Each member's rows: its queries, docs, then its memory items (padded with its first item to the widest).
                let inputs =
                    torch.stack([| for k, (memoryItems, _, _) in Array.indexed chosen ->
                                       let padded = Array.init width (fun j -> if j < memoryItems.Length then memoryItems.[j] else memoryItems.[0])
                                       torch.cat([| queries.[k]; docs.[k]; memoryRows.[k].index_select(0L, torch.tensor padded) |], 0L) |])
                let noiseGenerators = [| for _ in 1 .. members -> new torch.Generator(uint64 (BenchSteps.NoiseSeed + stepIndex)) |]
                stepIndex <- stepIndex + 1L
                let masks =
                    try
                        [| for k in 0 .. members - 1 ->
                               SmrlStep.ViewMasks(int weight.shape.[1], torch.CPU,
                                   [| Func<struct (torch.Tensor * torch.Tensor)>(fun () -> AdaptiveDimensionSelection.Sample(logits.[k], keep, 1.0, noiseGenerators.[k])) |]).[0] |]
                    finally
                        for g in noiseGenerators do g.Dispose()
                let pairs = SmecStepEnsembleLoss.MemoryPairs.Of([| for _, i, _ in chosen -> i |], torch.stack([| for _, _, v in chosen -> v |]), inputs.shape.[1], torch.CPU)
                SmecStepEnsembleLoss.Compute(weight, bias, inputs, inputs, [| torch.stack masks |], [| keep |], batch, Nullable pairs, forms, options)
            let step () =
                use scope = torch.NewDisposeScope()
                layerOptimizer.ZeroGrad()
                logitOptimizer.ZeroGrad()
                let values = losses ()
                values.sum().backward()
                layerOptimizer.Step active
                logitOptimizer.Step active
                values.data<float32>().ToArray()
            { Key = key
              Members = members
              Description = sprintf "SMEC step x %d: [K,192,384] layer, ADS 192->96 per member (own Gumbel noise), S-XBM top-%d of %d per member, InfoNCE on both views, batch %d per member, AdamW" members BenchSteps.SxbmTopK BenchSteps.MemorySize BenchSteps.SmecBatch
              Step = step
              Exported =
                [ "queries", queries; "docs", docs; "relevance", relevance; "positive_column", positive; "memory", memoryRows; "noise", noise
                  "step.layer.weight", (weight :> torch.Tensor); "step.layer.bias", (bias :> torch.Tensor); "step.selections.0.logits", (logits :> torch.Tensor) ]
              Dispose = fun () ->
                layerOptimizer.Dispose(); logitOptimizer.Dispose(); active.Dispose(); batch.Dispose(); items.Dispose()
                for memory, cosines in memories do memory.Dispose(); cosines.Dispose()
                for t in [ queries; docs; relevance; positive; memoryRows; noise; weight :> torch.Tensor; bias; logits ] do t.Dispose() }
        | key when key = MethodRegistry.searchAdaptor.Key ->
            // Search-Adaptor at 96 dims, alpha = beta = 0.1, pairwise loss: SearchAdaptorEnsemble's step.
            let queries, docs = stacked "queries", stacked "docs"                 // [K, B, D], [K, 2B, D]
            let relevance, positive = stacked "relevance", stacked "positive_column"
            let parameter name = new Parameter(stacked name) :> torch.Tensor
            let weights =
                SearchAdaptorWeights(
                    parameter "model.adaptor.hidden.weight", parameter "model.adaptor.hidden.bias",
                    parameter "model.adaptor.output.weight", parameter "model.adaptor.output.bias",
                    parameter "model.projection.weight", parameter "model.projection.bias",
                    parameter "predictor.weight", parameter "predictor.bias")
            let items, batch = stackedBatch queries docs relevance positive members
            let optimizer = new AdamOptimizer(weights.All |> Array.map (fun t -> t :?> Parameter), 1e-3, 0.0, decoupled = false)
            let active = new MemberMask(members)
            let forms = Array.create members RankingLossForm.Pairwise
            let alpha, beta = torch.full(int64 members, 0.1f), torch.full(int64 members, 0.1f)
            let step =
                stepWith optimizer active (fun () ->
                    SearchAdaptorEnsemble.StepLosses(weights, items, batch, forms, alpha, beta, ReconstructionNorm.L1, BenchSteps.Temperature))
            { Key = key
              Members = members
              Description = sprintf "Search-Adaptor x %d at %d dims: [K,...] residual MLP + projection, pairwise loss, recovery and query prediction (0.1 each), batch %d per member, Adam" members BenchSteps.SearchAdaptorDim BenchSteps.AdaptorBatch
              Step = step
              Exported =
                [ "queries", queries; "docs", docs; "relevance", relevance; "positive_column", positive
                  "model.adaptor.hidden.weight", weights.Hidden; "model.adaptor.hidden.bias", weights.HiddenBias
                  "model.adaptor.output.weight", weights.Output; "model.adaptor.output.bias", weights.OutputBias
                  "model.projection.weight", weights.Projection; "model.projection.bias", weights.ProjectionBias
                  "predictor.weight", weights.Predictor; "predictor.bias", weights.PredictorBias ]
              Dispose = fun () ->
                optimizer.Dispose(); active.Dispose(); batch.Dispose(); items.Dispose()
                for t in weights.All do t.Dispose()
                for t in [ queries; docs; relevance; positive; alpha; beta ] do t.Dispose() }
        | "ma-supervised" ->
            // Matryoshka-Adaptor's supervised step (alpha = beta = gamma = 1, InfoNCE): MatryoshkaAdaptorEnsemble's
            // batched loss on each member's mapped rows. The items are every member's anchors, then neighbours,
            // queries and docs; a member's random doc rows name its anchors, the neighbour table its neighbours.
            let mapped = [ for case in solo -> mappedRows case ]
            let stackOf pick = torch.stack([| for m in mapped -> pick m |])
            let anchors = stackOf (fun (a, _, _, _) -> a)                          // [K, R, D]
            let neighbours = stackOf (fun (_, n, _, _) -> n)                       // [K, R, k, D]
            let queries, docs = stackOf (fun (_, _, q, _) -> q), stackOf (fun (_, _, _, d) -> d)
            for a, n, q, d in mapped do for t in [ a; n; q; d ] do t.Dispose()
            let relevance, positive = stacked "relevance", stacked "positive_column"
            let r, topK, b, m = int anchors.shape.[1], int neighbours.shape.[2], int queries.shape.[1], int docs.shape.[1]
            let anchorRows, neighbourRows = members * r, members * r * topK
            let items =
                torch.cat([| anchors.reshape(-1L, int64 BenchSteps.Dim); neighbours.reshape(-1L, int64 BenchSteps.Dim)
                             queries.reshape(-1L, int64 BenchSteps.Dim); docs.reshape(-1L, int64 BenchSteps.Dim) |], 0L)
            // Anchor item i's neighbours are items anchorRows + i * k .. + k - 1.
            let neighbourTable = (torch.arange(int64 anchorRows).unsqueeze(1L) * int64 topK + torch.arange(int64 topK).unsqueeze(0L)) + int64 anchorRows
            let queryStart, docStart = anchorRows + neighbourRows, anchorRows + neighbourRows + members * b
            let rows =
                [| for k in 0 .. members - 1 ->
                       BatchRows(Array.init b (fun i -> queryStart + k * b + i), Array.init m (fun j -> docStart + k * m + j),
                                 relevance.[k].contiguous().data<float32>().ToArray(), positive.[k].contiguous().data<int64>().ToArray(),
                                 Array.init r (fun i -> k * r + i)) |]
            let batch = EnsembleBatch.Stack(rows, 0L, torch.CPU)
            let parameter name = new Parameter(stacked name) :> torch.Tensor
            let weights =
                new MatryoshkaAdaptorWeights(parameter "adaptor.hidden.weight", parameter "adaptor.hidden.bias",
                                         parameter "adaptor.output.weight", parameter "adaptor.output.bias")
            let optimizer = new AdamOptimizer(weights.All |> Array.map (fun t -> t :?> Parameter), 1e-3, 0.0, decoupled = false)
            let active = new MemberMask(members)
            let forms = Array.create members RankingLossForm.InfoNce
            let alpha, beta = torch.ones(int64 members), torch.ones(int64 members)
            let gammaPerDim = torch.full(int64 members, float32 (1.0 / float BenchSteps.prefixes.Length))
            let step =
                stepWith optimizer active (fun () ->
                    MatryoshkaAdaptorEnsembleLoss.Supervised(weights, items, items, neighbourTable, batch, BenchSteps.prefixes, forms, alpha, beta, gammaPerDim,
                        ReconstructionNorm.L1, BenchSteps.Temperature))
            { Key = key
              Members = members
              Description = sprintf "Matryoshka-Adaptor x %d, supervised stage: [K,...] 384-384-384 residual MLP on mapped rows, %d anchors x %d neighbours + nested InfoNCE on batch %d per member, Adam" members r topK b
              Step = step
              Exported =
                [ "anchors", anchors; "neighbours", neighbours; "queries", queries; "docs", docs; "relevance", relevance; "positive_column", positive
                  "adaptor.hidden.weight", weights.Hidden; "adaptor.hidden.bias", weights.HiddenBias
                  "adaptor.output.weight", weights.Output; "adaptor.output.bias", weights.OutputBias ]
              Dispose = fun () ->
                optimizer.Dispose(); active.Dispose(); batch.Dispose(); items.Dispose(); neighbourTable.Dispose(); weights.Dispose()
                for t in [ anchors; neighbours; queries; docs; relevance; positive; alpha; beta; gammaPerDim ] do t.Dispose() }
        | other -> invalidArg "key" (sprintf "no ensemble step for '%s' (known: %s)" other (String.concat ", " cases))
    finally
        for case in solo do case.Dispose()

/// Write an ensemble case's inputs and the losses of its first `steps` steps (step by step, member by member).
let export (case: EnsembleCase) (folder: string) (steps: int) =
    BenchSteps.writeInputs case.Exported folder
    let losses = Array.init steps (fun _ -> case.Step()) |> Array.concat
    BenchSteps.writeLosses losses folder
    losses
