/// An experiment's identity: canonical JSON (sorted keys) hashed with SHA-256, stable across runs,
/// machines and option order, and changed by any field that changes the numbers.
module Smec.Tests.Catalog.ConfigHashTests

open System.Text.Json.Nodes
open Expecto
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Store
open Smec.Tests.TestSupport
open Smec.Tests.Catalog.CatalogTestSupport

let private smec = { scifactConfig "smec" true [ 24; 48; 96; 192; 384 ] with Options = Map.ofList [ "ads", "false"; "sxbm", "true" ] }

[<Tests>]
let tests =
    testList "Catalog.Hash" [
        testCase "canonical JSON sorts keys and drops whitespace" <| fun () ->
            let node = JsonObject(dict [ "b", JsonValue.Create 1 :> JsonNode; "a", JsonArray(JsonValue.Create "x" :> JsonNode, JsonObject(dict [ "z", JsonValue.Create 0.001 :> JsonNode; "y", null ])) ])
            Expect.equal (ConfigHash.canonical node) """{"a":["x",{"y":null,"z":0.001}],"b":1}""" "sorted, compact, shortest round-trip numbers"

        testCase "the hash of a fixed config is pinned (a change here invalidates every cached result)" <| fun () ->
            // If this fails after an intended change of the config's meaning, bump ConfigHash.Schema too.
            Expect.equal (ConfigHash.hash smec) "9433d7964fa3d17d463e4e16ce3b4bb439453cd9382aa913596dd3117849567b" (ConfigHash.canonical (ConfigHash.toJson smec))

        testCase "option order does not matter; every field that changes numbers changes the hash" <| fun () ->
            let reordered = { smec with Options = Map.ofList [ "sxbm", "true"; "ads", "false" ] }
            Expect.equal (ConfigHash.hash reordered) (ConfigHash.hash smec) "same options, other order"
            let variants =
                [ { smec with Seed = 2L }
                  { smec with Dims = [ 24; 48 ] }
                  { smec with Options = smec.Options.Add("smrl", "false") }
                  { smec with Budget = Some { smec.Budget.Value with MaxSteps = 1499 } }
                  { smec with Dataset = "cranfield" }
                  { smec with Encoder = "arctic-embed-xs" }
                  { smec with Split = GivenTrainTest 99 }
                  { smec with Source = Manifest "abc" }
                  { smec with Method = "mrl" } ]
            let hashes = (smec :: variants) |> List.map ConfigHash.hash
            Expect.equal (List.distinct hashes).Length hashes.Length "all distinct"

        testCase "a stored result's key adds the implementation: another implementation of a method never reuses it" <| fun () ->
            Expect.equal (ConfigHash.resultKey "" Map.empty smec) (ConfigHash.hash smec) "no implementation: the config's hash"
            Expect.notEqual (ConfigHash.resultKey "Smec.Core Pca/1" Map.empty smec) (ConfigHash.hash smec) "an implementation changes the key"
            Expect.notEqual (ConfigHash.resultKey "Smec.Core Pca/2" Map.empty smec) (ConfigHash.resultKey "Smec.Core Pca/1" Map.empty smec) "so does its version"

        testCase "a cell's hash does not depend on the seed, so a blessing survives SEEDS=3" <| fun () ->
            let q seed = Difference(Measure({ smec with Seed = seed }, "ndcg@10@24"), Constant 0.5)
            Expect.equal (ConfigHash.quantityHash (q 1L)) (ConfigHash.quantityHash (q 7L)) "seed-independent"
            Expect.notEqual (ConfigHash.quantityHash (q 1L)) (ConfigHash.quantityHash (Difference(Constant 0.5, Measure(smec, "ndcg@10@24")))) "order matters"

        // Pinned after the protocol of issue 26 (function class, selection at every dim, tuning grids,
        // k-fold below 200 labelled queries), which changed every trained key on purpose; the earlier
        // protocol's results stay in a cache under their old keys. Any later change that moves a key
        // fails here, so a cached result is never orphaned by accident. As planned with 3 seeds; a
        // digest per item: the first 16 hex digits of the SHA-256 over the sorted keys, one per line.
        testCase "the result keys of items 2-9 (local profile) are pinned" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path Smec.Experiments.Methods.MethodRegistry.standard None
            let context = { Seeds = Smec.Experiments.Catalog.Profiles.defaultSeeds 3; Manifest = None }
            let digest item =
                let keys = Runner.plan env (Smec.Experiments.Catalog.Catalog.build item Local context) |> List.map (fun p -> p.Hash) |> List.sort
                keys.Length, (ConfigHash.sha256Hex (String.concat "\n" keys)).Substring(0, 16)
            let expected =
                [ 2, (154, "a5dfc7118269ebf1"); 3, (154, "8b0b050691c5e0e0"); 4, (22, "724e9b096b1dfa64"); 5, (20, "fbf0f5d5b779a13a")
                  6, (15, "509ed5bd653cf22d"); 7, (8, "7fd41d7fc6dd412f"); 8, (3, "3e059666a06bfbc0"); 9, (5, "37b7724ae7c38aab") ]
            // All items at once, so a deliberate re-pin reads every new value from one failure.
            Expect.equal [ for item, _ in expected -> item, digest item ] expected "per item: (experiments, digest of their keys)"
    ]
