/// `smec sweep run --ensemble on` end to end, as a user runs it: the points of one cell that differ only
/// in seed train as one ensemble, each stored under its own key (figures as close to its training alone
/// as the seeds are to each other); a kill -9 in the middle of the ensemble, then a rerun, stores the
/// same results as an uninterrupted ensemble run, and leaves no lock or partial file.
module Smec.Tests.Sweeps.EnsembleRunTests

open System.IO
open System.Text.Json.Nodes
open Expecto
open Smec.Tests.TestSupport
open Smec.Tests.Cli.CliProcess

/// MRL on the tiny collection, 3 seeds, a small budget (2 x 150 steps per loss form: the one layer gets
/// the steps of both dims), no early stop: the ensemble runs long enough to be killed in the middle.
let private writeSpec (folder: string) =
    let path = Path.Combine(folder, "ens.yaml")
    File.WriteAllText(path,
        "name: ens\ndatasets: [tinyfact]\nencoders: [all-MiniLM-L6-v2]\nmethods: [mrl]\ndims: [16, 32]\nseeds: [1, 2, 3]\n" +
        "budget: { max_steps: 150, validate_every: 10, batch_size: 32, patience: 100 }\n")
    path

/// Every stored result: key -> (its measurements, its settings' run.ensemble or "").
let private stored (results: string) =
    let cache = Path.Combine(results, "cache")
    if not (Directory.Exists cache) then Map.empty
    else
        Directory.GetFiles(cache, "*.json")
        |> Array.map (fun f ->
            let o = JsonNode.Parse(File.ReadAllText f)
            let settings = o["settings"].AsObject()
            let ensemble = if settings.ContainsKey "run.ensemble" then settings["run.ensemble"].GetValue<string>() else ""
            let measurements = o["measurements"].AsObject() |> Seq.map (fun kv -> kv.Key, kv.Value.GetValue<float>()) |> Map.ofSeq
            Path.GetFileNameWithoutExtension f, (measurements, ensemble))
        |> Map.ofArray

let private leftovers (results: string) =
    filesUnder results |> List.filter (fun f -> f.EndsWith ".lock" || f.EndsWith ".tmp")

[<Tests>]
let tests =
    testSequenced
    <| testList "Sweeps/ensemble run" [
        testCase "MRL's 3 seeds train as one ensemble, each stored as itself; kill -9 mid-ensemble, rerun: the same results" <| fun () ->
            use dir = new TempDir()
            let data, manifests = Smec.Tests.Sweeps.SweepRunTests.writeCollection dir.Path
            let spec = writeSpec dir.Path
            let env = [ "SMEC_DATA_DIR", data; "SMEC_CACHE_DIR", Path.Combine(dir.Path, "cache") ]
            let args results policy = [ "sweep"; "run"; spec; "--results"; results; "--ensemble"; policy; "--manifests"; manifests ]
            let succeeded (r: Finished) = Expect.equal r.Code 0 (sprintf "exit 0\nstderr: %s\nstdout: %s" r.Err r.Out)
            // Each point alone (also encodes the collection once, into the shared cache).
            let aloneDir = Path.Combine(dir.Path, "alone")
            runWith env 300 (args aloneDir "off") |> succeeded
            let alone = stored aloneDir
            Expect.equal alone.Count 3 "three points stored alone"
            Expect.isTrue (alone |> Map.forall (fun _ (_, ensemble) -> ensemble = "")) "trained alone: no ensemble recorded"
            // The same points as one ensemble.
            let togetherDir = Path.Combine(dir.Path, "together")
            let run = runWith env 300 (args togetherDir "on")
            succeeded run
            Expect.stringContains run.Err "(ensemble of 3)" "the three seeds trained as one ensemble"
            let together = stored togetherDir
            Expect.equal (together |> Map.keys |> List.ofSeq) (alone |> Map.keys |> List.ofSeq) "the same keys: the policy is part of no key"
            for KeyValue(key, (_, ensemble)) in together do
                Expect.stringContains ensemble "one ensemble of 3 members (seeds 1, 2, 3)" (sprintf "%s records its ensemble" key)
                for other in together.Keys do Expect.stringContains ensemble other (sprintf "%s names member %s" key other)
            // Each member's figures as close to its run alone as the seeds are to each other, or closer.
            let measures = (alone |> Seq.head).Value |> fst |> Map.keys |> Seq.filter (fun m -> m.StartsWith "ndcg@10@" || m.StartsWith "val-") |> List.ofSeq
            Expect.isNonEmpty measures "test and validation nDCG@10 are stored"
            for m in measures do
                let seeds = alone |> Map.toList |> List.map (fun (_, (ms, _)) -> ms[m])
                let spread = List.max seeds - List.min seeds
                for KeyValue(key, (ms, _)) in together do
                    let byItself = (fst alone[key]).[m]
                    let gap = abs (ms[m] - byItself)
                    Expect.isLessThanOrEqual gap (max spread 1e-4) (sprintf "%s %s: together %.5f vs alone %.5f (seed spread %.5f)" key m ms[m] byItself spread)
            // Killed in the middle of the ensemble: nothing stored yet; the rerun stores what the uninterrupted run stored.
            let killedDir = Path.Combine(dir.Path, "killed")
            let proc, lines = startWatched env (args killedDir "on")
            let training () = lines () |> List.exists (fun l -> l.Contains "(ensemble of 3)")
            Expect.isTrue (waitUntil 120.0 training) (sprintf "the ensemble started training\n%s" (String.concat "\n" (lines ())))
            Expect.isFalse proc.HasExited "the ensemble was still training when it was killed"
            kill9 proc
            Expect.equal proc.ExitCode 137 "it ended by the kill (128 + SIGKILL), not by finishing"
            Expect.isEmpty (stored killedDir) "no member stored before the ensemble finished"
            runWith env 300 (args killedDir "on") |> succeeded
            let resumed = stored killedDir
            Expect.equal (resumed |> Map.map (fun _ (ms, _) -> ms)) (together |> Map.map (fun _ (ms, _) -> ms)) "the rerun stores the uninterrupted ensemble's figures"
            Expect.isEmpty (leftovers killedDir) "no lock or temporary file left"
    ]
