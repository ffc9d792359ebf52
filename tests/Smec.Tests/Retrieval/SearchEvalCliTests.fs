/// `smec search` and `smec eval` end to end, through the program's entry point.
module Smec.Tests.Retrieval.SearchEvalCliTests

open System
open System.IO
open Expecto
open Smec.Experiments.Cli
open Smec.Tests.TestSupport

/// Run `smec` in-process; returns the exit code and what it wrote to stderr.
let private smec (args: string list) =
    let error = new StringWriter()
    let previous = Console.Error
    Console.SetError error
    try
        let code = Program.main (Array.ofList args)
        code, error.ToString()
    finally
        Console.SetError previous

[<Tests>]
let tests =
    testList "Retrieval.SearchEvalCli" [
        testCase "smec search then smec eval gives the SciFact MiniLM reference nDCG@10 (full width)" <| fun () ->
            use dir = new TempDir()
            let embeddings = SciFact.embeddingsFolder ()
            let runPath = Path.Combine(dir.Path, "scifact.trec")
            let code, error =
                smec [ "search"; "--queries"; Path.Combine(embeddings, "queries.npy"); "--query-ids"; Path.Combine(embeddings, "queries.ids.txt")
                       "--docs"; Path.Combine(embeddings, "corpus.npy"); "--doc-ids"; Path.Combine(embeddings, "corpus.ids.txt")
                       "--k"; "100"; "--out"; runPath ]
            Expect.equal code 0 (sprintf "search succeeds: %s" error)
            let qrels = SciFact.qrelsFile "test"
            let text = EvalCommand.evaluate qrels runPath [ "ndcg_cut.10" ] false false
            let full = Smec.Experiments.Catalog.ReferenceFigures.ndcg10 (Smec.Experiments.Catalog.ReferenceFigures.load ()) SciFact.Dataset SciFact.Encoder "truncation" |> List.head
            Expect.equal text (sprintf "ndcg_cut_10           \tall\t%.4f\n" full.Value) "the reference figure, through the run file"
        testCase "smec eval on a malformed run exits 2 and names the file and line" <| fun () ->
            use dir = new TempDir()
            let runPath = Path.Combine(dir.Path, "broken.trec")
            File.WriteAllText(runPath, "q1 Q0 d1 1 0.9 tag\nq1 Q0 d2 2 high tag\n")
            let qrelsPath = Path.Combine(dir.Path, "qrels.txt")
            File.WriteAllText(qrelsPath, "q1 0 d1 1\n")
            let code, error = smec [ "eval"; "--qrels"; qrelsPath; "--run"; runPath ]
            Expect.equal code 2 "input error exit code"
            Expect.stringContains error "broken.trec:2" "file and line"
            Expect.stringContains error "'high'" "the bad value"
        testCase "smec search with ids that do not match the rows exits 2 and names both files" <| fun () ->
            use dir = new TempDir()
            let embeddings = SciFact.embeddingsFolder ()
            let code, error =
                smec [ "search"; "--queries"; Path.Combine(embeddings, "queries.npy"); "--query-ids"; Path.Combine(embeddings, "corpus.ids.txt")
                       "--docs"; Path.Combine(embeddings, "corpus.npy"); "--doc-ids"; Path.Combine(embeddings, "corpus.ids.txt")
                       "--out"; Path.Combine(dir.Path, "x.trec") ]
            Expect.equal code 2 "input error exit code"
            Expect.stringContains error "corpus.ids.txt" "the id file"
            Expect.stringContains error "queries.npy" "the matrix"
    ]
