/// Sweep specs (YAML and script), their expansion into catalog-keyed experiments, point files, the
/// Slurm script, manifest folders that add to the repository's, and the report's selection rule.
module Smec.Tests.Sweeps.SweepTests

open System
open System.IO
open Expecto
open Smec.Core.Data.Manifests
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Sweeps
open Smec.Experiments.Store
open Smec.Tests.TestSupport

let private env = Environment.standard repoRoot None ignore
let private catalog = lazy (ManifestCatalog.Load(Path.Combine(repoRoot, ManifestCatalog.FolderName)))
let private expand (spec: SweepSpec.SweepSpec) =
    SweepPlan.expand env.Methods catalog.Value None (Runner.keyOf env) spec

let private smallest =
    """name: my-sweep
datasets: [scifact]
encoders: [all-MiniLM-L6-v2]
methods: [pca, matryoshka-adaptor, smec]
dims: [24, 48]
seeds: [1]
"""

/// The message of the exception `f` throws (fails when it throws none).
let private errorOf (f: unit -> 'a) =
    try
        f () |> ignore
        failwith "expected an error"
    with :? InvalidDataException as e -> e.Message

let private parseAndExpand (yaml: string) = expand (SweepSpec.parse "/specs/s.yaml" yaml)

[<Tests>]
let specTests =
    testList "Sweeps/spec" [
        testCase "the smallest spec expands to one point per method with catalog configs" <| fun () ->
            let plan = parseAndExpand smallest
            Expect.equal (plan.Points |> List.map (fun p -> p.Config.Method)) [ "pca"; "matryoshka-adaptor"; "smec" ] "one point per method"
            let pca = plan.Points.Head.Config
            Expect.equal pca.Seed 0L "a method that learns nothing has seed 0"
            Expect.isNone pca.Budget "and no budget"
            let smec = plan.Points[2].Config
            Expect.equal smec.Budget (Some Profiles.localBudget) "the local profile's budget"
            Expect.equal smec.Split (SplitRules.ofDataset "scifact") "the catalog's split rule"
            Expect.equal smec.Dims [ 24; 48 ] "the spec's dims"

        testCase "a script-built spec equals the YAML one" <| fun () ->
            let script =
                SweepSpec.create "my-sweep"
                |> SweepSpec.withDatasets [ "scifact" ]
                |> SweepSpec.withEncoders [ "all-MiniLM-L6-v2" ]
                |> SweepSpec.withMethods [ "pca"; "matryoshka-adaptor"; "smec" ]
                |> SweepSpec.withDims [ 24; 48 ]
                |> SweepSpec.withSeeds [ 1 ]
            Expect.equal ((expand script).Points |> List.map (fun p -> p.Key)) ((parseAndExpand smallest).Points |> List.map (fun p -> p.Key)) "same keys"

        testCase "examples/sweeps/ablation.yaml has exactly catalog item 6's experiments (same keys)" <| fun () ->
            let plan = expand (SweepSpec.read (Path.Combine(repoRoot, "examples", "sweeps", "ablation.yaml")))
            let item6 = Runner.plan env (Catalog.build 6 Local { Seeds = [ 1L ]; Manifest = None })
            Expect.equal (plan.Points |> List.map (fun p -> p.Key) |> Set.ofList) (item6 |> List.map (fun p -> p.Hash) |> Set.ofList) "same keys"

        testCase "reproduce's workers take the largest corpus first, the plan order otherwise" <| fun () ->
            let planned = Runner.plan env (Catalog.build 2 Local { Seeds = [ 1L; 2L ]; Manifest = None }) |> List.filter (fun p -> p.Config.Budget.IsSome)
            let ordered = ItemWorkers.largestFirst planned
            Expect.equal (Set.ofList (ordered |> List.map (fun p -> p.Hash))) (Set.ofList (planned |> List.map (fun p -> p.Hash))) "the same experiments"
            let datasets = ordered |> List.map (fun p -> p.Config.Dataset) |> List.distinct
            // SciFact 5,183 docs, CACM 3,204, Cranfield 1,400 (data-manifests counts).
            Expect.equal datasets [ "scifact"; "cacm"; "cranfield" ] "one block per dataset, largest first"
            for dataset in datasets do
                let within (l: Runner.PlannedExperiment list) = l |> List.filter (fun p -> p.Config.Dataset = dataset) |> List.map (fun p -> p.Hash)
                Expect.equal (within ordered) (within planned) (sprintf "%s: plan order kept" dataset)

        testCase "local workers take points with no estimate first, then the longest expected" <| fun () ->
            let plan = parseAndExpand (smallest.Replace("seeds: [1]", "seeds: [1, 2]"))
            let find m seed = plan.Points |> List.find (fun p -> p.Config.Method = m && p.Config.Seed = seed)
            let ma1, ma2, smec1, smec2, pca = find "matryoshka-adaptor" 1L, find "matryoshka-adaptor" 2L, find "smec" 1L, find "smec" 2L, find "pca" 0L
            let queue = WorkQueue.Queue [ [ ma1 ]; [ smec1 ]; [ ma2 ]; [ smec2 ]; [ pca ] ]
            let take () = queue.Take() |> Option.map (fun unit -> unit.Head.Key)
            Expect.equal (take ()) (Some ma1.Key) "nothing known: the given order"
            Expect.equal (take ()) (Some smec1.Key) "still nothing known"
            queue.Finished([ smec1 ], 50.0)
            queue.Finished([ ma1 ], 100.0)
            Expect.equal (take ()) (Some pca.Key) "a point with no estimate goes before the known ones"
            Expect.equal (take ()) (Some ma2.Key) "then the longest expected (Matryoshka-Adaptor, 100 s)"
            Expect.equal (take ()) (Some smec2.Key) "then SMEC (50 s)"
            Expect.equal (take ()) None "all taken"

        testCase "work units: with ensembles a cell's seeds are one unit (per fold), untrained points and other cells alone" <| fun () ->
            let plan = parseAndExpand (smallest.Replace("seeds: [1]", "seeds: [1, 2, 3]"))
            let alone = WorkUnits.group false plan.Points
            Expect.equal alone (plan.Points |> List.map List.singleton) "without ensembles: one point a unit, in order"
            let units = WorkUnits.group true plan.Points
            Expect.equal (List.concat units |> List.map (fun p -> p.Key) |> Set.ofList) (plan.Points |> List.map (fun p -> p.Key) |> Set.ofList) "every point in one unit"
            for unit in units do
                let methods = unit |> List.map (fun p -> p.Config.Method) |> List.distinct
                Expect.equal methods.Length 1 (sprintf "one method a unit: %A" methods)
                match unit.Head.Config.Budget with
                | Some _ -> Expect.equal (unit |> List.map (fun p -> p.Config.Seed) |> List.sort) [ 1L; 2L; 3L ] (sprintf "%s: the cell's three seeds together" methods.Head)
                | None -> Expect.equal unit.Length 1 "an untrained point alone"
            // k-fold: each fold's seeds are one unit (a fold's training data holds other query embeddings).
            let fold f (p: SweepPlan.Point) = { p with SweepPlan.Point.Config = { p.Config with Split = KFold(5, 20, Some f) } }
            let trained = plan.Points |> List.filter (fun p -> p.Config.Method = "smec")
            let folded = [ for f in 0 .. 1 do for p in trained -> fold f p ]
            Expect.equal (WorkUnits.group true folded |> List.map List.length) [ 3; 3 ] "two folds x three seeds of one cell: a unit per fold"
            let other = folded |> List.map (fun (p: SweepPlan.Point) -> { p with SweepPlan.Point.Config = { p.Config with Options = p.Config.Options.Add("ads", "false") } })
            Expect.equal (WorkUnits.group true (folded @ other)).Length 4 "another option: other units"

        testCase "local workers time a unit of several points by its points" <| fun () ->
            let plan = parseAndExpand (smallest.Replace("seeds: [1]", "seeds: [1, 2, 3]"))
            let find m seed = plan.Points |> List.find (fun p -> p.Config.Method = m && p.Config.Seed = seed)
            let maUnit = [ find "matryoshka-adaptor" 2L; find "matryoshka-adaptor" 3L ]
            let smecUnit = [ find "smec" 1L; find "smec" 2L; find "smec" 3L ]
            let queue = WorkQueue.Queue [ [ find "matryoshka-adaptor" 1L ]; [ find "smec" 1L ]; maUnit; smecUnit ]
            queue.Take() |> ignore
            queue.Take() |> ignore
            queue.Finished([ find "matryoshka-adaptor" 1L ], 100.0)
            queue.Finished([ find "smec" 1L ], 60.0)
            // Matryoshka-Adaptor: 2 x 100 s expected; SMEC: 3 x 60 s = 180 s.
            Expect.equal (queue.Take() |> Option.map List.length) (Some 2) "the unit with the longest expected time (2 x 100 s) first"
            Expect.equal (queue.Take() |> Option.map List.length) (Some 3) "then the SMEC unit (3 x 60 s)"

        testCase "grid: every combination; an axis of one method does not multiply the others" <| fun () ->
            let plan =
                parseAndExpand (smallest + "grid:\n  smec.ads: [true, false]\n  learning_rate: [0.001, 0.0005]\n")
            // pca: 1; matryoshka-adaptor: 2 learning rates; smec: 2 x 2.
            Expect.equal plan.Points.Length 7 "1 + 2 + 4 points"
            let smec = plan.Points |> List.filter (fun p -> p.Config.Method = "smec")
            Expect.equal (smec |> List.map (fun p -> p.Config.Options |> Map.tryFind "ads", p.Config.Budget.Value.LearningRate) |> Set.ofList)
                (set [ None, 0.001; None, 0.0005; Some "false", 0.001; Some "false", 0.0005 ]) "ads at its default is left out, as the catalog writes it"
            Expect.equal plan.Columns [ "method"; "smec.ads"; "learning_rate" ] "setting columns"

        testCase "zip: the i-th values go together; seeds multiply trained points only" <| fun () ->
            let plan =
                parseAndExpand (smallest.Replace("seeds: [1]", "seeds: [1, 2]") + "zip:\n  smec.smrl: [false, true]\n  smec.sxbm: [true, false]\n")
            let smec = plan.Points |> List.filter (fun p -> p.Config.Method = "smec")
            Expect.equal (smec |> List.map (fun p -> p.Config.Options |> Map.toList, p.Config.Seed) |> Set.ofList)
                // The local profile's options come with every point (SMEC's: per-dim selection and its tuning grid).
                (set [ [ "selection", "per-dim"; "smrl", "false"; "tuning", "local-grid" ], 1L; [ "selection", "per-dim"; "smrl", "false"; "tuning", "local-grid" ], 2L
                       [ "selection", "per-dim"; "sxbm", "false"; "tuning", "local-grid" ], 1L; [ "selection", "per-dim"; "sxbm", "false"; "tuning", "local-grid" ], 2L ]) "zipped, per seed"
            Expect.equal (plan.Points |> List.filter (fun p -> p.Config.Method = "pca")).Length 1 "pca once for every seed"
    ]

[<Tests>]
let errorTests =
    let expectError (yaml: string) (parts: string list) =
        let message = errorOf (fun () -> parseAndExpand yaml)
        for part in "/specs/s.yaml" :: parts do Expect.stringContains message part "the message names it"
    testList "Sweeps/spec errors" [
        testCase "an unknown option names the field and the options there are" <| fun () ->
            expectError (smallest + "grid:\n  smec.temperature: [0.1]\n") [ "grid.smec.temperature"; "smrl (true or false)" ]
        testCase "a value of the wrong type names the field, the index and the expected type" <| fun () ->
            expectError (smallest + "grid:\n  smec.ads: [true, maybe]\n") [ "grid.smec.ads[1]"; "'maybe'; expected true or false" ]
        testCase "an unknown dataset names the field and how to add one" <| fun () ->
            expectError (smallest.Replace("[scifact]", "[med]")) [ "datasets[0]"; "unknown dataset 'med'"; "--manifests DIR" ]
        testCase "an unknown method is named with the known ones" <| fun () ->
            expectError (smallest.Replace("pca,", "pcaa,")) [ "methods[0]"; "unknown method 'pcaa'"; "truncation" ]
        testCase "zipped axes of different lengths" <| fun () ->
            expectError (smallest + "zip:\n  smec.ads: [true, false]\n  smec.smrl: [true]\n") [ "zip.smec.smrl"; "equal lengths" ]
        testCase "an unknown top-level field with its line" <| fun () ->
            expectError (smallest + "axes: {}\n") [ "axes (line 7)"; "expected one of name" ]
        testCase "a missing required field" <| fun () ->
            expectError (smallest.Replace("methods: [pca, matryoshka-adaptor, smec]\n", "")) [ "field 'methods'"; "is required" ]
        testCase "a bad budget value" <| fun () ->
            expectError (smallest + "budget: { max_steps: -3 }\n") [ "budget.max_steps"; "whole number" ]
        testCase "a dim that is not a number" <| fun () ->
            expectError (smallest.Replace("[24, 48]", "[24, big]")) [ "dims[1]"; "positive whole number" ]
    ]

[<Tests>]
let folderTests =
    testList "Sweeps/points and executors" [
        testCase "a point file gives back the config and its key" <| fun () ->
            use dir = new TempDir()
            let plan = parseAndExpand (smallest + "grid:\n  smec.ads: [true, false]\n")
            SweepFolder.writePlan dir.Path plan
            for p in plan.Points do
                let key, config = SweepFolder.readPoint (SweepFolder.pointFile dir.Path p.Key)
                Expect.equal key p.Key "key"
                Expect.equal config p.Config "config"
                Expect.equal (Runner.keyOf env config) p.Key "the config gives the same key"

        testCase "the sbatch script: one task per chunk, threads from the allocation, the keys by line" <| fun () ->
            let options = { SlurmExecutor.defaults with Chunk = 2; CpusPerTask = 4; Partition = Some "short"; Time = Some "01:00:00"; Memory = Some "8G"; MaxParallel = Some 3 }
            let text = SlurmExecutor.script env "s" "/shared/results/sweeps/s" "/shared/k.keys" 5 options
            for part in
                [ "#SBATCH --array=0-2%3"; "#SBATCH --cpus-per-task=4"; "#SBATCH --partition=short"; "#SBATCH --time=01:00:00"
                  "#SBATCH --mem=8G"; "SMEC_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\""; "run-experiment $unit --ensemble off"; "chunk=2" ] do
                Expect.stringContains text part "script line"
            let ensembles = SlurmExecutor.script env "s" "/shared/results/sweeps/s" "/shared/k.keys" 5 { options with Ensemble = true }
            Expect.stringContains ensembles "run-experiment $unit --ensemble on" "with ensembles each task trains its units' keys together"
            if Smec.Core.Runtime.NativeHeap.SetByProgram then
                Expect.stringContains text (sprintf "export GLIBC_TUNABLES='%s'" Smec.Core.Runtime.NativeHeap.Tunables) "a task's process starts with the heap setting"

        testCase "squeue task lines are counted, ranges included" <| fun () ->
            let states = [ "7_0", "COMPLETED"; "7_1", "RUNNING"; "7_[2-5%2]", "PENDING"; "7_6", "FAILED" ]
            Expect.equal (SlurmExecutor.summarise states) "1 COMPLETED, 1 RUNNING, 4 PENDING, 1 FAILED" "counts"
            Expect.isTrue (SlurmExecutor.isActive states) "pending tasks are active"
            Expect.isFalse (SlurmExecutor.isActive [ "7_0", "COMPLETED"; "7_1", "CANCELLED" ]) "ended"

        testCase "without Slurm the error says how to install it or to use the local executor" <| fun () ->
            Expect.stringContains SlurmExecutor.installHint "apt-get install slurm-wlm" "how to install"
            Expect.stringContains SlurmExecutor.installHint "--executor local" "the alternative"

        testCase "local workers share the cores by default" <| fun () ->
            Expect.equal (LocalExecutor.threadsPerWorker 8 { Workers = 3; Threads = None; Ensemble = false }) 2 "8 / 3"
            Expect.equal (LocalExecutor.threadsPerWorker 2 { Workers = 4; Threads = None; Ensemble = false }) 1 "at least one"
            Expect.equal (LocalExecutor.threadsPerWorker 2 { Workers = 4; Threads = Some 2; Ensemble = false }) 2 "as asked"

        testCase "a point held by a live process is seen as running; a lock of an ended process is not" <| fun () ->
            use dir = new TempDir()
            Expect.isNone (ResultStore.lockHolder dir.Path "k") "no lock"
            let seen =
                ResultStore.withLock dir.Path "k" ignore (fun () -> None) (fun () -> ResultStore.lockHolder dir.Path "k")
            match seen with
            | Some who -> Expect.stringContains who (sprintf "process %d" Environment.ProcessId) "held by this process"
            | None -> failtest "a held lock was not seen"
            Expect.isNone (ResultStore.lockHolder dir.Path "k") "released"
            // A lock file of a process that no longer exists on this host: nobody computes the point.
            let path = ResultStore.lockPathOf dir.Path "k"
            Directory.CreateDirectory(Path.GetDirectoryName path) |> ignore
            File.WriteAllText(path, sprintf "%d\n%s\n2020-01-01T00:00:00Z\n" Int32.MaxValue Environment.MachineName)
            Expect.isNone (ResultStore.lockHolder dir.Path "k") "stale lock"
            Expect.equal (ResultStore.withLock dir.Path "k" ignore (fun () -> None) (fun () -> 7)) 7 "stale lock taken over"
            Expect.isFalse (File.Exists path) "released after the take-over"
    ]

[<Tests>]
let manifestFolderTests =
    let userFolder (root: string) (id: string) =
        let datasets = Path.Combine(root, "datasets")
        Directory.CreateDirectory datasets |> ignore
        File.WriteAllText(
            Path.Combine(datasets, id + ".yaml"),
            sprintf "id: %s\ntitle: a user's collection\nkind: text-retrieval\nformat: beir\nmirrored: false\npath: %s\nfiles:\n  - { path: corpus.jsonl, role: corpus }\n  - { path: queries.jsonl, role: queries }\n  - { path: qrels/test.tsv, role: qrels, split: test }\nsource:\n  instructions: a folder the user provides\nlicence: the user's\ncitation: the user's\n" id id
        )
    testList "Sweeps/manifest folders" [
        testCase "a user's folder adds to the repository's datasets and encoders" <| fun () ->
            use dir = new TempDir()
            userFolder dir.Path "my-collection"
            let merged = ManifestCatalog.Load(Path.Combine(repoRoot, ManifestCatalog.FolderName), dir.Path)
            Expect.isTrue (merged.Datasets.ContainsKey "my-collection") "the user's dataset"
            Expect.isTrue (merged.Datasets.ContainsKey "scifact") "and the repository's"
            Expect.isTrue (merged.Encoders.ContainsKey "all-MiniLM-L6-v2") "and its encoders"
        testCase "a user's manifest of a built-in id replaces the repository's" <| fun () ->
            use dir = new TempDir()
            userFolder dir.Path "cacm"
            let merged = ManifestCatalog.Load(Path.Combine(repoRoot, ManifestCatalog.FolderName), dir.Path)
            Expect.equal merged.Datasets["cacm"].Format "beir" "the user's cacm"
            Expect.stringStarts merged.Datasets["cacm"].ManifestFile dir.Path "from the user's folder"
        testCase "a manifest folder that does not exist is an error" <| fun () ->
            Expect.throwsT<DirectoryNotFoundException> (fun () -> ManifestCatalog.Load(Path.Combine(repoRoot, ManifestCatalog.FolderName), "/no/such/folder") |> ignore) "missing folder"
    ]

[<Tests>]
let reportTests =
    testList "Sweeps/report" [
        testCase "the best setting per dim is chosen on validation, never on test; seeds are averaged" <| fun () ->
            use dir = new TempDir()
            let plan = parseAndExpand (smallest.Replace("seeds: [1]", "seeds: [1, 2]").Replace("pca, matryoshka-adaptor, smec", "smec") + "grid:\n  smec.ads: [true, false]\n")
            // Synthetic figures (this test checks the selection rule, not a method): ads=true has the
            // better validation figure at 24 dims but the worse test figure; at 48 it is the reverse.
            let figures (p: SweepPlan.Point) =
                let ads = p.Values["smec.ads"] = "true"
                let seed = float p.Config.Seed
                [ "val-ndcg@10@24", (if ads then 0.50 else 0.40) + 0.01 * seed
                  "ndcg@10@24", (if ads then 0.30 else 0.60)
                  "val-ndcg@10@48", (if ads then 0.40 else 0.45)
                  "ndcg@10@48", (if ads then 0.70 else 0.20) ]
                |> Map.ofList
            for p in plan.Points do
                ResultStore.save dir.Path
                    { Hash = p.Key; ConfigHash = ConfigHash.hash p.Config; Implementation = "test"; ConfigJson = ConfigHash.canonical (ConfigHash.toJson p.Config)
                      Measurements = figures p; Settings = Map.empty; Notes = []; PackageVersions = Map.empty; DataChecksums = Map.empty
                      TorchThreads = 1; StartedUtc = DateTime.UtcNow; Seconds = 0.0; PerQuery = Some { QueryIds = [||]; Scores = Map.empty } }
            let report = SweepReport.build dir.Path plan
            let best = report.Best |> List.map (fun ((_, d), s) -> d, s) |> Map.ofList
            Expect.stringContains best[24].Setting "smec.ads=true" "24: the better validation figure"
            Expect.floatClose Accuracy.veryHigh best[24].ValidationMean 0.515 "mean over seeds 1 and 2"
            Expect.floatClose Accuracy.veryHigh best[24].ValidationHalfRange 0.005 "half the seed range"
            Expect.floatClose Accuracy.veryHigh best[24].TestMean 0.30 "its test figure, although worse"
            Expect.stringContains best[48].Setting "smec.ads=false" "48: the better validation figure"
            let markdown = SweepReport.markdown report
            Expect.stringContains markdown "TEST @24 (not for selection)" "test columns are labelled"
            Expect.stringContains markdown "51.5 ±0.5 *" "the chosen cell is marked"
            let html = SweepReport.html report
            Expect.stringContains html "not used for selection" "the page labels test figures"
            Expect.isFalse (html.Contains "src=\"https://cdn") "offline: no CDN script"
            Expect.isGreaterThan html.Length 3_000_000 "plotly.js inlined"

        testCase "a missing point is reported, and a setting missing a seed is not chosen" <| fun () ->
            use dir = new TempDir()
            let plan = parseAndExpand (smallest.Replace("seeds: [1]", "seeds: [1, 2]").Replace("pca, matryoshka-adaptor, smec", "smec") + "grid:\n  smec.ads: [true, false]\n")
            for p in plan.Points do
                if not (p.Values["smec.ads"] = "true" && p.Config.Seed = 2L) then
                    ResultStore.save dir.Path
                        { Hash = p.Key; ConfigHash = ""; Implementation = "test"; ConfigJson = ConfigHash.canonical (ConfigHash.toJson p.Config)
                          Measurements = Map.ofList [ "val-ndcg@10@24", (if p.Values["smec.ads"] = "true" then 0.9 else 0.1); "ndcg@10@24", 0.5 ]
                          Settings = Map.empty; Notes = []; PackageVersions = Map.empty; DataChecksums = Map.empty
                          TorchThreads = 1; StartedUtc = DateTime.UtcNow; Seconds = 0.0; PerQuery = Some { QueryIds = [||]; Scores = Map.empty } }
            let report = SweepReport.build dir.Path plan
            Expect.equal report.Missing.Length 1 "one point missing"
            Expect.stringContains (report.Best |> List.find (fun ((_, d), _) -> d = 24) |> snd).Setting "smec.ads=false" "only complete settings compete"

        testCase "the best setting is chosen per dataset, never across datasets" <| fun () ->
            use dir = new TempDir()
            let plan = parseAndExpand (smallest.Replace("datasets: [scifact]", "datasets: [scifact, cranfield]").Replace("pca, matryoshka-adaptor, smec", "smec") + "grid:\n  smec.ads: [true, false]\n")
            // ads=true is better on SciFact's validation, ads=false on Cranfield's; SciFact's figures are
            // all higher, so a choice across datasets would pick a SciFact setting for both.
            for p in plan.Points do
                let scifact = p.Values["dataset"] = "scifact"
                let ads = p.Values["smec.ads"] = "true"
                let validation = (if scifact then 0.8 else 0.3) + (if ads = scifact then 0.05 else 0.0)
                ResultStore.save dir.Path
                    { Hash = p.Key; ConfigHash = ""; Implementation = "test"; ConfigJson = ConfigHash.canonical (ConfigHash.toJson p.Config)
                      Measurements = Map.ofList [ "val-ndcg@10@24", validation; "ndcg@10@24", 0.5; "val-ndcg@10@48", validation; "ndcg@10@48", 0.5 ]
                      Settings = Map.empty; Notes = []; PackageVersions = Map.empty; DataChecksums = Map.empty
                      TorchThreads = 1; StartedUtc = DateTime.UtcNow; Seconds = 0.0; PerQuery = Some { QueryIds = [||]; Scores = Map.empty } }
            let report = SweepReport.build dir.Path plan
            let chosen data d = (report.Best |> List.find (fun ((x, y), _) -> x = data && y = d) |> snd).Setting
            for d in [ 24; 48 ] do
                Expect.stringContains (chosen "scifact" d) "dataset=scifact smec.ads=true" "SciFact's own best"
                Expect.stringContains (chosen "cranfield" d) "dataset=cranfield smec.ads=false" "Cranfield's own best"
            Expect.equal report.Best.Length 4 "one choice per dataset and dim"
            Expect.isEmpty report.Unscored "every stored point scored every dim"
            Expect.stringContains (SweepReport.markdown report) "| cranfield | 24 |" "the table names the dataset"

        testCase "a cell without a figure says why: SKIPPED when its points scored nothing at that dim" <| fun () ->
            use dir = new TempDir()
            let plan = parseAndExpand (smallest.Replace("pca, matryoshka-adaptor, smec", "smec") + "grid:\n  smec.ads: [true, false]\n")
            for p in plan.Points do
                if p.Values["smec.ads"] = "true" then
                    ResultStore.save dir.Path
                        { Hash = p.Key; ConfigHash = ""; Implementation = "test"; ConfigJson = ConfigHash.canonical (ConfigHash.toJson p.Config)
                          Measurements = Map.ofList [ "val-ndcg@10@24", 0.5; "ndcg@10@24", 0.5 ] // nothing at 48
                          Settings = Map.empty; Notes = []; PackageVersions = Map.empty; DataChecksums = Map.empty
                          TorchThreads = 1; StartedUtc = DateTime.UtcNow; Seconds = 0.0; PerQuery = Some { QueryIds = [||]; Scores = Map.empty } }
            let report = SweepReport.build dir.Path plan
            Expect.equal (report.Unscored |> List.map snd) [ 48 ] "the stored setting has no figure at 48"
            let _, rows = SweepReport.settingsTable report
            let rowOf ads = rows |> List.find (fun r -> r.Head.Contains(sprintf "smec.ads=%s" ads))
            Expect.contains (rowOf "true") "SKIPPED: not scored at this dim" "stored but not scored: SKIPPED with its reason"
            Expect.isFalse (rows |> List.exists (fun r -> r.Head.Contains "smec.ads=false")) "a setting with nothing stored has no row (the summary counts it missing)"
            Expect.isFalse (rows |> List.exists (List.contains "-")) "no blank cell"
    ]

[<Tests>]
let embeddingsManifestTests =
    testList "Sweeps/precomputed embeddings" [
        testCase "a pair an embeddings manifest names runs from it, with the paper profile's keys" <| fun () ->
            use dir = new TempDir()
            let manifestPath = Smec.Tests.Catalog.CatalogTestSupport.writeSciFactSlice (Path.Combine(dir.Path, "slice")) 160 60 400 Profiles.llm2vec7B
            let manifest = EmbeddingsManifest.load manifestPath
            let spec =
                SweepSpec.create "paper"
                |> SweepSpec.withProfile Paper
                |> SweepSpec.withDatasets [ "scifact-slice" ]
                |> SweepSpec.withEncoders [ Profiles.llm2vec7B ]
                |> SweepSpec.withMethods [ "pca"; "smec" ]
            let plan = SweepPlan.expand env.Methods catalog.Value (Some manifest) (Runner.keyOf env) spec
            for p in plan.Points do
                Expect.equal p.Config.Source (Manifest manifest.Entries.Head.Fingerprint) "from the manifest entry"
            let item2 = Runner.plan env (Catalog.build 2 Paper { Seeds = [ 1L ]; Manifest = Some manifest }) |> List.map (fun p -> p.Hash) |> Set.ofList
            for p in plan.Points do
                Expect.isTrue (item2.Contains p.Key) (sprintf "%s is item 2's experiment (sweep options %A)" p.Config.Method p.Config.Options)
    ]
