/// Faults, as a user meets them: `kill -9` during encode, train and reproduce (child processes on
/// small real inputs), then a rerun gives the same numbers as an uninterrupted run and leaves no
/// partial files; two concurrent reproduce runs compute each experiment once; a reproduce that
/// cannot serve its table exits non-zero and still writes its report (one whose manifest holds NaN stops before
/// anything runs); a model whose weights were changed after saving is refused; a checkpoint of other data is refused.
module Smec.Tests.Cli.FaultTests

open System
open System.IO
open System.Text.RegularExpressions
open Expecto
open Smec.Core.Storage
open Smec.Tests.TestSupport
open Smec.Tests.Cli.CliProcess

/// Files a crash could leave half-written: temporaries of the atomic writes and unfinished saves.
let private partialFiles (folder: string) =
    filesUnder folder |> List.filter (fun f -> f.EndsWith ".tmp" || f.Contains ".saving-" || f.Contains ".old-" || f.EndsWith ".lock")

let private noPartialFiles (folder: string) =
    let partial = partialFiles folder
    Expect.isEmpty partial (sprintf "no partial files under %s: %A" folder partial)

let private sameBytes (a: string) (b: string) what =
    Expect.isTrue (File.ReadAllBytes a = File.ReadAllBytes b) (sprintf "%s: %s and %s are byte-identical" what a b)

let private succeeded (r: Finished) =
    Expect.equal r.Code 0 (sprintf "exit 0\nstderr: %s\nstdout: %s" r.Err r.Out)

// ---- encode ----------------------------------------------------------------------------------

let private encodeArgs = [ "encode"; "--dataset"; "cranfield"; "--encoder"; "all-MiniLM-L6-v2"; "--parts"; "queries" ]

let private encodedQueryFiles (cache: string) =
    if Directory.Exists cache then Directory.EnumerateFiles(cache, "queries.npy", SearchOption.AllDirectories) |> List.ofSeq else []

let private encodedQueries (cache: string) = encodedQueryFiles cache |> List.exactlyOne

/// A progress line of the queries' encode that is not yet at its end ("... 8/225 ..."): the encode is under way.
let private encodingUnderWay (line: string) =
    let m = Regex.Match(line, @"^encoding cranfield/queries .*\] (\d+)/(\d+) ")
    m.Success && int m.Groups.[1].Value < int m.Groups.[2].Value

let encodeKill =
    testCase "kill -9 while encode is encoding (running, entry not yet written), then a rerun: the entry is byte-identical to an uninterrupted build, no partial files" <| fun () ->
        use dir = new TempDir()
        let reference, interrupted = Path.Combine(dir.Path, "a"), Path.Combine(dir.Path, "b")
        runWith [ "SMEC_CACHE_DIR", reference; "SMEC_PROGRESS", "off" ] 300 encodeArgs |> succeeded
        // Progress as log lines (one per 10%, the first after the first batch) shows when the encode is
        // under way, so the kill lands mid-encode however fast the machine or the encoder is.
        let proc, errLines = startWatched [ "SMEC_CACHE_DIR", interrupted; "SMEC_PROGRESS", "lines" ] encodeArgs
        let underWay () = errLines () |> List.exists encodingUnderWay
        // Polled every millisecond or so (not waitUntil's 100 ms): on a fast machine the rest of the
        // encode after its first progress line may take well under a second.
        Expect.isTrue (Threading.SpinWait.SpinUntil((fun () -> underWay () || proc.HasExited), TimeSpan.FromSeconds 300.0))
            (sprintf "the encode reported progress within 300 s\nstderr: %s" (String.concat "\n" (errLines ())))
        Expect.isTrue (underWay ()) (sprintf "the encode printed a progress line before its end\nstderr: %s" (String.concat "\n" (errLines ())))
        Expect.isFalse proc.HasExited "the encode was still running when it was killed"
        kill9 proc
        Expect.equal proc.ExitCode 137 "it ended by the kill (128 + SIGKILL), not by finishing"
        Expect.isEmpty (encodedQueryFiles interrupted) "the killed encode wrote no finished entry"
        runWith [ "SMEC_CACHE_DIR", interrupted; "SMEC_PROGRESS", "off" ] 300 encodeArgs |> succeeded
        sameBytes (encodedQueries reference) (encodedQueries interrupted) "queries.npy"
        noPartialFiles interrupted

// ---- train -----------------------------------------------------------------------------------

let private trainArgs (extra: string list) =
    [ "train"; "--ladder"; "384,96"; "--max-steps"; "60"; "--eval-every"; "10"; "--patience"; "100"; "--quiet" ] @ extra

/// The validation figures a run prints ("    96      0.6543").
let private figures (out: string) =
    Regex.Matches(out, @"^\s+\d+\s+\d\.\d{4}\s*$", RegexOptions.Multiline) |> Seq.map (fun m -> m.Value.Trim()) |> List.ofSeq

let trainFaults =
    testCase "kill -9 during train, then a rerun resumes to the same model; a changed model and another run's checkpoint are refused" <| fun () ->
        use dir = new TempDir()
        let referenceModel = Path.Combine(dir.Path, "reference")
        let reference = runWith [] 600 (trainArgs [ "--out"; referenceModel ])
        succeeded reference
        let model, checkpoint = Path.Combine(dir.Path, "model"), Path.Combine(dir.Path, "ckpt")
        let args = trainArgs [ "--out"; model; "--checkpoint"; checkpoint ]
        let proc = start [] args
        // Each tuning point's fit has its own prefix (ckpt.tuning<i>), and under it each SMRL step writes one
        // checkpoint per loss-form x ADS-start point: ckpt.tuning1.step1.<form>.<start>.
        let checkpointWritten () = Directory.EnumerateFiles(dir.Path, Path.GetFileName checkpoint + ".tuning1.step1*") |> Seq.isEmpty |> not
        Expect.isTrue (waitUntil 300.0 checkpointWritten) "a checkpoint was written"
        Expect.isFalse proc.HasExited "the training was still running when it was killed"
        kill9 proc
        Expect.equal proc.ExitCode 137 "it ended by the kill (128 + SIGKILL), not by finishing"
        Expect.isFalse (Directory.Exists model) "no model folder from the killed run"
        noPartialFiles dir.Path
        let resumed = runWith [] 600 args
        succeeded resumed
        Expect.stringContains resumed.Err "resumed" "the rerun resumed from the checkpoint"
        Expect.isNonEmpty (figures reference.Out) "the reference printed its figures"
        Expect.equal (figures resumed.Out) (figures reference.Out) "same validation nDCG@10 as an uninterrupted run"
        sameBytes (Path.Combine(referenceModel, "tensors.bin")) (Path.Combine(model, "tensors.bin")) "tensors.bin"
        noPartialFiles dir.Path

        // The saved model compresses; with one bit of its weights flipped it is refused.
        let embeddings = Path.Combine(dataRoot (), "embeddings", "scifact", "all-MiniLM-L6-v2", "queries.npy")
        let compressed = Path.Combine(dir.Path, "q96.npy")
        run [ "compress"; "--model"; model; "--in"; embeddings; "--dim"; "96"; "--out"; compressed ] |> succeeded
        let weights = Path.Combine(model, "tensors.bin")
        let bytes = File.ReadAllBytes weights
        bytes.[bytes.Length - 5] <- bytes.[bytes.Length - 5] ^^^ 0x10uy
        File.WriteAllBytes(weights, bytes)
        let flipped = Path.Combine(dir.Path, "flipped.npy")
        let refused = run [ "compress"; "--model"; model; "--in"; embeddings; "--dim"; "96"; "--out"; flipped ]
        Expect.equal refused.Code 2 refused.Err
        Expect.stringContains refused.Err "tensors.bin: checksum" "names the corrupt file"
        Expect.isFalse (File.Exists flipped) "nothing written"

        // The same checkpoint on other data (one corpus value changed) is refused with both identities.
        let other = Path.Combine(dir.Path, "other-embeddings")
        Directory.CreateDirectory other |> ignore
        let source = Path.GetDirectoryName embeddings
        for f in [ "corpus.npy"; "corpus.ids.txt"; "queries.npy"; "queries.ids.txt" ] do File.Copy(Path.Combine(source, f), Path.Combine(other, f))
        let struct (values, rows, cols) = Npy.ReadFloat32(Path.Combine(other, "corpus.npy"))
        values.[0] <- values.[0] + 0.01f
        Npy.WriteFloat32(Path.Combine(other, "corpus.npy"), ReadOnlySpan values, rows, cols)
        let qrels = Path.Combine(dataRoot (), "beir", "scifact", "qrels")
        let otherData = runWith [] 600 (trainArgs [ "--checkpoint"; checkpoint; "--dataset-embeddings"; other; "--qrels"; qrels ])
        Expect.equal otherData.Code 2 otherData.Err
        Expect.stringContains otherData.Err "checkpoint of data sha256:" "the checkpoint's data identity"
        Expect.stringContains otherData.Err "this run's data is sha256:" "this run's data identity"

// ---- reproduce -------------------------------------------------------------------------------

let private reproduceArgs (results: string) = [ "reproduce"; "--table"; "1"; "--results"; results ]
let private cells (results: string) = Path.Combine(results, "item-1", "local", "cells.csv")
let private cacheEntries (results: string) =
    let cache = Path.Combine(results, "cache")
    if Directory.Exists cache then Directory.GetFiles(cache, "*.json").Length else 0

let reproduceFaults =
    testCase "kill -9 during reproduce, then a rerun: identical cells.csv, no partial files; two concurrent runs compute each experiment once" <| fun () ->
        use dir = new TempDir()
        let reference = Path.Combine(dir.Path, "reference")
        runWith [] 600 (reproduceArgs reference) |> succeeded
        let interrupted = Path.Combine(dir.Path, "interrupted")
        let proc = start [] (reproduceArgs interrupted)
        Expect.isTrue (waitUntil 300.0 (fun () -> cacheEntries interrupted >= 1)) "one experiment finished"
        Expect.isFalse proc.HasExited "the reproduce was still running when it was killed"
        kill9 proc
        Expect.equal proc.ExitCode 137 "it ended by the kill (128 + SIGKILL), not by finishing"
        Expect.isLessThan (cacheEntries interrupted) (cacheEntries reference) "the killed run left experiments to do"
        let rerun = runWith [] 600 (reproduceArgs interrupted)
        succeeded rerun
        sameBytes (cells reference) (cells interrupted) "cells.csv"
        noPartialFiles interrupted

        let shared = Path.Combine(dir.Path, "shared")
        let first = start [] (reproduceArgs shared)
        let second = start [] (reproduceArgs shared)
        let outputs = [ first; second ] |> List.map (fun p -> p.StandardOutput.ReadToEndAsync(), p)
        let texts = outputs |> List.map (fun (out, p) -> p.WaitForExit(); Expect.equal p.ExitCode 0 "both succeed"; out.Result)
        let computed = texts |> List.sumBy (fun t -> Regex.Matches(t, @"\] .* done in ").Count)
        Expect.equal computed (cacheEntries reference) (sprintf "each experiment computed once across both runs\n%s" (String.concat "\n----\n" texts))
        sameBytes (cells reference) (cells shared) "cells.csv of the shared folder"
        noPartialFiles shared

/// An embeddings manifest of 4-d vectors on SciFact ids, standing for the given paper encoder.
/// 40 documents and queries (qi judges di), 4-d: enough judged queries for the split rule (halves).
let private writeManifest (dir: string) (standsFor: string) (nanAt: int option) =
    let values = Array.init 160 (fun i -> float32 (i % 7) + 0.5f)
    nanAt |> Option.iter (fun i -> values.[i] <- nanf)
    Npy.WriteFloat32(Path.Combine(dir, "docs.npy"), ReadOnlySpan values, 40, 4)
    Npy.WriteFloat32(Path.Combine(dir, "queries.npy"), ReadOnlySpan(Array.init 160 (fun i -> float32 (i % 5) + 0.5f)), 40, 4)
    File.WriteAllText(Path.Combine(dir, "docs.ids.txt"), String.Join("\n", [ for i in 1 .. 40 -> sprintf "d%d" i ]) + "\n")
    File.WriteAllText(Path.Combine(dir, "queries.ids.txt"), String.Join("\n", [ for i in 1 .. 40 -> sprintf "q%d" i ]) + "\n")
    File.WriteAllText(Path.Combine(dir, "qrels.txt"), String.Join("\n", [ for i in 1 .. 40 -> sprintf "q%d 0 d%d 1" i i ]) + "\n")
    let path = Path.Combine(dir, "manifest.yaml")
    File.WriteAllText(path,
        sprintf "embeddings:\n  - encoder: my-encoder\n    stands_for: %s\n    dataset: scifact\n    corpus: docs.npy\n    corpus_ids: docs.ids.txt\n    queries: queries.npy\n    query_ids: queries.ids.txt\n    qrels_test: qrels.txt\n" standsFor)
    path

let reproduceExitCodes =
    testList "reproduce exit codes" [
        testCase "a manifest that matches nothing the table needs: exit 2 naming the manifest and the need; the report is written" <| fun () ->
            use dir = new TempDir()
            let manifest = writeManifest dir.Path "my-encoder" None
            let results = Path.Combine(dir.Path, "results")
            let r = run [ "reproduce"; "--table"; "6"; "--profile"; "paper"; "--embeddings"; manifest; "--results"; results ]
            Expect.equal r.Code 2 r.Err
            Expect.stringContains r.Err (manifest + ": matched nothing item 6 needs") "names the manifest"
            Expect.stringContains r.Err "LLM2Vec-7B" "says which embeddings the table needs"
            Expect.isTrue (File.Exists(Path.Combine(results, "item-6", "paper", "cells.csv"))) "the report is written"
        testCase "NaN in the manifest's embeddings: exit 2 before anything runs, naming the file and the row; nothing is written" <| fun () ->
            use dir = new TempDir()
            let manifest = writeManifest dir.Path "llm2vec-7b" (Some 6)
            let results = Path.Combine(dir.Path, "results")
            let r = run [ "reproduce"; "--table"; "6"; "--profile"; "paper"; "--embeddings"; manifest; "--results"; results ]
            Expect.equal r.Code 2 r.Err
            Expect.stringContains r.Err "docs.npy: row 1 (id 'd2') holds NaN" "names the file and the row id"
            Expect.isFalse (r.Err.Contains "Exception") "no exception class name"
            Expect.isFalse (Directory.Exists results) "nothing is written"
    ]

[<Tests>]
let tests = testList "Cli.Faults" [ reproduceExitCodes; encodeKill; trainFaults; reproduceFaults ]
