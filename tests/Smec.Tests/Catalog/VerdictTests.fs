/// Verdicts as statistical statements: the paired bootstrap against naive oracles, claim statuses
/// on synthetic per-query scores, per-query scores stored with results, quick runs labelled and
/// refused by bless, "kept start" marks, the thread-count note, and bad input.
module Smec.Tests.Catalog.VerdictTests

open System
open System.IO
open System.Text.Json.Nodes
open Expecto
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Verdicts.Checks
open Smec.Experiments.Verdicts.Quantities
open Smec.Experiments.Running.Runner
open Smec.Experiments.Reports
open Smec.Experiments.Methods
open Smec.Experiments.Store
open Smec.Experiments.Verdicts
open Smec.Tests.TestSupport
open Smec.Tests.Catalog.CatalogTestSupport

/// Textbook percentile (R type 7) on a list, written out independently of Bootstrap.quantile.
let private naivePercentile (values: float list) (p: float) =
    let sorted = List.sort values |> Array.ofList
    let position = p * float (sorted.Length - 1)
    let i = int (Math.Floor position)
    if i >= sorted.Length - 1 then sorted.[sorted.Length - 1]
    else sorted.[i] * (1.0 - (position - float i)) + sorted.[i + 1] * (position - float i)

/// Naive paired bootstrap with the same random stream: for each resample, draw n query indices
/// (group by group), average the differences, then read the percentiles.
let private naiveInterval (seed: int) (resamples: int) (groups: float[] list) (weights: float list) =
    let random = Random(seed)
    let statistic (draws: int list list) =
        List.zip3 groups draws weights |> List.sumBy (fun (diffs, drawn, w) -> w * (drawn |> List.averageBy (fun i -> diffs.[i])))
    let values =
        [ for _ in 1 .. resamples ->
              statistic [ for diffs in groups -> [ for _ in 1 .. diffs.Length -> random.Next(diffs.Length) ] ] ]
    naivePercentile values 0.025, naivePercentile values 0.975

/// Every draw of n indices from n (n^n of them, each equally likely): the exact bootstrap distribution.
let rec private allDraws (n: int) (k: int) : int list list =
    if k = 0 then [ [] ] else [ for rest in allDraws n (k - 1) do for i in 0 .. n - 1 -> i :: rest ]

let private config (methodKey: string) (dataset: string) = { scifactConfig methodKey false [ 24 ] with Dataset = dataset }

/// A sample of synthetic per-query scores: per (config, dataset), one row of scores per seed for
/// query ids q0..q(n-1). Configs with a budget are trained experiments (their seeds resampled).
let sampleOfRuns (leaves: (ExperimentConfig * float[][]) list) : QuerySample =
    let keyOf (c: ExperimentConfig) = sprintf "%s|%s|%A|%A" c.Dataset c.Encoder c.Source c.Split
    let groups = leaves |> List.map (fun (c, runs) -> keyOf c, runs.[0].Length) |> List.distinct
    let trained = leaves |> List.filter (fun (c, _) -> c.Budget.IsSome) |> List.map (fun (c, runs) -> { c with Seed = 0L }, runs.Length) |> List.distinctBy fst
    { Groups = groups |> List.map (fun (key, n) -> key, Array.init n (sprintf "q%03d"))
      SeedCounts = trained |> List.map snd |> Array.ofList
      Leaves =
        leaves
        |> List.map (fun (c, runs) ->
            let c0 = { c with Seed = 0L }
            (c0, Builders.ndcgAt 24),
            { Group = groups |> List.findIndex (fun (k, _) -> k = keyOf c)
              Experiment = (if c.Budget.IsSome then trained |> List.findIndex (fun (t, _) -> t = c0) else -1)
              Scores = runs })
        |> Map.ofList }

let private sampleOf (leaves: (ExperimentConfig * float[]) list) : QuerySample =
    sampleOfRuns (leaves |> List.map (fun (c, scores) -> c, [| scores |]))

/// Evaluate a quantity from a sample's full data (every query once), as the table's value.
let private evaluateOn (sample: QuerySample) (q: Quantity) =
    match onDraws sample q with
    | Ok f -> match f Bootstrap.Observed with Ok v -> Value(seedValues [ v ]) | Error g -> Gap g
    | Error e -> Gap { Failed = false; Reason = e }

let private claimOf (a: Quantity) (relation: Relation) (b: Quantity) =
    Builders.claim "c" "SciFact" Display.fraction "A vs B" (Builders.chain ("A", a) [ relation, "B", b ])

let private measure c = Measure(c, Builders.ndcgAt 24)

[<Tests>]
let tests =
    testSequenced <| testList "Catalog.Verdicts" [
        testCase "bootstrap: the same draws as a naive implementation give the same interval" <| fun () ->
            let random = Random(7)
            let a = Array.init 40 (fun _ -> random.NextDouble())
            let b = a |> Array.map (fun x -> x - 0.05 + 0.2 * (random.NextDouble() - 0.5))
            let interval = Bootstrap.meanDifference 123 2000 a b
            let low, high = naiveInterval 123 2000 [ Array.map2 (-) a b ] [ 1.0 ]
            Expect.floatClose Accuracy.veryHigh interval.Low low "2.5th percentile"
            Expect.floatClose Accuracy.veryHigh interval.High high "97.5th percentile"
            Expect.floatClose Accuracy.veryHigh interval.Estimate (Array.average (Array.map2 (-) a b)) "estimate = mean difference"

        testCase "bootstrap: Monte Carlo percentiles approach the exact bootstrap distribution (all n^n draws)" <| fun () ->
            let diffs = [| 0.30; -0.10; 0.05; 0.20; 0.00 |]
            let exact = allDraws diffs.Length diffs.Length |> List.map (fun d -> d |> List.averageBy (fun i -> diffs.[i]))
            let interval = Bootstrap.meanDifference Bootstrap.DefaultSeed 20000 diffs (Array.zeroCreate diffs.Length)
            // 3125 equally likely means; 20,000 resamples put the percentiles within about 0.01 of the exact ones.
            Expect.floatClose { absolute = 0.012; relative = 0.0 } interval.Low (naivePercentile exact 0.025) "low"
            Expect.floatClose { absolute = 0.012; relative = 0.0 } interval.High (naivePercentile exact 0.975) "high"

        testCase "bootstrap: a mean over datasets resamples within each dataset and weights datasets equally" <| fun () ->
            let random = Random(3)
            let a1 = Array.init 30 (fun _ -> random.NextDouble())
            let a2 = Array.init 8 (fun _ -> random.NextDouble())
            let b1 = a1 |> Array.map (fun x -> x - 0.02)
            let b2 = a2 |> Array.map (fun x -> x - 0.30)
            let sample = sampleOf [ config "a" "d1", a1; config "b" "d1", b1; config "a" "d2", a2; config "b" "d2", b2 ]
            let meanOf m = Mean [ measure (config m "d1"); measure (config m "d2") ]
            let f = match onDraws sample (Difference(meanOf "a", meanOf "b")) with Ok f -> f | Error e -> failtest e
            let interval = Bootstrap.interval 5 3000 sample.Sizes (fun d -> match f (Bootstrap.Queries d) with Ok v -> v | Error _ -> nan)
            // The panel's mean weights each dataset 1/2: (0.02 + 0.30) / 2, not the query-pooled (30 x 0.02 + 8 x 0.30) / 38.
            Expect.floatClose Accuracy.high interval.Estimate 0.16 "per-dataset weighting"
            let low, high = naiveInterval 5 3000 [ Array.map2 (-) a1 b1; Array.map2 (-) a2 b2 ] [ 0.5; 0.5 ]
            Expect.floatClose Accuracy.high interval.Low low "low as the naive stratified bootstrap"
            Expect.floatClose Accuracy.high interval.High high "high as the naive stratified bootstrap"

        testCase "Holm: step-down rejections against a hand-worked example" <| fun () ->
            // Sorted p: 0.01 <= 0.05/4, 0.012 <= 0.05/3, 0.03 > 0.05/2: the first two only.
            Expect.equal (Bootstrap.holm 0.05 [ 0.03; 0.01; 0.5; 0.012 ]) [ false; true; false; true ] "rejected"

        testCase "claims on synthetic per-query scores: a clear win is OK, a clear loss FAIL, identical scores TIE" <| fun () ->
            let random = Random(11)
            let base' = Array.init 50 (fun _ -> random.NextDouble())
            let a, b = config "a" "scifact", config "b" "scifact"
            let judge (bScores: float[]) relation =
                let sample = sampleOf [ a, base'; b, bScores ]
                let result = claim (evaluateOn sample) (fun _ -> Result.Ok sample) (claimOf (measure a) relation (measure b))
                result.Status, result
            let win = base' |> Array.map (fun x -> x - 0.1 + 0.02 * (random.NextDouble() - 0.5))
            let status, result = judge win AtLeast
            Expect.equal status Pass "A clearly above B"
            Expect.stringContains result.Detail "95% CI [" "the interval is printed"
            Expect.isSome result.Links.Head.Interval "judged by an interval"
            Expect.isGreaterThan result.Links.Head.Interval.Value.Low 0.0 "interval above 0"
            Expect.equal (fst (judge (base' |> Array.map (fun x -> x + 0.1)) AtLeast)) Fail "A clearly below B"
            Expect.equal (fst (judge (Array.copy base') AtLeast)) Tie "identical scores: TIE"
            Expect.equal (fst (judge (Array.copy base') Greater)) Tie "identical scores: TIE for > too"
            Expect.equal (fst (judge (base' |> Array.map (fun x -> x + 0.1)) AtMost)) Pass "<= mirrored"
            let noisy = base' |> Array.map (fun x -> x + 0.3 * (random.NextDouble() - 0.5))
            Expect.equal (fst (judge noisy AtLeast)) Tie "differences that go both ways: TIE"

        testCase "a bound is judged on the interval of the quantity" <| fun () ->
            let a = config "a" "scifact"
            let sample = sampleOf [ a, Array.init 40 (fun i -> 0.5 + 0.001 * float (i % 5)) ]
            let bound c = Builders.claim "b" "SciFact" Display.fraction "A <= c" (Bound(Builders.term "A" (measure a), AtMost, c))
            let judge c = (claim (evaluateOn sample) (fun _ -> Result.Ok sample) (bound c)).Status
            Expect.equal (judge 0.6) Pass "well below the bound"
            Expect.equal (judge 0.4) Fail "well above"
            Expect.equal (judge 0.502) Tie "the bound inside the interval"

        testCase "per-query scores are stored with a retrieval result; a result stored without them is recomputed" <| fun () ->
            use dir = new TempDir()
            let env, progress = environment dir.Path (registry [ "test-prefix", prefixFactory ]) None
            let prefix = scifactConfig "test-prefix" false [ 24 ]
            let spec = reducedTable [ "prefix", prefix ] [ 24 ] [ 1L ] []
            let first = TableRun.reproduce env (published ()) defaultOptions spec
            let hash = Runner.keyOf env prefix
            match first.Outcomes.[hash] with
            | Finished(r, _) ->
                let scores = r.PerQuery.Value
                Expect.equal scores.QueryIds.Length 300 "SciFact's test queries"
                Expect.floatClose Accuracy.veryHigh (Array.average scores.Scores.["ndcg@10@24"]) r.Measurements.["ndcg@10@24"] "their mean is the measurement"
            | other -> failtestf "not finished: %A" other
            let path = ResultStore.pathOf env.ResultsDir hash
            let text = File.ReadAllText path
            Expect.isFalse (text.Contains "\n") "compact JSON"
            let stored = JsonNode.Parse(text).AsObject()
            // An entry of the older version: no per-query scores and no checksum either.
            stored.Remove "per_query" |> ignore
            stored.Remove "checksum" |> ignore
            File.WriteAllText(path, stored.ToJsonString())
            progress.Clear()
            let again = TableRun.reproduce env (published ()) defaultOptions spec
            match again.Outcomes.[hash] with
            | Finished(r, false) -> Expect.isSome r.PerQuery "recomputed, with per-query scores"
            | other -> failtestf "not recomputed: %A" other
            Expect.exists progress (fun l -> l.Contains "without per-query scores") "says why"

        testCase "a quick run (one seed) is labelled everywhere and bless refuses it" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path (registry [ "test-noisy", noisyFactory ]) None
            let noisy = scifactConfig "test-noisy" true [ 24 ]
            let result = TableRun.reproduce env (published ()) defaultOptions (reducedTable [ "noisy", noisy ] [ 24 ] [ 1L ] [])
            Expect.isTrue result.Quick "one seed of a trained cell"
            Expect.stringContains (CellText.title result) "QUICK (1 SEED)" "title"
            let folder = ReportWriter.write env.ResultsDir result
            Expect.stringContains (File.ReadAllText(Path.Combine(folder, "report.md"))) "quick (1 seed) run" "report.md"
            Expect.stringContains (File.ReadAllText(Path.Combine(folder, "report.html"))) "QUICK (1 SEED)" "report.html"
            Expect.stringContains (File.ReadAllLines(Path.Combine(folder, "cells.csv")).[1]) ",local,quick (1 seed),SciFact," "cells.csv"
            match TableRun.blessings result "2026-01-01" with
            | Error message -> Expect.stringContains message "quick run" "refused, saying why"
            | Ok _ -> failtest "a quick result was blessed"
            let full = TableRun.reproduce env (published ()) defaultOptions (reducedTable [ "noisy", noisy ] [ 24 ] (Profiles.defaultSeeds Profiles.defaultSeedCount) [])
            Expect.isFalse full.Quick "the default seeds (5)"
            match TableRun.blessings full "2026-01-01" with
            | Ok [ b ] -> Expect.equal b.PerSeed.Length Profiles.defaultSeedCount "per-seed values are blessed"
            | other -> failtestf "expected one blessing, got %A" other

        testCase "kept start: one rule for every method - the model behind the value is its untrained start" <| fun () ->
            let smec step1 step2 =
                Map.ofList
                    [ "result.step1", sprintf "384->96->[96] val_ndcg10=0.7000 best_step=%d steps=400 seconds=3.0" step1
                      "result.step2", sprintf "96->48->[48,24] val_ndcg10=0.6000 best_step=%d steps=400 seconds=3.0" step2 ]
            Expect.isFalse (KeptStart.kept (smec 150 0) (Some 96)) "step 1 trained"
            // Step 2 kept its PCA start of step 1's trained output: the model at 48 is trained.
            Expect.isFalse (KeptStart.kept (smec 150 0) (Some 48)) "a trained chain with an untouched last step is trained"
            Expect.isTrue (KeptStart.kept (smec 0 0) (Some 48)) "every step of the chain kept its start"
            Expect.isTrue (KeptStart.kept (smec 0 0) (Some 24)) "a selected dim of the last step too"
            Expect.isTrue (KeptStart.kept (smec 0 300) (Some 96)) "the chain to 96 is step 1 alone"
            let sa = Map.ofList [ "grid @24", "(alpha 0.1, beta 0.01): 0.5000 (step 0)"; "grid @48", "(alpha 0.1, beta 0.01): 0.6000 (step 50)" ]
            Expect.isTrue (KeptStart.kept sa (Some 24)) "Search-Adaptor at 24"
            Expect.isFalse (KeptStart.kept sa (Some 48)) "Search-Adaptor at 48"
            // The selected grid point decides, not every point.
            let grid = Map.ofList [ "grid @24", "(alpha 0.1, beta 0.01): 0.5000 (step 0); (alpha 1, beta 0.1): 0.5500 (step 40); (alpha 2, beta 1): 0.5500 (step 0)" ]
            Expect.isFalse (KeptStart.kept grid (Some 24)) "the best point (first of equals) trained"
            let keptBest = Map.ofList [ "grid @24", "(alpha 0.1, beta 0.01): 0.6000 (step 0); (alpha 1, beta 0.1): 0.5500 (step 40)" ]
            Expect.isTrue (KeptStart.kept keptBest (Some 24)) "the best point kept its start although another trained"
            let ma step = Map.ofList [ "unsupervised stage", sprintf "best validation nDCG@10 (mean over dims) 0.5 at step %d of 100" step; "supervised stage", "best validation nDCG@10 (mean over dims) 0.5 at step 0 of 100" ]
            Expect.isTrue (KeptStart.kept (ma 0) (Some 24)) "every stage kept its start"
            Expect.isFalse (KeptStart.kept (ma 50) (Some 24)) "the unsupervised stage moved"

        testCase "kept start: a real training whose validation never improves is marked in the table" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path MethodRegistry.standard None
            // A learning rate of 1e-12 leaves the weights (and every ranking) as they started.
            let frozen = { Profiles.localBudget with MaxSteps = 10; ValidateEvery = 5; Patience = 1; LearningRate = 1e-12 }
            let sa = { scifactConfig "search-adaptor" true [ 24 ] with Budget = Some frozen }
            let ma = { scifactConfig "matryoshka-adaptor" true [ 24 ] with Budget = Some frozen }
            let smec = { scifactConfig "smec" true [ 24 ] with Budget = Some frozen }
            let result = TableRun.reproduce env (published ()) defaultOptions (reducedTable [ "SA", sa; "MA", ma; "SMEC", smec ] [ 24 ] [ 1L ] [])
            // Each method reports its best step in its own words (KeptStart reads them all).
            for row in [ "SA"; "MA"; "SMEC" ] do
                let cell = result.Cells |> List.find (fun c -> c.Cell.Row = row)
                Expect.equal cell.KeptStart [ 1L ] (sprintf "%s kept its start at seed 1" row)
                Expect.stringContains (CellText.tableCell result cell) "[kept start]" (sprintf "%s marked in the table" row)

        testCase "the report counts the comparisons tested together (shared ones once) and applies Holm" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path (registry [ "test-prefix", prefixFactory ]) None
            let prefix = scifactConfig "test-prefix" false [ 24; 48; 384 ]
            let on a b = Measure(prefix, Builders.ndcgAt a), Measure(prefix, Builders.ndcgAt b)
            let claimOf id (a, b) = Builders.claim id "SciFact" Display.fraction "more dims help" (Builders.chain ("more", a) [ Greater, "fewer", b ])
            let claims = [ claimOf "x" (on 384 24); claimOf "x again" (on 384 24); claimOf "y" (on 48 24) ]
            let result = TableRun.reproduce env (published ()) defaultOptions (reducedTable [ "prefix", prefix ] [ 24; 48; 384 ] [ 1L ] claims)
            let note = (TableRun.comparisonsNote result).Value
            Expect.stringStarts note "2 comparisons are tested together" "the shared comparison counts once"
            Expect.stringContains note "Holm-adjusted intervals (family-wise 5%): 2 are decided" "both clear differences survive Holm"

        testCase "the report says when results mix thread counts" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path (registry [ "test-prefix", prefixFactory ]) None
            // With a budget, as trained experiments have: only their thread counts can reorder training's float sums.
            let configs = [ scifactConfig "test-prefix" true [ 24 ]; scifactConfig "test-prefix" true [ 24; 48 ] ]
            let result = TableRun.reproduce env (published ()) defaultOptions (reducedTable [ "a", configs.[0]; "b", configs.[1] ] [ 24 ] [ 1L ] [])
            Expect.isNone (TableRun.threadNote result) "one thread count"
            let key = Runner.keyOf env configs.[1]
            let mixed =
                match result.Outcomes.[key] with
                | Finished(r, c) -> { result with Outcomes = result.Outcomes.Add(key, Finished({ r with TorchThreads = r.TorchThreads + 1 }, c)) }
                | other -> failtestf "not finished: %A" other
            Expect.stringContains (TableRun.threadNote mixed).Value "mix torch thread counts" "noted"
            Expect.stringContains (Markdown.render mixed) "mix torch thread counts" "in report.md"

        testCase "bad input: a blessed file without a column is an error naming it, and bless leaves the file as it was" <| fun () ->
            use dir = new TempDir()
            let path = Path.Combine(dir.Path, "item-2-local.csv")
            let text = "panel,row,column,value,sd,seeds,cell_hash,blessed_on\nSciFact,SMEC,24,0.6,0,1,h,2026-01-01\n"
            File.WriteAllText(path, text)
            let message = errorMessage (fun () -> Blessed.load path |> ignore)
            Expect.stringContains message path "names the file"
            Expect.stringContains message "per_seed" "names the missing column"
            let message = errorMessage (fun () -> Blessed.save path [] )
            Expect.stringContains message "per_seed" "saving over it reads it first"
            Expect.equal (File.ReadAllText path) text "nothing lost"
            File.WriteAllText(path, "panel,row,column,value,sd,per_seed,seeds,cell_hash,blessed_on\nSciFact,SMEC,24,0.6,0,0.6,1;2,h,2026-01-01\n")
            Expect.stringContains (errorMessage (fun () -> Blessed.load path |> ignore)) ":2: field 'per_seed' has 1 value(s) for 2 seed(s)" "per-seed values must match the seeds"

        testCase "bad input: a seed count of 0, or --quick with --seeds 3, is an error" <| fun () ->
            Expect.stringContains (errorMessage (fun () -> Profiles.defaultSeeds 0 |> ignore)) "at least 1, got 0" "seeds 0"
            Expect.stringContains (errorMessage (fun () -> Smec.Experiments.Cli.CatalogSession.seedCount (Some 3) true |> ignore)) "either --quick" "conflict"
            Expect.equal (Smec.Experiments.Cli.CatalogSession.seedCount None true) (Some 1) "quick = one seed"
            Expect.equal (Smec.Experiments.Cli.CatalogSession.seedCount None false) None "default (3)"

        testCase "bad input: a claim naming a row its panel lacks is an error before anything runs" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path (registry [ "test-prefix", prefixFactory ]) None
            let prefix = scifactConfig "test-prefix" false [ 24 ]
            let bad = Builders.claim "typo" "SciFact" Display.fraction "SMEC >= prefix" (Builders.chain ("SMEC", measure prefix) [ AtLeast, "prefix", measure prefix ])
            let message = errorMessage (fun () -> TableRun.reproduce env (published ()) defaultOptions (reducedTable [ "prefix", prefix ] [ 24 ] [ 1L ] [ bad ]) |> ignore)
            Expect.stringContains message "claim 'typo' names row 'SMEC', which panel 'SciFact' lacks" "names the claim and the row"
            Expect.isFalse (Directory.Exists(ResultStore.cacheFolder env.ResultsDir)) "nothing ran"

        testCase "every catalog item's claims name rows of their panels (both profiles, with and without a manifest)" <| fun () ->
            for item in Catalog.items do
                for profile in [ Local; Paper ] do
                    TableRun.validateClaims (item.Build profile { Seeds = Profiles.defaultSeeds Profiles.defaultSeedCount; Manifest = None })
    ]
