/// One save format for every method: each of SMEC, Matryoshka-Adaptor, Search-Adaptor, PCA and
/// truncation saves, loads back through its registry entry's loader, and `smec compress --model` on the saved
/// folder writes exactly what the in-memory model computes. Tiny synthetic problem, few steps.
module Smec.Tests.SavedModelTests

open System
open System.Collections.Generic
open System.IO
open Expecto
open Smec.Core.Data
open Smec.Core.Methods
open Smec.Core.Methods.Baselines
open Smec.Core.Methods.SmecMethod
open Smec.Core.Storage
open Smec.Core.Training
open Smec.Experiments.Methods
open Smec.Tests.TestSupport

/// 40 queries, each a noisy copy of "its" doc among 80 (16-d); 8 held out for validation.
let private syntheticData () =
    let random = Random 3
    let corpus = EmbeddingMatrix([| for i in 0 .. 79 -> sprintf "d%d" i |], Array.init (80 * 16) (fun _ -> float32 (random.NextDouble() * 2.0 - 1.0)), 16)
    let queries = EmbeddingMatrix([| for i in 0 .. 39 -> sprintf "q%d" i |], Array.init (40 * 16) (fun i -> corpus.Values.[i] + float32 (random.NextDouble() - 0.5)), 16)
    let qrels ids = Qrels(Dictionary(dict [ for i in ids -> sprintf "q%d" i, Dictionary(dict [ sprintf "d%d" i, 1 ]) ]))
    TrainingData(corpus, queries, qrels [ 8 .. 39 ], qrels [ 0 .. 7 ], 1L)

let private dims = [| 8; 4 |]

let private methods : (string * (unit -> ICompressor)) list =
    [ "smec", fun () -> new SmecCompressor(SmecOptions(Ladder = [| 16; 8; 4 |], SxbmWarmupSteps = 0),
                                           TrainingOptions(MaxSteps = 10, EvaluateEvery = 5, BatchSize = 8, HardNegativePool = 5, Progress = false))
      "matryoshka-adaptor", fun () -> new MatryoshkaAdaptor(dims, MatryoshkaAdaptorOptions(MaxStepsPerStage = 10, EvaluateEvery = 5, BatchSize = 8, HardNegativePool = 5, Progress = false))
      "search-adaptor", fun () -> new SearchAdaptor(dims, SearchAdaptorOptions(Grid = [| RegularizerWeights(0.1, 0.01) |], MaxSteps = 10, EvaluateEvery = 5, BatchSize = 8, HardNegativePool = 5, Progress = false))
      "pca", fun () -> new Pca(dims)
      "truncation", fun () -> new Truncation(dims) ]

/// `smec compress` in-process.
let private compressCli (modelDir: string) (input: string) (dim: int) (output: string) =
    let parser = Argu.ArgumentParser.Create<Smec.Experiments.Cli.CompressCommand.CompressArgs>()
    Smec.Experiments.Cli.CompressCommand.run (parser.Parse [| "--model"; modelDir; "--in"; input; "--dim"; string dim; "--out"; output |])

let private roundTrip (key: string) (create: unit -> ICompressor) =
    testCase (sprintf "%s: save, load and `smec compress` equal the in-memory compress" key) <| fun () ->
        use dir = new TempDir()
        let data = syntheticData ()
        use model = create ()
        model.Fit data
        let modelDir = Path.Combine(dir.Path, key)
        model.Save modelDir
        Expect.isTrue (File.Exists(Path.Combine(modelDir, SavedModel.ManifestFile))) "the manifest is written"
        use loaded = MethodRegistry.standard.Load modelDir
        Expect.equal loaded.Name model.Name "name"
        Expect.sequenceEqual loaded.Dims model.Dims "dims"
        Expect.equal (Map.ofSeq (loaded.Settings |> Seq.map (fun kv -> kv.Key, kv.Value))) (Map.ofSeq (model.Settings |> Seq.map (fun kv -> kv.Key, kv.Value))) "settings"
        let input = Path.Combine(dir.Path, "q.npy")
        Npy.WriteFloat32(input, ReadOnlySpan data.Queries.Values, data.Queries.Rows, data.Queries.Dim)
        for d in model.Dims do
            let expected = model.Compress(data.Queries, d, EmbeddingRole.Query).Values
            Expect.sequenceEqual (loaded.Compress(data.Queries, d, EmbeddingRole.Query).Values) expected (sprintf "loaded = fitted at %d dims" d)
            let output = Path.Combine(dir.Path, sprintf "q%d.npy" d)
            Expect.equal (compressCli modelDir input d output) 0 "exit code"
            let struct (values, rows, cols) = Npy.ReadFloat32 output
            Expect.equal (rows, cols) (data.Queries.Rows, d) "shape"
            Expect.sequenceEqual values expected (sprintf "the CLI writes the same numbers at %d dims" d)

let private messageOf (f: unit -> unit) =
    try f (); "" with e -> e.Message

[<Tests>]
let tests =
    testList "SavedModel" [
        yield! methods |> List.map (fun (key, create) -> roundTrip key create)

        testCase "a changed tensor file, an older format and an unknown kind are named" <| fun () ->
            use dir = new TempDir()
            let data = syntheticData ()
            use pca = new Pca(dims)
            pca.Fit data
            let folder = Path.Combine(dir.Path, "pca")
            pca.Save folder
            let tensors = Path.Combine(folder, SavedModel.TensorsFile)
            let bytes = File.ReadAllBytes tensors
            bytes.[bytes.Length - 1] <- bytes.[bytes.Length - 1] ^^^ 1uy
            File.WriteAllBytes(tensors, bytes)
            Expect.stringContains (messageOf (fun () -> MethodRegistry.standard.Load folder |> ignore)) "SHA-256" "a changed tensor file is caught"
            let old = Path.Combine(dir.Path, "old")
            Directory.CreateDirectory old |> ignore
            File.WriteAllText(Path.Combine(old, "config.json"), "{}")
            Expect.stringContains (messageOf (fun () -> MethodRegistry.standard.Load old |> ignore)) "older version" "an old SMEC folder gets a clear message"
            use truncation = new Truncation(dims)
            let other = Path.Combine(dir.Path, "other")
            truncation.Save other
            let manifest = Path.Combine(other, SavedModel.ManifestFile)
            File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"truncation\"", "\"mystery\""))
            Expect.stringContains (messageOf (fun () -> MethodRegistry.standard.Load other |> ignore)) "model.json: checksum" "an edited model.json is refused by its seal"
            ModelSeal.Write(other, readOnlyDict [], readOnlyDict []) // sealed as it is now: a kind this build does not know
            Expect.stringContains (messageOf (fun () -> MethodRegistry.standard.Load other |> ignore)) "kind 'mystery' is not known" "unknown kind"
            Expect.stringContains (messageOf (fun () -> Pca.Load other |> ignore)) "expected 'pca'" "a loader on the wrong folder"
    ]
