/// The runner end to end on real data with test-only compressors: results cached by hash and
/// reused, --force recomputes, a dry run computes nothing, an interrupted run resumes, seeds give
/// mean and spread, every result records its config, versions and checksums.
module Smec.Tests.Catalog.RunnerTests

open System.IO
open System.Text.Json.Nodes
open Expecto
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Verdicts.Quantities
open Smec.Experiments.Running.Runner
open Smec.Experiments.Methods
open Smec.Experiments.Store
open Smec.Experiments.Verdicts
open Smec.Tests.TestSupport
open Smec.Tests.Catalog.CatalogTestSupport

let private dims = [ 24; 96; 384 ]
let private prefixConfig = scifactConfig "test-prefix" false dims
let private noisyConfig = scifactConfig "test-noisy" true dims

let private valueOf (result: TableRun.TableResult) row column =
    match (result.Cells |> List.find (fun c -> c.Cell.Row = row && c.Cell.Column = column)).Value with
    | Value v -> v
    | Gap g -> failtestf "%s @%s has no value: %s" row column g.Reason

let private cachedCount (outcomes: Map<string, Outcome>) =
    outcomes |> Map.filter (fun _ o -> match o with Finished(_, true) -> true | _ -> false) |> Map.count

[<Tests>]
let tests =
    testSequenced <| testList "Catalog.Runner" [
        testCase "prefix truncation through the runner reproduces docs/METHOD.md's SciFact figures; the second run is all cache" <| fun () ->
            use dir = new TempDir()
            let env, progress = environment dir.Path (registry [ "test-prefix", prefixFactory ]) None
            let spec = reducedTable [ "prefix", prefixConfig ] dims [ 1L ] []
            let first = TableRun.reproduce env (published ()) defaultOptions spec
            // The reference figures (cosine on the renormalised prefix, test split).
            for figure in ReferenceFigures.ndcg10 (ReferenceFigures.load ()) "scifact" "all-MiniLM-L6-v2" "truncation" do
                if List.contains figure.Dims dims then
                    let got = (valueOf first "prefix" (string figure.Dims)).Mean
                    Expect.isTrue (figure.Agrees got) (sprintf "%d dims: %.5f vs reference %.4f" figure.Dims got figure.Value)
            Expect.equal (cachedCount first.Outcomes) 0 "first run computes"
            Expect.isTrue (progress |> Seq.exists (fun l -> l.Contains "done in")) "progress says when an experiment is done"
            progress.Clear()
            let second = TableRun.reproduce env (published ()) defaultOptions spec
            Expect.equal (cachedCount second.Outcomes) 1 "second run reuses the cache"
            Expect.isTrue (progress |> Seq.forall (fun l -> l.EndsWith "cached")) "and says so"
            Expect.equal (valueOf second "prefix" "96") (valueOf first "prefix" "96") "same numbers"
            let forced = TableRun.reproduce env (published ()) { defaultOptions with Force = true } spec
            Expect.equal (cachedCount forced.Outcomes) 0 "--force recomputes"

        testCase "a stored result holds the full config, seed, measurements, package versions and data checksums" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path (registry [ "test-prefix", prefixFactory ]) None
            TableRun.reproduce env (published ()) defaultOptions (reducedTable [ "prefix", prefixConfig ] dims [ 1L ] []) |> ignore
            let hash = Runner.keyOf env prefixConfig
            let stored = JsonNode.Parse(File.ReadAllText(ResultStore.pathOf env.ResultsDir hash)).AsObject()
            Expect.equal (stored.["hash"].GetValue<string>()) hash "named by its key"
            Expect.equal (stored.["config_hash"].GetValue<string>()) (ConfigHash.hash prefixConfig) "and its config's hash"
            Expect.equal (stored.["implementation"].GetValue<string>()) "test test-prefix" "which implementation computed it"
            Expect.equal (stored.["config"].["method"].GetValue<string>()) "test-prefix" "config"
            Expect.equal (stored.["config"].["dims"].AsArray().Count) 3 "dims"
            Expect.isTrue (stored.["measurements"].AsObject().ContainsKey "ndcg@10@384") "measurements"
            Expect.isTrue (stored.["package_versions"].AsObject().ContainsKey "TorchSharp") "package versions"
            let checksums = stored.["data_checksums"].AsObject()
            Expect.equal (checksums.["scifact/corpus.jsonl"].GetValue<string>()) "fdb9153e212996d9dc6a545b91296c9c1fb8bfe2962a065bdf5c4676685158b9" "the data's pinned SHA-256"
            Expect.equal (checksums.["embeddings corpus from"].GetValue<string>()) "mirror" "the mirror's precomputed embeddings were used"
            Expect.equal (stored.["settings"].["test-only"].GetValue<string>()) "prefix truncation" "the method's settings"

        testCase "an interrupted run keeps what finished and resumes; a dry run computes nothing" <| fun () ->
            use dir = new TempDir()
            let spec = reducedTable [ "prefix", prefixConfig; "noisy", noisyConfig ] dims [ 1L ] []
            let broken, _ = environment dir.Path (registry [ "test-prefix", prefixFactory; "test-noisy", failingFactory ]) None
            let interrupted = TableRun.reproduce broken (published ()) defaultOptions spec
            Expect.isTrue (File.Exists(ResultStore.pathOf broken.ResultsDir (Runner.keyOf broken prefixConfig))) "the finished experiment is on disk"
            Expect.isFalse (File.Exists(ResultStore.pathOf broken.ResultsDir (Runner.keyOf broken noisyConfig))) "the failed one is not"
            let failedCell = interrupted.Cells |> List.find (fun c -> c.Cell.Row = "noisy")
            Expect.equal failedCell.Status (Some Checks.Fail) "a failed experiment makes its cells FAIL"
            // The failing and the fixed compressor are one implementation at two moments (same tag).
            let fixedEnv, _ = environment dir.Path (registry [ "test-prefix", prefixFactory; "test-noisy", noisyFactory ]) None
            let dry = TableRun.reproduce fixedEnv (published ()) { defaultOptions with DryRun = true } spec
            Expect.equal (dry.Outcomes.[Runner.keyOf fixedEnv noisyConfig]) (NotRun "not run: dry run") "dry run"
            Expect.isFalse (File.Exists(ResultStore.pathOf fixedEnv.ResultsDir (Runner.keyOf fixedEnv noisyConfig))) "computed nothing"
            let resumed = TableRun.reproduce fixedEnv (published ()) defaultOptions spec
            Expect.equal (cachedCount resumed.Outcomes) 1 "the finished experiment is reused"
            Expect.equal (resumed.Outcomes.Count) 2 "both done"

        testCase "several seeds: one result per seed, mean and spread; seedless methods run once" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path (registry [ "test-prefix", prefixFactory; "test-noisy", noisyFactory ]) None
            let spec = reducedTable [ "prefix", prefixConfig; "noisy", noisyConfig ] [ 384 ] [ 1L; 2L; 3L ] []
            let result = TableRun.reproduce env (published ()) defaultOptions spec
            Expect.equal result.Planned.Length 4 "prefix once, noisy for 3 seeds"
            let noisy = valueOf result "noisy" "384"
            Expect.equal noisy.PerSeed.Length 3 "three seeds"
            Expect.isGreaterThan noisy.Sd 0.0 "seeds differ"
            Expect.floatClose Accuracy.veryHigh noisy.Sd (Quantities.sampleSd noisy.PerSeed) "sample SD over seeds"
            Expect.floatClose Accuracy.veryHigh noisy.Mean (List.average noisy.PerSeed) "mean"
            Expect.equal (valueOf result "prefix" "384").PerSeed.Length 1 "a method that learns nothing has one value"

        testCase "real baselines through the standard registry: PCA reproduces docs/METHOD.md; a trained adaptor runs on a tiny budget" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path MethodRegistry.standard None
            let pca = scifactConfig "pca" false [ 24; 48 ]
            let tinyBudget = { Profiles.localBudget with MaxSteps = 10; ValidateEvery = 5; Patience = 1 }
            let ma = { scifactConfig "matryoshka-adaptor" true [ 24; 48 ] with Budget = Some tinyBudget }
            let result = TableRun.reproduce env (published ()) defaultOptions (reducedTable [ "PCA", pca; "MA", ma ] [ 24; 48 ] [ 1L ] [])
            // The reference figures of PCA fitted on the corpus, centred.
            for figure in ReferenceFigures.ndcg10 (ReferenceFigures.load ()) "scifact" "all-MiniLM-L6-v2" "pca" do
                if figure.Dims <= 48 then
                    let got = (valueOf result "PCA" (string figure.Dims)).Mean
                    Expect.isTrue (figure.Agrees got) (sprintf "PCA %d dims: %.5f vs reference %.4f" figure.Dims got figure.Value)
            Expect.isGreaterThan (valueOf result "MA" "24").Mean 0.0 "the adaptor produced a score"
            match result.Outcomes.[Runner.keyOf env ma] with
            | Finished(stored, _) -> Expect.isNonEmpty stored.Settings "its settings are recorded"
            | other -> failtestf "MA did not finish: %A" other

        testCase "SMEC through the standard registry: the ladder follows the experiment's dims, settings are recorded" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path MethodRegistry.standard None
            let tinyBudget = { Profiles.localBudget with MaxSteps = 10; ValidateEvery = 5; Patience = 1 }
            let smec = { scifactConfig "smec" true [ 24; 48; 384 ] with Budget = Some tinyBudget; Options = Map.ofList [ "sxbm", "false" ] }
            let result = TableRun.reproduce env (published ()) defaultOptions (reducedTable [ "SMEC", smec ] [ 24; 48; 384 ] [ 1L ] [])
            for d in [ "24"; "48"; "384" ] do Expect.isGreaterThan (valueOf result "SMEC" d).Mean 0.0 (sprintf "a score at %s dims" d)
            match result.Outcomes.[Runner.keyOf env smec] with
            | Finished(stored, _) ->
                Expect.equal stored.Settings.["smec.ladder"] "384-48-24" "ladder: input dim, then the dims below it"
                Expect.equal stored.Settings.["smec.sxbm"] "False" "the ablation option reached SMEC"
                Expect.equal stored.Settings.["train.max_steps"] "10" "the budget reached the training loop"
            | other -> failtestf "SMEC did not finish: %A" other

        testCase "a method option the method does not know is an error naming it" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path MethodRegistry.standard None
            let bad = { scifactConfig "pca" false [ 24 ] with Options = Map.ofList [ "whiten", "true" ] }
            let result = TableRun.reproduce env (published ()) defaultOptions (reducedTable [ "PCA", bad ] [ 24 ] [ 1L ] [])
            match result.Outcomes.[Runner.keyOf env bad] with
            | Failed message -> Expect.stringContains message "method 'pca' has no option(s) whiten" "names the option"
            | other -> failtestf "expected a failure, got %A" other

        testCase "item 1 local end to end: every dataset's counts, as the loaders read them, match data-manifests" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path MethodRegistry.standard None
            let result = TableRun.reproduce env (published ()) defaultOptions (Catalog.build 1 Local { Seeds = [ 1L ]; Manifest = None })
            let statuses = result.Cells |> List.collect (fun c -> c.Checks |> List.map (fun k -> k.Status))
            Expect.isGreaterThanOrEqual statuses.Length 20 "six datasets and the mirror's embeddings"
            Expect.allEqual statuses Checks.Pass "every declared count matches"

        testCase "claims are judged on the run's numbers and reported FAIL with them" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path (registry [ "test-prefix", prefixFactory ]) None
            let claimOn a b =
                Builders.claim "more dims help" "SciFact" Display.fraction "24 dims >= 384 dims (false on real data)"
                    (Builders.chain ("24", Measure(prefixConfig, Builders.ndcgAt a)) [ AtLeast, "384", Measure(prefixConfig, Builders.ndcgAt b) ])
            let result = TableRun.reproduce env (published ()) defaultOptions (reducedTable [ "prefix", prefixConfig ] dims [ 1L ] [ claimOn 24 384; claimOn 384 24 ])
            Expect.equal (result.Claims |> List.map (fun c -> c.Status)) [ Checks.Fail; Checks.Pass ] "the false claim fails, the true one holds"
            Expect.stringStarts result.Claims.Head.Detail "24 0.276 >= 384 0.647 (diff -0.371, Holm CI [-0." "with the numbers and the Holm-adjusted interval"
            Expect.stringContains result.Claims.Head.Detail "unadjusted 95% CI [-0." "the unadjusted interval beside it"
            Expect.stringEnds result.Claims.Head.Detail ") FAIL" "and the link's status"
            let link = result.Claims.Head.Links.Head
            Expect.equal link.Interval.Value.Queries 300 "paired over SciFact's 300 test queries"

        testCase "a searched tuning grid is part of the result key: a changed grid is another experiment" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path MethodRegistry.standard None
            let smec = { scifactConfig "smec" true [ 24; 48 ] with Options = Map.ofList [ "tuning", "local-grid" ] }
            let entry = MethodRegistry.entry "smec"
            let changedGrid = { entry with TuningGrid = fun profile -> entry.TuningGrid profile |> List.take 2 }
            let env2, _ = environment dir.Path (MethodRegistry.standard.With changedGrid) None
            Expect.notEqual (Runner.keyOf env2 smec) (Runner.keyOf env smec) "the grid's points are in the key"
            let untuned = { smec with Options = Map.ofList [ "tuning", "default" ] }
            Expect.equal (Runner.keyOf env2 untuned) (Runner.keyOf env untuned) "a fit that searches no grid does not depend on it"
    ]
