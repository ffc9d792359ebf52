/// Builders shared by the metric and retrieval tests: runs and qrels from F# literals, and random
/// runs full of ties for the property tests.
module Smec.Tests.Metrics.MetricsTestData

open System
open System.Collections.Generic
open Smec.Core.Data
open Smec.Core.Retrieval
open Smec.Tests.Metrics.NaiveMetrics

let toRun (run: NaiveRun) =
    let byQuery = Dictionary<string, ScoredDoc[]>(StringComparer.Ordinal)
    for KeyValue(q, docs) in run do
        byQuery.[q] <- docs |> List.map (fun (d, s) -> ScoredDoc(d, s)) |> Array.ofList
    Run(byQuery)

let toQrels (qrels: NaiveQrels) =
    let byQuery = Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal)
    for KeyValue(q, docs) in qrels do
        let judged = Dictionary<string, int>(StringComparer.Ordinal)
        for KeyValue(d, r) in docs do judged.[d] <- r
        byQuery.[q] <- judged
    Qrels(byQuery)

let runOf (entries: (string * (string * float32) list) list) : NaiveRun = Map.ofList entries
let qrelsOf (entries: (string * (string * int) list) list) : NaiveQrels =
    entries |> List.map (fun (q, docs) -> q, Map.ofList docs) |> Map.ofList

/// A random run and qrels from a seed: scores from a 5-value set (many ties), doc ids whose string
/// and numeric orders differ, queries that are also doc ids (self-hits), queries only in the run or
/// only in the qrels, graded and negative judgements, judged documents never retrieved.
let randomCase (seed: int) : NaiveRun * NaiveQrels =
    let rng = Random(seed)
    let docPool = [| "1"; "2"; "9"; "10"; "11"; "100"; "q1"; "q3"; "d5"; "D5"; "a"; "b" |]
    let scores = [| 0.0f; 0.1f; 0.25f; 0.5f; 1.0f; -0.5f |]
    let queries = [| "q0"; "q1"; "q2"; "q3"; "q4"; "10" |]
    let run =
        queries
        |> Array.filter (fun _ -> rng.NextDouble() < 0.85)
        |> Array.map (fun q ->
            let docs = docPool |> Array.filter (fun _ -> rng.NextDouble() < 0.6)
            q, [ for d in docs -> d, scores.[rng.Next scores.Length] ])
        |> Map.ofArray
    let qrels =
        queries
        |> Array.filter (fun _ -> rng.NextDouble() < 0.85)
        |> Array.map (fun q ->
            let docs = docPool |> Array.filter (fun _ -> rng.NextDouble() < 0.4)
            q, Map.ofArray [| for d in docs -> d, rng.Next(-1, 4) |])
        |> Map.ofArray
    run, qrels
