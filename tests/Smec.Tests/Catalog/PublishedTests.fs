/// paper-results/published.csv: every published value as data, with its source and precision.
module Smec.Tests.Catalog.PublishedTests

open System.IO
open Expecto
open Smec.Experiments.Catalog.Published
open Smec.Tests.TestSupport
open Smec.Tests.Catalog.CatalogTestSupport

let private key item panel row encoder metric x = { Item = item; Panel = panel; Row = row; Encoder = encoder; Metric = metric; X = x }

[<Tests>]
let tests =
    testList "Catalog.Published" [
        testCase "published.csv holds every value of docs/PAPER-RESULTS.md (148 values, items 2-9)" <| fun () ->
            let table = published ()
            let counts = table.Values |> List.countBy (fun v -> v.Key.Item) |> Map.ofList
            // Item 2: 4 methods x 6 dims + 2 abstract deltas; 3: 4 x 6; 4: 4 x 5; 5: panel a 3 x 5 + SMEC at 128,
            // panel b 4 x 5; 7: 6 + 6 + 5 + 5 labels + 2 lossless factors; 8: 12 gradient labels + 4 loss reads; 9: 2.
            Expect.equal counts (Map.ofList [ 2, 26; 3, 24; 4, 20; 5, 36; 7, 24; 8, 16; 9, 2 ]) "values per item"
        testCase "spot values, with their source and reading precision" <| fun () ->
            let table = published ()
            let find k = (table.TryFind k).Value
            let smec256 = find (key 2 "BEIR mean" "SMEC" "LLM2Vec-7B" "ndcg@10" 256)
            Expect.equal (smec256.Value, smec256.Source, smec256.Precision, smec256.Unit) (59.2, Read, 0.5, "percent") "item 2 SMEC @256 is read from the figure"
            Expect.floatClose Accuracy.veryHigh (scaled smec256) 0.592 "percent on the harness's scale"
            let lead = find (key 2 "abstract" "SMEC - Matryoshka-Adaptor" "LLM2Vec-7B" "ndcg@10 difference" 256)
            Expect.equal (lead.Value, lead.Source, lead.Precision) (1.1, Abstract, 0.0) "the abstract's +1.1 is exact"
            let quora = find (key 7 "Quora" "SMEC" "LLM2Vec-7B" "ndcg@10" 256)
            Expect.equal (quora.Value, quora.Source, quora.Precision, quora.Unit) (0.803, Label, 0.001, "fraction") "Figure 1 label: last printed digit"
            let variance = find (key 8 "gradients" "MRL" "toy-fc-192" "grad variance" 0)
            Expect.equal (variance.Value, variance.Precision) (5.32e-5, 1e-7) "a label's precision is one unit of its last printed digit"
            let share = find (key 9 "important dims kept" "ADS" "LLM2Vec-7B" "share of important dims kept" 256)
            Expect.equal (share.Value, share.Source) (83.6, Secondary) "secondary source"
        testCase "read values are precise to 0.5 points, abstract values exactly, labels to their last digit" <| fun () ->
            for v in (published ()).Values do
                match v.Source with
                | Read when v.Unit = "percent" -> Expect.equal v.Precision 0.5 (sprintf "line %d" v.Line)
                | Abstract -> Expect.equal v.Precision 0.0 (sprintf "line %d" v.Line)
                | Label | Secondary -> Expect.isGreaterThan v.Precision 0.0 (sprintf "line %d" v.Line)
                | Read -> ()
        testCase "a malformed value is reported with the file, the line and the field" <| fun () ->
            use dir = new TempDir()
            let path = Path.Combine(dir.Path, "published.csv")
            let lines = File.ReadAllLines(defaultPath repoRoot)
            lines.[3] <- lines.[3].Replace(",ndcg@10,46.5,", ",ndcg@10,forty,")
            File.WriteAllLines(path, lines)
            let error = errorMessage (fun () -> load path |> ignore)
            Expect.stringContains error (path + ":4: field 'value' is 'forty'; expected a finite number") "names file, line, field"
    ]
