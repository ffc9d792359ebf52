/// The paper profile: without embeddings every cell is SKIPPED beside its published value, naming
/// the manifest to provide; with a user's manifest (here a slice of the mirror's real SciFact
/// embeddings standing in for LLM2Vec-7B) the same path runs end to end.
module Smec.Tests.Catalog.PaperProfileTests

open System.IO
open Expecto
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Verdicts.Checks
open Smec.Experiments.Running.Runner
open Smec.Experiments.Reports
open Smec.Experiments.Methods
open Smec.Tests.TestSupport
open Smec.Tests.Catalog.CatalogTestSupport

let private paperKeys = [ "pca"; "search-adaptor"; "matryoshka-adaptor"; "smec" ]

[<Tests>]
let tests =
    testSequenced <| testList "Catalog.PaperProfile" [
        testCase "item 2 paper without a manifest: every cell SKIPPED with the published value and the manifest to provide" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path MethodRegistry.standard None
            let spec = Catalog.build 2 Paper { Seeds = [ 1L ]; Manifest = None }
            let result = TableRun.reproduce env (published ()) defaultOptions spec
            Expect.isEmpty result.Planned "nothing to run"
            let checks = result.Cells |> List.collect (fun c -> c.Checks)
            Expect.equal checks.Length 26 "one published check per published value of item 2"
            Expect.isTrue (checks |> List.forall (fun k -> k.Status = Skipped && k.Expected.IsSome)) "all SKIPPED, each with its expected value"

        testCase "the paper profile's markdown shows SKIPPED beside the paper's numbers and names the manifest" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path MethodRegistry.standard None
            let result = TableRun.reproduce env (published ()) defaultOptions (Catalog.build 2 Paper { Seeds = [ 1L ]; Manifest = None })
            let md = Markdown.render result
            Expect.stringContains md "| SMEC | SKIPPED (paper 56.0) | SKIPPED (paper 59.2) |" "ours beside the paper's"
            Expect.stringContains md "needs LLM2Vec-7B embeddings of BEIR datasets: pass an embeddings manifest with --embeddings FILE" "what to provide"

        testCase "item 2 paper with a small user manifest (a real SciFact slice standing for LLM2Vec-7B) runs end to end" <| fun () ->
            use dir = new TempDir()
            let manifestPath = writeSciFactSlice (Path.Combine(dir.Path, "slice")) 160 60 400 Profiles.llm2vec7B
            let manifest = EmbeddingsManifest.load manifestPath
            let env, _ = environment dir.Path (registry [ for k in paperKeys -> k, prefixFactory ]) (Some manifest)
            let spec = Catalog.build 2 Paper { Seeds = [ 1L ]; Manifest = Some manifest }
            Expect.contains spec.Panels "scifact-slice (all-MiniLM-L6-v2)" "a panel per manifest dataset"
            let result = TableRun.reproduce env (published ()) defaultOptions spec
            // 160 train queries, below SplitRules.kFoldBelow: 5-fold cross-validation, one experiment per fold.
            Expect.equal result.Planned.Length 20 "four methods on the one dataset, 5 folds each"
            Expect.isTrue (result.Outcomes |> Map.forall (fun _ o -> match o with Finished _ -> true | _ -> false)) "all ran"
            let cell row column = result.Cells |> List.find (fun c -> c.Cell.Panel = "BEIR mean" && c.Cell.Row = row && c.Cell.Column = column)
            // 128 and 256 fit in the slice's 384 dims: judged against the paper; 512 and up cannot be scored.
            for column in [ "128"; "256" ] do
                let published = (cell "SMEC" column).Checks.Head
                Expect.equal published.Kind PublishedCheck "published check"
                Expect.isSome published.Actual (sprintf "SMEC @%s has a value" column)
                Expect.notEqual published.Status Skipped (sprintf "SMEC @%s judged" column)
            let beyond = (cell "SMEC" "512").Checks.Head
            Expect.equal beyond.Status Skipped "512 > 384 dims"
            Expect.stringContains beyond.Note "exceed the input's 384 dims" "says why"
            let lead = result.Cells |> List.find (fun c -> c.Cell.Panel = "abstract" && c.Cell.Row = "SMEC - Matryoshka-Adaptor")
            Expect.equal lead.Checks.Head.Actual (Some 0.0) "identical test compressors: no lead"
            Expect.floatClose Accuracy.veryHigh lead.Checks.Head.Expected.Value 0.011 "the abstract's +1.1"
            let folder = ReportWriter.write env.ResultsDir result
            Expect.isTrue (File.Exists(Path.Combine(folder, "report.html"))) "report written"
            Expect.stringContains (File.ReadAllText(Path.Combine(folder, "report.md"))) manifestPath "the report names the manifest"
    ]
