/// `smec sweep run --ensemble on` end to end, as a user runs it: the points of one cell that differ only
/// in seed train as one ensemble, each stored under the key it has alone (that each member equals
/// itself trained alone is EnsembleTests'); a kill -9 in the middle of the ensemble, then a rerun, stores
/// the same results as an uninterrupted ensemble run, and leaves no lock or partial file.
module Smec.Tests.Sweeps.EnsembleRunTests

open System.IO
open System.Text.Json.Nodes
open Expecto
open Smec.Tests.TestSupport
open Smec.Tests.Cli.CliProcess

/// MRL on a slice of the mirror's SciFact embeddings (an embeddings manifest: nothing to encode; 300 train
/// queries, so a fixed split rather than k-fold), 3 seeds, a small budget (2 x 40 steps per loss form: the one layer gets
/// the steps of both dims), no early stop: the ensemble is killed as soon as it reports its first step.
let private writeSpec (folder: string) =
    let path = Path.Combine(folder, "ens.yaml")
    File.WriteAllText(path,
        "name: ens\ndatasets: [scifact-slice]\nencoders: [all-MiniLM-L6-v2]\nmethods: [mrl]\ndims: [16, 32]\nseeds: [1, 2, 3]\n" +
        "budget: { max_steps: 40, validate_every: 10, batch_size: 32, patience: 100 }\n")
    path

/// Every stored result: key -> (its measurements, its settings' run.ensemble and training history, or "").
let private stored (results: string) =
    let cache = Path.Combine(results, "cache")
    if not (Directory.Exists cache) then Map.empty
    else
        Directory.GetFiles(cache, "*.json")
        |> Array.map (fun f ->
            let o = JsonNode.Parse(File.ReadAllText f)
            let settings = o["settings"].AsObject()
            let text key = if settings.ContainsKey key then settings[key].GetValue<string>() else ""
            let measurements = o["measurements"].AsObject() |> Seq.map (fun kv -> kv.Key, kv.Value.GetValue<float>()) |> Map.ofSeq
            Path.GetFileNameWithoutExtension f, (measurements, text "run.ensemble", text "result.step1.history"))
        |> Map.ofArray

let private leftovers (results: string) =
    filesUnder results |> List.filter (fun f -> f.EndsWith ".lock" || f.EndsWith ".tmp")

[<Tests>]
let tests =
    testSequenced
    <| testList "Sweeps/ensemble run" [
        testCase "MRL's 3 seeds train as one ensemble, each stored as itself; kill -9 mid-ensemble, rerun: the same results" <| fun () ->
            use dir = new TempDir()
            let embeddings = Smec.Tests.Catalog.CatalogTestSupport.writeSciFactSlice (Path.Combine(dir.Path, "slice")) 300 60 300 "all-MiniLM-L6-v2"
            let spec = writeSpec dir.Path
            let env = [ "SMEC_CACHE_DIR", Path.Combine(dir.Path, "cache") ]
            let args results policy = [ "sweep"; "run"; spec; "--results"; results; "--ensemble"; policy; "--embeddings"; embeddings ]
            let succeeded (r: Finished) = Expect.equal r.Code 0 (sprintf "exit 0\nstderr: %s\nstdout: %s" r.Err r.Out)
            // The points as one ensemble.
            let togetherDir = Path.Combine(dir.Path, "together")
            let run = runWith env 300 (args togetherDir "on")
            succeeded run
            // The plan the run wrote names each point's key (what a run alone stores it under).
            let planned = Directory.GetFiles(Path.Combine(togetherDir, "sweeps", "ens", "points"), "*.json") |> Array.map Path.GetFileNameWithoutExtension |> Array.sort |> List.ofArray
            Expect.equal planned.Length 3 "three points planned"
            Expect.stringContains run.Err "(ensemble of 3)" "the three seeds trained as one ensemble"
            let together = stored togetherDir
            Expect.equal (together |> Map.keys |> List.ofSeq) planned "each member stored under its own key: the policy is part of no key"
            for KeyValue(key, (_, ensemble, _)) in together do
                Expect.stringContains ensemble "one ensemble of 3 members (seeds 1, 2, 3)" (sprintf "%s records its ensemble" key)
                for other in planned do Expect.stringContains ensemble other (sprintf "%s names member %s" key other)
            // (At this budget every member may keep its PCA start, so their figures can be equal; their losses are not.)
            let histories = together |> Map.toList |> List.map (fun (_, (_, _, history)) -> history)
            Expect.equal (List.distinct histories).Length 3 (sprintf "each member trained on its own seed's batches (histories: %A)" histories)
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
            Expect.equal (resumed |> Map.map (fun _ (ms, _, _) -> ms)) (together |> Map.map (fun _ (ms, _, _) -> ms)) "the rerun stores the uninterrupted ensemble's figures"
            Expect.isEmpty (leftovers killedDir) "no lock or temporary file left"
    ]
