/// The runner's ensembles (`--ensemble on`) with test-only compressors: the experiments of a cell that
/// differ only in seed are fitted together once, as the whole group; each is stored under the key it
/// has alone with a `run.ensemble` entry naming the group; a member stored before is trained again
/// with its group but not rewritten; a method that cannot fit members together runs each alone.
module Smec.Tests.Catalog.EnsembleGroupingTests

open System
open System.IO
open System.Collections.Generic
open Expecto
open Smec.Core.Methods
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Methods
open Smec.Experiments.Running.Runner
open Smec.Experiments.Store
open Smec.Tests.TestSupport
open Smec.Tests.Catalog.CatalogTestSupport

/// Every member's training data (its digest) in the order FitTogether was given them, across tests.
let private trainings = ResizeArray<string>()

/// Test-only: the noisy prefix compressor, which fits members together by fitting each (so its
/// figures together equal its figures alone exactly), recording every group it was given.
type private TogetherCompressor(dims: int list, groups: ResizeArray<int64 list>) =
    let inner = new TestCompressor("test-together", dims, 0.2f, false) :> ICompressor
    interface ICompressor with
        member _.Name = inner.Name
        member _.Dims = inner.Dims
        member _.Fit(data) = inner.Fit data
        member _.Compress(embeddings, dim, role) = inner.Compress(embeddings, dim, role)
        member _.Settings = inner.Settings
        member _.Save(folder) = inner.Save folder
    interface IEnsembleFit with
        member _.CannotFitTogether(members) =
            if members |> Seq.forall (fun m -> m :? TogetherCompressor) then null else "not all test-together"
        member _.FitTogether(members, data) =
            groups.Add [ for d in data -> d.Seed ]
            for d in data do trainings.Add(Smec.Core.Training.TrainingDataHash.Of d)
            for m, d in Seq.zip members data do m.Fit d
    interface IDisposable with
        member _.Dispose() = inner.Dispose()

let private dims = [ 24; 96 ]
let private seeds = [ 1L; 2L; 3L ]

let private stored (env: Environment.RunEnvironment) (config: ExperimentConfig) =
    match ResultStore.tryLoad env.ResultsDir (keyOf env config) with
    | Some(Ok result) -> result
    | other -> failtestf "no stored result for seed %d: %A" config.Seed other

[<Tests>]
let tests =
    testSequenced <| testList "Catalog.Ensembles" [
        testCase "a cell's seeds fit together once, each stored under its own key as it is alone; a stored member is not rewritten" <| fun () ->
            use dir = new TempDir()
            let groups = ResizeArray<int64 list>()
            let factory : MethodRegistry.MethodFactory = fun request -> new TogetherCompressor(request.Dims, groups) :> ICompressor
            let config = scifactConfig "test-together" true dims
            let env, progress = environment (Path.Combine(dir.Path, "together")) (registry [ "test-together", factory ]) None
            // Seed 2 stored first, alone.
            TableRun.reproduce env (published ()) defaultOptions (reducedTable [ "together", config ] dims [ 2L ] []) |> ignore
            let seed2 = ResultStore.pathOf env.ResultsDir (keyOf env (ExperimentConfig.withSeed 2L config))
            let seed2Bytes, seed2Time = File.ReadAllBytes seed2, File.GetLastWriteTimeUtc seed2
            Expect.isEmpty groups "alone, nothing fitted together"
            let spec = reducedTable [ "together", config ] dims seeds []
            let together = TableRun.reproduce env (published ()) { defaultOptions with Ensemble = true } spec
            Expect.equal (List.ofSeq groups) [ seeds ] "the whole group fitted together once, seed 2 included (its numbers never depend on what was stored)"
            Expect.equal (File.ReadAllBytes seed2) seed2Bytes "the stored member is not rewritten"
            Expect.equal (File.GetLastWriteTimeUtc seed2) seed2Time "nor touched"
            let keys = seeds |> List.map (fun s -> keyOf env (ExperimentConfig.withSeed s config))
            for s in [ 1L; 3L ] do
                let result = stored env (ExperimentConfig.withSeed s config)
                let entry = result.Settings[ensembleSettingKey]
                Expect.stringContains entry "one ensemble of 3 members (seeds 1, 2, 3)" (sprintf "seed %d records its ensemble" s)
                for key in keys do Expect.stringContains entry key (sprintf "seed %d names member %s" s key)
            Expect.isTrue (progress |> Seq.exists (fun l -> l.Contains "trained in its ensemble")) "progress says which experiments trained in an ensemble"
            // The same table alone, in another folder: the same keys and the same figures.
            let aloneEnv, _ = environment (Path.Combine(dir.Path, "alone")) (registry [ "test-together", factory ]) None
            let alone = TableRun.reproduce aloneEnv (published ()) defaultOptions spec
            Expect.equal (alone.Planned |> List.map (fun p -> p.Hash)) (together.Planned |> List.map (fun p -> p.Hash)) "the policy is part of no key"
            for s in seeds do
                let config = ExperimentConfig.withSeed s config
                Expect.equal (stored aloneEnv config).Measurements (stored env config).Measurements (sprintf "seed %d: the same figures" s)
                Expect.isFalse ((stored aloneEnv config).Settings.ContainsKey ensembleSettingKey) "alone: no ensemble recorded"

        testCase "k-fold: each fold's seeds are one ensemble, on that fold's training queries; the folds are separate ensembles" <| fun () ->
            use dir = new TempDir()
            let groups = ResizeArray<int64 list>()
            let factory : MethodRegistry.MethodFactory = fun request -> new TogetherCompressor(request.Dims, groups) :> ICompressor
            let env, _ = environment dir.Path (registry [ "test-together", factory ]) None
            trainings.Clear()
            let configs =
                [ for f in [ 1; 0 ] do
                      for s in [ 2L; 1L ] -> { scifactConfig "test-together" true dims with Split = KFold(5, 20, Some f); Seed = s } ]
            let planned = configs |> List.map (fun c -> { Config = c; Hash = keyOf env c; Cached = false })
            let outcomes = run env { defaultOptions with Ensemble = true } planned
            Expect.equal (List.ofSeq groups) [ [ 1L; 2L ]; [ 1L; 2L ] ] "one ensemble per fold, each of its two seeds"
            for p in planned do
                match outcomes.TryFind p.Hash with
                | Some(Finished(result, false)) ->
                    let sameFold = planned |> List.filter (fun q -> q.Config.Split = p.Config.Split) |> List.sortBy (fun q -> q.Config.Seed)
                    Expect.equal sameFold.Length 2 "two seeds a fold"
                    Expect.stringContains result.Settings[ensembleSettingKey] (sprintf "one ensemble of 2 members (seeds 1, 2): %s %s" sameFold[0].Hash sameFold[1].Hash)
                        (sprintf "%s records its ensemble: its fold's two seeds, by key" (describe p.Config))
                | other -> failtestf "%s: not trained in its ensemble: %A" (describe p.Config) other
            // The two folds' members read other training queries; a fold's two seeds differ only in their seed.
            Expect.equal trainings.Count 4 "four members' training data"
            Expect.notEqual trainings[0] trainings[2] "fold 2 and fold 1 train on different queries"

        testCase "a method that cannot fit members together runs each alone under --ensemble on" <| fun () ->
            use dir = new TempDir()
            let config = scifactConfig "test-noisy" true dims
            let env, progress = environment dir.Path (registry [ "test-noisy", noisyFactory ]) None
            TableRun.reproduce env (published ()) { defaultOptions with Ensemble = true } (reducedTable [ "noisy", config ] dims [ 1L; 2L ] []) |> ignore
            Expect.isTrue (progress |> Seq.exists (fun l -> l.Contains "cannot train together" && l.Contains "IEnsembleFit")) "progress says why the group runs alone"
            for s in [ 1L; 2L ] do
                Expect.isFalse ((stored env (ExperimentConfig.withSeed s config)).Settings.ContainsKey ensembleSettingKey) (sprintf "seed %d trained alone" s)
    ]
