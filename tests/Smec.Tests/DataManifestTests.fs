/// The manifests: every dataset and encoder the paper and the local profile use is declared,
/// and a malformed manifest is rejected with its file and field named.
module Smec.Tests.DataManifestTests

open System.IO
open Expecto
open Smec.Core.Data.Manifests
open Smec.Tests.TestSupport
open Smec.Tests.DataTestSupport

/// Write a copy of a real manifest with one textual edit, and return the reader's complaint.
let private brokenCopy (sub: string) (id: string) (edit: string -> string) (read: string -> unit) =
    use temp = new TempDir()
    let source = Path.Combine(manifestsFolder, sub, id + ".yaml")
    let copy = Path.Combine(temp.Path, id + ".yaml")
    let original = File.ReadAllText source
    let edited = edit original
    if edited = original then failwith "the edit changed nothing: the test no longer exercises what it claims"
    File.WriteAllText(copy, edited)
    let message = messageOf<ManifestException> (fun () -> read copy)
    message, copy

[<Tests>]
let tests =
    testList "DataManifests" [
        testCase "the catalog loads every manifest and cross-checks the mirrored embeddings" <| fun () ->
            let catalog = ManifestCatalog.Load manifestsFolder
            Expect.isGreaterThanOrEqual catalog.Datasets.Count 20 "datasets declared"
            Expect.equal catalog.Embeddings.Count 1 "the mirror's SciFact MiniLM embeddings"

        testCase "every local dataset is mirrored with pinned checksums and counts" <| fun () ->
            let catalog = ManifestCatalog.Load manifestsFolder
            for id in [ "scifact"; "cranfield"; "cacm"; "cifar10"; "fashion-mnist"; "flickr8k-1k" ] do
                let m = catalog.Dataset id
                Expect.isTrue m.Mirrored (id + " is local")
                Expect.isNotNull m.Counts (id + " has counts")
                for f in m.Files do Expect.isNotNull f.Sha256 (sprintf "%s/%s has a sha256" id f.Path)

        testCase "every dataset and encoder of the paper is declared, not mirrored, with a way to get it" <| fun () ->
            let catalog = ManifestCatalog.Load manifestsFolder
            for id in [ "nfcorpus"; "fiqa"; "arguana"; "scidocs"; "trec-covid"; "quora"; "products-10k"; "fashion-200k" ] do
                let m = catalog.Dataset id
                Expect.isFalse m.Mirrored (id + " is not mirrored")
                Expect.isNotEmpty m.Source.Instructions (id + " says how to obtain it")
            for id in [ "llm2vec-7b"; "llm2vec-1b"; "text-embedding-3-large"; "paper-image-1024"; "paper-multimodal-768" ] do
                Expect.equal (catalog.Encoder id).Kind "precomputed" (id + " is user-supplied")
            Expect.equal [ for id in [ "llm2vec-7b"; "llm2vec-1b"; "text-embedding-3-large"; "paper-image-1024"; "paper-multimodal-768" ] -> (catalog.Encoder id).Dim ]
                [ 3584; 1536; 3072; 1024; 768 ] "the paper's dimensions"

        testCase "every download names a published checksum or the counts that verify it" <| fun () ->
            let catalog = ManifestCatalog.Load manifestsFolder
            let withDownloads = catalog.Datasets.Values |> Seq.filter (fun m -> m.Source.Downloads.Count > 0) |> List.ofSeq
            Expect.isGreaterThanOrEqual withDownloads.Length 15 "most datasets have an upstream download"
            for m in withDownloads do
                for d in m.Source.Downloads do
                    let fileMd5 = m.Files |> Seq.exists (fun f -> f.Path = d.Target && not (isNull f.UpstreamMd5))
                    let checksum = not (isNull d.Md5) || not (isNull d.Sha256) || fileMd5
                    Expect.isTrue (checksum || ManifestReader.HasCounts m) (sprintf "%s: %s has a published checksum or counts" m.Id d.Url)
            // The sums BEIR and Toronto publish, exactly.
            for id, sum in [ "scifact", "5f7d1de60b170fc8027bb7898e2efca1"; "nfcorpus", "a89dba18a62ef92f7d323ec890a0d38d"
                             "arguana", "8ad3e3c2a5867cdced806d6503f29b99"; "climate-fever", "8b66f0a9126c521bae2bde127b4dc99d" ] do
                Expect.equal (catalog.Dataset id).Source.Downloads.[0].Md5 sum (id + ": BEIR's published MD5")
            Expect.equal (catalog.Dataset "scifact").Source.Downloads.[0].Size (System.Nullable 2816079L) "scifact.zip's size"

        testCase "a download with neither a checksum nor counts is rejected" <| fun () ->
            use temp = new TempDir()
            let file = Path.Combine(temp.Path, "bare.yaml")
            File.WriteAllText(file, String.concat "\n" [
                "id: bare"; "title: t"; "kind: text-retrieval"; "format: beir"; "path: beir/bare"
                "files:"; "  - { path: corpus.jsonl, role: corpus }"; "  - { path: queries.jsonl, role: queries }"
                "  - { path: qrels/test.tsv, role: qrels, split: test }"
                "source:"; "  downloads:"; "    - { url: 'https://example.org/bare.zip', archive: zip }"; "  instructions: none"
                "licence: t"; "citation: t"; "" ])
            let message = messageOf<ManifestException> (fun () -> ManifestReader.ReadDataset file |> ignore)
            expectContains message [ file; "source.downloads[0]"; "checksum"; "counts" ] "unverifiable download"

        testCase "a bad checksum names the file and the field" <| fun () ->
            let message, copy =
                brokenCopy "datasets" "scifact" (fun t -> t.Replace("sha256: fdb9153e", "sha256: XYZ9153e")) (ManifestReader.ReadDataset >> ignore)
            expectContains message [ copy; "files[0].sha256" ] "bad sha256"

        testCase "an unknown field is named with its line" <| fun () ->
            let message, copy =
                brokenCopy "datasets" "cacm" (fun t -> t.Replace("licence:", "licnse:")) (ManifestReader.ReadDataset >> ignore)
            expectContains message [ copy; "licnse"; "line" ] "typo in a field name"

        testCase "a count that is not positive is rejected" <| fun () ->
            let message, _ =
                brokenCopy "datasets" "cranfield" (fun t -> t.Replace("docs: 1400", "docs: 0")) (ManifestReader.ReadDataset >> ignore)
            expectContains message [ "counts.docs"; "positive" ] "zero docs"

        testCase "an id that differs from the file name is rejected" <| fun () ->
            let message, _ =
                brokenCopy "encoders" "resnet18" (fun t -> t.Replace("id: resnet18", "id: resnet50")) (ManifestReader.ReadEncoder >> ignore)
            expectContains message [ "'id'"; "resnet50"; "file name" ] "id mismatch"

        testCase "an onnx-bert encoder must say how it pools" <| fun () ->
            let message, _ =
                brokenCopy "encoders" "all-MiniLM-L6-v2" (fun t -> t.Replace("pooling: mean", "pooling: max")) (ManifestReader.ReadEncoder >> ignore)
            expectContains message [ "settings.pooling"; "max" ] "unknown pooling"

        testCase "settings enter the cache key canonically" <| fun () ->
            let catalog = ManifestCatalog.Load manifestsFolder
            let mini = (catalog.Encoder "all-MiniLM-L6-v2").Settings.Canonical()
            let arctic = (catalog.Encoder "arctic-embed-xs").Settings.Canonical()
            Expect.stringContains mini "pooling=\"mean\"" "pooling is in the key"
            Expect.stringContains arctic "query_prefix=\"Represent this sentence for searching relevant passages: \"" "prefix is quoted verbatim"
            Expect.equal mini (catalog.Embeddings.[0].Settings.Canonical()) "the mirror's settings are MiniLM's"
    ]
