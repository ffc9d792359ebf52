/// Query splits fixed by hash (independent of the training seed), the split rule as a dataset
/// manifest field with its documented default, and the embeddings manifest.
module Smec.Tests.Catalog.SplitsAndManifestTests

open System.IO
open Expecto
open Smec.Core.Data
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.EmbeddingsManifest
open Smec.Experiments.Running
open Smec.Tests.TestSupport
open Smec.Tests.Catalog.CatalogTestSupport

let private scifactQrels split = SciFact.qrels split

[<Tests>]
let tests =
    testList "Catalog.SplitsAndManifest" [
        testCase "SciFact: 100 of the 809 train queries held out, the 300 test queries untouched, same split every time" <| fun () ->
            let train, test = scifactQrels "train", scifactQrels "test"
            let split = Splits.split (GivenTrainTest 100) (Some train) test
            Expect.equal (split.Train.Length, split.Validation.Length, split.Test.Length) (709, 100, 300) "sizes"
            Expect.isEmpty (Set.intersect (set split.Train) (set split.Validation)) "disjoint"
            Expect.isEmpty (Set.intersect (set split.Test) (set (split.Train @ split.Validation))) "test never reaches training"
            Expect.equal (Splits.split (GivenTrainTest 100) (Some train) test) split "deterministic"

        testCase "without a train split the judged queries are halved, then a fifth of the train half (at least the minimum) validates" <| fun () ->
            let test = scifactQrels "test"
            let split = Splits.split (QueryHalves 12) None test
            Expect.equal (split.Train.Length + split.Validation.Length, split.Test.Length) (150, 150) "halves of 300"
            Expect.equal split.Validation.Length 30 "a fifth of 150"
            Expect.equal (Splits.split (QueryHalves 40) None test).Validation.Length 40 "the minimum when a fifth is fewer"
            // CACM's 52 judged queries: 26 in the train half, 12 of them validate (a fifth would be 6).
            Expect.equal (Splits.halvesValidationSize Smec.Experiments.Catalog.SplitRules.minHalvesValidation 26) 12 "CACM"
            Expect.equal (Splits.halvesValidationSize Smec.Experiments.Catalog.SplitRules.minHalvesValidation 112) 23 "Cranfield"
            Expect.isEmpty (Set.intersect (set split.Test) (set (split.Train @ split.Validation))) "disjoint"

        testCase "a manifest in YAML and the same in JSON read alike; stands_for defaults to the encoder" <| fun () ->
            use dir = new TempDir()
            for f in [ "c.npy"; "c.ids"; "q.npy"; "q.ids"; "test.tsv" ] do File.WriteAllText(Path.Combine(dir.Path, f), "x")
            let yaml = Path.Combine(dir.Path, "m.yaml")
            File.WriteAllText(yaml, "embeddings:\n  - encoder: LLM2Vec-7B\n    dataset: quora\n    corpus: c.npy\n    corpus_ids: c.ids\n    queries: q.npy\n    query_ids: q.ids\n    qrels_test: test.tsv\n")
            let json = Path.Combine(dir.Path, "m.json")
            File.WriteAllText(json, """{"embeddings": [{"encoder": "LLM2Vec-7B", "dataset": "quora", "corpus": "c.npy", "corpus_ids": "c.ids", "queries": "q.npy", "query_ids": "q.ids", "qrels_test": "test.tsv"}]}""")
            let a, b = load yaml, load json
            Expect.equal (a.Entries.Head.StandsFor, a.Entries.Head.DropSelfMatches) ("LLM2Vec-7B", true) "Quora drops self matches by default"
            Expect.equal { b.Entries.Head with Line = 0 } { a.Entries.Head with Line = 0 } "same entry"
            Expect.equal (a.For "LLM2Vec-7B").Length 1 "found by paper encoder"

        testCase "manifest errors name the file, the line and the field" <| fun () ->
            use dir = new TempDir()
            let path = Path.Combine(dir.Path, "m.yaml")
            File.WriteAllText(path, "embeddings:\n  - encoder: LLM2Vec-7B\n    dataset: scifact\n    corpus: missing.npy\n    corpus_ids: c.ids\n    queries: q.npy\n    query_ids: q.ids\n    qrels_test: t.tsv\n")
            let missingFile = errorMessage (fun () -> load path |> ignore)
            Expect.stringContains missingFile (path + ":4: field 'corpus': file") "file, line, field"
            File.WriteAllText(path, "embeddings:\n  - encoder: LLM2Vec-7B\n    corpus: c.npy\n")
            let missingField = errorMessage (fun () -> load path |> ignore)
            Expect.stringContains missingField (path + ":2: entry lacks the field 'dataset'") "names the field"
            File.WriteAllText(path, "embeddings:\n  - encoder: LLM2Vec-7B\n    datset: scifact\n")
            let typo = errorMessage (fun () -> load path |> ignore)
            Expect.stringContains typo "unknown field 'datset'" "catches typos"

        testCase "the built-in collections keep their split rules: SciFact's and the 5 folds of Cranfield and CACM from their manifests, the image sets by default" <| fun () ->
            let rule id = Smec.Experiments.Catalog.SplitRules.ofDatasetWithSource id
            Expect.equal (fst (rule "scifact")) (GivenTrainTest 100) "SciFact"
            Expect.equal (fst (rule "cranfield")) (KFold(5, 12, None)) "Cranfield"
            Expect.equal (fst (rule "cacm")) (KFold(5, 12, None)) "CACM"
            for id in [ "scifact"; "cranfield"; "cacm" ] do
                match snd (rule id) with
                | Smec.Experiments.Catalog.SplitRules.Declared file -> Expect.stringContains file (id + ".yaml") (id + ": the manifest states it")
                | Smec.Experiments.Catalog.SplitRules.Default -> failtestf "%s: expected the manifest's split field" id
            for id in [ "cifar10"; "fashion-mnist"; "flickr8k-1k" ] do
                Expect.equal (rule id) (GivenTrainTest 100, Smec.Experiments.Catalog.SplitRules.Default) (id + ": the default, as before")

        testCase "a collection without a rule gets the documented default; a wrong rule is an error naming the field" <| fun () ->
            use dir = new TempDir()
            let manifest (id: string) (extra: string) =
                let path = Path.Combine(dir.Path, id + ".yaml")
                File.WriteAllText(path,
                    sprintf "id: %s\ntitle: t\nkind: text-retrieval\nformat: beir\nmirrored: false\npath: %s\nfiles:\n  - { path: corpus.jsonl, role: corpus }\n  - { path: queries.jsonl, role: queries }\n  - { path: qrels/test.tsv, role: qrels, split: test }\n%ssource:\n  instructions: yours\nlicence: l\ncitation: c\n" id id extra)
                path
            let read path = Smec.Core.Data.Manifests.ManifestReader.ReadDataset path
            let ruleOf path = Smec.Experiments.Catalog.SplitRules.ofManifest (read path)
            Expect.equal (ruleOf (manifest "no-train" "")) (QueryHalves 12, Smec.Experiments.Catalog.SplitRules.Default) "no train judgements: query halves"
            Expect.equal (ruleOf (manifest "with-train" "  - { path: qrels/train.tsv, role: qrels, split: train }\n")) (GivenTrainTest 100, Smec.Experiments.Catalog.SplitRules.Default) "train judgements: 100 held out"
            Expect.equal (fst (ruleOf (manifest "stated" "split: { rule: query-halves, validation: 20 }\n"))) (QueryHalves 20) "a stated rule wins"
            let wrongRule = errorMessage (fun () -> read (manifest "wrong" "split: { rule: thirds, validation: 20 }\n") |> ignore)
            Expect.stringContains wrongRule "split.rule" "names the field"
            Expect.stringContains wrongRule "given-train-test" "and what it expects"
            let noTrain = errorMessage (fun () -> read (manifest "given" "split: { rule: given-train-test, validation: 20 }\n") |> ignore)
            Expect.stringContains noTrain "split: train" "given-train-test needs train judgements"
            let zero = errorMessage (fun () -> read (manifest "zero" "split: { rule: query-halves, validation: 0 }\n") |> ignore)
            Expect.stringContains zero "split.validation" "a positive count"
    ]
