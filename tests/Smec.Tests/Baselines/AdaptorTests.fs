/// The adaptor models and the trained baselines on a tiny synthetic problem: initial maps, neighbour
/// search, save/load, seeding and the record of what was searched. (Real-data figures come from
/// `smec baselines`, not from tests.)
module Smec.Tests.Baselines.AdaptorTests

open System.Collections.Generic
open Expecto
open TorchSharp
open Smec.Core.Data
open Smec.Core.Storage
open Smec.Core.Methods
open Smec.Core.Methods.Baselines
open Smec.Core.Runtime
open Smec.Tests.TestSupport

let private randomMatrix (seed: int) (prefix: string) (rows: int) (cols: int) =
    let random = System.Random seed
    let values = Array.init (rows * cols) (fun _ -> float32 (random.NextDouble() * 2.0 - 1.0))
    EmbeddingMatrix([| for i in 0 .. rows - 1 -> sprintf "%s%d" prefix i |], values, cols)

/// 40 queries, each a noisy copy of "its" doc among 80; 8 of them held out for validation.
let private syntheticData (seed: int64) =
    let corpus = randomMatrix 1 "d" 80 16
    let random = System.Random 2
    let queryValues = Array.init (40 * 16) (fun i -> corpus.Values.[i] + float32 (random.NextDouble() - 0.5))
    let queries = EmbeddingMatrix([| for i in 0 .. 39 -> sprintf "q%d" i |], queryValues, 16)
    let qrels ids = Qrels(Dictionary(dict [ for i in ids -> sprintf "q%d" i, Dictionary(dict [ sprintf "d%d" i, 1 ]) ]))
    TrainingData(corpus, queries, qrels [ 8 .. 39 ], qrels [ 0 .. 7 ], seed)

let private maxDifference (a: float32[]) (b: float32[]) = Array.map2 (fun x y -> abs (x - y)) a b |> Array.max

let private tinyMa supervised =
    MatryoshkaAdaptorOptions(Supervised = supervised, MaxStepsPerStage = 20, EvaluateEvery = 10, PatienceSteps = 100,
                             BatchSize = 8, HardNegativePool = 5, Progress = false)

[<Tests>]
let tests =
    testList "BaselineAdaptors" [
        testCase "the residual adaptor starts as the identity" <| fun () ->
            Determinism.Seed 1L |> ignore
            use adaptor = new ResidualAdaptor(16, 32)
            use x = torch.randn(5L, 16L)
            use y = adaptor.forward x
            Expect.equal ((y - x).abs().max().item<float32>()) 0.0f "zero output layer: e + f(e) = e"

        testCase "a centring adaptor subtracts its mean first and keeps it through save and load" <| fun () ->
            Determinism.Seed 2L |> ignore
            use adaptor = new ResidualAdaptor(6, 8)
            use mean = torch.full(1L, 6L, 0.25f)
            adaptor.SetInputMap(mean)
            use x = torch.randn(3L, 6L)
            use y = adaptor.forward x
            Expect.equal ((y - (x - 0.25f)).abs().max().item<float32>()) 0.0f "starts as e - mean"
            use dir = new TempDir()
            let path = System.IO.Path.Combine(dir.Path, "adaptor.bin")
            adaptor.save path |> ignore
            use reloaded = new ResidualAdaptor(6, 8)
            reloaded.load path |> ignore
            use z = reloaded.forward x
            Expect.equal ((z - y).abs().max().item<float32>()) 0.0f "the mean is part of the saved state"

        testCase "mapping the corpus once gives the per-batch loss and gradients bit for bit" <| fun () ->
            // MappedEmbeddings rests on this: a row of (E - mean) B does not depend on the other rows,
            // so gathering rows of the mapped corpus equals mapping the gathered rows.
            Determinism.Seed 4L |> ignore
            use scope = torch.NewDisposeScope()
            let corpus = torch.randn(300L, 24L)
            let struct (basis, _) = torch.linalg.qr(torch.randn(24L, 24L))
            let gradients (mapped: bool) =
                Determinism.Seed 9L |> ignore
                use adaptor = new ResidualAdaptor(24, 24)
                adaptor.SetInputMap(corpus.mean([| 0L |], keepdim = true), basis)
                // A trained-looking adaptor: the zero output layer would hide the map from the gradient.
                do
                    use _ = torch.no_grad()
                    for p in adaptor.parameters() do p.add_(torch.randn_like(p) * torch.tensor(0.1f)) |> ignore
                let rows = torch.tensor([| 3L; 17L; 250L; 99L |])
                let neighbourRows = torch.tensor([| 4L; 5L; 6L; 18L; 19L; 20L; 251L; 252L; 1L; 98L; 97L; 0L |])
                let options = MatryoshkaAdaptorOptions(TopK = 3)
                let loss =
                    if mapped then
                        let all = adaptor.Centre(corpus).detach()
                        MatryoshkaAdaptorLoss.UnsupervisedMapped(adaptor, all.index_select(0L, rows),
                            all.index_select(0L, neighbourRows).reshape(4L, 3L, 24L), [ 24; 12; 6 ], options)
                    else
                        MatryoshkaAdaptorLoss.Unsupervised(adaptor, corpus.index_select(0L, rows),
                            corpus.index_select(0L, neighbourRows).reshape(4L, 3L, 24L), [ 24; 12; 6 ], options)
                loss.backward()
                loss.item<float32>(), [ for p in adaptor.parameters() -> p.grad.data<float32>().ToArray() ]
            let lossOnce, gradOnce = gradients true
            let lossEach, gradEach = gradients false
            Expect.equal (System.BitConverter.SingleToInt32Bits lossOnce) (System.BitConverter.SingleToInt32Bits lossEach) "the same loss, bit for bit"
            for a, b in List.zip gradOnce gradEach do Expect.sequenceEqual a b "the same gradients"

        testCase "a Search-Adaptor model with PCA init projects like PCA" <| fun () ->
            Determinism.Seed 1L |> ignore
            let corpus = randomMatrix 3 "d" 50 12
            let pca = new Pca([ 5 ])
            pca.FitOn corpus
            let mean, components =
                use m = torch.tensor(Array.init 12 (fun c -> Seq.averageBy (fun r -> float (corpus.Row(r).[c])) (seq { 0 .. 49 })), dtype = torch.float64)
                m.reshape(1L, 12L).clone(), torch.tensor(pca.ComponentsFloat64(), dtype = torch.float64).reshape(12L, 5L)
            use model = new SearchAdaptorModel(12, 12, 5)
            model.InitialiseProjection(components, mean)
            use input = torch.tensor(corpus.Values).reshape(50L, 12L)
            use output = model.forward input
            let viaModel = BaselineTensors.ToNormalisedMatrix(corpus.Ids, output)
            let viaPca = pca.Compress(corpus, 5, EmbeddingRole.Document)
            // float32 projection vs float64 PCA: a few ulps of unit-norm coordinates.
            Expect.isLessThan (maxDifference viaModel.Values viaPca.Values) 1e-5f "step 0 of Search-Adaptor is the PCA baseline"

        testCase "corpus neighbours equal a brute-force search without the item itself" <| fun () ->
            Determinism.ConfigureTorch()
            let corpus = randomMatrix 4 "d" 30 8
            use t = torch.tensor(corpus.Values).reshape(30L, 8L)
            use found = CorpusNeighbours.Find(t, 3, chunkRows = 7)
            let rows = found.data<int64>().ToArray()
            let unit (r: int) = let v = corpus.Row(r).ToArray() |> Array.map float in let n = sqrt (Array.sumBy (fun x -> x * x) v) in v |> Array.map (fun x -> x / n)
            for i in 0 .. 29 do
                let expected =
                    [ for j in 0 .. 29 do if j <> i then j, Array.fold2 (fun s a b -> s + a * b) 0.0 (unit i) (unit j) ]
                    |> List.sortByDescending snd |> List.take 3 |> List.map (fst >> int64)
                Expect.sequenceEqual rows.[i * 3 .. i * 3 + 2] expected (sprintf "neighbours of row %d" i)

        testCase "Matryoshka-Adaptor: same seed is bit-identical, Save/Load keeps the outputs, stages are recorded" <| fun () ->
            let fit () =
                let ma = new MatryoshkaAdaptor([ 4; 8 ], tinyMa true)
                ma.Fit(syntheticData 3L)
                ma
            let a, b = fit (), fit ()
            let data = syntheticData 3L
            let out (m: ICompressor) = m.Compress(data.Queries, 4, EmbeddingRole.Query).Values
            Expect.sequenceEqual (out a) (out b) "same seed, same weights"
            Expect.isTrue (a.Settings.ContainsKey "unsupervised stage (corpus only)") "unsupervised stage recorded"
            for form in [ "InfoNce"; "Pairwise" ] do
                Expect.isTrue (a.Settings.ContainsKey(sprintf "supervised, %s stage" form)) (sprintf "supervised stage with %s recorded" form)
            // The kept form is the one with the better validation score of the two supervised stages.
            let score (form: string) =
                a.TrainingRuns |> Seq.find (fun struct (stage, _) -> stage = sprintf "supervised, %s" form) |> fun struct (_, r) -> r.BestValidationNdcg10
            let expected = if score "Pairwise" > score "InfoNce" then "Pairwise" else "InfoNce"
            Expect.equal a.Settings.["ranking loss (chosen on validation)"] expected "the better validation score wins (ties: the first candidate)"
            use dir = new TempDir()
            a.Save dir.Path
            let loaded = MatryoshkaAdaptor.Load dir.Path
            Expect.equal loaded.Name "Matryoshka-Adaptor" "name"
            Expect.sequenceEqual (out loaded) (out a) "loaded adaptor compresses identically"
            let unsup = new MatryoshkaAdaptor([ 4; 8 ], tinyMa false)
            unsup.Fit data
            Expect.equal unsup.Name "MA-unsup" "unsupervised variant"
            Expect.isFalse (unsup.Settings.Keys |> Seq.exists (fun k -> k.StartsWith "supervised," || k = "supervised stage")) "no supervised stage"
            Expect.isFalse (unsup.Settings.ContainsKey "ranking loss (chosen on validation)") "no ranking loss chosen"

        testCase "MA-unsup gives identical results with and without labels in its training data" <| fun () ->
            let labelled = syntheticData 7L
            let empty = Qrels(Dictionary<string, Dictionary<string, int>>())
            // No judgements at all, and other query embeddings: nothing labelled may change the result.
            let unlabelled = TrainingData(labelled.Corpus, randomMatrix 9 "x" 5 16, empty, empty, 7L)
            let fit data =
                let ma = new MatryoshkaAdaptor([ 4; 8 ], MatryoshkaAdaptorOptions(Supervised = false, MaxStepsPerStage = 30, EvaluateEvery = 5,
                                                                            PatienceSteps = 10, BatchSize = 8, LearningRate = 1e-2, Progress = false))
                ma.Fit data
                ma
            let a, b = fit labelled, fit unlabelled
            for d in [ 4; 8 ] do
                Expect.sequenceEqual (b.Compress(labelled.Corpus, d, EmbeddingRole.Document).Values)
                    (a.Compress(labelled.Corpus, d, EmbeddingRole.Document).Values) (sprintf "dim %d: the same adaptor" d)
            Expect.equal a.Settings.["protocol.selection"] "unsupervised loss on held-out corpus docs (no labels)" "label-free stop recorded"
            Expect.stringContains a.Settings.["adaptor input"] "raw" "starts from the raw embeddings"
            Expect.isGreaterThan a.UnsupervisedRun.StepsRun 0 "it trained"
            // The adaptor moved away from the identity (so the equality above is not two untouched maps).
            let raw = BaselineTensors.ToNormalisedMatrix(labelled.Corpus.Ids, (use t = torch.tensor(labelled.Corpus.Values).reshape(80L, 16L) in t.narrow(1, 0L, 4L).clone()))
            Expect.isGreaterThan (maxDifference raw.Values (a.Compress(labelled.Corpus, 4, EmbeddingRole.Document).Values)) 1e-6f "trained away from the identity"

        testCase "Search-Adaptor records the grid it searched and the selection per dim, and survives Save/Load" <| fun () ->
            let grid = [| RegularizerWeights(0.0, 0.0); RegularizerWeights(1.0, 0.1) |]
            let sa = new SearchAdaptor([ 4; 8 ], SearchAdaptorOptions(Grid = grid, MaxSteps = 20, EvaluateEvery = 10, BatchSize = 8, HardNegativePool = 5, Progress = false))
            let data = syntheticData 5L
            sa.Fit data
            for d in [ 4; 8 ] do
                Expect.stringContains sa.Settings.[sprintf "grid @%d" d] "alpha=1 beta=0.1:" "both points listed"
                Expect.stringContains sa.Settings.[sprintf "selected @%d" d] "alpha=" "a selection"
            use dir = new TempDir()
            sa.Save dir.Path
            let loaded = SearchAdaptor.Load dir.Path
            for d in [ 4; 8 ] do
                Expect.sequenceEqual (loaded.Compress(data.Corpus, d, EmbeddingRole.Document).Values) (sa.Compress(data.Corpus, d, EmbeddingRole.Document).Values) (sprintf "dim %d" d)
    ]
