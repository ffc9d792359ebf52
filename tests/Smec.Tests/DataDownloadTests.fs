/// Fetching datasets without the mirror, tested without the network: a small HTTP server on
/// 127.0.0.1 stands in for upstream. Download, source verification (published MD5 / counts),
/// unpacking, count checks and use; a wrong checksum keeps nothing; an interrupted download is
/// resumed; a copy with other bytes than the reference copy is accepted under its own data
/// identity; `smec reproduce` runs item 1 from the server with no mirror; the embedded archive
/// is the reference copy.
module Smec.Tests.DataDownloadTests

open System
open System.Collections.Concurrent
open System.Formats.Tar
open System.IO
open System.IO.Compression
open System.Net
open System.Net.Sockets
open System.Security.Cryptography
open System.Text
open System.Threading
open Expecto
open Smec.Core.Data
open Smec.Core.Data.Manifests
open Smec.Tests.TestSupport
open Smec.Tests.DataTestSupport

open Smec.Tests.DataServerSupport

let private load (m: DatasetManifest) = DatasetLoader.LoadText(m, DataLoadOptions())

[<Tests>]
let tests =
    testList "DataDownload" [
        testCase "a BEIR zip: downloaded, MD5 checked, unpacked, counted, used; the download is not kept" <| fun () ->
            use box = new Sandbox()
            let zip = zipOf "mini/" (beirFiles "Alpha")
            use server = new LocalServer(Map [ "/beir/mini.zip", zip ])
            let m = box.Manifest("beir-mini", beirManifest (server.Url "/beir/mini.zip") "beir/mini" (Some(md5 zip)) (beirFiles "Alpha"))
            let d = load m
            Expect.equal d.Corpus.Count 3 "docs"
            Expect.equal (d.Qrels "test").QueryCount 2 "judged queries"
            let location = DatasetLocator.Locate(m, null, allowDownload = false)
            Expect.equal location.Folder (Path.Combine(box.Cache, "data", "beir", "mini")) "kept in the user cache"
            let source = File.ReadAllText(Path.Combine(location.Folder, UpstreamDownloader.SourceFile))
            expectContains source [ server.Url "/beir/mini.zip"; sprintf "%d bytes" zip.Length; "verified by published MD5"; "counts checked: yes" ] "the source identity is recorded beside the copy"
            let identity = DatasetLoader.Identity m
            Expect.isTrue identity.IsReference "the same bytes as the pinned reference"
            Expect.equal (box.Leftovers() |> List.filter (fun p -> p.StartsWith "downloads" && p.Contains ".")) [] "the archive is not kept after unpacking"
            Expect.isEmpty (box.Leftovers() |> List.filter (fun p -> p.Contains ".saving-" || p.Contains ".old-")) "no staging folder (AtomicFolder)"
            // A second load uses the copy: no new request.
            load m |> ignore
            Expect.equal server.Requests.Length 1 "downloaded once"

        testCase "a wrong published MD5 is rejected before unpacking, and nothing is kept" <| fun () ->
            use box = new Sandbox()
            let zip = zipOf "mini/" (beirFiles "Alpha")
            use server = new LocalServer(Map [ "/beir/mini.zip", zip ])
            let m = box.Manifest("beir-mini", beirManifest (server.Url "/beir/mini.zip") "beir/mini" (Some "0123456789abcdef0123456789abcdef") [])
            let message = messageOf<DataUnavailableException> (fun () -> load m |> ignore)
            expectContains message [ "beir-mini"; "MD5"; md5 zip; "0123456789abcdef0123456789abcdef"; "nothing was kept" ] "wrong MD5"
            Expect.equal (box.Leftovers() |> List.filter (fun p -> File.Exists(Path.Combine(box.Cache, p)))) [] "no file left anywhere in the cache"

        testCase "an interrupted download leaves no dataset folder and is resumed by the next attempt" <| fun () ->
            use box = new Sandbox()
            let zip = zipOf "mini/" (beirFiles "Alpha")
            use server = new LocalServer(Map [ "/beir/mini.zip", zip ], Set [ "/beir/mini.zip" ])
            let m = box.Manifest("beir-mini", beirManifest (server.Url "/beir/mini.zip") "beir/mini" (Some(md5 zip)) [])
            let first = messageOf<DataUnavailableException> (fun () -> load m |> ignore)
            expectContains first [ "beir-mini"; "downloading it into" ] "the failure names the dataset and the target"
            Expect.isFalse (Directory.Exists(Path.Combine(box.Cache, "data", "beir", "mini"))) "no half dataset folder"
            Expect.isTrue (File.Exists(Path.Combine(box.Cache, "downloads", "beir-mini", "mini.zip.part"))) "the partial download is kept to resume"
            let d = load m
            Expect.equal d.Corpus.Count 3 "the second attempt completes"
            let ranges = server.Requests |> List.choose snd
            Expect.equal ranges [ sprintf "bytes=%d-" (zip.Length / 2) ] "the second request resumed where the first stopped"

        testCase "a copy whose bytes differ from the reference but verify is used under its own identity" <| fun () ->
            use box = new Sandbox()
            let reference = beirFiles "Alpha"
            let variant = zipOf "mini/" (beirFiles "Alpha (another export)")
            use server = new LocalServer(Map [ "/beir/mini.zip", variant ])
            let m = box.Manifest("beir-mini", beirManifest (server.Url "/beir/mini.zip") "beir/mini" (Some(md5 variant)) reference)
            let d = load m
            Expect.equal d.Corpus.[0].Title "Alpha (another export)" "the upstream bytes are what is used"
            let identity = DatasetLoader.Identity m
            Expect.isFalse identity.IsReference "not the reference copy"
            Expect.equal (List.ofSeq identity.DifferFromReference) [ "corpus.jsonl" ] "the differing file is named"
            let referenceIdentity = DataIdentity("beir-mini", [ for name, text in reference -> struct (name, sha text) ], [])
            Expect.notEqual identity.Hash referenceIdentity.Hash "a different identity than the reference copy's"
            // Embeddings are keyed by the copy's own checksums.
            let sums = Smec.Core.Storage.EmbeddingStore.DatasetFileSums(m, DatasetLocator.Locate(m, null, false).Folder)
            let corpusSum = identity.Files |> Seq.pick (fun (struct (p, s)) -> if p = "corpus.jsonl" then Some s else None)
            Expect.isTrue (sums |> Seq.exists (fun (struct (p, s)) -> p = "corpus.jsonl" && s = corpusSum)) "the key material has the copy's corpus checksum"
            Expect.isFalse (sums |> Seq.exists (fun (struct (p, s)) -> p = "corpus.jsonl" && s = sha (snd reference.[0]))) "not the pinned one"

        testCase "a SMART tar.gz without a published checksum is verified by its counts" <| fun () ->
            use box = new Sandbox()
            let tar = tarGzOf smartFiles
            use server = new LocalServer(Map [ "/cran/cran.tar.gz", tar ])
            let good = box.Manifest("cran-mini", smartManifest (server.Url "/cran/cran.tar.gz") "classic/cran-mini" 2)
            let d = load good
            Expect.equal d.Corpus.Count 2 "docs"
            Expect.equal d.Queries.[1].Id "2" "queries renumbered by position (004 -> 2)"
            Expect.equal ((d.Qrels "all").ForQuery("1").["1"]) 3 "Cleverdon code 2 -> gain 3"
            Expect.isFalse ((DatasetLoader.Identity good).Files |> Seq.exists (fun (struct (p, _)) -> p = "cranqrel.readme")) "an absent optional file is not part of the identity"

        testCase "a CIFAR binary tar.gz: MD5 checked, records read as labelled RGB images, planes interleaved" <| fun () ->
            use box = new Sandbox()
            let tar =
                tarGzOfBytes [ "cifar-10-batches-bin/data_batch_1.bin", cifarBatch [ 0; 1 ]
                               "cifar-10-batches-bin/data_batch_2.bin", cifarBatch [ 1; 0 ]
                               "cifar-10-batches-bin/test_batch.bin", cifarBatch [ 1; 0 ]
                               "cifar-10-batches-bin/batches.meta.txt", Encoding.ASCII.GetBytes "a\nb\n" ]
            use server = new LocalServer(Map [ "/cifar/cifar-10-binary.tar.gz", tar ])
            let m = box.Manifest("cifar-mini", cifarManifest (server.Url "/cifar/cifar-10-binary.tar.gz") (md5 tar))
            let d = DatasetLoader.LoadImageClasses(m, DataLoadOptions())
            Expect.equal [ for i in d.Split "train" -> i.Id, i.Label ] [ "train/00000", 0; "train/00001", 1; "train/00002", 1; "train/00003", 0 ] "ids over the batches in manifest order"
            let images = d.ReadImages("test") |> Seq.map (fun (struct (id, image)) -> id, image) |> List.ofSeq
            Expect.equal (images |> List.map fst) [ "test/00000"; "test/00001" ] "test ids"
            let image: Smec.Core.Data.Images.RgbImage = snd images.[1]
            Expect.equal (image.Width, image.Height) (32, 32) "32x32"
            let struct (r, g, b) = image.At(31, 31)
            Expect.equal (int r, int g, int b) (1, 11, 21) "pixel = (R plane, G plane, B plane) of record 1"

        testCase "counts that do not verify reject the download and keep nothing" <| fun () ->
            use box = new Sandbox()
            let tar = tarGzOf smartFiles
            use server = new LocalServer(Map [ "/cran/cran.tar.gz", tar ])
            let wrong = box.Manifest("cran-mini", smartManifest (server.Url "/cran/cran.tar.gz") "classic/cran-mini" 1400)
            let message = messageOf<DataUnavailableException> (fun () -> load wrong |> ignore)
            expectContains message [ "cran-mini"; "counts.docs: expected 1400, found 2" ] "count mismatch"
            Expect.equal (box.Leftovers() |> List.filter (fun p -> File.Exists(Path.Combine(box.Cache, p)))) [] "no file left anywhere in the cache"

        testCase "SMEC_OFFLINE=1 makes no request and says how to get the data" <| fun () ->
            use box = new Sandbox()
            let zip = zipOf "mini/" (beirFiles "Alpha")
            use server = new LocalServer(Map [ "/beir/mini.zip", zip ])
            let m = box.Manifest("beir-mini", beirManifest (server.Url "/beir/mini.zip") "beir/mini" (Some(md5 zip)) [])
            Environment.SetEnvironmentVariable("SMEC_OFFLINE", "1")
            let message = messageOf<DataUnavailableException> (fun () -> load m |> ignore)
            expectContains message [ "beir-mini"; "SMEC_OFFLINE=1"; server.Url "/beir/mini.zip" ] "offline"
            Expect.isEmpty server.Requests "no request"

        testCase "flickr8k-1k is built from a Flickr8k copy by the manifest's list, counted, and gets its own identity" <| fun () ->
            let m = datasetManifest "flickr8k-1k"
            let mirror = Path.Combine(dataRoot (), m.Path) // before the sandbox hides the mirror
            use box = new Sandbox()
            Expect.equal m.Build.Images.Count 1000 "the manifest lists the 1,000 images"
            // A stand-in for a user's Flickr8k folder: Kaggle's captions.txt and Images/, from the mirror's subset.
            let source = Path.Combine(box.Path, "Flickr8k")
            Directory.CreateDirectory(Path.Combine(source, "Images")) |> ignore
            ArchiveUnpacker.Unpack("tar.gz", Path.Combine(mirror, "images.tar.gz"), Path.Combine(source, "Images"), "images/") |> ignore
            let empty = messageOf<DataUnavailableException> (fun () -> Smec.Core.Data.Images.SubsetBuilder.Build(m, source, Path.Combine(box.Path, "root")) |> ignore)
            expectContains empty [ source; "captions.txt"; "Flickr8k.token.txt" ] "says which captions file it looks for"
            File.Copy(Path.Combine(mirror, "captions.txt"), Path.Combine(source, "captions.txt"))
            let struct (folder, identity) = Smec.Core.Data.Images.SubsetBuilder.Build(m, source, Path.Combine(box.Path, "root"))
            Expect.equal folder (Path.Combine(box.Path, "root", m.Path)) "built under the data root"
            let d = DatasetLoader.LoadCaptioned(m, DataLoadOptions(ExplicitPath = folder))
            Expect.equal (d.ImageIds.Count, d.Captions.Count) (1000, 5000) "1,000 images, 5,000 captions"
            Expect.equal (List.ofSeq identity.DifferFromReference) [ "images.tar.gz" ] "the same captions; the archive is packed anew"
            Expect.isEmpty (Directory.GetDirectories(Path.GetDirectoryName folder) |> Array.filter (fun d -> d.Contains ".saving-" || d.Contains ".old-")) "no staging folder (AtomicFolder)"

        testCase "smec reproduce --table 1 with no mirror: stops once per missing dataset offline, then runs from the test server" <| fun () ->
            use temp = new TempDir()
            let manifests = Path.Combine(temp.Path, "manifests")
            Directory.CreateDirectory(Path.Combine(manifests, "datasets")) |> ignore
            use server = itemOneUpstream (Path.Combine(manifests, "datasets"))
            let results = Path.Combine(temp.Path, "results")
            let env offline =
                [ "SMEC_MANIFESTS_DIR", manifests; "SMEC_NO_MIRROR", "1"; "SMEC_CACHE_DIR", Path.Combine(temp.Path, "cache")
                  "SMEC_DATA_DIR", ""; "SMEC_OFFLINE", (if offline then "1" else "") ]
            let code, _, stderr = runSmec (env true) [ "reproduce"; "--table"; "1"; "--results"; results ]
            Expect.equal code 2 $"offline: exit 2 (stderr: {stderr})"
            expectContains stderr [ "item 1 needs 6 dataset(s) that are not here"; "nothing was run and no report was written" ] "one summary"
            for id in [ "scifact"; "cranfield"; "cacm"; "cifar10"; "fashion-mnist"; "flickr8k-1k" ] do
                expectContains stderr [ sprintf "dataset '%s': dataset '%s' not found" id id ] (id + " has its own message")
            Expect.isFalse (Directory.Exists(Path.Combine(results, "item-1"))) "no report written"
            Expect.isEmpty server.Requests "offline: no request"
            let code, stdout, stderr = runSmec (env false) [ "reproduce"; "--table"; "1"; "--results"; results ]
            Expect.equal code 0 $"online: exit 0 (stdout: {stdout}; stderr: {stderr})"
            Expect.equal server.Requests.Length 10 "every upstream file fetched once"
            let report = Path.Combine(results, "item-1", "local", "cells.csv")
            Expect.isTrue (File.Exists report) "the report is written"
            let cells = File.ReadAllText report
            Expect.isFalse (cells.Contains "FAIL") $"no check fails: {cells}"
            Expect.stringContains cells "OK" "the declared counts are checked OK"

        testCase "make-archive.sh rebuilds the embedded archive byte for byte from the mirror" <| fun () ->
            let mirror = dataRoot ()
            use temp = new TempDir()
            let out = Path.Combine(temp.Path, "rebuilt.tar.gz")
            let psi = Diagnostics.ProcessStartInfo("bash", UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true)
            for a in [ Path.Combine(manifestsFolder, "embedded", "make-archive.sh"); mirror; out ] do psi.ArgumentList.Add a
            use proc = Diagnostics.Process.Start psi
            let stderr = proc.StandardError.ReadToEnd()
            proc.WaitForExit()
            Expect.equal proc.ExitCode 0 $"the script runs (stderr: {stderr})"
            let index = EmbeddedData.TryIndex manifestsFolder
            Expect.equal (FileChecksums.Sha256 out) index.Sha256 "the same bytes as the committed archive"

        testCase "the embedded archive matches embedded.yaml and unpacks to the reference copies" <| fun () ->
            use box = new Sandbox()
            let index = EmbeddedData.TryIndex manifestsFolder
            Expect.isNotNull index "data-manifests/embedded/embedded.yaml exists"
            Expect.equal (FileChecksums.Sha256 index.ArchivePath) index.Sha256 "the archive's SHA-256 is the recorded one"
            Expect.equal (List.ofSeq index.Datasets) [ "scifact"; "cranfield"; "cacm" ] "the main job's datasets"
            let root = EmbeddedData.Unpack index
            Expect.stringStarts root box.Cache "unpacked into the user cache"
            for id in index.Datasets do
                let m = datasetManifest id
                let identity = FileChecksums.Verify(m, Path.Combine(root, m.Path))
                Expect.isTrue identity.IsReference (id + ": the embedded bytes are the reference copy's")
            let files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories) |> Seq.filter (fun f -> not (f.EndsWith ".verified")) |> Seq.length
            Expect.equal files (index.Datasets |> Seq.sumBy (fun id -> (datasetManifest id).Files.Count)) "nothing else in the archive"
            // With no mirror, the locator finds them there.
            let location = DatasetLocator.Locate(datasetManifest "scifact", null, allowDownload = false)
            Expect.equal location.Rule DatasetLocator.EmbeddedRule "found as the embedded copy"
    ]

