/// The loaders: every local dataset loads with exactly its manifest's counts, the collections'
/// quirks are handled, and damaged copies fail with the file and the problem named.
module Smec.Tests.DataLoaderTests

open System
open System.IO
open Expecto
open Smec.Core.Data
open Smec.Core.Data.Images
open Smec.Tests.TestSupport
open Smec.Tests.DataTestSupport

let private noChecksums dir = DataLoadOptions(ExplicitPath = dir, VerifyChecksums = false, AllowDownload = false)

let private textCounts =
    testList "text datasets load with their manifest counts" [
        testCase "SciFact: 5,183 docs; test 300 queries / 339 qrels; train 809 / 919" <| fun () ->
            let d = DatasetLoader.LoadText "scifact"
            Expect.equal d.Corpus.Count 5183 "docs"
            Expect.equal (d.Qrels "test").QueryCount 300 "test queries"
            Expect.equal d.QrelsRowsBySplit.["test"] 339 "test qrels"
            Expect.equal (d.Qrels "train").QueryCount 809 "train queries"
            Expect.equal d.QrelsRowsBySplit.["train"] 919 "train qrels"
            Expect.equal (d.QueriesOf "test").Count 300 "judged test queries in file order"

        testCase "Cranfield: 1,400 docs, 225 queries, 1,837 qrels, ids renumbered by position" <| fun () ->
            let d = DatasetLoader.LoadText "cranfield"
            Expect.equal d.Corpus.Count 1400 "docs"
            Expect.equal d.Queries.Count 225 "queries"
            Expect.equal d.QrelsRowsBySplit.["all"] 1837 "qrels"
            // cran.qry's 3rd record is numbered 004, yet cranqrel calls it query 3.
            Expect.equal d.Queries.[2].Id "3" "third query is query 3"
            Expect.stringStarts d.Queries.[2].Text "what problems of heat conduction in composite slabs" "the record numbered 004"
            // cranqrel `1 184 2`: code 2 (high relevance) maps to gain 3; `1 486 -1` to 0.
            Expect.equal ((d.Qrels "all").ForQuery("1").["184"]) 3 "Cleverdon code 2 -> gain 3"
            Expect.equal ((d.Qrels "all").ForQuery("1").["486"]) 0 "code -1 -> judged not relevant"

        testCase "CACM: 3,204 docs, 64 queries of which 52 judged, 796 qrels" <| fun () ->
            let d = DatasetLoader.LoadText "cacm"
            Expect.equal d.Corpus.Count 3204 "docs"
            Expect.equal d.Queries.Count 64 "queries (the trailing empty `.I 0` is skipped)"
            Expect.equal (d.Qrels "all").QueryCount 52 "judged queries"
            Expect.equal d.QrelsRowsBySplit.["all"] 796 "qrels"
            Expect.isTrue ((d.Qrels "all").ForQuery("1").ContainsKey "1410") "`01 1410 0 0` is query 1"
            Expect.equal d.Corpus.[0].Title "Preliminary Report-International Algebraic Language" "title from .T"
    ]

let private imageCounts =
    testList "image datasets load with their manifest counts" [
        testCase "CIFAR-10: 50,000 + 10,000 images in 10 classes, listed without decoding" <| fun () ->
            let d = DatasetLoader.LoadImageClasses "cifar10"
            Expect.equal (d.Split "train").Count 50000 "train"
            Expect.equal (d.Split "test").Count 10000 "test"
            Expect.equal d.ClassNames.Count 10 "classes"
            for split, per in [ "train", 5000; "test", 1000 ] do
                let counts = d.Split split |> Seq.countBy (fun i -> i.Label) |> Seq.map snd |> Seq.distinct |> List.ofSeq
                Expect.equal counts [ per ] (split + " is balanced")

        testCase "Fashion-MNIST: 60,000 + 10,000 images in 10 classes" <| fun () ->
            let d = DatasetLoader.LoadImageClasses "fashion-mnist"
            Expect.equal (d.Split "train").Count 60000 "train"
            Expect.equal (d.Split "test").Count 10000 "test"
            let first = d.ReadImages("test", Collections.Generic.HashSet [ "test/00000" ]) |> Seq.exactlyOne
            let struct (_, image) = first
            Expect.equal (image.Width, image.Height) (28, 28) "28x28"
            // The first test image of Fashion-MNIST is an ankle boot (label 9).
            Expect.equal (d.Split "test").[0].Label 9 "ankle boot"

        testCase "Flickr8k-1k: 1,000 images x 5 captions, quoted captions parsed" <| fun () ->
            let d = DatasetLoader.LoadCaptioned "flickr8k-1k"
            Expect.equal d.ImageIds.Count 1000 "images"
            Expect.equal d.Captions.Count 5000 "captions"
            let quoted = d.Captions |> Seq.find (fun c -> c.Id = "1012212859_01547e3f17.jpg#0")
            Expect.equal quoted.Text "A dog shakes its head near the shore , a red ball next to it ." "a caption with a comma, unquoted"

        testCase "a known CIFAR-10 pixel matches an independent decoder" <| fun () ->
            let d = DatasetLoader.LoadImageClasses "cifar10"
            let image = d.ReadImages("test", Collections.Generic.HashSet [ "test/cat/0000" ]) |> Seq.exactlyOne |> fun (struct (_, i)) -> i
            Expect.equal (image.Width, image.Height) (32, 32) "32x32"
            // Read with libjpeg-turbo 2.1.5's djpeg (default islow IDCT, fancy upsampling) from
            // test/cat/0000.jpg. JPEG decoders may differ by rounding; over this whole image
            // StbImageSharp and djpeg differ by at most 2 levels, so allow 2.
            let expected = [ (0, 0), (167, 107, 47); (16, 16), (118, 101, 85); (31, 31), (27, 79, 129); (5, 20), (154, 156, 155) ]
            for (x, y), (r, g, b) in expected do
                let struct (pr, pg, pb) = image.At(x, y)
                for actual, want, channel in [ int pr, r, "R"; int pg, g, "G"; int pb, b, "B" ] do
                    Expect.isLessThanOrEqual (abs (actual - want)) 2 (sprintf "pixel (%d,%d) %s: stb %d, djpeg %d" x y channel actual want)
    ]

let private damage =
    testList "damaged copies fail naming the file and the problem" [
        testCase "a changed byte that keeps the counts is another data identity, not the reference" <| fun () ->
            use temp = new TempDir()
            let m = datasetManifest "cacm"
            copyDataset m temp.Path |> ignore
            let reference = DatasetLoader.Identity(m, DataLoadOptions(ExplicitPath = temp.Path))
            Expect.isTrue reference.IsReference "an unchanged copy is the reference copy"
            let path = Path.Combine(temp.Path, "query.text")
            let bytes = File.ReadAllBytes path
            // A letter inside the first query's text: the counts stay, the bytes do not.
            let at = Array.IndexOf(bytes, byte 'a', 40)
            bytes.[at] <- byte 'b'
            File.WriteAllBytes(path, bytes)
            let d = DatasetLoader.LoadText(m, DataLoadOptions(ExplicitPath = temp.Path))
            Expect.equal d.Queries.Count 64 "still loads: its counts verify"
            let other = DatasetLoader.Identity(m, DataLoadOptions(ExplicitPath = temp.Path))
            Expect.isFalse other.IsReference "not the reference copy"
            Expect.equal (List.ofSeq other.DifferFromReference) [ "query.text" ] "names the file that differs"
            Expect.notEqual other.Hash reference.Hash "its own identity"
            Expect.notEqual other.Name DataIdentity.ReferenceName "results record its hash"

        testCase "a truncated jsonl line names file and line" <| fun () ->
            use temp = new TempDir()
            let m = datasetManifest "scifact"
            copyDataset m temp.Path |> ignore
            let path = Path.Combine(temp.Path, "queries.jsonl")
            let lines = File.ReadAllLines path
            lines.[41] <- lines.[41].Substring(0, lines.[41].Length / 2)
            File.WriteAllLines(path, lines)
            let message = messageOf<DataVerificationException> (fun () -> DatasetLoader.LoadText(m, noChecksums temp.Path) |> ignore)
            expectContains message [ path + ":42:"; "truncated" ] "truncated line"
            // With identities on (the default) the damage is still caught by the parser.
            let again = messageOf<DataVerificationException> (fun () -> DatasetLoader.LoadText(m, DataLoadOptions(ExplicitPath = temp.Path)) |> ignore)
            expectContains again [ path + ":42:"; "truncated" ] "other bytes are parsed and checked, not trusted"

        testCase "a qrels row naming an unknown document names file, line and id" <| fun () ->
            use temp = new TempDir()
            let m = datasetManifest "scifact"
            copyDataset m temp.Path |> ignore
            let path = Path.Combine(temp.Path, "qrels", "test.tsv")
            File.AppendAllText(path, "1\t999999999\t1\n")
            let lineCount = File.ReadAllLines(path).Length
            let message = messageOf<DataVerificationException> (fun () -> DatasetLoader.LoadText(m, noChecksums temp.Path) |> ignore)
            expectContains message [ sprintf "%s:%d:" path lineCount; "999999999"; "not in the corpus" ] "unknown doc"

        testCase "a missing file names the file and the copy it was missing from" <| fun () ->
            use temp = new TempDir()
            let m = datasetManifest "cranfield"
            copyDataset m temp.Path |> ignore
            let path = Path.Combine(temp.Path, "cranqrel")
            File.Delete path
            let message = messageOf<DataUnavailableException> (fun () -> DatasetLoader.LoadText(m, DataLoadOptions(ExplicitPath = temp.Path)) |> ignore)
            expectContains message [ path; "missing"; "qrels"; "To get it" ] "missing file"

        testCase "a count that does not match names the counts field" <| fun () ->
            let m = datasetManifest "cacm"
            m.Counts.Docs <- Nullable 3205
            let message = messageOf<DataVerificationException> (fun () -> DatasetLoader.LoadText m |> ignore)
            expectContains message [ "counts.docs: expected 3205, found 3204"; m.ManifestFile ] "count mismatch"

        testCase "a dataset found nowhere says where it looked and how to get it" <| fun () ->
            use temp = new TempDir()
            let m = datasetManifest "flickr8k-1k"
            let message = messageOf<DataUnavailableException> (fun () -> DatasetLoader.LoadCaptioned(m, DataLoadOptions(ExplicitPath = temp.Path)) |> ignore)
            expectContains message [ temp.Path; "holds none of its files"; "To get it"; "data mirror" ] "nothing there"

        testCase "a failed download says what failed, where it looked and how to get the data" <| fun () ->
            use temp = new TempDir()
            let saved = Environment.GetEnvironmentVariable "SMEC_CACHE_DIR"
            try
                Environment.SetEnvironmentVariable("SMEC_CACHE_DIR", temp.Path)
                let m = datasetManifest "nfcorpus"
                // Port 9 (discard) on loopback refuses at once: a real HttpClient request that fails fast.
                m.Source.Downloads.[0].Url <- "http://127.0.0.1:9/nfcorpus.zip"
                let message = messageOf<DataUnavailableException> (fun () -> DatasetLoader.LoadText m |> ignore)
                expectContains message [ "nfcorpus"; "looked in"; "downloading it into"; "127.0.0.1:9"; "To get it" ] "download failure"
                Expect.isFalse (Directory.Exists(Path.Combine(temp.Path, "data", "beir", "nfcorpus"))) "no half copy left behind"
            finally
                Environment.SetEnvironmentVariable("SMEC_CACHE_DIR", saved)

        testCase "the class-balanced subset is deterministic, balanced and seed-dependent" <| fun () ->
            let d = DatasetLoader.LoadImageClasses "fashion-mnist"
            let a = ClassBalancedSubset.Select(d.Split "train", 7, 1L)
            let b = ClassBalancedSubset.Select(d.Split "train", 7, 1L)
            let c = ClassBalancedSubset.Select(d.Split "train", 7, 2L)
            Expect.equal (a |> Seq.map (fun i -> i.Id) |> List.ofSeq) (b |> Seq.map (fun i -> i.Id) |> List.ofSeq) "same seed, same subset"
            Expect.notEqual (a |> Seq.map (fun i -> i.Id) |> List.ofSeq) (c |> Seq.map (fun i -> i.Id) |> List.ofSeq) "other seed, other subset"
            Expect.equal (a |> Seq.countBy (fun i -> i.Label) |> Seq.map snd |> Seq.distinct |> List.ofSeq) [ 7 ] "7 per class"
            Expect.equal a.Count 70 "10 classes x 7"
    ]

[<Tests>]
let tests = testList "DataLoaders" [ textCounts; imageCounts; damage ]
