/// SMEC's parts: ADS selection, the S-XBM ring buffer, SMRL's freezing and extension, save/load,
/// and bit-reproducibility of a reduced training run on SciFact.
module Smec.Tests.SmecTests

open System.IO
open Expecto
open TorchSharp
open Smec.Core.Methods
open Smec.Core.Methods.SmecMethod
open Smec.Core.Runtime
open Smec.Core.Storage
open Smec.Core.Training
open Smec.Core.Retrieval
open Smec.Experiments.Running

let private floats (t: torch.Tensor) = t.detach().contiguous().data<float32>().ToArray()

/// A reduced SMEC run: small ladder, few steps, validation every 5 steps, one grid point (InfoNCE,
/// log-variance ADS logits) so that each step trains once.
let private reducedModel (ladder: int[]) steps =
    new SmecCompressor(
        SmecOptions(Ladder = ladder, LossCandidates = [| Smec.Core.Losses.RankingLossForm.InfoNce |], AdsInitCandidates = [| AdsLogitInit.Variance |]),
        TrainingOptions(MaxSteps = steps, EvaluateEvery = 5, Patience = 100, Progress = false, BatchSize = 32))

let private parameters (step: SmrlStep) = [ for p in step.parameters() -> floats p ]

[<Tests>]
let adsTests =
    testList "ADS" [
        testCase "at inference it keeps exactly k distinct dims, the top-k logits, ascending and the same every call" <| fun () ->
            Determinism.Seed 1L |> ignore
            use scope = torch.NewDisposeScope()
            use ads = new AdaptiveDimensionSelection(16, 5)
            // Ties on purpose: equal logits must still give one fixed list.
            ads.InitialiseLogits(torch.tensor([| 0.1f; 3.0f; 0.5f; 3.0f; -1.0f; 2.0f; 0.5f; 0.5f; 0.0f; 2.5f; 0.5f; -2.0f; 0.5f; 1.0f; 0.2f; 0.5f |]))
            ads.eval() |> ignore
            let first, second = ads.SelectedIndices(), ads.SelectedIndices()
            Expect.sequenceEqual first [| 1L; 3L; 5L; 9L; 13L |] "the five largest logits"
            Expect.sequenceEqual second first "deterministic"
            let x = torch.randn(4L, 16L)
            let y = ads.forward x
            Expect.equal y.shape [| 4L; 5L |] "exactly k output dims"
            Expect.sequenceEqual (floats y) (floats (x.index_select(1L, torch.tensor first))) "the output is the input at those dims"

        testCase "equal logits resolve to the lowest indices" <| fun () ->
            Determinism.ConfigureTorch()
            use ads = new AdaptiveDimensionSelection(8, 3)
            ads.eval() |> ignore
            Expect.sequenceEqual (ads.SelectedIndices()) [| 0L; 1L; 2L |] "all-zero logits keep the first three"

        testCase "in training the output keeps exactly k of the input's values at full width and gradients reach the logits" <| fun () ->
            Determinism.Seed 2L |> ignore
            use scope = torch.NewDisposeScope()
            use ads = new AdaptiveDimensionSelection(12, 4)
            ads.train() |> ignore
            let x = torch.randn(6L, 12L)
            let struct (kept, mask) = ads.Sample()
            let y = AdaptiveDimensionSelection.Apply(x, struct (kept, mask))
            Expect.equal y.shape [| 6L; 12L |] "full width in training"
            let struct (distinct, _, _) = kept.unique()
            Expect.equal (distinct.numel()) 4L "k distinct dims"
            Expect.sequenceEqual (floats (y.index_select(1L, kept))) (floats (x.index_select(1L, kept))) "straight-through: the kept values are the input itself"
            let nonZeroColumns = [ for c in 0L .. 11L do if (y.select(1L, c).abs().sum().item<float32>()) > 0.0f then c ]
            Expect.sequenceEqual nonZeroColumns (kept.data<int64>().ToArray()) "zero outside the kept dims"
            (y * torch.randn(6L, 12L)).sum().backward()
            let gradNorm = ads.Logits.grad.abs().sum().item<float32>()
            Expect.isGreaterThan gradNorm 0.0f "the logits receive a gradient"

        testCase "the relaxed top-k equals a naive loop of damped softmaxes, in [0, 1], summing to k" <| fun () ->
            Determinism.Seed 3L |> ignore
            use scope = torch.NewDisposeScope()
            let keys = torch.randn(9L)
            let soft = floats (RelaxedTopK.Compute(keys, 3))
            let mutable scores = floats keys |> Array.map float
            let naive = Array.zeroCreate 9
            for _ in 1 .. 3 do
                let m = Array.max scores
                let e = scores |> Array.map (fun v -> exp (v - m))
                let p = e |> Array.map (fun v -> v / Array.sum e)
                for i in 0 .. 8 do naive.[i] <- naive.[i] + p.[i]
                scores <- Array.map2 (fun s q -> s + log (max 1e-12 (1.0 - q))) scores p
            for i in 0 .. 8 do
                Expect.floatClose Accuracy.medium (float soft.[i]) naive.[i] (sprintf "entry %d" i)
            Expect.floatClose Accuracy.medium (Array.sumBy float soft) 3.0 "sums to k"

        testCase "the hand-written relaxed top-k has the torch-op reference's values and gradient" <| fun () ->
            // The reference is the same relaxation as recorded torch ops, differentiated by autograd.
            Determinism.Seed 5L |> ignore
            use scope = torch.NewDisposeScope()
            for (n, k) in [ (12L, 5); (384L, 192); (48L, 47) ] do
                let raw = torch.randn(n).mul(torch.tensor(2.0f))
                let weights = torch.randn(n)
                let run (f: torch.Tensor -> torch.Tensor) =
                    let keys = raw.clone().requires_grad_(true)
                    let soft = f keys
                    (soft * weights).sum().backward()
                    floats soft, floats keys.grad
                let (fastSoft, fastGrad) = run (fun keys -> RelaxedTopK.Compute(keys, k))
                let (refSoft, refGrad) = run (fun keys -> RelaxedTopK.Reference(keys, k))
                for i in 0 .. int n - 1 do
                    Expect.floatClose { absolute = 1e-4; relative = 1e-3 } (float fastSoft.[i]) (float refSoft.[i]) (sprintf "n=%d k=%d value %d" n k i)
                    Expect.floatClose { absolute = 1e-4; relative = 1e-3 } (float fastGrad.[i]) (float refGrad.[i]) (sprintf "n=%d k=%d gradient %d" n k i)
                Expect.isGreaterThan (fastGrad |> Array.sumBy (fun g -> abs (float g))) 1e-6 (sprintf "n=%d k=%d: a gradient at all" n k)

        testCase "in training, ADS gives a non-zero gradient to dims outside its current top-k" <| fun () ->
            // A SMEC step's loss, as SmrlStepObjective computes it on the step's selected view.
            Determinism.Seed 4L |> ignore
            use scope = torch.NewDisposeScope()
            use step = new SmrlStep(16, 16, [ 6 ], true, false)
            let ads = step.Selections.[0]
            ads.InitialiseLogits(torch.linspace(1.0, -1.0, 16L))
            let topK = ads.SelectedIndices() |> Set.ofArray
            step.train() |> ignore
            ads.Temperature <- 0.5
            let queries, docs = torch.randn(8L, 16L), torch.randn(8L, 16L)
            let views = step.Select(step.forward (torch.cat([| queries; docs |], 0L)))
            let view = views.[0]
            let loss = Smec.Core.Losses.RankingLoss.Compute(Smec.Core.Losses.RankingLossForm.InfoNce, view.narrow(0L, 0L, 8L), view.narrow(0L, 8L, 8L),
                                                            torch.eye(8L), torch.arange(8L), 0.05)
            loss.backward()
            let grad = floats ads.Logits.grad
            let outside = [ for i in 0 .. 15 do if not (topK.Contains(int64 i)) then i ]
            Expect.equal outside.Length 10 "ten dims outside the top 6"
            for i in outside do
                Expect.isGreaterThan (abs grad.[i]) 0.0f (sprintf "dim %d (outside the top-k) receives a gradient" i)

        testCase "with ADS off it is prefix selection" <| fun () ->
            Determinism.ConfigureTorch()
            use scope = torch.NewDisposeScope()
            use ads = new AdaptiveDimensionSelection(10, 3, enabled = false)
            let x = torch.randn(2L, 10L)
            Expect.sequenceEqual (floats (ads.forward x)) (floats (x.narrow(1L, 0L, 3L))) "the first three dims"
            Expect.sequenceEqual (ads.SelectedIndices()) [| 0L; 1L; 2L |] "prefix indices"
    ]

[<Tests>]
let memoryTests =
    testList "S-XBM memory" [
        testCase "the ring buffer overwrites oldest-first" <| fun () ->
            Determinism.ConfigureTorch()
            use scope = torch.NewDisposeScope()
            use memory = new CrossBatchMemory(4, 2)
            memory.Enqueue(torch.ones(3L, 2L), [| 1L; 2L; 3L |])
            Expect.equal memory.Count 3 "three filled"
            memory.Enqueue(torch.ones(3L, 2L), [| 4L; 5L; 6L |])
            Expect.equal memory.Count 4 "full"
            // Slots 0-2 held 1, 2, 3; the next three writes go to slot 3, then 0 and 1 (the oldest).
            Expect.sequenceEqual (memory.ItemIds.data<int64>().ToArray()) [| 5L; 6L; 3L; 4L |] "1 and 2 were overwritten first"
            memory.Enqueue(torch.ones(6L, 2L), [| 10L .. 15L |])
            Expect.sequenceEqual (memory.ItemIds.data<int64>().ToArray() |> Array.sort) [| 12L .. 15L |] "a write larger than the buffer keeps its newest rows"

        testCase "selection never returns the same item twice for one anchor" <| fun () ->
            Determinism.Seed 5L |> ignore
            use scope = torch.NewDisposeScope()
            use memory = new CrossBatchMemory(32, 4)
            // Eight items, each enqueued by several batches (the same frozen embedding every time).
            let items = torch.randn(8L, 4L)
            for round in 0 .. 4 do
                let ids = [| for i in 0 .. 5 -> int64 ((i + round * 3) % 8) |]
                memory.Enqueue(items.index_select(0L, torch.tensor ids), ids)
            let anchors = torch.randn(5L, 4L)
            let struct (slots, valid) = memory.Select(anchors, [| 100L .. 104L |], Array.init 5 (fun _ -> Set.empty<int64> :> System.Collections.Generic.IReadOnlyCollection<int64>), 10)
            let ids = memory.ItemIds.index_select(0L, slots.flatten()).data<int64>().ToArray() |> Array.chunkBySize 10
            let isValid = valid.flatten().data<bool>().ToArray() |> Array.chunkBySize 10
            for a in 0 .. 4 do
                let chosen = Array.zip ids.[a] isValid.[a] |> Array.filter snd |> Array.map fst
                Expect.equal chosen.Length 8 (sprintf "anchor %d: all eight distinct items, no more" a)
                Expect.equal (Array.distinct chosen).Length chosen.Length (sprintf "anchor %d: no item twice" a)

        testCase "selection never returns the sample itself, its positives or an empty slot" <| fun () ->
            Determinism.ConfigureTorch()
            use scope = torch.NewDisposeScope()
            use memory = new CrossBatchMemory(8, 3)
            let rows = torch.tensor([| 1.0f; 0.0f; 0.0f;  0.9f; 0.1f; 0.0f;  0.8f; 0.2f; 0.0f;  0.0f; 1.0f; 0.0f |]).reshape(4L, 3L)
            memory.Enqueue(rows, [| 7L; 8L; 9L; 10L |]) // 4 of 8 slots filled
            let anchor = torch.tensor([| 1.0f; 0.0f; 0.0f |]).reshape(1L, 3L)
            // The anchor is item 7 (its own copy is the nearest entry); item 8 is its labelled positive.
            let struct (slots, valid) = memory.Select(anchor, [| 7L |], [| set [ 8L ] :> System.Collections.Generic.IReadOnlyCollection<int64> |], 4)
            let ids = memory.ItemIds.index_select(0L, slots.flatten()).data<int64>().ToArray()
            let isValid = valid.flatten().data<bool>().ToArray()
            let chosen = Array.zip ids isValid |> Array.filter snd |> Array.map fst
            Expect.sequenceEqual chosen [| 9L; 10L |] "only 9 then 10 qualify, most similar first"
            Expect.sequenceEqual isValid [| true; true; false; false |] "the other two picks are marked invalid"

        testCase "the precomputed item cosines choose the slots the memory's own product chooses" <| fun () ->
            Determinism.Seed 12L |> ignore
            use scope = torch.NewDisposeScope()
            // 600 items (docs, then queries), a 512-slot memory that has wrapped, 64 query anchors.
            let items = torch.randn(600L, 48L)
            let rng = System.Random 3
            use memory = new CrossBatchMemory(512, 48)
            for _ in 1 .. 12 do
                let ids = Array.init 64 (fun _ -> int64 (rng.Next 600))
                memory.Enqueue(items.index_select(0L, torch.tensor ids), ids)
            let anchorItems = Array.init 64 (fun i -> 500L + int64 (i % 100))
            let excluded = Array.init 64 (fun i -> set [ for _ in 1 .. i % 7 -> int64 (rng.Next 500) ] :> System.Collections.Generic.IReadOnlyCollection<int64>)
            use cosines = ItemCosines.TryBuild(items, [| 500L .. 599L |])
            Expect.isNotNull cosines "100 x 600 floats fit the budget"
            let struct (slots, valid) = memory.Select(items.index_select(0L, torch.tensor anchorItems), anchorItems, excluded, 10)
            let struct (slots2, valid2) = memory.SelectBy(cosines.Between(anchorItems, memory.ItemIds), anchorItems, excluded, 10)
            Expect.sequenceEqual (slots2.data<int64>().ToArray()) (slots.data<int64>().ToArray()) "the same slots, in the same order"
            Expect.sequenceEqual (valid2.data<bool>().ToArray()) (valid.data<bool>().ToArray()) "the same valid picks"
            Expect.throws (fun () -> cosines.Between([| 3L |], memory.ItemIds) |> ignore) "item 3 is no anchor of the table"
            Expect.isNull (ItemCosines.TryBuild(items, [| 500L .. 599L |], budgetBytes = 1000L)) "over its budget the table is not built"

        testCase "selection equals a naive loop when anchors exclude hundreds of items (class relevance)" <| fun () ->
            Determinism.Seed 11L |> ignore
            use scope = torch.NewDisposeScope()
            let capacity, dim, b, k = 256, 8, 12, 10
            use memory = new CrossBatchMemory(capacity, dim)
            let rng = System.Random 5
            // 300 writes into 256 slots: the ring wraps, item ids 0..299, the oldest 44 overwritten.
            memory.Enqueue(torch.randn(300L, int64 dim), Array.init 300 int64)
            let anchors = torch.randn(int64 b, int64 dim)
            let anchorIds = Array.init b (fun i -> int64 (rng.Next 300))
            // Exclusion lists of very different sizes (0 to 250 ids), as same-class positives give.
            let excluded = Array.init b (fun i -> set [ for _ in 1 .. (i * 23) -> int64 (rng.Next 300) ])
            let struct (slots, valid) =
                memory.Select(anchors, anchorIds, excluded |> Array.map (fun e -> e :> System.Collections.Generic.IReadOnlyCollection<int64>), k)
            let ids = memory.ItemIds.data<int64>().ToArray()
            let mem = torch.nn.functional.normalize(memory.Embeddings, dim = 1L)
            let sims = torch.nn.functional.normalize(anchors, dim = 1L).matmul(mem.t()).data<float32>().ToArray()
            let gotSlots = slots.data<int64>().ToArray()
            let gotValid = valid.data<bool>().ToArray()
            for i in 0 .. b - 1 do
                // Naive oracle: every filled slot whose item is neither the anchor nor excluded, by similarity.
                let expected =
                    [ for slot in 0 .. capacity - 1 do
                          let id = ids.[slot]
                          if id >= 0L && id <> anchorIds.[i] && not (excluded.[i].Contains id) then
                              yield slot, sims.[i * capacity + slot] ]
                    |> List.sortByDescending snd |> List.truncate k |> List.map (fst >> int64)
                let got = [ for j in 0 .. k - 1 do if gotValid.[i * k + j] then yield gotSlots.[i * k + j] ]
                Expect.sequenceEqual got expected (sprintf "anchor %d with %d exclusions" i excluded.[i].Count)
    ]

[<Tests>]
let smrlTests =
    testList "SMRL" [
        testCase "each duplicated dim is served by its better output on validation, and the curve is monotone or says why not" <| fun () ->
            let data = SciFactFixture.trainingData 5L
            use model = reducedModel [| 384; 192; 96 |] 10
            model.Fit data
            let corpus, judged = data.Corpus, Experiments.judgedQueries data.Queries data.Validation
            let ndcg10 (compressor: ICompressor) dim = Experiments.ndcg10At compressor (SearchOptions()) corpus judged data.Validation dim
            let score source dim =
                ndcg10
                    { new ICompressor with
                        member _.Name = model.Name
                        member _.Dims = model.Dims
                        member _.Fit _ = ()
                        member _.Compress(e, d, role) = model.Compress(e, d, role, System.Nullable source)
                        member _.Settings = model.Settings
                        member _.Save _ = ()
                      interface System.IDisposable with
                        member _.Dispose() = () }
                    dim
            Expect.sequenceEqual model.Chain.DuplicatedDims [ 192 ] "192 is step 1's selection and step 2's output"
            let selection, stepOutput = score DimSource.Selection 192, score DimSource.StepOutput 192
            let expected = if stepOutput > selection then DimSource.StepOutput else DimSource.Selection
            Expect.equal (model.Chain.SourceFor 192) expected (sprintf "the better on validation (Selection %.4f, StepOutput %.4f)" selection stepOutput)
            Expect.stringContains model.Settings.["result.dim_source@192"] (string expected) "the choice is recorded"
            // The served curve, measured independently.
            let curve = [ for d in [ 384; 192; 96 ] -> d, ndcg10 model d ]
            let breaks = curve |> List.pairwise |> List.filter (fun ((_, larger), (_, smaller)) -> smaller > larger)
            let note = model.Settings.["result.validation_monotone"]
            if breaks.IsEmpty then Expect.equal note "yes" "monotone curve reported as such"
            else
                Expect.stringStarts note "no: " "a non-monotone curve is reported"
                for (_, _), (d, _) in breaks do Expect.stringContains note (sprintf "%d (" d) (sprintf "the break at %d is named" d)
                Expect.stringContains note "each step keeps its best mean" "and explained"

        testCase "without SMRL (one layer, nested ADS ladder) a second grid point re-initialises every ADS from the variance" <| fun () ->
            // The second point finds the step in train mode, where an ADS keeps the full width; the
            // variance start of the nested ADS must still see its predecessor's kept dims (it failed with
            // "size of tensor a (192) must match ... (384)" when it did not).
            let data = SciFactFixture.trainingData 6L
            use model =
                new SmecCompressor(
                    SmecOptions(Ladder = [| 384; 192; 96 |], Smrl = false,
                                LossCandidates = [| Smec.Core.Losses.RankingLossForm.InfoNce; Smec.Core.Losses.RankingLossForm.Pairwise |]),
                    TrainingOptions(MaxSteps = 6, EvaluateEvery = 3, Patience = 100, Progress = false, BatchSize = 32))
            model.Fit data
            Expect.sequenceEqual model.Dims [ 384; 192; 96 ] "one layer serves every dim"
            Expect.stringContains model.StepRecords.[0].Grid "Pairwise" "both grid points trained"
            // Each grid point's validation curve is recorded (its start, then every 3 steps of the one layer's
            // 12-step budget: 6 per trained dim), and the kept best is on it.
            let history = model.Settings.["result.step1.history"]
            Expect.stringContains history "[Pairwise, ADS init Variance] 0:" "the second point's curve, from its start"
            let points = history.Split(' ') |> Array.filter (fun t -> System.Text.RegularExpressions.Regex.IsMatch(t, @"^\d+:"))
            Expect.sequenceEqual (points |> Array.map (fun t -> t.Split(':').[0])) [ for _ in 1..2 do yield! [ "0"; "3"; "6"; "9"; "12" ] ] "validation steps of both points"
            let best = points |> Array.map (fun t -> float (t.Split(':').[1].Split('(').[0])) |> Array.max
            Expect.equal (sprintf "%.4f" best) (sprintf "%.4f" model.StepRecords.[0].BestValidationNdcg10) "the kept best is the curve's maximum"

        testCase "extending the chain leaves step 1 bit-identical and equals training all steps at once" <| fun () ->
            let data = SciFactFixture.trainingData 3L
            use model = reducedModel [| 384; 192 |] 10
            model.Fit data
            let frozen = parameters model.Chain.Steps.[0]
            let corpus = data.Corpus
            let before = model.Compress(corpus, 192, EmbeddingRole.Document).Values
            model.ExtendTo(data, 96)
            Expect.equal model.Chain.Steps.Count 2 "a second step"
            Expect.equal (parameters model.Chain.Steps.[0]) frozen "step 1 untouched by step 2's training, bit for bit"
            // Step 1's own 192-d output is untouched; which output serves 192 is chosen again on validation.
            Expect.sequenceEqual (model.Compress(corpus, 192, EmbeddingRole.Document, System.Nullable DimSource.Selection).Values) before "step 1's 192-d output is unchanged"
            use fromScratch = reducedModel [| 384; 192; 96 |] 10
            fromScratch.Fit data
            Expect.sequenceEqual (fromScratch.Compress(corpus, 96, EmbeddingRole.Document).Values)
                                 (model.Compress(corpus, 96, EmbeddingRole.Document).Values) "extension = from scratch"

        testCase "the same seed and config give the same validation nDCG to every digit" <| fun () ->
            let run () =
                use model = reducedModel [| 384; 192; 96 |] 10
                model.Fit(SciFactFixture.trainingData 4L)
                [ for r in model.StepRecords -> sprintf "%.17g" r.BestValidationNdcg10 ], model.Compress(SciFactFixture.trainingData(4L).Queries, 96, EmbeddingRole.Query).Values
            let scoresA, outA = run ()
            let scoresB, outB = run ()
            Expect.equal scoresA scoresB "validation nDCG@10 per step"
            Expect.sequenceEqual outA outB "compressed queries, bit for bit"

        testCase "a saved model loads and compresses identically, also through `smec compress`" <| fun () ->
            use dir = new TestSupport.TempDir()
            let data = SciFactFixture.trainingData 5L
            use model = reducedModel [| 384; 192; 96 |] 5
            model.Fit data
            let modelDir = Path.Combine(dir.Path, "model")
            model.Save modelDir
            use loaded = SmecCompressor.Load modelDir
            Expect.equal loaded.Dims model.Dims "dims"
            let queries = data.Queries
            Expect.sequenceEqual (loaded.Compress(queries, 96, EmbeddingRole.Query).Values) (model.Compress(queries, 96, EmbeddingRole.Query).Values) "loaded = trained"
            let input, output = Path.Combine(dir.Path, "q.npy"), Path.Combine(dir.Path, "q96.npy")
            Npy.WriteFloat32(input, System.ReadOnlySpan queries.Values, queries.Rows, queries.Dim)
            let parser = Argu.ArgumentParser.Create<Smec.Experiments.Cli.CompressCommand.CompressArgs>()
            let args = parser.Parse [| "--model"; modelDir; "--in"; input; "--dim"; "96"; "--out"; output |]
            Expect.equal (Smec.Experiments.Cli.CompressCommand.run args) 0 "exit code"
            let struct (values, rows, cols) = Npy.ReadFloat32 output
            Expect.equal (rows, cols) (queries.Rows, 96) "shape"
            Expect.sequenceEqual values (model.Compress(queries, 96, EmbeddingRole.Query).Values) "the CLI writes the same numbers"
    ]
