/// The Matryoshka-Adaptor and Search-Adaptor losses against naive loops, and their gradients
/// against finite differences (float64).
module Smec.Tests.Baselines.BaselineLossTests

open Expecto
open TorchSharp
open Smec.Core.Runtime
open Smec.Core.Methods.Baselines
open Smec.Tests.Baselines

let private randomRows (seed: int) (rows: int) (cols: int) =
    let random = System.Random seed
    Array.init rows (fun _ -> Array.init cols (fun _ -> random.NextDouble() * 2.0 - 1.0))

let private tensorOf (rows: float[][]) =
    GradientCheck.float64Tensor (Array.concat rows) [| int64 rows.Length; int64 rows.[0].Length |]

let private tensor3Of (blocks: float[][][]) =
    GradientCheck.float64Tensor (blocks |> Array.collect Array.concat)
        [| int64 blocks.Length; int64 blocks.[0].Length; int64 blocks.[0].[0].Length |]

// Float64 throughout: the tensor and loop versions differ only by summation order, ~1e-15.
let private exact = 1e-12
// Finite differences in float64 (see GradientCheck): errors ~1e-9 at most for these sizes.
let private gradientTolerance = 1e-6
let private prefixes = [ 2; 4; 6 ]

[<Tests>]
let tests =
    testList "BaselineLosses" [
        testCase "pairwise similarity loss equals the naive loop over pairs and prefixes" <| fun () ->
            Determinism.ConfigureTorch()
            let original, adapted = randomRows 1 7 6, randomRows 2 7 6
            use loss = PairwiseSimilarityLoss.Compute(tensorOf original, tensorOf adapted, prefixes)
            Expect.floatClose { absolute = exact; relative = exact } (loss.item<float>()) (LossReference.pairwise original adapted prefixes) "pairwise"

        testCase "pairwise similarity loss is zero when the adaptor keeps every prefix's geometry" <| fun () ->
            Determinism.ConfigureTorch()
            // Rows whose energy lies in the first 2 coordinates: every prefix >= 2 has the same cosines.
            let rows = randomRows 3 5 6 |> Array.map (Array.mapi (fun c v -> if c < 2 then v else 0.0))
            use loss = PairwiseSimilarityLoss.Compute(tensorOf rows, tensorOf rows, prefixes)
            Expect.isLessThan (loss.item<float>()) 1e-12 "identical geometry gives no loss"

        testCase "top-k similarity loss equals the naive loop over anchors, neighbours and prefixes" <| fun () ->
            Determinism.ConfigureTorch()
            let oa, aa = randomRows 4 5 6, randomRows 5 5 6
            let on = Array.init 5 (fun i -> randomRows (10 + i) 3 6)
            let an = Array.init 5 (fun i -> randomRows (20 + i) 3 6)
            use loss = TopKSimilarityLoss.Compute(tensorOf oa, tensorOf aa, tensor3Of on, tensor3Of an, prefixes)
            Expect.floatClose { absolute = exact; relative = exact } (loss.item<float>()) (LossReference.topK oa aa on an prefixes) "top-k"

        testCase "reconstruction loss equals the naive mean, L1 and L2" <| fun () ->
            Determinism.ConfigureTorch()
            let original, adapted = randomRows 6 4 5, randomRows 7 4 5
            use l1 = ReconstructionLoss.Compute(tensorOf original, tensorOf adapted, ReconstructionNorm.L1)
            use l2 = ReconstructionLoss.Compute(tensorOf original, tensorOf adapted, ReconstructionNorm.L2)
            Expect.floatClose { absolute = exact; relative = exact } (l1.item<float>()) (LossReference.reconstruction original adapted false) "L1"
            Expect.floatClose { absolute = exact; relative = exact } (l2.item<float>()) (LossReference.reconstruction original adapted true) "L2"

        testCase "query prediction loss equals the naive relevance-weighted mean" <| fun () ->
            Determinism.ConfigureTorch()
            let predicted, queries = randomRows 8 4 5, randomRows 9 4 5
            let relevance = [| 1.0; 2.0; 1.0; 3.0 |]
            use loss = QueryPredictionLoss.Compute(tensorOf predicted, tensorOf queries, torch.tensor(relevance, dtype = torch.float64))
            Expect.floatClose { absolute = exact; relative = exact } (loss.item<float>()) (LossReference.queryPrediction predicted queries relevance) "prediction"

        testCase "pairwise loss gradient matches finite differences" <| fun () ->
            Determinism.ConfigureTorch()
            let original = randomRows 11 6 6
            let adapted = randomRows 12 6 6
            let f (x: torch.Tensor) = PairwiseSimilarityLoss.Compute(tensorOf original, x, prefixes)
            let error = GradientCheck.maxGradientError f (Array.concat adapted) [| 6L; 6L |]
            Expect.isLessThan error gradientTolerance "d loss / d adapted"

        testCase "top-k loss gradient matches finite differences for anchors and neighbours" <| fun () ->
            Determinism.ConfigureTorch()
            let oa, on = randomRows 13 4 6, Array.init 4 (fun i -> randomRows (30 + i) 3 6)
            let aa, an = randomRows 14 4 6, Array.init 4 (fun i -> randomRows (40 + i) 3 6)
            let fa (x: torch.Tensor) = TopKSimilarityLoss.Compute(tensorOf oa, x, tensor3Of on, tensor3Of an, prefixes)
            let fn (x: torch.Tensor) = TopKSimilarityLoss.Compute(tensorOf oa, tensorOf aa, tensor3Of on, x, prefixes)
            Expect.isLessThan (GradientCheck.maxGradientError fa (Array.concat aa) [| 4L; 6L |]) gradientTolerance "d loss / d anchors"
            Expect.isLessThan (GradientCheck.maxGradientError fn (an |> Array.collect Array.concat) [| 4L; 3L; 6L |]) gradientTolerance "d loss / d neighbours"

        testCase "reconstruction and prediction gradients match finite differences" <| fun () ->
            Determinism.ConfigureTorch()
            let original, adapted = randomRows 15 4 5, randomRows 16 4 5
            let relevance = torch.tensor([| 1.0; 2.0; 1.0; 1.0 |], dtype = torch.float64)
            let fr (x: torch.Tensor) = ReconstructionLoss.Compute(tensorOf original, x, ReconstructionNorm.L1)
            let f2 (x: torch.Tensor) = ReconstructionLoss.Compute(tensorOf original, x, ReconstructionNorm.L2)
            let fp (x: torch.Tensor) = QueryPredictionLoss.Compute(x, tensorOf original, relevance)
            Expect.isLessThan (GradientCheck.maxGradientError fr (Array.concat adapted) [| 4L; 5L |]) gradientTolerance "L1"
            Expect.isLessThan (GradientCheck.maxGradientError f2 (Array.concat adapted) [| 4L; 5L |]) gradientTolerance "L2"
            Expect.isLessThan (GradientCheck.maxGradientError fp (Array.concat adapted) [| 4L; 5L |]) gradientTolerance "prediction"

        testCase "a prefix wider than the adapted rows is rejected with its value" <| fun () ->
            Determinism.ConfigureTorch()
            let rows = randomRows 17 3 4
            Expect.throwsC (fun () -> PairwiseSimilarityLoss.Compute(tensorOf rows, tensorOf rows, [ 8 ]) |> ignore)
                (fun e -> Expect.stringContains e.Message "8" "names the bad prefix")
    ]
