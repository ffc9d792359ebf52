/// The embedding store and cache: the mirror's SciFact MiniLM embeddings are reused when their
/// key matches, other requests are encoded once and then read back, damaged cache entries are
/// rebuilt, and user-supplied embeddings (.npy, .safetensors) are read with their ids.
module Smec.Tests.EmbeddingStoreTests

open System
open System.IO
open System.Collections.Generic
open Expecto
open Smec.Core.Data
open Smec.Core.Data.Manifests
open Smec.Core.Encoders
open Smec.Core.Storage
open Smec.Tests.TestSupport
open Smec.Tests.DataTestSupport

let private quietLog () = new StringWriter()

/// A tiny BEIR dataset (6 SciFact documents, 3 test queries) with its own manifest catalog.
let private tinyBeir (root: string) =
    let scifact = DatasetLoader.LoadText "scifact"
    let data = Path.Combine(root, "data")
    Directory.CreateDirectory(Path.Combine(data, "qrels")) |> ignore
    let docs = scifact.Corpus |> Seq.take 6 |> List.ofSeq
    let json (pairs: (string * string) list) =
        "{" + (pairs |> List.map (fun (k, v) -> sprintf "%s: %s" (Text.Json.JsonSerializer.Serialize k) (Text.Json.JsonSerializer.Serialize v)) |> String.concat ", ") + "}"
    File.WriteAllLines(Path.Combine(data, "corpus.jsonl"), docs |> List.map (fun d -> json [ "_id", d.Id; "title", d.Title; "text", d.Text ]))
    let queries = scifact.Queries |> Seq.take 3 |> List.ofSeq
    File.WriteAllLines(Path.Combine(data, "queries.jsonl"), queries |> List.map (fun q -> json [ "_id", q.Id; "text", q.Text ]))
    File.WriteAllLines(Path.Combine(data, "qrels", "test.tsv"),
        "query-id\tcorpus-id\tscore" :: [ for q, d in List.zip queries (List.take 3 docs) -> sprintf "%s\t%s\t1" q.Id d.Id ])
    let manifests = Path.Combine(root, "manifests")
    Directory.CreateDirectory(Path.Combine(manifests, "datasets")) |> ignore
    Directory.CreateDirectory(Path.Combine(manifests, "encoders")) |> ignore
    File.WriteAllLines(Path.Combine(manifests, "datasets", "tiny.yaml"), [
        "id: tiny"
        "title: six SciFact documents"
        "kind: text-retrieval"
        "format: beir"
        "mirrored: false"
        "path: tiny"
        "files:"
        "  - { path: corpus.jsonl, role: corpus }"
        "  - { path: queries.jsonl, role: queries }"
        "  - { path: qrels/test.tsv, role: qrels, split: test }"
        "source: { instructions: made by the test }"
        "counts: { docs: 6, queries: 3, splits: { test: { queries: 3, qrels: 3 } } }"
        "licence: as SciFact"
        "citation: as SciFact"
    ])
    for id in [ "all-MiniLM-L6-v2"; "arctic-embed-xs"; "llm2vec-7b" ] do
        File.Copy(Path.Combine(manifestsFolder, "encoders", id + ".yaml"), Path.Combine(manifests, "encoders", id + ".yaml"))
    ManifestCatalog.Load manifests, data, docs

[<Tests>]
let tests =
    testList "EmbeddingStore" [
        testCase "SciFact under MiniLM comes from the mirror's precomputed files" <| fun () ->
            use temp = new TempDir()
            let encoded = EmbeddingStore.GetOrBuild("scifact", "all-MiniLM-L6-v2", EncodeOptions(Cache = EmbeddingCache temp.Path, ShowProgress = false))
            Expect.equal (encoded.Corpus.Rows, encoded.Corpus.Dim) (5183, 384) "corpus"
            Expect.equal (encoded.Queries.Rows, encoded.Queries.Dim) (1109, 384) "queries"
            Expect.equal (Set.ofSeq encoded.Origins.Values) (set [ "mirror" ]) "nothing encoded"
            Expect.isEmpty (Directory.GetFileSystemEntries temp.Path) "nothing written to the cache"

        testCase "a request is encoded once, then read from the cache; a damaged entry is rebuilt" <| fun () ->
            use temp = new TempDir()
            let catalog, data, docs = tinyBeir temp.Path
            let cache = EmbeddingCache(Path.Combine(temp.Path, "cache"))
            let log = quietLog ()
            let options = EncodeOptions(Catalog = catalog, DataPath = data, Cache = cache, ShowProgress = false, Log = log)
            let first = EmbeddingStore.GetOrBuild("tiny", "all-MiniLM-L6-v2", options)
            Expect.equal (Set.ofSeq first.Origins.Values) (set [ "built" ]) "first call encodes"
            // The same documents under the same encoder give the mirror's rows.
            let folder = SciFact.embeddingsFolder ()
            let mirror = Npy.ReadEmbeddings(Path.Combine(folder, "corpus.npy"), Path.Combine(folder, "corpus.ids.txt"))
            let expected = mirror.Select(docs |> List.map (fun d -> d.Id) |> ResizeArray)
            let diff = Seq.map2 (fun (a: float32) b -> abs (a - b)) expected.Values first.Corpus.Values |> Seq.max
            Expect.isLessThanOrEqual diff 1e-4f "tiny corpus rows equal the mirror's (1e-4 as in the encoder test)"
            let second = EmbeddingStore.GetOrBuild("tiny", "all-MiniLM-L6-v2", options)
            Expect.equal (Set.ofSeq second.Origins.Values) (set [ "cache" ]) "second call reads the cache"
            Expect.equal second.Corpus.Values first.Corpus.Values "bit for bit"
            Expect.equal second.Folder first.Folder "same folder"
            let npy = Path.Combine(first.Folder, "corpus.npy")
            let bytes = File.ReadAllBytes npy
            bytes.[bytes.Length - 1] <- bytes.[bytes.Length - 1] ^^^ 0x40uy
            File.WriteAllBytes(npy, bytes)
            let third = EmbeddingStore.GetOrBuild("tiny", "all-MiniLM-L6-v2", options)
            Expect.equal third.Origins.["corpus"] "built" "damaged corpus rebuilt"
            Expect.equal third.Origins.["queries"] "cache" "intact queries reused"
            Expect.equal third.Corpus.Values first.Corpus.Values "rebuilt to the same numbers"
            expectContains (log.ToString()) [ "rebuilding"; "corpus.npy"; "SHA-256" ] "the log says why"
            let arctic = EmbeddingStore.GetOrBuild("tiny", "arctic-embed-xs", options)
            Expect.notEqual arctic.Folder first.Folder "another encoder, another key"

        testCase "the key changes with the dataset files, the encoder settings and the selection" <| fun () ->
            let files = [| struct ("a.jsonl", String('0', 64)) |]
            let key (files: struct (string * string)[]) settings (selection: string) =
                EmbeddingKey("d", "beir", files, "e", settings, selection).Hash()
            let baseKey = key files "pooling=\"mean\"" null
            Expect.equal (key files "pooling=\"mean\"" null) baseKey "deterministic"
            Expect.notEqual (key files "pooling=\"cls\"" null) baseKey "settings"
            Expect.notEqual (key [| struct ("a.jsonl", String('1', 64)) |] "pooling=\"mean\"" null) baseKey "file checksum"
            Expect.notEqual (key files "pooling=\"mean\"" "class-balanced seed=0 test=1/class") baseKey "selection"

        testCase "ResNet18 on a class-balanced Fashion-MNIST subset: labels kept, then cached" <| fun () ->
            use temp = new TempDir()
            let options =
                EncodeOptions(Cache = EmbeddingCache temp.Path, ShowProgress = false, Parts = ResizeArray [ "test" ],
                              PerClass = readOnlyDict [ "test", 2 ], SubsetSeed = 5L, Log = quietLog ())
            let encoded = EmbeddingStore.GetOrBuild("fashion-mnist", "resnet18", options)
            let test = encoded.Part "test"
            Expect.equal (test.Rows, test.Dim) (20, 512) "2 per class x 10 classes, 512-d"
            Expect.equal (encoded.Labels.["test"] |> Array.countBy id |> Array.map snd |> Array.distinct) [| 2 |] "balanced labels"
            Expect.equal encoded.ClassNames.[9] "Ankle boot" "class names from the manifest"
            let again = EmbeddingStore.GetOrBuild("fashion-mnist", "resnet18", options)
            Expect.equal again.Origins.["test"] "cache" "reused"
            Expect.equal again.Labels.["test"] encoded.Labels.["test"] "same labels"

        testCase "a precomputed encoder reads .safetensors and .npy with their ids" <| fun () ->
            use temp = new TempDir()
            let catalog, data, docs = tinyBeir temp.Path
            let manifest = catalog.Encoder "llm2vec-7b"
            let folder = Path.Combine(temp.Path, "emb", "tiny", "llm2vec-7b")
            Directory.CreateDirectory folder |> ignore
            let values = Array.init (6 * 3584) (fun i -> float32 (i % 97) / 97.0f)
            Safetensors.WriteFloat32(Path.Combine(folder, "corpus.safetensors"), "embeddings", ReadOnlySpan values, 6, 3584)
            File.WriteAllLines(Path.Combine(folder, "corpus.ids.txt"), docs |> List.map (fun d -> d.Id))
            Npy.WriteFloat32(Path.Combine(folder, "queries.npy"), ReadOnlySpan(Array.zeroCreate<float32> (3 * 3584)), 3, 3584)
            File.WriteAllLines(Path.Combine(folder, "queries.ids.txt"), [ "0"; "2"; "4" ])
            let reader = new PrecomputedEncoder(manifest, Path.Combine(temp.Path, "emb"))
            let corpus = reader.Load("tiny", "corpus")
            Expect.equal (corpus.Rows, corpus.Dim) (6, 3584) "shape"
            Expect.equal corpus.Values values "values"
            Expect.equal (reader.Load("tiny", "queries")).Rows 3 "npy part"
            let message = messageOf<DataUnavailableException> (fun () -> reader.Load("tiny", "train") |> ignore)
            expectContains message [ "train.npy"; "train.safetensors"; "llm2vec" ] "missing part says where it looked"
            ignore data

        testCase "the safetensors reader reads a hand-made file and names what is wrong" <| fun () ->
            use temp = new TempDir()
            let write (path: string) (header: string) (data: float32[]) =
                let headerBytes = Text.Encoding.UTF8.GetBytes header
                use stream = File.Create path
                stream.Write(BitConverter.GetBytes(uint64 headerBytes.Length), 0, 8)
                stream.Write(headerBytes, 0, headerBytes.Length)
                for v in data do stream.Write(BitConverter.GetBytes v, 0, 4)
            let good = Path.Combine(temp.Path, "good.safetensors")
            write good """{"__metadata__":{"format":"pt"},"emb":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}""" [| 1.0f; 2.0f; 3.0f; 4.0f; 5.0f; 6.0f |]
            let struct (values, rows, cols) = Safetensors.ReadFloat32 good
            Expect.equal (rows, cols) (2, 3) "shape"
            Expect.equal values [| 1.0f; 2.0f; 3.0f; 4.0f; 5.0f; 6.0f |] "values"
            let half = Path.Combine(temp.Path, "half.safetensors")
            write half """{"emb":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]}}""" [| 0.0f; 0.0f; 0.0f |]
            expectContains (messageOf<InvalidDataException> (fun () -> Safetensors.ReadFloat32 half |> ignore)) [ half; "F16"; "F32" ] "dtype"
            let short = Path.Combine(temp.Path, "short.safetensors")
            write short """{"emb":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}""" [| 1.0f |]
            expectContains (messageOf<InvalidDataException> (fun () -> Safetensors.ReadFloat32 short |> ignore)) [ short; "past the end" ] "truncated"
    ]
