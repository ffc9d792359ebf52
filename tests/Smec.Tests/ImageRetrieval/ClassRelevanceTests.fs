/// Class-label relevance for image retrieval: the subset, the training data built from labels,
/// and nDCG@10 / P@10 / mAP@R on a hand-checked gallery and against the naive oracle.
module Smec.Tests.ImageRetrieval.ClassRelevanceTests

open System
open Expecto
open Smec.Core.ImageRetrieval
open Smec.Core.Storage
open Smec.Tests.Metrics

/// Hand-derived values are exact up to double rounding of a few operations.
let private close (actual: float) (expected: float) message = Expect.floatClose Accuracy.veryHigh actual expected message

let private matrix (ids: string[]) (rows: float32[][]) =
    EmbeddingMatrix(ids, Array.concat rows, rows.[0].Length)

/// Unit vectors in the plane at the given angles (degrees).
let private atAngles (angles: float[]) =
    angles |> Array.map (fun a -> let r = a * Math.PI / 180.0 in [| float32 (cos r); float32 (sin r) |])

/// The oracle: every item queries the others by brute-force float32 dot products on unit rows,
/// ranked by NaiveMetrics.rank (score desc, id desc); relevance = same label.
let private naiveClassMetrics (ids: string[]) (rows: float32[][]) (labels: int[]) =
    let unit (v: float32[]) = let n = sqrt (v |> Array.sumBy (fun x -> x * x)) in v |> Array.map (fun x -> x / n)
    let rows = rows |> Array.map unit
    let perQuery =
        [ for q in 0 .. ids.Length - 1 do
            let others = [| for d in 0 .. ids.Length - 1 do if d <> q then yield d |]
            let ranked = (NaiveMetrics.search [| rows.[q] |] (others |> Array.map (fun d -> rows.[d])) (others |> Array.map (fun d -> ids.[d])) ids.Length).Head |> List.map fst
            let judged = others |> Array.filter (fun d -> labels.[d] = labels.[q]) |> Array.map (fun d -> ids.[d], 1) |> Map.ofArray
            let r = judged.Count
            if r > 0 then
                yield NaiveMetrics.ndcg 10 ranked judged, NaiveMetrics.mapCut r ranked judged, NaiveMetrics.precision 10 ranked judged ]
    let mean f = perQuery |> List.averageBy f
    mean (fun (n, _, _) -> n), mean (fun (_, m, _) -> m), mean (fun (_, _, p) -> p), perQuery.Length

[<Tests>]
let tests =
    testList "ImageRetrieval.ClassRelevance" [
        testCase "a hand-checked gallery: nDCG@10, P@10 and mAP@R of five items at known angles" <| fun () ->
            // Angles a 0, b 15, c 25, d 60, e 90 degrees; classes a b d = 0, c e = 1. Rankings (by angle gap):
            // a: b c d e -> 1 0 1 0 (R 2)   b: c a d e -> 0 1 1 0 (R 2)   c: b a d e -> 0 0 0 1 (R 1)
            // d: e c b a -> 0 0 1 1 (R 2)   e: d c b a -> 0 1 0 0 (R 1)
            let ids = [| "a"; "b"; "c"; "d"; "e" |]
            let gallery = matrix ids (atAngles [| 0.0; 15.0; 25.0; 60.0; 90.0 |])
            let m = ClassRelevanceEvaluation.Evaluate(gallery, gallery, [| 0; 0; 1; 0; 1 |])
            let d i = 1.0 / Math.Log2(float i + 1.0) // discount at 1-based rank i
            let ideal2 = d 1 + d 2
            let ndcg = [ (d 1 + d 3) / ideal2; (d 2 + d 3) / ideal2; d 4; (d 3 + d 4) / ideal2; d 2 ]
            close m.Ndcg10 (List.average ndcg) "binary-gain nDCG@10, ideal from R"
            close m.PrecisionAt10 ((0.2 + 0.2 + 0.1 + 0.2 + 0.1) / 5.0) "P@10 divides by 10 even with 4 candidates"
            // AP@R: a: top 2 = 1 0 -> (1/1)/2; b: 0 1 -> (1/2)/2; c, d, e: nothing relevant within their top R.
            close m.MapAtR ((0.5 + 0.25) / 5.0) "mAP@R"
            Expect.equal m.Queries 5 "every item is a query"

        testCase "an item never retrieves itself, and a singleton class is not a query" <| fun () ->
            // x and y are identical (cosine 1 with each other); z is alone in its class.
            let ids = [| "x"; "y"; "z" |]
            let gallery = matrix ids [| [| 1.0f; 0.0f |]; [| 1.0f; 0.0f |]; [| 0.0f; 1.0f |] |]
            let m = ClassRelevanceEvaluation.Evaluate(gallery, gallery, [| 0; 0; 1 |])
            Expect.equal m.Queries 2 "z has no other item of its class"
            close m.Ndcg10 1.0 "x finds y first and y finds x first (themselves excluded)"
            close m.MapAtR 1.0 "R = 1, found at rank 1"

        testCase "matches the naive oracle on a random gallery with exact ties" <| fun () ->
            let rng = Random 11
            let n = 60
            let rows = Array.init n (fun _ -> Array.init 6 (fun _ -> float32 (rng.NextDouble() * 2.0 - 1.0)))
            for i in 0 .. 9 do rows.[50 + i] <- Array.copy rows.[i] // ten duplicated rows: exact score ties
            let ids = Array.init n (fun i -> sprintf "img%02d" ((i * 37) % n))
            let labels = Array.init n (fun i -> (i * 7) % 5)
            let gallery = matrix ids rows
            let m = ClassRelevanceEvaluation.Evaluate(gallery, gallery, labels)
            let ndcg, mapR, p10, count = naiveClassMetrics ids rows labels
            Expect.equal m.Queries count "queries"
            // Same rankings, so the means agree up to summation rounding.
            close m.Ndcg10 ndcg "nDCG@10"
            close m.MapAtR mapR "mAP@R"
            close m.PrecisionAt10 p10 "P@10"

        testCase "queries must be the gallery's own items" <| fun () ->
            let a = matrix [| "a"; "b" |] [| [| 1.0f |]; [| 2.0f |] |]
            let b = matrix [| "b"; "a" |] [| [| 1.0f |]; [| 2.0f |] |]
            Expect.throwsT<ArgumentException> (fun () -> ClassRelevanceEvaluation.Evaluate(a, b, [| 0; 0 |]) |> ignore) "row order differs"

        testCase "training data: validation images leave the corpus, and every query judges its whole class relevant" <| fun () ->
            let n = 40
            let ids = Array.init n (sprintf "t%02d")
            let labels = Array.init n (fun i -> i % 4)
            let train = LabelledEmbeddings(EmbeddingMatrix(ids, Array.init (n * 3) float32, 3), labels)
            let data = ClassRelevanceTraining.Build(train, 2, 9L)
            Expect.equal data.Validation.QueryCount 8 "2 validation queries per class"
            let validation = set data.Validation.QueryIds
            Expect.equal data.Corpus.Rows (n - 8) "the corpus is the other training images"
            Expect.isTrue (data.Corpus.Ids |> Seq.forall (validation.Contains >> not)) "no validation image in the corpus"
            Expect.equal data.Queries.Rows n "queries: every training image (validation queries among them)"
            Expect.equal data.Train.QueryCount (n - 8) "train queries: the corpus images"
            let labelOf = Seq.zip ids labels |> dict
            for q in Seq.append data.Train.QueryIds data.Validation.QueryIds do
                let judged = if validation.Contains q then data.Validation.ForQuery q else data.Train.ForQuery q
                let expected = data.Corpus.Ids |> Seq.filter (fun d -> labelOf.[d] = labelOf.[q]) |> set
                Expect.equal (set judged.Keys) expected (sprintf "%s judges exactly its class in the corpus" q)
            for q in data.Train.QueryIds do
                Expect.isTrue ((data.Train.ForQuery q).ContainsKey q) (sprintf "%s judges itself relevant (so it is never mined as a negative)" q)
        ]
