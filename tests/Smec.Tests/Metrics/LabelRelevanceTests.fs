/// Class-label and cross-modal relevance: the qrels builders, and the direct class-label evaluation
/// against the qrels path and the naive oracle.
module Smec.Tests.Metrics.LabelRelevanceTests

open System
open Expecto
open Smec.Core.Metrics
open Smec.Core.Retrieval
open Smec.Core.Storage
open Smec.Tests.Metrics

let private matrix (ids: string[]) (rows: float32[][]) = EmbeddingMatrix(ids, Array.concat rows, rows.[0].Length)

/// A gallery of integer vectors with labels, queried by itself (so self-exclusion matters).
let private randomGallery (seed: int) =
    let rng = Random(seed)
    let n = rng.Next(2, 40)
    let dim = rng.Next(1, 4)
    let ids = Array.init n (sprintf "img%d")
    let labels = Array.init n (fun _ -> rng.Next(0, 4))
    let rows = Array.init n (fun _ -> Array.init dim (fun _ -> float32 (rng.Next(-2, 3))))
    ids, labels, rows

let private dot = SearchOptions(Similarity = Similarity.Dot)

let private directMatchesQrelsPath (seed: int) =
    let ids, labels, rows = randomGallery seed
    let gallery = matrix ids rows
    let direct = ClassLabelEvaluation.Evaluate(gallery, labels, gallery, labels, dot)
    let qrels = LabelRelevance.SameClass(ids, labels, ids, labels)
    if qrels.QueryCount = 0 then direct.QueryCount = 0
    else
        let viaQrels =
            RetrievalEvaluation.Evaluate(gallery, gallery, qrels, [| Measure.Ndcg10; Measure.PrecisionAt 10 |],
                                         SearchOptions(Similarity = Similarity.Dot, IgnoreIdenticalIds = true), depth = ids.Length)
        // mAP@R by the oracle on the full ranking of each evaluated query (self excluded).
        let ranking = NaiveMetrics.search rows rows ids ids.Length
        let mapAtR =
            [ for q in 0 .. ids.Length - 1 do
                let judged = qrels.ForQuery ids.[q] |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq
                if not judged.IsEmpty then
                    let ranked = ranking.[q] |> List.map fst |> List.filter ((<>) ids.[q])
                    NaiveMetrics.mapCut judged.Count ranked judged ]
            |> List.average
        direct.QueryCount = qrels.QueryCount
        && abs (direct.NdcgAt10 - viaQrels.Mean Measure.Ndcg10) < 1e-12
        && abs (direct.PrecisionAt10 - viaQrels.Mean(Measure.PrecisionAt 10)) < 1e-12
        && abs (direct.MapAtR - mapAtR) < 1e-12

[<Tests>]
let tests =
    testList "Metrics.LabelRelevance" [
        testCase "same class is relevant, the query itself is not" <| fun () ->
            let qrels = LabelRelevance.SameClass([| "a"; "b" |], [| 0; 1 |], [| "a"; "b"; "c"; "d" |], [| 0; 1; 0; 0 |])
            Expect.equal (qrels.ForQuery "a" |> Seq.map _.Key |> Seq.sort |> List.ofSeq) [ "c"; "d" ] "a's classmates without a"
            Expect.isFalse (qrels.HasQuery "b") "b has no other item of its class: not evaluated"
        testCase "captions point to their image and images to their captions" <| fun () ->
            let captions = [| "c1"; "c2"; "c3" |]
            let images = [| "i1"; "i1"; "i2" |]
            Expect.equal (LabelRelevance.CaptionToImage(captions, images).ForQuery "c2" |> List.ofSeq) [ Collections.Generic.KeyValuePair("i1", 1) ] "c2 -> i1"
            Expect.equal (LabelRelevance.ImageToCaptions(captions, images).ForQuery "i1" |> Seq.map _.Key |> List.ofSeq) [ "c1"; "c2" ] "i1 -> c1, c2"
        testCase "mAP@R on a hand-checked gallery" <| fun () ->
            // Query q (class 0) against 4 items: ranking by score is x0 (class 0), y1 (1), z0 (0), w1 (1).
            // R = 2; top 2 has one relevant at rank 1: mAP@R = (1/1) / 2 = 0.5. P@10 = 2/10.
            let gallery = matrix [| "x0"; "y1"; "z0"; "w1" |] [| [| 4.0f |]; [| 3.0f |]; [| 2.0f |]; [| 1.0f |] |]
            let queries = matrix [| "q" |] [| [| 1.0f |] |]
            let scores = ClassLabelEvaluation.Evaluate(queries, [| 0 |], gallery, [| 0; 1; 0; 1 |], dot)
            Expect.floatClose Accuracy.veryHigh scores.MapAtR 0.5 "mAP@R"
            Expect.floatClose Accuracy.veryHigh scores.PrecisionAt10 0.2 "P@10"
            Expect.floatClose Accuracy.veryHigh scores.NdcgAt10 ((1.0 + 1.0 / Math.Log2 4.0) / (1.0 + 1.0 / Math.Log2 3.0)) "binary nDCG@10"
        testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 100 }
            "direct class-label evaluation equals the qrels path and the oracle" directMatchesQrelsPath
    ]
