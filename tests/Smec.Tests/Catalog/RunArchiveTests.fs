/// Shipped runs (Store.RunArchive): an item's cached experiments copied out to a folder and back
/// into another cache; nothing the cache holds is overwritten, a damaged or misnamed file is refused.
module Smec.Tests.Catalog.RunArchiveTests

open System
open System.IO
open Expecto
open Smec.Experiments.Store
open Smec.Tests.TestSupport

let private key (n: int) = String.replicate 8 (sprintf "%08x" n)

let private result (hash: string) (score: float) : ResultStore.ExperimentResult =
    { Hash = hash; ConfigHash = ""; Implementation = "test"; ConfigJson = """{"kind":"retrieval"}"""
      Measurements = Map.ofList [ "ndcg@10@24", score ]
      Settings = Map.empty; Notes = []; PackageVersions = Map.ofList [ "TorchSharp", "0.0" ]; DataChecksums = Map.empty
      TorchThreads = 1; StartedUtc = DateTime(2026, 12, 8, 0, 0, 0, DateTimeKind.Utc); Seconds = 1.5
      PerQuery = Some { QueryIds = [| "q1"; "q2" |]; Scores = Map.ofList [ "ndcg@10@24", [| score; score |] ] } }

let private score (resultsDir: string) (hash: string) =
    match ResultStore.tryLoad resultsDir hash with
    | Some(Ok r) -> r.Measurements["ndcg@10@24"]
    | other -> failtestf "%s: expected a readable cached result, got %A" hash other

[<Tests>]
let tests =
    testList "Catalog.RunArchive" [
        testCase "export ships the cached keys, import restores them byte for byte and never overwrites" <| fun () ->
            use here = new TempDir()
            use there = new TempDir()
            use shipped = new TempDir()
            ResultStore.save here.Path (result (key 1) 0.5)
            ResultStore.save here.Path (result (key 2) 0.6)
            let summary = RunArchive.export here.Path [ key 1; key 2; key 3 ] shipped.Path
            Expect.equal summary.Copied [ key 1; key 2 ] "the two cached keys are shipped"
            Expect.equal summary.NotCached [ key 3 ] "the uncached key is named, not invented"
            let index = File.ReadAllLines(Path.Combine(shipped.Path, "index.csv"))
            Expect.equal index.Length 3 "index.csv: a header and one row per shipped file"
            Expect.stringStarts index.[1] (key 1 + ",") "a row names its key"
            Expect.stringContains index.[1] "2026-12-08T00:00:00" "and when it was computed"
            let again = RunArchive.export here.Path [ key 1; key 2 ] shipped.Path
            Expect.equal again.AlreadyShipped [ key 1; key 2 ] "a second export copies nothing"
            // The other checkout computed key 2 itself (another value): its own result stays.
            ResultStore.save there.Path (result (key 2) 0.9)
            let outcomes = RunArchive.import there.Path shipped.Path |> Map.ofList
            Expect.equal outcomes[key 1] RunArchive.Imported "key 1 imported"
            Expect.equal outcomes[key 2] RunArchive.KeptLocal "key 2 kept as computed there"
            Expect.equal (score there.Path (key 1)) 0.5 "the imported result reads back"
            Expect.equal (score there.Path (key 2)) 0.9 "the local result is not overwritten"
            Expect.equal (File.ReadAllBytes(ResultStore.pathOf there.Path (key 1))) (File.ReadAllBytes(ResultStore.pathOf here.Path (key 1))) "byte for byte"
            let twice = RunArchive.import there.Path shipped.Path |> Map.ofList
            Expect.equal twice[key 1] RunArchive.AlreadyCached "importing twice changes nothing"
            // A result recomputed here differs from the shipped one: the shipped file is kept.
            ResultStore.save here.Path (result (key 1) 0.7)
            let changed = RunArchive.export here.Path [ key 1 ] shipped.Path
            Expect.equal changed.Differs [ key 1 ] "named as differing"
            match ResultStore.tryLoadFile (Path.Combine(shipped.Path, key 1 + ".json")) (key 1) with
            | Some(Ok r) -> Expect.equal r.Measurements["ndcg@10@24"] 0.5 "the shipped file still holds the first result"
            | other -> failtestf "shipped file unreadable: %A" other

        testCase "a damaged, misnamed or mislabelled shipped file is refused with its path; an unreadable cache entry is replaced" <| fun () ->
            use shipped = new TempDir()
            use cache = new TempDir()
            use source = new TempDir()
            ResultStore.save source.Path (result (key 4) 0.4)
            ResultStore.save source.Path (result (key 5) 0.5)
            let text = File.ReadAllText(ResultStore.pathOf source.Path (key 4))
            // Edited after it was stored: the checksum no longer matches.
            File.WriteAllText(Path.Combine(shipped.Path, key 4 + ".json"), text.Replace("0.4", "0.41"))
            // Stored under another key's name.
            File.WriteAllText(Path.Combine(shipped.Path, key 6 + ".json"), text)
            File.WriteAllText(Path.Combine(shipped.Path, "notes.json"), "{}")
            // A valid result whose checksum field was removed: readable, but its content cannot be verified.
            ResultStore.save source.Path (result (key 7) 0.7)
            let unchecked = Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(ResultStore.pathOf source.Path (key 7))).AsObject()
            unchecked.Remove "checksum" |> ignore
            File.WriteAllText(Path.Combine(shipped.Path, key 7 + ".json"), unchecked.ToJsonString())
            File.Copy(ResultStore.pathOf source.Path (key 5), Path.Combine(shipped.Path, key 5 + ".json"))
            Directory.CreateDirectory(ResultStore.cacheFolder cache.Path) |> ignore
            File.WriteAllText(ResultStore.pathOf cache.Path (key 5), "{ truncated")
            let outcomes = RunArchive.import cache.Path shipped.Path |> Map.ofList
            let reason name =
                match outcomes[name] with
                | RunArchive.Invalid r -> r
                | other -> failtestf "%s: expected refused, got %A" name other
            Expect.stringContains (reason (key 4)) "checksum" "the edited file: its checksum"
            Expect.stringContains (reason (key 4)) (key 4 + ".json") "names the file"
            Expect.stringContains (reason (key 6)) (sprintf "expected %s" (key 6)) "the misnamed file: the key it holds and the one expected"
            Expect.stringContains (reason "notes.json") "not a result key" "a file that is no result"
            Expect.stringContains (reason (key 7)) "no checksum" "a file without its checksum"
            Expect.isFalse (File.Exists(ResultStore.pathOf cache.Path (key 4))) "nothing refused reaches the cache"
            match outcomes[key 5] with
            | RunArchive.ReplacedUnreadable _ -> Expect.equal (score cache.Path (key 5)) 0.5 "the broken entry (which would be recomputed) now holds the shipped result"
            | other -> failtestf "key 5: expected ReplacedUnreadable, got %A" other
    ]
