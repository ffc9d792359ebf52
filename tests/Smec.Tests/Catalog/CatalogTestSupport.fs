/// Test-only pieces for the catalog tests: compressors that are never registered in the real
/// catalog, a run environment in a temporary folder, and a small embeddings manifest cut from the
/// mirror's real SciFact embeddings.
module Smec.Tests.Catalog.CatalogTestSupport

open System
open System.Collections.Generic
open System.IO
open Smec.Core.Data
open Smec.Core.Methods
open Smec.Core.Storage
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Methods
open Smec.Tests.TestSupport

/// The first d dims of every row, L2-normalised.
let prefixRows (d: int) (m: EmbeddingMatrix) =
    let values = Array.zeroCreate<float32> (m.Rows * d)
    for r in 0 .. m.Rows - 1 do
        let row = m.Row(r).Slice(0, d)
        let mutable norm = 0.0f
        for v in row do norm <- norm + v * v
        let scale = if norm > 0.0f then 1.0f / sqrt norm else 0.0f
        for i in 0 .. d - 1 do values.[r * d + i] <- row.[i] * scale
    EmbeddingMatrix(m.Ids, values, d)

/// Test-only: prefix truncation, optionally with seed-dependent noise on the queries (so that seeds
/// differ), optionally failing in Fit (to interrupt a run).
type TestCompressor(name: string, dims: int list, noise: float32, fail: bool) =
    let mutable seed = 0L
    interface ICompressor with
        member _.Name = name
        member _.Dims = List<int>(dims) :> IReadOnlyList<int>
        member _.Fit(data: TrainingData) =
            if fail then failwithf "%s: deliberate failure (test)" name
            seed <- data.Seed
        member _.Compress(embeddings: EmbeddingMatrix, dim: int, role: EmbeddingRole) =
            let compressed = prefixRows dim embeddings
            if noise = 0.0f || role = EmbeddingRole.Document then compressed
            else
                let random = Random(int seed)
                let values = compressed.Values |> Array.map (fun v -> v + noise * float32 (random.NextDouble() - 0.5))
                EmbeddingMatrix(compressed.Ids, values, dim)
        member _.Settings = readOnlyDict [ "test-only", "prefix truncation"; "seed", string seed ]
        member _.Save(_: string) = ()
    interface IDisposable with
        member _.Dispose() = ()

let prefixFactory : MethodRegistry.MethodFactory = fun request -> new TestCompressor("test-prefix", request.Dims, 0.0f, false)
let noisyFactory : MethodRegistry.MethodFactory = fun request -> new TestCompressor("test-noisy", request.Dims, 0.2f, false)
let failingFactory : MethodRegistry.MethodFactory = fun request -> new TestCompressor("test-failing", request.Dims, 0.0f, true)

/// A registry with only test compressors, under the given keys (tagged as test implementations,
/// so their results never pass for a real method's).
let registry (entries: (string * MethodRegistry.MethodFactory) list) : MethodRegistry.MethodRegistry =
    { Entries =
        entries
        |> List.map (fun (key, create) ->
            let real = MethodRegistry.standard.TryEntry key
            key,
            ({ Key = key
               Label = key
               Trains = true
               Summary = "test compressor"
               // A test double under a real method's key accepts that method's options (the catalog sets some).
               Options = (match real with Some real -> real.Options | None -> [])
               Create = create
               Implementation = "test " + key
               Saved = { Kind = "test " + key; Load = fun saved -> failwithf "%s: a test compressor is not loaded back" saved.ManifestPath }
               ProfileOptions = (fun profile -> match real with Some real -> real.ProfileOptions profile | None -> [])
               TuningGrid = (fun _ -> [])
               ProtocolNote = (fun _ -> "test compressor")
               Docs = "docs/METHOD.md" }: MethodRegistry.MethodEntry))
        |> Map.ofList }

let published () = Published.load (Published.defaultPath repoRoot)

/// A run environment whose results and blessed values live in a temporary folder.
let environment (folder: string) (methods: MethodRegistry.MethodRegistry) (manifest: EmbeddingsManifest.EmbeddingsManifest option) =
    let progress = ResizeArray<string>()
    let env =
        { Environment.standard repoRoot manifest progress.Add with
            ResultsDir = Path.Combine(folder, "results")
            PaperResultsDir = Path.Combine(folder, "paper-results")
            Methods = methods }
    env, progress

/// The message of the error `f` raises (the test fails if it raises none).
let errorMessage (f: unit -> unit) =
    let outcome = try f (); None with e -> Some e.Message
    match outcome with
    | Some message -> message
    | None -> failwith "expected an error, none was raised"

/// A retrieval config on the mirror's SciFact / MiniLM embeddings.
let scifactConfig (methodKey: string) (trains: bool) (dims: int list) =
    { Kind = Retrieval
      Dataset = "scifact"
      Encoder = Profiles.miniLM
      Source = Mirror
      Split = GivenTrainTest 100
      Method = methodKey
      Options = Map.empty
      Dims = dims
      Seed = (if trains then 1L else 0L)
      Budget = (if trains then Some Profiles.localBudget else None) }

/// A small table over test configs: rows = methods, columns = dims.
let reducedTable (rows: (string * ExperimentConfig) list) (dims: int list) (seeds: int64 list) (claims: Claim list) : TableSpec =
    { Item = 2
      Profile = Local
      Title = "reduced test table"
      Description = "test-only compressors on the mirror's SciFact embeddings"
      Panels = [ "SciFact" ]
      Rows = rows |> List.map fst
      Columns = dims |> List.map string
      Cells =
        [ for row, config in rows do
              for d in dims -> Builders.cell "SciFact" row (string d) Display.fraction (Measure(config, Builders.ndcgAt d)) ]
      Claims = claims
      Seeds = seeds
      Notes = []
      Chart = Some { XTitle = "dims"; YTitle = "nDCG@10"; Panels = [ "SciFact" ]; PublishedPanel = Some "BEIR mean"; PublishedEncoder = Some "LLM2Vec-7B" } }

/// A slice of the mirror's SciFact MiniLM embeddings as a user's embeddings manifest: `trainQueries`
/// train and `testQueries` test queries, every document they judge plus `extraDocs` others.
let writeSciFactSlice (folder: string) (trainQueries: int) (testQueries: int) (extraDocs: int) (standsFor: string) =
    let corpus, queries = SciFact.corpus (), SciFact.queries ()
    let qrelsLines (split: string) count =
        let lines = File.ReadAllLines(SciFact.qrelsFile split) |> Array.skip 1
        let chosen = lines |> Array.map (fun l -> l.Split('\t').[0]) |> Array.distinct |> Array.truncate count |> set
        lines |> Array.filter (fun l -> chosen.Contains(l.Split('\t').[0]))
    let train, test = qrelsLines "train" trainQueries, qrelsLines "test" testQueries
    let judgedDocs = Array.append train test |> Array.map (fun l -> l.Split('\t').[1])
    let docIds = Array.append judgedDocs (corpus.Ids |> Seq.truncate extraDocs |> Array.ofSeq) |> Array.distinct
    let queryIds = Array.append train test |> Array.map (fun l -> l.Split('\t').[0]) |> Array.distinct
    Directory.CreateDirectory folder |> ignore
    let write name (matrix: EmbeddingMatrix) =
        Npy.WriteFloat32(Path.Combine(folder, name + ".npy"), ReadOnlySpan(matrix.Values), matrix.Rows, matrix.Dim)
        File.WriteAllLines(Path.Combine(folder, name + ".ids.txt"), matrix.Ids)
    write "corpus" (corpus.Select docIds)
    write "queries" (queries.Select queryIds)
    File.WriteAllLines(Path.Combine(folder, "train.tsv"), Array.append [| "query-id\tcorpus-id\tscore" |] train)
    File.WriteAllLines(Path.Combine(folder, "test.tsv"), Array.append [| "query-id\tcorpus-id\tscore" |] test)
    let manifest = Path.Combine(folder, "embeddings.yaml")
    File.WriteAllText(
        manifest,
        String.concat "\n"
            [ "# a slice of the mirror's SciFact all-MiniLM-L6-v2 embeddings (test only)"
              "embeddings:"
              "  - encoder: all-MiniLM-L6-v2"
              sprintf "    stands_for: %s" standsFor
              "    dataset: scifact-slice"
              "    corpus: corpus.npy"
              "    corpus_ids: corpus.ids.txt"
              "    queries: queries.npy"
              "    query_ids: queries.ids.txt"
              "    qrels_train: train.tsv"
              "    qrels_test: test.tsv"
              "" ]
    )
    manifest
