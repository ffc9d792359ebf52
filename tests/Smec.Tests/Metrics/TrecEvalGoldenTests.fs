/// Every figure trec_eval 9.0.8 printed for the mirror's data/trec_eval cases, reproduced to the
/// 4 decimals it prints: through `smec eval` (the CLI's evaluate function) and through the naive
/// oracle, so both implementations are pinned to trec_eval itself.
module Smec.Tests.Metrics.TrecEvalGoldenTests

open System
open System.IO
open Expecto
open Smec.Core.Data
open Smec.Core.Retrieval
open Smec.Experiments.Cli
open Smec.Tests.TestSupport
open Smec.Tests.Metrics.NaiveMetrics

let cases = [ "coarse"; "graded"; "numeric" ]
/// The commands of data/trec_eval/README.md.
let expectedMeasures = [ "ndcg_cut.5,10,100"; "P.10"; "recall.10,100"; "map_cut.10,100"; "recip_rank" ]
let perQueryMeasures = [ "ndcg_cut.10"; "recip_rank" ]

let private casePath case ext = Path.Combine(dataRoot (), "trec_eval", case + ext)

/// (measure, query, value text) of trec_eval output lines.
let private parseLines (text: string) =
    text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
    |> Array.map (fun line ->
        match line.Split('\t') with
        | [| measure; query; value |] -> measure.Trim(), query, value
        | _ -> failwithf "unexpected trec_eval line '%s'" line)

/// Every expected figure must appear with the same 4-decimal text; the message lists all misses.
let private expectSameFigures (actual: string) (expectedFile: string) =
    let expected = parseLines (File.ReadAllText expectedFile)
    let ours = parseLines actual |> Array.map (fun (m, q, v) -> (m, q), v) |> Map.ofArray
    let misses =
        expected |> Array.choose (fun (m, q, v) ->
            match ours.TryFind(m, q) with
            | Some o when o = v -> None
            | Some o -> Some(sprintf "%s %s: ours %s, trec_eval %s" m q o v)
            | None -> Some(sprintf "%s %s: missing (trec_eval %s)" m q v))
    Expect.isEmpty misses (sprintf "%s: %d of %d figures differ" (Path.GetFileName expectedFile) misses.Length expected.Length)
    Expect.equal ours.Count expected.Length "no figures beyond trec_eval's"
    Expect.equal actual (File.ReadAllText expectedFile) "byte-identical output (order, padding, tabs)"

/// The oracle's output in trec_eval's format, from plain F# data.
let private oracleText case (measureSpecs: string list) perQuery =
    let qrels = Qrels.Read(casePath case ".qrels")
    let run = TrecRunFile.Read(casePath case ".run")
    let naiveRun: NaiveRun =
        run.QueryIds |> Seq.map (fun q -> q, [ for d in run.ForQuery q -> d.DocId, d.Score ]) |> Map.ofSeq
    let naiveQrels: NaiveQrels =
        qrels.QueryIds |> Seq.map (fun q -> q, qrels.ForQuery q |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq) |> Map.ofSeq
    let names = Smec.Core.Metrics.Measure.ParseAll measureSpecs |> Seq.map _.Name |> List.ofSeq
    let results = names |> List.map (fun name -> name, NaiveMetrics.evaluate false name naiveRun naiveQrels)
    let line name (query: string) (value: float) = sprintf "%-22s\t%s\t%.4f" name query value
    [ if perQuery then
        let queries = results |> List.head |> snd |> fst |> List.map fst
        for q in queries do
            for name, (perQ, _) in results -> line name q (perQ |> List.find (fst >> (=) q) |> snd)
      for name, (_, mean) in results -> line name "all" mean ]
    |> List.map (fun l -> l + "\n") |> String.concat ""

[<Tests>]
let tests =
    testList "Metrics.TrecEvalGolden" [
        for case in cases do
            testCase (sprintf "smec eval reproduces %s.expected" case) <| fun () ->
                let text = EvalCommand.evaluate (casePath case ".qrels") (casePath case ".run") expectedMeasures false false
                expectSameFigures text (casePath case ".expected")
            testCase (sprintf "smec eval -q reproduces %s.expected-q" case) <| fun () ->
                let text = EvalCommand.evaluate (casePath case ".qrels") (casePath case ".run") perQueryMeasures true false
                expectSameFigures text (casePath case ".expected-q")
            testCase (sprintf "the naive oracle reproduces %s.expected and %s.expected-q" case case) <| fun () ->
                expectSameFigures (oracleText case expectedMeasures false) (casePath case ".expected")
                expectSameFigures (oracleText case perQueryMeasures true) (casePath case ".expected-q")
    ]
