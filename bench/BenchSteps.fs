/// Training steps for `smec bench`: one step (loss, backward, optimizer) of each method's training
/// objective at the torch.catalog's local settings, built from the harness's own pieces (ResidualAdaptor,
/// SearchAdaptorModel, the loss classes, NestedLoss, RankingLoss, AdamOptimizer). The same step is
/// written in PyTorch in bench/torch/steps.py; `export` writes the inputs and initial weights as .npy
/// so the script can check it computes the same losses (tests run that check) and time the same work.
/// Inputs are RANDOM unit vectors: speed and equality only, never a retrieval result.
module Smec.Experiments.Bench.BenchSteps

open System
open System.IO
open TorchSharp
open TorchSharp.Modules
open Smec.Core.Losses
open Smec.Core.Methods.Baselines
open Smec.Core.Methods.SmecMethod
open Smec.Core.Storage
open Smec.Core.Training
open Smec.Experiments.Methods

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
[<Literal>]
let MemorySize = 4096 // SmecOptions.SxbmCapacity
[<Literal>]
let SxbmTopK = 10 // SmecOptions.SxbmTopK
/// The ADS noise of step s comes from a generator seeded NoiseSeed + s (the loop seeds one per step too);
/// the first steps' draws are exported so that PyTorch samples the same selection.
[<Literal>]
let NoiseSeed = 1000L

/// One benchmarked training step with everything it holds.
type StepCase =
    { Key: string
      Description: string
      /// One optimizer step on the fixed batch; returns the loss before the update.
      Step: unit -> float32
      /// Inputs, weights and buffers as they are before the first step (name, tensor), for the PyTorch side.
      Exported: (string * torch.Tensor) list
      Dispose: unit -> unit }

/// The methods' steps (each with the target <= 1.0x), then "adaptor-mlp", a diagnostic row: the
/// adaptors' 384-384-384 residual MLP alone on Matryoshka-Adaptor's 704 rows (64 anchors, 640
/// neighbours), forward, backward and Adam, no loss terms. It separates the matrix products, which
/// both sides hand to a BLAS, from the loss operations around them.
let cases = [ MethodRegistry.mrl.Key; MethodRegistry.smec.Key; "ma-unsupervised"; "ma-supervised"; MethodRegistry.searchAdaptor.Key; "adaptor-mlp" ]

let targetOf (key: string) = if key = "adaptor-mlp" then "diagnostic" else "<= 1.0x"

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

/// A residual adaptor's output layer starts at zero (e' = e); give it small random weights so the
/// first gradients are generic. Draws from `generator` in parameter order.
let private smallOutputLayer (m: torch.nn.Module) (generator: torch.Generator) =
    use _ = torch.no_grad ()
    for struct (name, p) in m.named_parameters() do
        if name.Contains "output" then p.copy_(torch.randn(p.shape, generator = generator) * 0.01) |> ignore

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
    | key when key = MethodRegistry.mrl.Key ->
        // MRL: one 384 -> 192 layer trained with the nested InfoNCE loss over every prefix (AdamW).
        let b = batch SmecBatch generator
        let layer = torch.nn.Linear(int64 Dim, int64 prefixes.[0])
        let optimizer = new AdamOptimizer(layer.parameters() |> Seq.toArray, 1e-3, 0.01, decoupled = true)
        { Key = key
          Description = sprintf "MRL: 384->192 linear, nested InfoNCE over %A, batch %d, AdamW" prefixes SmecBatch
          Step = stepWith optimizer (fun () -> nestedInfoNce (layer.forward b.Queries) (layer.forward b.Docs) b)
          Exported = batchTensors b @ parametersOf "layer." layer
          Dispose = fun () -> optimizer.Dispose(); layer.Dispose() }
    | key when key = MethodRegistry.smec.Key ->
        // SMEC's first SMRL step at the local settings: a 384 -> 192 layer, ADS keeping 96 of its 192 dims
        // (Gumbel top-k, straight-through relaxed top-k, temperature 1 as at the start of the anneal), S-XBM
        // on each query's 10 nearest of 4,096 memory entries (the anchor cosines looked up in ItemCosines, as
        // training does), InfoNCE and the S-XBM term on both views (SmrlStepLoss, the trained loss), AdamW
        // with the ADS logits at 10x the learning rate. The memory is full and fixed (training enqueues the
        // batch after each step).
        let b = batch SmecBatch generator
        let memoryRows = unitRows MemorySize generator
        let options = SmecOptions()
        let step = new SmrlStep(Dim, prefixes.[0], [| prefixes.[1] |], true, false)
        let ads = step.Selections.[0]
        ads.InitialiseLogits(torch.randn([| int64 prefixes.[0] |], generator = generator))
        let memory = new CrossBatchMemory(MemorySize, Dim)
        memory.Enqueue(memoryRows, Array.init MemorySize int64)
        // Items: the memory's 0 .. 4095, then the queries (the anchors).
        let queryItems = Array.init SmecBatch (fun i -> int64 (MemorySize + i))
        let cosines =
            use items = torch.cat([| memoryRows; b.Queries |], 0L)
            ItemCosines.TryBuild(items, queryItems)
        let noExclusions = Array.init SmecBatch (fun _ -> Array.empty<int64> :> Collections.Generic.IReadOnlyCollection<int64>)
        let rows = StepRows(SmecBatch, 2 * SmecBatch, 0, SmecBatch)
        let draw (s: int64) =
            use g = new torch.Generator(uint64 (NoiseSeed + s))
            torch.rand([| int64 prefixes.[0] |], generator = g)
        let noise = torch.stack([| for s in 0L .. 2L -> draw s |])
        let layerOptimizer = new AdamOptimizer(step.Layer.parameters() |> Seq.toArray, 1e-3, 0.01, decoupled = true)
        let logitOptimizer = new AdamOptimizer([| ads.Logits |], 1e-3 * options.AdsLearningRateScale, 0.0, decoupled = true)
        let mutable stepIndex = 0L
        let run () =
            use scope = torch.NewDisposeScope()
            use noiseGenerator = new torch.Generator(uint64 (NoiseSeed + stepIndex))
            stepIndex <- stepIndex + 1L
            layerOptimizer.ZeroGrad()
            logitOptimizer.ZeroGrad()
            step.train ()
            ads.Temperature <- 1.0
            ads.NoiseGenerator <- noiseGenerator
            let struct (slots, valid) = memory.SelectBy(cosines.Between(queryItems, memory.ItemIds), queryItems, noExclusions, SxbmTopK)
            let struct (memoryItems, memoryIndex) =
                SmrlStepLoss.MemoryRows(memory.ItemIds.index_select(0L, slots.flatten()).data<int64>().ToArray(), rows.MemoryStart)
            let inputs = torch.cat([| b.Queries; b.Docs; memoryRows.index_select(0L, torch.tensor memoryItems) |], 0L)
            // The first step's input is the frozen embedding itself: inputs and teacher are the same rows.
            let loss = SmrlStepLoss.Compute(step, inputs, inputs, rows, b.Relevance, b.PositiveColumn, Nullable<struct (torch.Tensor * torch.Tensor)>(struct (memoryIndex, valid)), options)
            loss.backward ()
            layerOptimizer.Step()
            logitOptimizer.Step()
            loss.item<float32> ()
        { Key = key
          Description =
            sprintf "SMEC SMRL step: 384->192 linear, ADS 192->96 (Gumbel top-k), S-XBM top-%d of %d, InfoNCE on both views, batch %d, AdamW"
                SxbmTopK MemorySize SmecBatch
          Step = run
          Exported =
            batchTensors b @ [ "memory", memoryRows; "noise", noise ]
            @ parametersOf "step." step
          Dispose = fun () ->
            layerOptimizer.Dispose(); logitOptimizer.Dispose(); cosines.Dispose(); memory.Dispose(); noise.Dispose(); step.Dispose() }
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
        smallOutputLayer adaptor generator
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
    | key when key = MethodRegistry.searchAdaptor.Key ->
        // Search-Adaptor at 96 dims: pairwise ranking loss on the projected embeddings, alpha x L1 recovery,
        // beta x query prediction (the grid point alpha = beta = 0.1).
        let b = batch AdaptorBatch generator
        let model = new SearchAdaptorModel(Dim, Dim, SearchAdaptorDim)
        let predictor = torch.nn.Linear(int64 SearchAdaptorDim, int64 Dim)
        smallOutputLayer model generator
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
    | "adaptor-mlp" ->
        let rows = unitRows (SmecBatch * (TopK + 1)) generator
        let adaptor = new ResidualAdaptor(Dim, Dim)
        smallOutputLayer adaptor generator
        let optimizer = new AdamOptimizer(adaptor.parameters() |> Seq.toArray, 1e-3, 0.0, decoupled = false)
        let loss () =
            adaptor.train ()
            adaptor.ForwardCentred(rows).square().mean()
        { Key = key
          Description = sprintf "diagnostic: the residual MLP 384-384-384 alone on %d rows (forward, backward, Adam)" (SmecBatch * (TopK + 1))
          Step = stepWith optimizer loss
          Exported = [ "rows", rows ] @ parametersOf "adaptor." adaptor @ buffersOf "adaptor." adaptor
          Dispose = fun () -> optimizer.Dispose(); adaptor.Dispose() }
    | other -> invalidArg "key" (sprintf "unknown training-step case '%s' (known: %s)" other (String.concat ", " cases))

/// Write inputs and initial weights (float32 .npy, flattened to [1, n]; shapes in manifest.txt), for the PyTorch side.
let writeInputs (exported: (string * torch.Tensor) list) (folder: string) =
    Directory.CreateDirectory folder |> ignore
    let manifest =
        [ for name, t in exported ->
              let values = t.detach().to_type(torch.ScalarType.Float32).contiguous().data<float32>().ToArray()
              Npy.WriteFloat32(Path.Combine(folder, name + ".npy"), ReadOnlySpan values, 1, values.Length)
              sprintf "%s %s" name (t.shape |> Array.map string |> String.concat ",") ]
    AtomicFile.WriteAllLines(Path.Combine(folder, "manifest.txt"), manifest)

/// The losses of a run, as the PyTorch check reads them (dotnet_losses.npy, flattened step by step).
let writeLosses (losses: float32[]) (folder: string) =
    Npy.WriteFloat32(Path.Combine(folder, "dotnet_losses.npy"), ReadOnlySpan losses, 1, losses.Length)

/// Write a case's inputs and initial weights and the losses of its first `steps` .NET steps
/// (dotnet_losses.npy). Call before any step.
let export (case: StepCase) (folder: string) (steps: int) =
    writeInputs case.Exported folder
    let losses = Array.init steps (fun _ -> case.Step())
    writeLosses losses folder
    losses
