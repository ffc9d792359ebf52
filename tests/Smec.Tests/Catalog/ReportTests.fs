/// Report files: Markdown with expected | actual | delta | status per cell, CSV and JSON of every
/// number with its config, an offline HTML page (plotly.js inlined), the blessing round trip.
module Smec.Tests.Catalog.ReportTests

open System.IO
open System.Text.Json.Nodes
open Expecto
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Running.Runner
open Smec.Experiments.Reports
open Smec.Experiments.Verdicts
open Smec.Tests.TestSupport
open Smec.Tests.Catalog.CatalogTestSupport

let private dims = [ 24; 384 ]
let private prefixConfig = scifactConfig "test-prefix" false dims

[<Tests>]
let tests =
    testSequenced <| testList "Catalog.Reports" [
        testCase "report.md, cells.csv, results.json and an offline report.html are written for a table" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path (registry [ "test-prefix", prefixFactory ]) None
            let result = TableRun.reproduce env (published ()) defaultOptions (reducedTable [ "prefix", prefixConfig ] dims [ 1L ] [])
            let folder = ReportWriter.write env.ResultsDir result
            Expect.equal folder (Path.Combine(env.ResultsDir, "item-2", "local")) "results/item-N/<profile>"
            let md = File.ReadAllText(Path.Combine(folder, "report.md"))
            Expect.stringContains md "| panel | row | column | check | expected | actual | delta | tolerance / band | status | note |" "checks table"
            Expect.stringContains md "## Rules" "the rules are stated"
            Expect.stringContains md "| prefix | 0.276 | 0.647 |" "the reproduced table, rows x dims"
            Expect.stringContains md "no blessed value yet" "an unblessed regression check says so"
            Expect.stringContains md "### BEIR mean" "the paper's values beside ours"
            let csvLines = File.ReadAllLines(Path.Combine(folder, "cells.csv"))
            Expect.equal csvLines.[0] "item,profile,run,panel,row,column,value,sd,seeds,per_seed,kept_start,check,expected,delta,tolerance,status,note,unit,cell_hash,experiments" "CSV header"
            Expect.equal csvLines.Length 3 "one line per check"
            Expect.stringStarts csvLines.[2] "2,local,,SciFact,prefix,384,0.647" "full precision value on the harness's scale"
            let json = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "results.json"))).AsObject()
            let experiment = json.["experiments"].AsArray().[0]
            Expect.equal (experiment.["config"].["method"].GetValue<string>()) "test-prefix" "every experiment with its config"
            Expect.isTrue (experiment.["result"].["package_versions"].AsObject().Count > 0) "and its stored result"
            Expect.equal (json.["cells"].AsArray().Count) 2 "every cell"
            let html = File.ReadAllText(Path.Combine(folder, "report.html"))
            Expect.isFalse (html.Contains "src=\"https://cdn") "no CDN script: offline"
            Expect.isGreaterThan html.Length 3_000_000 "plotly.js (~3.5 MB) is inlined"
            Expect.stringContains html "Plotly.newPlot" "charts"
            Expect.stringContains html "paper: SMEC" "the paper's curve beside ours"

        testCase "bless records the table's values; the regression check then passes, and fails when a value moves" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path (registry [ "test-prefix", prefixFactory ]) None
            let spec = reducedTable [ "prefix", prefixConfig ] dims [ 1L ] []
            let result = TableRun.reproduce env (published ()) defaultOptions spec
            let path = Blessed.pathOf env.PaperResultsDir 2 Local
            match TableRun.blessings result "2026-01-02" with
            | Ok values -> Blessed.save path values
            | Error e -> failtest e
            let blessed = Blessed.load path
            Expect.equal blessed.Length 2 "two cells"
            Expect.equal blessed.Head.BlessedOn "2026-01-02" "date"
            let again = TableRun.reproduce env (published ()) defaultOptions spec
            let statuses = again.Cells |> List.collect (fun c -> c.Checks |> List.map (fun k -> k.Kind, k.Status)) |> List.distinct
            Expect.equal statuses [ Checks.RegressionCheck, Checks.Pass ] "reproduces its blessing"
            // The blessed value 0.05 above ours: a regression (FAIL); 0.05 below: IMPROVED. Both fail the check and name the cell.
            for shift, status in [ 0.05, Checks.Fail; -0.05, Checks.Improved ] do
                Blessed.save path [ { blessed.Head with Value = blessed.Head.Value + shift } ]
                Expect.equal (Blessed.load path).Length 2 "re-blessing one cell keeps the other"
                let moved = TableRun.reproduce env (published ()) defaultOptions spec
                let changed = moved.Cells |> List.filter (fun c -> c.Status <> Some Checks.Pass)
                Expect.equal (changed |> List.map (fun c -> c.Cell.Row, c.Cell.Column, c.Status)) [ "prefix", "24", Some status ] (sprintf "blessed %+g" shift)
                let lines = Smec.Experiments.Cli.CheckCommand.failureLines 2 [] moved
                Expect.equal lines.Length 1 "one failure line"
                Expect.stringContains (snd lines.Head) "item 2 SciFact / prefix / 24: regression check" "names the cell"
            // Both cells blessed for another configuration: one reason below the tables, counting both cells.
            Blessed.save path (blessed |> List.mapi (fun i b -> { b with CellHash = sprintf "%064x" (i + 1) }))
            let rehashed = TableRun.reproduce env (published ()) defaultOptions spec
            let reasons = Smec.Experiments.Reports.CellText.reasons rehashed |> List.filter (fun (_, r, _) -> r.Contains "another configuration")
            Expect.equal (reasons |> List.map (fun (s, r, n) -> s, n)) [ "SKIPPED", 2 ] "one line for both cells, not one per cell hash"
            Expect.stringContains (let _, r, _ = reasons.Head in r) "re-bless with `smec bless --table 2`" "saying what to do"

        testCase "check: an item whose experiments are not all cached is INCOMPLETE (exit 2, naming the count and the command), a complete one is not, and a failure still exits 1" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path (registry [ "test-prefix", prefixFactory ]) None
            let spec = reducedTable [ "prefix", prefixConfig ] dims [ 1L; 2L ] []
            let dryRun = TableRun.reproduce env (published ()) { defaultOptions with Runner.DryRun = true } spec
            let shipped = Path.Combine(dir.Path, "shipped")
            match Smec.Experiments.Cli.CheckCommand.incompleteLine 2 " SEEDS=2" shipped dryRun with
            | Some line ->
                Expect.stringContains line "1 of 1 experiments are not in the cache" "counts what is missing (an untrained method: one experiment for every seed)"
                Expect.stringContains line "SKIPPED, not passed" "says a skipped check is no evidence"
                Expect.stringContains line "make reproduce TABLE=2 SEEDS=2" "the command that computes them, with the check's seeds"
                Expect.isFalse (line.Contains "smec runs import") "nothing shipped: no import hint"
            | None -> failtest "nothing cached: the item is incomplete"
            // The missing experiment is shipped with the repository: the line says so and how to import it.
            Directory.CreateDirectory shipped |> ignore
            File.WriteAllText(Path.Combine(shipped, dryRun.Planned.Head.Hash + ".json"), "{}")
            match Smec.Experiments.Cli.CheckCommand.incompleteLine 2 "" shipped dryRun with
            | Some line -> Expect.stringContains line (sprintf "1 of them are shipped in %s, which `smec runs import` copies" shipped) "the import hint"
            | None -> failtest "still incomplete"
            TableRun.reproduce env (published ()) defaultOptions spec |> ignore
            // As `smec check` reads the cache: a dry run, now with every experiment stored.
            let rechecked = TableRun.reproduce env (published ()) { defaultOptions with Runner.DryRun = true } spec
            Expect.isNone (Smec.Experiments.Cli.CheckCommand.incompleteLine 2 "" shipped rechecked) "every experiment cached: complete"
            Expect.equal (Smec.Experiments.Cli.CheckCommand.exitCode 0 1) 2 "incomplete, no failure: 2"
            Expect.equal (Smec.Experiments.Cli.CheckCommand.exitCode 1 1) 1 "a failure wins: 1"
            Expect.equal (Smec.Experiments.Cli.CheckCommand.exitCode 0 0) 0 "complete and no failure: 0"

        testCase "a claim blessed as a known FAIL is listed, not failed; it fails the check when it holds again, and an unblessed FAIL fails" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path (registry [ "test-prefix", prefixFactory ]) None
            let measure = Measure(prefixConfig, Builders.ndcgAt 24)
            // The prefix's nDCG@10 at 24 dims is far below 0.99 and far above 0.01: one claim FAILs, one holds.
            let fails = Builders.claim "fails" "SciFact" Display.fraction "prefix >= 0.99" (Bound(Builders.term "prefix" measure, AtLeast, 0.99))
            let holds = Builders.claim "holds" "SciFact" Display.fraction "prefix >= 0.01" (Bound(Builders.term "prefix" measure, AtLeast, 0.01))
            let result = TableRun.reproduce env (published ()) defaultOptions (reducedTable [ "prefix", prefixConfig ] dims [ 1L ] [ fails; holds ])
            Expect.equal (result.Claims |> List.map (fun c -> c.Claim.Id, c.Status)) [ "fails", Checks.Fail; "holds", Checks.Pass ] "one FAIL, one OK"
            let failures known = Smec.Experiments.Cli.CheckCommand.failureLines 2 known result |> List.filter (fun (_, l) -> l.Contains "claim")
            let knownOf id = { BlessedClaims.Panel = "SciFact"; BlessedClaims.Claim = id; BlessedClaims.Detail = ""; BlessedClaims.BlessedOn = "2026-01-02" }
            Expect.equal (failures [] |> List.map fst) [ "FAIL" ] "an unblessed FAIL fails the check"
            Expect.isEmpty (failures [ knownOf "fails" ]) "a blessed FAIL does not"
            Expect.equal (Smec.Experiments.Cli.CheckCommand.knownLines 2 [ knownOf "fails" ] result).Length 1 "it is listed as known"
            Expect.equal (failures [ knownOf "holds" ] |> List.map fst) [ "FAIL"; "CHANGED" ] "a blessed FAIL that holds now fails, as does the unblessed one"
            // Round trip through the file bless writes.
            let path = BlessedClaims.pathOf env.PaperResultsDir 2 Local
            BlessedClaims.save path [ knownOf "fails" ]
            Expect.equal (BlessedClaims.load path) [ knownOf "fails" ] "saved and loaded"
            File.WriteAllText(path, "panel,claim,detail,blessed_on\nSciFact,fails,,2026-01-02\n")
            Expect.throws (fun () -> BlessedClaims.load path |> ignore) "a file without its status column is an error"
    ]
