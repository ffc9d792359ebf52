/// Exact search against brute force, its tie handling and chunking, the one-call evaluation
/// against evaluating the written run, and TREC run files.
module Smec.Tests.Retrieval.ExactSearchTests

open System
open System.IO
open Expecto
open Smec.Core.Metrics
open Smec.Core.Retrieval
open Smec.Core.Storage
open Smec.Tests.TestSupport
open Smec.Tests.Metrics
open Smec.Tests.Metrics.MetricsTestData

let matrix (ids: string[]) (rows: float32[][]) = EmbeddingMatrix(ids, Array.concat rows, rows.[0].Length)

let ranked (run: Run) queryId = run.ForQuery queryId |> Seq.map (fun d -> d.DocId, d.Score) |> List.ofSeq

/// Small integer components: every dot product is exact in float32, so torch and the oracle must
/// agree exactly, ties included (and ties are frequent).
let randomIntegerCase (seed: int) =
    let rng = Random(seed)
    let dim = rng.Next(1, 5)
    let vector () = Array.init dim (fun _ -> float32 (rng.Next(-2, 3)))
    let docIds = Array.init (rng.Next(1, 40)) (fun i -> string (rng.Next(0, 1000)) + "_" + string i)
    let queryIds = Array.init (rng.Next(1, 12)) (fun i -> if i % 3 = 0 && docIds.Length > i then docIds.[i] else sprintf "q%d" i)
    let docs = Array.init docIds.Length (fun _ -> vector ())
    let queries = Array.init queryIds.Length (fun _ -> vector ())
    queryIds, queries, docIds, docs, rng.Next(1, 50)

let private dot = SearchOptions(Similarity = Similarity.Dot)

let unitTests =
    testList "cases" [
        testCase "ties at the k-th place are decided by doc id descending over the whole row" <| fun () ->
            let docs = matrix [| "a"; "b"; "c"; "d"; "e" |] [| [| 1.0f; 0.0f |]; [| 1.0f; 0.0f |]; [| 1.0f; 0.0f |]; [| 0.0f; 1.0f |]; [| 2.0f; 0.0f |] |]
            let queries = matrix [| "q" |] [| [| 1.0f; 0.0f |] |]
            let run = ExactSearch.TopK(queries, docs, 3, dot)
            Expect.equal (ranked run "q") [ "e", 2.0f; "c", 1.0f; "b", 1.0f ] "e, then c and b of the tied a, b, c"
        testCase "a score block of one query gives the same run as one block for all" <| fun () ->
            let queryIds, queries, docIds, docs, k = randomIntegerCase 7
            let q, d = matrix queryIds queries, matrix docIds docs
            let whole = ExactSearch.TopK(q, d, k, dot)
            let chunked = ExactSearch.TopK(q, d, k, SearchOptions(Similarity = Similarity.Dot, ScoreBlockBytes = 1L))
            for id in queryIds do Expect.equal (ranked chunked id) (ranked whole id) id
        testCase "identical ids are never returned when ignored, and k beyond the corpus returns every other doc" <| fun () ->
            let docs = matrix [| "x"; "y"; "z" |] [| [| 1.0f |]; [| 2.0f |]; [| 3.0f |] |]
            let queries = matrix [| "z"; "w" |] [| [| 1.0f |]; [| 1.0f |] |]
            let run = ExactSearch.TopK(queries, docs, 10, SearchOptions(Similarity = Similarity.Dot, IgnoreIdenticalIds = true))
            Expect.equal (ranked run "z") [ "y", 2.0f; "x", 1.0f ] "z itself dropped"
            Expect.equal (ranked run "w") [ "z", 3.0f; "y", 2.0f; "x", 1.0f ] "no doc called w: all three"
        testCase "cosine scores are the cosine of the rows" <| fun () ->
            let docs = matrix [| "a"; "b" |] [| [| 3.0f; 4.0f |]; [| 0.0f; 0.0f |] |]
            let queries = matrix [| "q" |] [| [| 2.0f; 0.0f |] |]
            let run = ExactSearch.TopK(queries, docs, 2)
            // float32 normalisation and product: within a few ulps of 0.6.
            Expect.floatClose Accuracy.medium (float (run.ForQuery("q").[0].Score)) 0.6 "cos = 3/5"
            Expect.equal (run.ForQuery("q").[1].Score) 0.0f "a zero row scores 0, not NaN"
        testCase "a dimension mismatch is reported" <| fun () ->
            let docs = matrix [| "a" |] [| [| 1.0f; 0.0f |] |]
            let queries = matrix [| "q" |] [| [| 1.0f |] |]
            Expect.throwsC (fun () -> ExactSearch.TopK(queries, docs, 1) |> ignore) (fun e -> Expect.stringContains e.Message "dims" "says which dims")
    ]

let runFileTests =
    testList "run files" [
        testCase "a written run reads back with the same float32 scores and evaluates the same" <| fun () ->
            use dir = new TempDir()
            let queryIds, queries, docIds, docs, k = randomIntegerCase 3
            let q = matrix queryIds (queries |> Array.map (Array.map (fun x -> x / 3.0f)))
            let d = matrix docIds docs
            let run = ExactSearch.TopK(q, d, k, dot)
            let path = Path.Combine(dir.Path, "run.trec")
            TrecRunFile.Write(path, run)
            let back = TrecRunFile.Read path
            for id in queryIds do Expect.equal (ranked back id) (ranked run id) id
        testCase "bad run lines name the file and line" <| fun () ->
            use dir = new TempDir()
            let path = Path.Combine(dir.Path, "bad.trec")
            File.WriteAllText(path, "q Q0 d1 1 0.5 tag\nq Q0 d2 2 0.4\n")
            Expect.throwsC (fun () -> TrecRunFile.Read path |> ignore) (fun e -> Expect.stringContains e.Message "bad.trec:2" "file:line")
            File.WriteAllText(path, "q Q0 d1 1 0.5 tag\nq Q0 d1 2 0.4 tag\n")
            Expect.throwsC (fun () -> TrecRunFile.Read path |> ignore) (fun e -> Expect.stringContains e.Message "appears twice" "duplicate doc")
    ]

let private searchMatchesBruteForce (seed: int) =
    let queryIds, queries, docIds, docs, k = randomIntegerCase seed
    let expected = NaiveMetrics.search queries docs docIds k
    let run = ExactSearch.TopK(matrix queryIds queries, matrix docIds docs, k, SearchOptions(Similarity = Similarity.Dot, ScoreBlockBytes = 64L))
    queryIds |> Array.mapi (fun i id -> ranked run id = expected.[i]) |> Array.forall id

/// The one-call evaluator never builds a run; it must agree with evaluating the run exactly.
let private evaluatorMatchesRun ignoreIdentical (seed: int) =
    let queryIds, queries, docIds, docs, _ = randomIntegerCase seed
    let rng = Random(seed + 1)
    let qrels =
        toQrels (Map.ofArray [| for q in queryIds do
                                    if rng.NextDouble() < 0.8 then
                                        q, Map.ofArray [| for d in docIds do if rng.NextDouble() < 0.3 then d, rng.Next(-1, 4) |] |])
    let measures = Measure.ParseAll [ "ndcg_cut.3,10"; "P.5"; "recall.10"; "map_cut.10"; "recip_rank"; "recip_rank.3" ]
    let options = SearchOptions(Similarity = Similarity.Dot, IgnoreIdenticalIds = ignoreIdentical)
    let q, d = matrix queryIds queries, matrix docIds docs
    let fast = RetrievalEvaluation.Evaluate(q, d, qrels, measures, options, depth = 10)
    let viaRun = RunEvaluator.Evaluate(ExactSearch.TopK(q, d, 10, options), qrels, measures)
    List.ofSeq fast.QueryIds = List.ofSeq viaRun.QueryIds
    && measures |> Seq.forall (fun m -> fast.PerQuery m = viaRun.PerQuery m)

let properties =
    let config = { FsCheckConfig.defaultConfig with maxTest = 200 }
    testList "properties" [
        testPropertyWithConfig config "top-k equals brute force, ties and chunking included" searchMatchesBruteForce
        testPropertyWithConfig config "RetrievalEvaluation equals evaluating the search run" (evaluatorMatchesRun false)
        testPropertyWithConfig config "RetrievalEvaluation equals evaluating the search run, identical ids ignored" (evaluatorMatchesRun true)
    ]

[<Tests>]
let tests = testList "Retrieval.ExactSearch" [ unitTests; runFileTests; properties ]
