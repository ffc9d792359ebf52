/// k-fold cross-validation for collections with few labelled queries (issue 26): the threshold that
/// picks it, fold assignment, what each fold trains, validates and tests on, the runner's one
/// experiment per fold, the cell's per-query rows merged from its folds, sweeps over a k-fold
/// collection, and the clear error when a collection has too few queries for its folds.
module Smec.Tests.Catalog.KFoldTests

open System
open System.Collections.Generic
open System.IO
open Expecto
open Smec.Core.Data
open Smec.Core.Storage
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Running.Runner
open Smec.Experiments.Store
open Smec.Experiments.Store.ResultStore
open Smec.Experiments.Sweeps
open Smec.Experiments.Verdicts
open Smec.Tests.TestSupport
open Smec.Tests.Catalog.CatalogTestSupport

/// Judgements of the given queries: each judges one document of its own as relevant.
let private qrelsOf (ids: string list) =
    let byQuery = Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal)
    for q in ids do byQuery[q] <- Dictionary<string, int>(dict [ "doc-" + q, 1 ], StringComparer.Ordinal)
    Qrels(byQuery)

let private queryIds (n: int) (prefix: string) = [ for i in 1 .. n -> sprintf "%s%03d" prefix i ]

/// CACM's shape: 52 judged queries, no train judgements, 5 folds, at least 12 validation queries.
let private cacmLike = queryIds 52 "q"
let private foldRule f = KFold(5, 12, Some f)

let private sorted (ids: string seq) = ids |> Seq.sortWith (fun a b -> String.CompareOrdinal(a, b)) |> List.ofSeq

[<Tests>]
let tests =
    testList "Catalog.KFold" [
        testCase "every judged query is tested by exactly one fold; the folds are the same whatever the id order" <| fun () ->
            let test = qrelsOf cacmLike
            let tested = [ for f in 0 .. 4 -> (Splits.split (foldRule f) None test).Test ]
            Expect.equal (sorted (List.concat tested)) (sorted cacmLike) "the folds' test queries are the judged queries, each once"
            let sizes = tested |> List.map List.length
            Expect.isLessThanOrEqual (List.max sizes - List.min sizes) 1 "fold sizes differ by at most one"
            Expect.equal (Splits.foldOf 5 (List.rev cacmLike)) (Splits.foldOf 5 cacmLike) "assignment depends on the ids alone"
            let again = [ for f in 0 .. 4 -> (Splits.split (foldRule f) None test).Test ]
            Expect.equal again tested "the same folds every time"

        testCase "a fold's training and inner validation never include its test queries; train and test judgements are pooled" <| fun () ->
            // 30 train-judged and 40 test-judged queries: k-fold over all 70.
            let train, test = queryIds 30 "t", queryIds 40 "s"
            for f in 0 .. 4 do
                let parts = Splits.split (foldRule f) (Some(qrelsOf train)) (qrelsOf test)
                let testSet, trainSet, validationSet = set parts.Test, set parts.Train, set parts.Validation
                Expect.isEmpty (Set.intersect testSet trainSet) (sprintf "fold %d: no test query trains" f)
                Expect.isEmpty (Set.intersect testSet validationSet) (sprintf "fold %d: no test query validates" f)
                Expect.isEmpty (Set.intersect trainSet validationSet) (sprintf "fold %d: validation held out of training" f)
                Expect.equal (sorted (parts.Train @ parts.Validation @ parts.Test)) (sorted (train @ test)) (sprintf "fold %d: every judged query in one part" f)
                let training = parts.Train.Length + parts.Validation.Length
                Expect.equal parts.Validation.Length (max 12 ((training + 4) / 5)) (sprintf "fold %d: a fifth of the training queries, at least 12, validate" f)
                let trainJudgements, testJudgements = Splits.judgementsOf (foldRule f) (Some(qrelsOf train)) (qrelsOf test)
                Expect.equal trainJudgements.QueryCount 70 "training judgements: both files"
                Expect.equal testJudgements.QueryCount 70 "test judgements: both files"

        testCase "every method and seed of a cell sees the same folds" <| fun () ->
            let corpus = EmbeddingMatrix([| for q in cacmLike -> "doc-" + q |], Array.create (2 * cacmLike.Length) 1.0f, 2)
            let queries = EmbeddingMatrix(Array.ofList cacmLike, Array.create (2 * cacmLike.Length) 1.0f, 2)
            let configs = [ for m in [ Profiles.pca; Profiles.mrl; Profiles.smec ] -> Builders.localRetrieval "cacm" Profiles.miniLM m [] ]
            let splits = configs |> List.map (fun c -> Splits.experimentsOf c |> List.map (fun f -> f.Split)) |> List.distinct
            Expect.equal splits.Length 1 "one list of fold rules for every method"
            for rule in splits.Head do
                let seen =
                    [ for seed in [ 1L; 2L; 3L ] ->
                          let data = Datasets.assemble "cacm-like" corpus queries None (qrelsOf cacmLike) rule seed false Map.empty
                          data.TestQueries.Ids |> List.ofSeq, data.Training.Validation.QueryIds |> sorted ]
                Expect.equal (List.distinct seen).Length 1 (sprintf "%A: the same test and validation queries at every seed" rule)

        testCase "the threshold: k-fold below 200 trainable queries, the fixed split at 200 and above" <| fun () ->
            Expect.equal SplitRules.kFoldBelow 200 "the stated threshold"
            Expect.equal (SplitRules.defaultRule false (Some 199)) (KFold(5, SplitRules.defaultKFoldValidation, None)) "199: k-fold"
            Expect.equal (SplitRules.defaultRule true (Some 199)) (KFold(5, SplitRules.defaultKFoldValidation, None)) "199 train queries: k-fold"
            Expect.equal (SplitRules.defaultRule false (Some 200)) (QueryHalves SplitRules.minHalvesValidation) "200: halves"
            Expect.equal (SplitRules.defaultRule true (Some 200)) (GivenTrainTest SplitRules.defaultValidation) "200 train queries: the given split"
            Expect.equal (SplitRules.defaultRule true None) (GivenTrainTest SplitRules.defaultValidation) "unknown count: the fixed split"
            // The catalog: counts its manifests declare (no split field) decide, half the judged queries without train judgements.
            let rule id = fst (SplitRules.ofDatasetWithSource id)
            Expect.equal (rule "trec-covid") (KFold(5, SplitRules.defaultKFoldValidation, None)) "TREC-COVID: 50 judged, 25 trainable"
            Expect.equal (rule "nfcorpus") (KFold(5, SplitRules.defaultKFoldValidation, None)) "NFCorpus: 323 judged, 161 trainable"
            Expect.equal (rule "dbpedia-entity") (QueryHalves SplitRules.minHalvesValidation) "DBPedia: 400 judged, 200 trainable: at the threshold, fixed"
            Expect.equal (rule "scifact") (GivenTrainTest 100) "SciFact: 809 train queries"
            // Cranfield and CACM state the rule their counts give.
            Expect.equal (rule "cranfield") (KFold(5, 12, None)) "Cranfield: stated"
            Expect.equal (rule "cacm") (KFold(5, 12, None)) "CACM: stated"

        testCase "a user's collection without counts is counted in its qrels: k-fold below the threshold" <| fun () ->
            use dir = new TempDir()
            let write (name: string) (judged: int) =
                let folder = Path.Combine(dir.Path, name)
                Directory.CreateDirectory(Path.Combine(folder, "qrels")) |> ignore
                File.WriteAllLines(Path.Combine(folder, "qrels", "test.tsv"), [ yield "query-id\tcorpus-id\tscore"; for q in queryIds judged "q" -> sprintf "%s\tdoc-%s\t1" q q ])
                File.WriteAllText(Path.Combine(folder, "corpus.jsonl"), "")
                File.WriteAllText(Path.Combine(folder, "queries.jsonl"), "")
                let manifest = Path.Combine(dir.Path, name + ".yaml")
                File.WriteAllText(manifest,
                    sprintf "id: %s\ntitle: t\nkind: text-retrieval\nformat: beir\nmirrored: false\npath: %s\nsystem_paths: [%s]\nfiles:\n  - { path: corpus.jsonl, role: corpus }\n  - { path: queries.jsonl, role: queries }\n  - { path: qrels/test.tsv, role: qrels, split: test }\nsource:\n  instructions: yours\nlicence: l\ncitation: c\n" name name folder)
                SplitRules.ofManifest (Smec.Core.Data.Manifests.ManifestReader.ReadDataset manifest)
            Expect.equal (write "small" 398) (KFold(5, SplitRules.defaultKFoldValidation, None), SplitRules.Default) "398 judged, 199 trainable: k-fold"
            Expect.equal (write "large" 400) (QueryHalves SplitRules.minHalvesValidation, SplitRules.Default) "400 judged, 200 trainable: halves"

        testCase "the runner plans one experiment per fold for every method and seed; data descriptions stay one" <| fun () ->
            let spec = Catalog.build 2 Local { Seeds = [ 1L; 2L ]; Manifest = None }
            let planned = Runner.plan (Environment.standard repoRoot None ignore) spec |> List.map (fun p -> p.Config)
            for dataset in [ "cacm"; "cranfield" ] do
                let mine = planned |> List.filter (fun c -> c.Dataset = dataset && c.Kind = Retrieval)
                for (m, seed), configs in mine |> List.groupBy (fun c -> c.Method, c.Seed) do
                    Expect.equal (configs |> List.map (fun c -> c.Split) |> List.sort) [ for f in 0 .. 4 -> foldRule f ] (sprintf "%s %s seed %d: folds 0..4" dataset m seed)
            let scifact = planned |> List.filter (fun c -> c.Dataset = "scifact" && c.Kind = Retrieval)
            Expect.isTrue (scifact |> List.forall (fun c -> c.Split = GivenTrainTest 100)) "SciFact keeps its fixed split"
            let folds = planned |> List.filter (fun c -> match c.Split with KFold _ -> true | _ -> false)
            Expect.equal (folds |> List.map (fun c -> ConfigHash.hash c) |> List.distinct).Length folds.Length "each fold its own key"

        testCase "a fold's point file gives back its config and key (what `smec run-experiment KEY` runs)" <| fun () ->
            use dir = new TempDir()
            let env = Environment.standard repoRoot None ignore
            for fold in Splits.experimentsOf (Builders.localRetrieval "cacm" Profiles.miniLM Profiles.smec []) do
                let point: SweepPlan.Point = { Config = fold; Key = Runner.keyOf env fold; Values = Map.empty; Setting = "s" }
                SweepFolder.writePoint dir.Path "folds" point
                let key, config = SweepFolder.readPoint (SweepFolder.pointFile dir.Path point.Key)
                Expect.equal config fold "the fold's config"
                Expect.equal (Runner.keyOf env config) key "the same key"

        testCase "a k-fold cell's per-query rows hold every judged query once per seed, each from the fold that tested it" <| fun () ->
            let cell = Builders.localRetrieval "cacm" Profiles.miniLM Profiles.smec []
            let seeds = [ 1L; 2L; 3L ]
            let score (seed: int64) (q: string) = float (abs (q.GetHashCode() % 97)) / 100.0 + float seed / 1000.0
            let test = qrelsOf cacmLike
            let outcomes =
                [ for seed in seeds do
                      for fold in Splits.experimentsOf cell do
                          let config = ExperimentConfig.withSeed seed fold
                          let ids = (Splits.split config.Split None test).Test |> Array.ofList
                          let scores = ids |> Array.map (score seed)
                          let result =
                              { Hash = ConfigHash.hash config; ConfigHash = ConfigHash.hash config; Implementation = "test"; ConfigJson = ""
                                Measurements = Map.ofList [ "ndcg@10@24", Array.average scores; "val-ndcg@10@24", 0.5 ]
                                PerQuery = Some { QueryIds = ids; Scores = Map.ofList [ "ndcg@10@24", scores ] }
                                Settings = Map.empty; Notes = [ "fold note" ]; PackageVersions = Map.empty; DataChecksums = Map.empty
                                TorchThreads = 1; StartedUtc = DateTime.UtcNow; Seconds = 1.0 }
                          yield ConfigHash.hash config, Finished(result, false) ] |> Map.ofList
            let lookup = FoldResults.lookup (fun c -> outcomes.TryFind(ConfigHash.hash c))
            let measure = Measure(cell, "ndcg@10@24")
            match Quantities.querySample lookup seeds [ measure ] with
            | Error e -> failtestf "no sample: %s" e
            | Ok sample ->
                Expect.equal sample.Groups.Length 1 "one test set"
                Expect.equal (snd sample.Groups.Head |> List.ofArray) (sorted cacmLike) "every judged query, once"
                let leaf = sample.Leaves[({ cell with Seed = 0L }, "ndcg@10@24")]
                Expect.equal leaf.Scores.Length seeds.Length "one row per seed"
                for i, seed in List.indexed seeds do
                    Expect.equal (List.ofArray leaf.Scores[i]) (sorted cacmLike |> List.map (score seed)) (sprintf "seed %d: each query's own score" seed)
            match lookup (ExperimentConfig.withSeed 2L cell) with
            | Some(Finished(r, _)) ->
                Expect.floatClose Accuracy.veryHigh r.Measurements["ndcg@10@24"] (cacmLike |> List.averageBy (score 2L)) "the mean over all queries"
                Expect.isTrue (r.Notes |> List.exists (fun n -> n.StartsWith "fold 5/5: ")) "notes say their fold"
            | other -> failtestf "expected the folds merged, got %A" other
            match Quantities.evaluate lookup seeds measure with
            | Quantities.Value v -> Expect.equal v.PerSeed.Length 3 "a value per seed"
            | Quantities.Gap g -> failtestf "gap: %s" g.Reason
            // A fold that did not run: the cell says which.
            let partial = FoldResults.lookup (fun c -> if c.Split = foldRule 3 then Some(NotRun "no data") else outcomes.TryFind(ConfigHash.hash c))
            match partial (ExperimentConfig.withSeed 1L cell) with
            | Some(NotRun reason) -> Expect.stringContains reason "fold 4/5" "names the fold"
            | other -> failtestf "expected not run, got %A" other

        testCase "the report states each dataset's split rule: k-fold with k and its judged queries, or the fixed split" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path (registry []) None
            let spec = Catalog.build 2 Local { Seeds = [ 1L ]; Manifest = None }
            let planned = Runner.plan env spec
            let test = qrelsOf cacmLike
            // CACM's folds finished (each scoring its own test queries); nothing else ran.
            let outcomes =
                planned
                |> List.map (fun p ->
                    match p.Config.Dataset, p.Config.Split with
                    | "cacm", (KFold(_, _, Some _) as rule) ->
                        let ids = (Splits.split rule None test).Test |> Array.ofList
                        p.Hash,
                        Finished({ Hash = p.Hash; ConfigHash = ""; Implementation = "test"; ConfigJson = ""
                                   Measurements = Map.ofList [ "ndcg@10@24", 0.5 ]
                                   PerQuery = Some { QueryIds = ids; Scores = Map.ofList [ "ndcg@10@24", Array.create ids.Length 0.5 ] }
                                   Settings = Map.empty; Notes = []; PackageVersions = Map.empty; DataChecksums = Map.empty
                                   TorchThreads = 1; StartedUtc = DateTime.UtcNow; Seconds = 1.0 }, true)
                    | _ -> p.Hash, NotRun "not run: test")
                |> Map.ofList
            let result = TableRun.evaluate (published ()) [] "" None (Runner.keyOf env) (Runner.settingsKeyOf env) spec planned outcomes
            let notes = TableRun.splitRuleNotes result
            Expect.exists notes (fun n -> n.StartsWith "cacm: k-fold, k = 5, 52 judged queries, each tested once") "CACM: k and its judged queries"
            Expect.exists notes (fun n -> n.StartsWith "cranfield: k-fold, k = 5, 225 judged queries (declared; none of its folds has run)") "Cranfield: not run yet, its manifest's count"
            Expect.exists notes (fun n -> n.StartsWith "scifact: fixed split; split rule: the collection's own train and test judgements") "SciFact: the fixed split"
            let markdown = Smec.Experiments.Reports.Markdown.render result
            Expect.stringContains markdown "- Split rule, cacm: k-fold, k = 5, 52 judged queries" "report.md states it"

        testCase "a user's collection with too few judged queries for its folds fails naming the dataset and what is needed" <| fun () ->
            use dir = new TempDir()
            // 4 train and 3 test queries: 7 judged, too few for 5 folds with 5 validation queries each (8 needed).
            let manifest = EmbeddingsManifest.load (writeSciFactSlice (Path.Combine(dir.Path, "slice")) 4 3 20 Profiles.llm2vec7B)
            let entry = manifest.Entries.Head
            let rule = Builders.manifestSplit entry
            Expect.equal rule (KFold(5, SplitRules.defaultKFoldValidation, None)) "4 train queries: k-fold by the threshold"
            let message = errorMessage (fun () -> Smec.Experiments.Verify.UserData.embeddingsEntry manifest.Path rule entry |> ignore)
            Expect.stringContains message "scifact-slice" "names the dataset"
            Expect.stringContains message "at least 8 judged queries" "says how many are needed"
            Expect.stringContains message "5 folds" "and for how many folds"
            Expect.stringContains message "split.validation" "and what to change"

        testCase "a sweep point on a k-fold collection runs its folds; the report merges them per seed and chooses per dataset" <| fun () ->
            use dir = new TempDir()
            let env = Environment.standard repoRoot None ignore
            let spec =
                SweepSpec.create "folds"
                |> SweepSpec.withDatasets [ "cacm"; "scifact" ]
                |> SweepSpec.withEncoders [ Profiles.miniLM ]
                |> SweepSpec.withMethods [ "smec" ]
                |> SweepSpec.withDims [ 24 ]
                |> SweepSpec.withSeeds [ 1; 2 ]
                |> SweepSpec.withGrid [ { Name = "smec.ads"; Values = [ "true"; "false" ] } ]
            let catalog = Smec.Core.Data.Manifests.ManifestCatalog.Load(Path.Combine(repoRoot, Smec.Core.Data.Manifests.ManifestCatalog.FolderName))
            let plan = SweepPlan.expand env.Methods catalog None (Runner.keyOf env) spec
            let cacm = plan.Points |> List.filter (fun p -> p.Values["dataset"] = "cacm")
            Expect.equal cacm.Length (2 * 2 * 5) "2 settings x 2 seeds x 5 folds"
            Expect.equal (plan.Points.Length - cacm.Length) (2 * 2) "SciFact: 2 settings x 2 seeds"
            // Fold f tests f + 10 queries; ads=false validates better on CACM, ads=true on SciFact, whose figures are all higher.
            for p in plan.Points do
                let ads = p.Values["smec.ads"] = "true"
                let fold = match p.Config.Split with KFold(_, _, Some f) -> f | _ -> 0
                let ids = [| for i in 1 .. fold + 10 -> sprintf "f%d-q%d" fold i |]
                let test = float fold / 10.0
                let validation = if p.Values["dataset"] = "scifact" then (if ads then 0.9 else 0.8) else (if ads then 0.3 else 0.4)
                ResultStore.save dir.Path
                    { Hash = p.Key; ConfigHash = ""; Implementation = "test"; ConfigJson = ConfigHash.canonical (ConfigHash.toJson p.Config)
                      Measurements = Map.ofList [ "val-ndcg@10@24", validation; "ndcg@10@24", test ]
                      Settings = Map.empty; Notes = []; PackageVersions = Map.empty; DataChecksums = Map.empty
                      TorchThreads = 1; StartedUtc = DateTime.UtcNow; Seconds = 0.0
                      PerQuery = Some { QueryIds = ids; Scores = Map.ofList [ "ndcg@10@24", Array.create ids.Length test ] } }
            Expect.equal (SweepChecks.pointCount spec) (int64 plan.Points.Length) "the size check counts a k-fold dataset once per fold"
            let report = SweepReport.build dir.Path plan
            let cacmBest = report.Best |> List.find (fun ((data, _), _) -> data = "cacm") |> snd
            Expect.stringContains cacmBest.Setting "smec.ads=false" "CACM's own best, not SciFact's"
            Expect.stringContains (report.Best |> List.find (fun ((data, _), _) -> data = "scifact") |> snd).Setting "smec.ads=true" "SciFact's own best"
            Expect.equal cacmBest.Seeds 2 "folds merge into one figure per seed"
            Expect.equal cacmBest.Planned 2 "two seeds planned"
            // The mean over all queries: fold f's figure weighted by its f + 10 queries.
            let expected = (List.sum [ for f in 0 .. 4 -> float (f + 10) * float f / 10.0 ]) / float (List.sum [ for f in 0 .. 4 -> f + 10 ])
            Expect.floatClose Accuracy.veryHigh cacmBest.TestMean expected "test: the query-weighted mean of the folds"
    ]
