/// End-to-end sweeps through the `smec` command: a BEIR-format collection the project has never
/// seen (a small subset of the mirror's SciFact, written to a temporary data root) added by a
/// manifest in a user folder, run locally, then through a real single-node Slurm on loopback
/// (build/slurm-fixture.sh: munged, slurmctld, slurmd from Debian's packages), whose results must be
/// bit-identical; then an array task is cancelled and a second `smec sweep run` computes only the
/// missing point and rewrites no stored one.
module Smec.Tests.Sweeps.SweepRunTests

open System
open System.Diagnostics
open System.IO
open System.Text.Json.Nodes
open Expecto
open Smec.Tests.TestSupport

let private smecDll = Path.Combine(repoRoot, "Smec.Experiments", "bin", "Release", "net10.0", "linux-x64", "smec.dll")

/// Run a program; returns (exit code, stdout + stderr).
let private runProcess (program: string) (args: string list) (env: (string * string) list) =
    let info = ProcessStartInfo(program, WorkingDirectory = repoRoot, RedirectStandardOutput = true, RedirectStandardError = true)
    for a in args do info.ArgumentList.Add a
    for k, v in env do info.Environment[k] <- v
    use proc = Process.Start info
    let output = proc.StandardOutput.ReadToEndAsync()
    let errors = proc.StandardError.ReadToEndAsync()
    proc.WaitForExit()
    proc.ExitCode, output.Result + errors.Result

/// A BEIR folder of 100 SciFact test queries, their relevant abstracts and 300 others; no train
/// split; the manifest states the query-halves rule (100 judged queries would get 5-fold
/// cross-validation by default, five times the points; this test is about running sweeps, the
/// k-fold rule has its own tests in Catalog/KFoldTests.fs). Returns (data root, manifests folder).
let private writeCollection (root: string) =
    let scifact = Path.Combine(dataRoot (), "beir", "scifact")
    let qrelsLines = File.ReadAllLines(Path.Combine(scifact, "qrels", "test.tsv"))
    let rows = qrelsLines |> Array.skip 1 |> Array.map (fun l -> l.Split('\t'))
    let queries = rows |> Array.map (fun r -> r[0]) |> Array.distinct |> Array.sortWith (fun a b -> String.CompareOrdinal(a, b)) |> Array.truncate 100 |> Set.ofArray
    let kept = rows |> Array.filter (fun r -> queries.Contains r[0])
    let relevant = kept |> Array.map (fun r -> r[1]) |> Set.ofArray
    let idOf (line: string) = JsonNode.Parse(line).["_id"].GetValue<string>()
    let corpus = File.ReadAllLines(Path.Combine(scifact, "corpus.jsonl"))
    let others = corpus |> Array.filter (fun l -> not (relevant.Contains(idOf l))) |> Array.truncate 300 |> Set.ofArray
    let folder = Path.Combine(root, "data", "user", "tinyfact")
    Directory.CreateDirectory(Path.Combine(folder, "qrels")) |> ignore
    File.WriteAllLines(Path.Combine(folder, "corpus.jsonl"), corpus |> Array.filter (fun l -> relevant.Contains(idOf l) || others.Contains l))
    File.WriteAllLines(Path.Combine(folder, "queries.jsonl"), File.ReadAllLines(Path.Combine(scifact, "queries.jsonl")) |> Array.filter (fun l -> queries.Contains(idOf l)))
    // TREC qrels (qid 0 docid rel): the loader reads them as well as BEIR's TSV.
    File.WriteAllLines(Path.Combine(folder, "qrels", "test.qrels"), kept |> Array.map (fun r -> sprintf "%s 0 %s %s" r[0] r[1] r[2]))
    let manifests = Path.Combine(root, "manifests")
    Directory.CreateDirectory(Path.Combine(manifests, "datasets")) |> ignore
    File.WriteAllText(
        Path.Combine(manifests, "datasets", "tinyfact.yaml"),
        """id: tinyfact
title: a collection the project has never seen (100 SciFact test claims, for a test)
kind: text-retrieval
format: beir
mirrored: false
path: user/tinyfact
files:
  - { path: corpus.jsonl, role: corpus }
  - { path: queries.jsonl, role: queries }
  - { path: qrels/test.qrels, role: qrels, split: test }
split: { rule: query-halves, validation: 12 }
source:
  instructions: written by the sweep tests from the data mirror's SciFact
licence: claims CC BY 4.0, abstracts ODC-By 1.0
citation: Wadden et al., EMNLP 2020
"""
    )
    Path.Combine(root, "data"), manifests

let private spec (folder: string) (name: string) (methods: string) (seeds: string) (steps: int) (patience: int) =
    let path = Path.Combine(folder, name + ".yaml")
    File.WriteAllText(
        path,
        sprintf "name: %s\ndatasets: [tinyfact]\nencoders: [all-MiniLM-L6-v2]\nmethods: [%s]\ndims: [16, 32]\nseeds: [%s]\nbudget: { max_steps: %d, validate_every: 10, batch_size: 32, patience: %d }\n"
            name methods seeds steps patience
    )
    path

/// Every stored result under a results folder: key -> (measurements JSON text, file bytes, write time).
let private stored (results: string) =
    let cache = Path.Combine(results, "cache")
    if not (Directory.Exists cache) then Map.empty
    else
        Directory.GetFiles(cache, "*.json")
        |> Array.map (fun f ->
            let o = JsonNode.Parse(File.ReadAllText f)
            Path.GetFileNameWithoutExtension f, (o["measurements"].ToJsonString(), File.ReadAllBytes f, File.GetLastWriteTimeUtc f))
        |> Map.ofArray

let private canRunSlurm () =
    let fixture = Path.Combine(repoRoot, "build", "slurm-fixture.sh")
    let code, output = runProcess "bash" [ fixture; "install" ] []
    if code <> 0 then Error output else Ok fixture

[<Tests>]
let tests =
    testSequenced
    <| testList "Sweeps/run end to end" [
        testCase "a user's BEIR collection from a manifest alone: local sweep, then Slurm bit-identical, scancel and resume" <| fun () ->
            use dir = new TempDir()
            let data, manifests = writeCollection dir.Path
            let baseEnv = [ "SMEC_DATA_DIR", data; "SMEC_CACHE_DIR", Path.Combine(dir.Path, "cache"); "SMEC_THREADS", "1"; "OMP_WAIT_POLICY", "PASSIVE" ]
            let smec (args: string list) (extra: (string * string) list) = runProcess "dotnet" (smecDll :: args @ [ "--manifests"; manifests ]) (baseEnv @ extra)
            // 1. Locally, in this process's worker (one after another).
            let small = spec dir.Path "tiny" "truncation, pca, mrl" "1" 30 3
            let local = Path.Combine(dir.Path, "local")
            let code, output = smec [ "sweep"; "run"; small; "--results"; local ] []
            Expect.equal code 0 (sprintf "local sweep (output: %s)" output)
            let localResults = stored local
            Expect.equal localResults.Count 3 "three points stored"
            Expect.isTrue (File.Exists(Path.Combine(local, "sweeps", "tiny", "report.html"))) "report.html"
            let report = File.ReadAllText(Path.Combine(local, "sweeps", "tiny", "report.md"))
            Expect.stringContains report "chosen on validation" "the report names its selection rule"
            let code, output = smec [ "sweep"; "run"; small; "--results"; local ] []
            Expect.equal code 0 "second local run"
            Expect.stringContains output "3 stored, 0 to run" "a stored point is never recomputed"
            // 2 worker processes (`smec run-experiment KEY` each, 1 torch thread each): the same numbers.
            let workers = Path.Combine(dir.Path, "workers")
            let code, output = smec [ "sweep"; "run"; small; "--results"; workers; "--workers"; "2"; "--threads"; "1" ] []
            Expect.equal code 0 (sprintf "local sweep with workers (output: %s)" output)
            Expect.equal (stored workers |> Map.map (fun _ (m, _, _) -> m)) (localResults |> Map.map (fun _ (m, _, _) -> m)) "workers give bit-identical results"
            // 2 workers with ensembles: a cell's two seeds go to one worker together and train there as one ensemble.
            let pair = spec dir.Path "pair" "truncation, mrl" "1, 2" 30 3
            let pairWorkers = Path.Combine(dir.Path, "pair-workers")
            let code, output = smec [ "sweep"; "run"; pair; "--results"; pairWorkers; "--workers"; "2"; "--threads"; "1"; "--ensemble"; "on" ] []
            Expect.equal code 0 (sprintf "local sweep with workers and ensembles (output: %s)" output)
            Expect.stringContains output "ensemble of 2: mrl" "the two MRL seeds are one worker's unit"
            let pairResults = stored pairWorkers
            Expect.equal pairResults.Count 3 "truncation and two MRL seeds stored"
            let trainedTogether = pairResults |> Map.filter (fun _ (_, bytes, _) -> (Text.Encoding.UTF8.GetString bytes).Contains "one ensemble of 2 members (seeds 1, 2)")
            Expect.equal trainedTogether.Count 2 "each MRL seed records that it trained in the ensemble"
            match canRunSlurm () with
            | Error why -> skiptestf "Slurm cannot be installed here: %s" why
            | Ok fixture ->
                let cluster = Path.Combine(dir.Path, "slurm")
                let code, output = runProcess "bash" [ fixture; "start"; cluster ] []
                try
                    Expect.equal code 0 (sprintf "the fixture starts (output: %s)" output)
                    let slurmEnv = [ "SLURM_CONF", Path.Combine(cluster, "slurm.conf") ]
                    // 2. The same points through Slurm: bit-identical measurements.
                    let viaSlurm = Path.Combine(dir.Path, "via-slurm")
                    let code, output = smec [ "sweep"; "run"; small; "--executor"; "slurm"; "--results"; viaSlurm; "--poll"; "0.5" ] slurmEnv
                    Expect.equal code 0 (sprintf "slurm sweep (output: %s)" output)
                    let slurmResults = stored viaSlurm
                    Expect.equal (slurmResults |> Map.map (fun _ (m, _, _) -> m)) (localResults |> Map.map (fun _ (m, _, _) -> m)) "bit-identical to the local executor"
                    // With ensembles, one array task gets the cell's two seeds (one line of the keys file) and trains them together.
                    let pairSlurm = Path.Combine(dir.Path, "pair-slurm")
                    let code, output = smec [ "sweep"; "run"; pair; "--executor"; "slurm"; "--ensemble"; "on"; "--results"; pairSlurm; "--poll"; "0.5" ] slurmEnv
                    Expect.equal code 0 (sprintf "slurm sweep with ensembles (output: %s)" output)
                    let pairJob = File.ReadAllLines(Path.Combine(pairSlurm, "sweeps", "pair", "slurm", "jobs.tsv")).[0].Split('\t')
                    let units = File.ReadAllLines pairJob[1] |> Array.map (fun l -> l.Split(' ').Length) |> Array.sort
                    Expect.equal units [| 1; 2 |] "two array tasks: truncation alone, the two MRL seeds together"
                    Expect.equal (stored pairSlurm |> Map.map (fun _ (m, _, _) -> m)) (pairResults |> Map.map (fun _ (m, _, _) -> m)) "the same figures as the local workers' ensemble"
                    // 3. Cancel a running array task, then run again: only the missing point runs.
                    // mrl first (tasks 0-2), long enough (no early stop) to be cancelled while it runs.
                    let longer = spec dir.Path "resume" "mrl, truncation, pca" "1, 2, 3" 1500 150
                    let resumed = Path.Combine(dir.Path, "resume")
                    let code, output = smec [ "sweep"; "run"; longer; "--executor"; "slurm"; "--results"; resumed; "--no-wait" ] slurmEnv
                    Expect.equal code 0 (sprintf "submitted (output: %s)" output)
                    let jobs () = File.ReadAllLines(Path.Combine(resumed, "sweeps", "resume", "slurm", "jobs.tsv")) |> Array.map (fun l -> l.Split('\t'))
                    let job = (jobs ()).[0]
                    let jobId, keysFile = job[0], job[1]
                    let firstKey = (File.ReadAllLines keysFile).[0]
                    let squeue () = snd (runProcess "squeue" [ "-h"; "-t"; "all"; "-j"; jobId; "-o"; "%i %T" ] slurmEnv)
                    let clock = Stopwatch.StartNew()
                    while not ((squeue ()).Contains(sprintf "%s_0 RUNNING" jobId)) && clock.Elapsed.TotalSeconds < 120.0 do
                        Threading.Thread.Sleep 100
                    Expect.isFalse (File.Exists(Path.Combine(resumed, "cache", firstKey + ".json"))) "task 0 (an mrl point) still running"
                    let code, output = runProcess "scancel" [ sprintf "%s_0" jobId ] slurmEnv
                    Expect.equal code 0 (sprintf "scancel (output: %s)" output)
                    while (squeue ()).Split('\n') |> Array.exists (fun l -> l.EndsWith "PENDING" || l.EndsWith "RUNNING" || l.EndsWith "COMPLETING") do
                        Threading.Thread.Sleep 500
                    Expect.stringContains (squeue ()) (sprintf "%s_0 CANCELLED" jobId) "task 0 cancelled"
                    // Seen 2 times in 6 runs on 2026-12-07 (idle machine): task 0 was CANCELLED, yet its point was
                    // stored (the run finished before the signal took effect). What this test guards is the resume
                    // (only a missing point runs again), so such a point is removed, and reported, before checking it.
                    let cancelledResult = Path.Combine(resumed, "cache", firstKey + ".json")
                    if File.Exists cancelledResult then
                        eprintfn "note: the cancelled task's point was stored before the cancel took effect; removing it to test the resume"
                        File.Delete cancelledResult
                    let before = stored resumed
                    Expect.equal before.Count 4 "every other point stored (3 seeds of mrl + truncation + pca = 5 points)"
                    Expect.isFalse (before.ContainsKey firstKey) "the cancelled point is missing"
                    let code, output = smec [ "sweep"; "run"; longer; "--executor"; "slurm"; "--results"; resumed; "--poll"; "0.5" ] slurmEnv
                    Expect.equal code 0 (sprintf "second run (output: %s)" output)
                    let second = (jobs ()).[1].[1]
                    Expect.equal (File.ReadAllLines second |> List.ofArray) [ firstKey ] "only the missing point was submitted"
                    let after = stored resumed
                    Expect.equal after.Count 5 "every point stored"
                    for KeyValue(key, (_, bytes, time)) in before do
                        let _, bytesAfter, timeAfter = after[key]
                        Expect.equal bytesAfter bytes (sprintf "%s not rewritten" key)
                        Expect.equal timeAfter time (sprintf "%s not touched" key)
                finally
                    runProcess "bash" [ fixture; "stop"; cluster ] [] |> ignore
    ]
