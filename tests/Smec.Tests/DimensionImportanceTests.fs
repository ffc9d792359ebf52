/// Catalog item 9: dimension importance on validation queries, the kept-share measure, and ADS
/// trained alone over the embedding's own dims.
module Smec.Tests.DimensionImportanceTests

open Expecto
open Smec.Core.Analysis
open Smec.Core.Methods.SmecMethod
open Smec.Core.Retrieval
open Smec.Core.Storage
open Smec.Core.Training

/// The matrix with one dim set to zero (the oracle's way of removing it, on plain arrays).
let private withoutDim (m: EmbeddingMatrix) (dim: int) =
    let values = Array.copy m.Values
    for row in 0 .. m.Rows - 1 do
        values.[row * m.Dim + dim] <- 0f
    EmbeddingMatrix(m.Ids, values, m.Dim)

[<Tests>]
let tests =
    testList "Dimension importance (item 9)" [
        testCase "kept share on a hand-checked case, ties to the lower index" <| fun () ->
            let importance = [| 0.1; 0.5; 0.0; 0.3 |]
            Expect.equal (DimensionImportance.MostImportant(importance, 2)) [| 1; 3 |] "the two largest drops"
            Expect.equal (DimensionImportance.KeptShare(importance, [| 1L; 3L |])) 1.0 "both important dims kept"
            Expect.equal (DimensionImportance.KeptShare(importance, [| 0L; 1L |])) 0.5 "the prefix keeps one of two"
            Expect.equal (DimensionImportance.MostImportant([| 0.2; 0.2; 0.2 |], 2)) [| 0; 1 |] "equal drops rank the lower index first"
            Expect.throws (fun () -> DimensionImportance.KeptShare(importance, [| 1L; 1L |]) |> ignore) "a repeated dim is refused"
            Expect.throws (fun () -> DimensionImportance.KeptShare(importance, [| 4L |]) |> ignore) "a dim outside the embedding is refused"

        testCase "ties in importance break at random with a seed, favouring no index" <| fun () ->
            let flat = Array.create 40 0.0
            let picks = [ for seed in 1 .. 30 -> DimensionImportance.MostImportant(flat, 5, seed) ]
            Expect.equal (picks |> List.map Array.length |> List.distinct) [ 5 ] "five dims each"
            Expect.equal (DimensionImportance.MostImportant(flat, 5, 7)) (DimensionImportance.MostImportant(flat, 5, 7)) "same seed, same order"
            // With the lower index first, all 30 would be [0..4]; at random the prefix is rare (chance 5/40 per pick).
            let prefixShare = picks |> List.averageBy (fun p -> float (p |> Array.filter (fun i -> i < 5) |> Array.length) / 5.0)
            Expect.isLessThan prefixShare 0.3 "the prefix is not favoured"
            Expect.equal (DimensionImportance.MostImportant([| 0.0; 0.5; 0.0; 0.5 |], 2, 3) |> Array.sort) [| 1; 3 |] "ties only matter among equal values"

        testCase "subset nDCG equals search with every other dim zeroed; random subsets are distinct, sized and seeded" <| fun () ->
            let data = SciFactFixture.trainingData 1L
            let queries = data.Queries.Select([ for q in data.Validation.QueryIds do if data.Queries.IndexById().ContainsKey q then yield q ])
            let dims = [| 3L; 40L; 41L; 200L; 383L |]
            let zeroOthers (m: EmbeddingMatrix) = (m, [ 0 .. 383 ] |> List.filter (fun d -> not (Array.contains (int64 d) dims))) ||> List.fold withoutDim
            let expected = RetrievalEvaluation.NdcgAt10(zeroOthers queries, zeroOthers data.Corpus, data.Validation)
            Expect.floatClose { absolute = 1e-6; relative = 0.0 } (DimensionSubsets.Ndcg10(queries, data.Corpus, data.Validation, dims)) expected "cosine over the kept dims"
            let subsets = DimensionSubsets.Random(384, 48, 20, 5)
            Expect.equal subsets.Length 20 "twenty subsets"
            for s in subsets do
                Expect.equal (Array.distinct s).Length 48 "48 distinct dims"
                Expect.equal s (Array.sort s) "sorted"
            Expect.equal (DimensionSubsets.Random(384, 48, 20, 5)) subsets "seeded"
            let dist = Distribution.Of([ 1.0; 2.0; 3.0; 6.0 ])
            Expect.floatClose Accuracy.high dist.Mean 3.0 "mean"
            Expect.floatClose Accuracy.high dist.Sd (sqrt (14.0 / 3.0)) "sample sd"
            Expect.equal (dist.Min, dist.Max, dist.Count) (1.0, 6.0, 4) "min, max, count"

        testCase "the nDCG drop per dim equals an evaluation with that dim zeroed (SciFact validation)" <| fun () ->
            use set = new TrainingSet(SciFactFixture.trainingData 1L, 30)
            let drops = DimensionImportance.ValidationNdcgDrop(set)
            Expect.equal drops.Length 384 "one importance per dim"
            Expect.isTrue (drops |> Array.forall System.Double.IsFinite) "finite"
            Expect.isGreaterThan (Array.max drops) 0.0 "some dim helps retrieval"
            // Oracle: the public evaluation on the validation queries with the dim zeroed in both matrices.
            let data = set.Data
            let queries = data.Queries.Select([ for r in set.ValidationQueryRows -> data.Queries.Ids.[r] ])
            let full = RetrievalEvaluation.NdcgAt10(queries, data.Corpus, data.Validation)
            for dim in [ 0; 17; 383 ] do
                let without = RetrievalEvaluation.NdcgAt10(withoutDim queries dim, withoutDim data.Corpus dim, data.Validation)
                // Same float32 search and trec_eval code on the same numbers; 1e-9 covers summation order.
                Expect.floatClose { absolute = 1e-9; relative = 0.0 } drops.[dim] (full - without) (sprintf "dim %d" dim)

        testCase "ADS over the embedding keeps k distinct dims, reproducibly" <| fun () ->
            use set = new TrainingSet(SciFactFixture.trainingData 1L, 30)
            let training = TrainingOptions(MaxSteps = 40, EvaluateEvery = 20, Progress = false)
            let options = SmecOptions(AdsAnnealSteps = 40, LossCandidates = [| Smec.Core.Losses.RankingLossForm.InfoNce |], AdsInitCandidates = [| AdsLogitInit.Variance |])
            let a = EmbeddingDimensionSelector.Fit(set, 48, options, training, 3L)
            let b = EmbeddingDimensionSelector.Fit(set, 48, options, training, 3L)
            Expect.equal a.Indices.Length 48 "k dims"
            Expect.equal (Array.distinct a.Indices).Length 48 "distinct"
            Expect.equal a.Indices (Array.sort a.Indices) "ascending"
            Expect.equal a.Indices b.Indices "same seed, same selection"
            Expect.isGreaterThan a.ValidationNdcg10 0.1 "the selection retrieves (truncation to 48 dims scores ~0.44)"
    ]
