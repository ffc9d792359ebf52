/// The measures on small hand-checked cases, and the fast implementation against the naive oracle.
module Smec.Tests.Metrics.MetricsTests

open System
open Expecto
open Smec.Core.Metrics
open Smec.Tests.Metrics.NaiveMetrics
open Smec.Tests.Metrics.MetricsTestData

let private evaluate (run: NaiveRun) (qrels: NaiveQrels) (measures: string list) ignoreIdentical =
    RunEvaluator.Evaluate(toRun run, toQrels qrels, Measure.ParseAll measures, ignoreIdentical)

/// Hand-derived values are exact up to double rounding of a few operations.
let private close (actual: float) (expected: float) message = Expect.floatClose Accuracy.veryHigh actual expected message

let handChecked =
    testList "hand-checked" [
        testCase "equal scores rank by doc id descending (ordinal), also when equal only as float32" <| fun () ->
            // d1 0.3 and d2 0.30000000001 are the same float32: d2 > d1 in ordinal order ranks first.
            let run = runOf [ "q", [ "d1", 0.3f; "d2", float32 0.30000000001; "d3", 0.9f ] ]
            let qrels = qrelsOf [ "q", [ "d1", 1 ] ]
            let result = evaluate run qrels [ "recip_rank"; "ndcg_cut.10"; "P.2" ] false
            close (result.Mean "recip_rank") (1.0 / 3.0) "d1 is third: d3, d2, d1"
            close (result.Mean "ndcg_cut_10") 0.5 "1/log2(4) over ideal 1"
            close (result.Mean "P_2") 0.0 "no relevant in the top 2"
        testCase "numeric ids tie in string order, not numeric order" <| fun () ->
            // Descending ordinal order is "9", "100", "10" (numeric order would put "100" first).
            let run = runOf [ "q", [ "10", 0.5f; "9", 0.5f; "100", 0.5f ] ]
            let qrels = qrelsOf [ "q", [ "100", 1 ] ]
            close ((evaluate run qrels [ "recip_rank" ] false).Mean "recip_rank") 0.5 "order 9, 100, 10"
        testCase "graded relevance uses the qrels value as linear gain and the query's own ideal ranking" <| fun () ->
            let run = runOf [ "q", [ "d2", 0.9f; "d1", 0.8f; "d4", 0.7f; "d3", 0.6f ] ]
            let qrels = qrelsOf [ "q", [ "d1", 3; "d2", 1; "d3", 2 ] ]
            let result = evaluate run qrels [ "ndcg_cut.3"; "map_cut.3"; "recall.3"; "P.3" ] false
            let log2 x = Math.Log2 x
            close (result.Mean "ndcg_cut_3") ((1.0 + 3.0 / log2 3.0) / (3.0 + 2.0 / log2 3.0 + 1.0 / 2.0)) "DCG 1 + 3/log2 3; ideal 3, 2, 1"
            Expect.isLessThan (abs (result.Mean "ndcg_cut_3" - 0.6075)) 5e-5 "2.8928 / 4.7619 = 0.6075 to 4 decimals"
            close (result.Mean "map_cut_3") ((1.0 / 1.0 + 2.0 / 2.0) / 3.0) "relevant at 1 and 2, of 3 relevant"
            close (result.Mean "recall_3") (2.0 / 3.0) "2 of 3 relevant retrieved"
            close (result.Mean "P_3") (2.0 / 3.0) "2 of the top 3"
        testCase "a query whose judgements are all non-relevant scores 0 and still counts in the mean" <| fun () ->
            let run = runOf [ "a", [ "d1", 1.0f ]; "b", [ "d1", 1.0f; "d2", 0.5f ] ]
            let qrels = qrelsOf [ "a", [ "d1", 1 ]; "b", [ "d1", 0; "d2", -1 ] ]
            let result = evaluate run qrels [ "ndcg_cut.10"; "recall.10"; "map_cut.10"; "recip_rank" ] false
            Expect.equal result.QueryIds [| "a"; "b" |] "both queries evaluated"
            for m in result.Measures do
                close (result.Value(1, m)) 0.0 (sprintf "%s of b" m.Name)
                close (result.Mean m) 0.5 (sprintf "mean %s halves a's 1.0" m.Name)
        testCase "queries only in the run or only in the qrels are not evaluated" <| fun () ->
            let run = runOf [ "a", [ "d1", 1.0f ]; "runOnly", [ "d1", 1.0f ] ]
            let qrels = qrelsOf [ "a", [ "d1", 1 ]; "qrelsOnly", [ "d1", 1 ] ]
            let result = evaluate run qrels [ "ndcg_cut.10" ] false
            Expect.equal result.QueryIds [| "a" |] "only the query in both"
            close (result.Mean "ndcg_cut_10") 1.0 "mean over that query alone"
        testCase "a self-hit counts unless identical ids are ignored" <| fun () ->
            let run = runOf [ "q1", [ "q1", 0.9f; "d1", 0.8f ] ]
            let qrels = qrelsOf [ "q1", [ "d1", 1 ] ]
            close ((evaluate run qrels [ "recip_rank" ] false).Mean "recip_rank") 0.5 "the query itself ranks first"
            close ((evaluate run qrels [ "recip_rank" ] true).Mean "recip_rank") 1.0 "dropped: d1 is first"
        testCase "cutoffs deeper than the ranking: P divides by k, recall and nDCG by the judgements" <| fun () ->
            let run = runOf [ "q", [ "d1", 0.9f; "d2", 0.8f ] ]
            let qrels = qrelsOf [ "q", [ "d1", 1; "d2", 1; "d3", 1 ] ]
            let result = evaluate run qrels [ "P.10"; "recall.100"; "ndcg_cut.100"; "map_cut.100" ] false
            close (result.Mean "P_10") 0.2 "2 relevant / 10"
            close (result.Mean "recall_100") (2.0 / 3.0) "d3 never retrieved"
            close (result.Mean "ndcg_cut_100") ((1.0 + 1.0 / Math.Log2 3.0) / (1.0 + 1.0 / Math.Log2 3.0 + 0.5)) "ideal has 3 gains"
            close (result.Mean "map_cut_100") (2.0 / 3.0) "(1 + 1) / 3"
        testCase "MRR@k ignores a first relevant document below k" <| fun () ->
            let run = runOf [ "q", [ "d1", 0.9f; "d2", 0.8f; "d3", 0.7f ] ]
            let qrels = qrelsOf [ "q", [ "d3", 1 ] ]
            let result = evaluate run qrels [ "recip_rank"; "recip_rank.2" ] false
            close (result.Mean "recip_rank") (1.0 / 3.0) "uncut"
            close (result.Mean "recip_rank_2") 0.0 "cut at 2"
    ]

let parsing =
    testList "measure names" [
        testCase "trec_eval comma syntax expands and output order follows trec_eval" <| fun () ->
            let names = Measure.ParseAll [ "map_cut.10,100"; "ndcg_cut.5,10,100"; "P.10"; "recip_rank"; "recall.10,100"; "ndcg_cut.10" ] |> Seq.map _.Name |> List.ofSeq
            Expect.equal names [ "recip_rank"; "P_10"; "recall_10"; "recall_100"; "ndcg_cut_5"; "ndcg_cut_10"; "ndcg_cut_100"; "map_cut_10"; "map_cut_100" ] "trec_eval's order, no duplicates"
        testCase "unknown measures and bad cutoffs are rejected with the offending text" <| fun () ->
            Expect.throwsC (fun () -> Measure.Parse "ndcg@10" |> ignore) (fun e -> Expect.stringContains e.Message "ndcg@10" "names the measure")
            Expect.throwsC (fun () -> Measure.Parse "P.0" |> ignore) (fun e -> Expect.stringContains e.Message "'0'" "names the cutoff")
    ]

let private allMeasures = [ "ndcg_cut_1"; "ndcg_cut_3"; "ndcg_cut_10"; "P_1"; "P_5"; "recall_3"; "recall_10"; "map_cut_3"; "map_cut_10"; "recip_rank"; "recip_rank_2" ]

/// Fast and naive agree to double rounding (different log and summation orders): 1e-12.
let private agreesWithOracle ignoreIdentical (seed: int) =
    let run, qrels = randomCase seed
    let result = RunEvaluator.Evaluate(toRun run, toQrels qrels, Measure.ParseAll allMeasures, ignoreIdentical)
    allMeasures |> List.forall (fun name ->
        let perQuery, mean = NaiveMetrics.evaluate ignoreIdentical name run qrels
        let measure = (Measure.Parse name).[0]
        List.ofSeq result.QueryIds = List.map fst perQuery
        && abs (result.Mean measure - mean) < 1e-12
        && perQuery |> List.mapi (fun i (_, v) -> abs (result.Value(i, measure) - v) < 1e-12) |> List.forall id)

let properties =
    let config = { FsCheckConfig.defaultConfig with maxTest = 300 }
    testList "fast vs naive" [
        testPropertyWithConfig config "random runs with ties: every measure, per query and mean" (agreesWithOracle false)
        testPropertyWithConfig config "random runs with self-hits ignored" (agreesWithOracle true)
    ]

[<Tests>]
let tests = testList "Metrics" [ handChecked; parsing; properties ]
