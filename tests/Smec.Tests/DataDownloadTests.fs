/// Fetching datasets without the mirror, tested without the network: a small HTTP server on
/// 127.0.0.1 stands in for upstream (BEIR's zip host, Glasgow's SMART tarballs). Download,
/// source verification (published MD5 / counts), unpacking, count checks and use; a wrong
/// checksum keeps nothing; an interrupted download is resumed; a copy with other bytes than the
/// reference copy is accepted under its own data identity; the embedded archive is the
/// reference copy.
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

/// A minimal HTTP/1.1 server: GET of a known path answers its bytes (206 for a Range request),
/// anything else 404. A path in `cutOnce` is answered with only half its body the first time
/// (the connection then closes), as a dropped transfer would be.
type LocalServer(files: Map<string, byte[]>, ?cutOnce: Set<string>) =
    let listener = new TcpListener(IPAddress.Loopback, 0)
    let requests = ConcurrentQueue<string * string option>()
    let cut = ConcurrentDictionary<string, bool>()
    let stop = new CancellationTokenSource()
    do
        for p in defaultArg cutOnce Set.empty do cut[p] <- true
        listener.Start()
    let serve (client: TcpClient) =
        use client = client
        use stream = client.GetStream()
        let reader = new StreamReader(stream, Encoding.ASCII)
        let requestLine = reader.ReadLine()
        let mutable range = None
        let mutable line = reader.ReadLine()
        while not (String.IsNullOrEmpty line) do
            if line.StartsWith("Range:", StringComparison.OrdinalIgnoreCase) then range <- Some(line.Substring(6).Trim())
            line <- reader.ReadLine()
        let path = requestLine.Split(' ').[1]
        requests.Enqueue((path, range))
        let write (text: string) = let b = Encoding.ASCII.GetBytes text in stream.Write(b, 0, b.Length)
        match files.TryFind path with
        | None -> write "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        | Some body ->
            let from =
                match range with
                | Some r when r.StartsWith "bytes=" -> int64 (r.Substring(6).TrimEnd('-'))
                | _ -> 0L
            let part = body.[int from ..]
            if from > 0L then
                write (sprintf "HTTP/1.1 206 Partial Content\r\nContent-Length: %d\r\nContent-Range: bytes %d-%d/%d\r\nConnection: close\r\n\r\n"
                           part.Length from (body.Length - 1) body.Length)
            else write (sprintf "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n" part.Length)
            if cut.TryRemove(path) |> fst then stream.Write(part, 0, part.Length / 2)
            else stream.Write(part, 0, part.Length)
        stream.Flush()
    let loop =
        Thread((fun () ->
            try
                while not stop.IsCancellationRequested do
                    let client = listener.AcceptTcpClient()
                    ThreadPool.QueueUserWorkItem(fun _ -> try serve client with _ -> ()) |> ignore
            with _ -> ()), IsBackground = true)
    do loop.Start()
    member _.Url(path: string) = sprintf "http://127.0.0.1:%d%s" (listener.LocalEndpoint :?> IPEndPoint).Port path
    member _.Requests = List.ofSeq requests
    interface IDisposable with
        member _.Dispose() =
            stop.Cancel()
            listener.Stop()

let private md5 (bytes: byte[]) = Convert.ToHexStringLower(MD5.HashData bytes)
let private sha (text: string) = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes text))

/// A small BEIR dataset: 3 documents, 2 queries, 2 test judgements.
let private beirFiles (firstTitle: string) =
    [ "corpus.jsonl",
      sprintf "{\"_id\": \"d1\", \"title\": \"%s\", \"text\": \"alpha text\"}\n{\"_id\": \"d2\", \"title\": \"\", \"text\": \"beta text\"}\n{\"_id\": \"d3\", \"title\": \"Gamma\", \"text\": \"gamma text\"}\n" firstTitle
      "queries.jsonl", "{\"_id\": \"q1\", \"text\": \"about alpha\"}\n{\"_id\": \"q2\", \"text\": \"about beta\"}\n"
      "qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n" ]

let private zipOf (prefix: string) (files: (string * string) list) =
    use memory = new MemoryStream()
    (use zip = new ZipArchive(memory, ZipArchiveMode.Create, true)
     for name, text in files do
         use entry = zip.CreateEntry(prefix + name).Open()
         let bytes = Encoding.UTF8.GetBytes(text: string)
         entry.Write(bytes, 0, bytes.Length))
    memory.ToArray()

let private tarGzOf (files: (string * string) list) =
    use memory = new MemoryStream()
    (use gz = new GZipStream(memory, CompressionLevel.Optimal, true)
     use tar = new TarWriter(gz, TarEntryFormat.Ustar, false)
     for name, text in files do
         let entry = UstarTarEntry(TarEntryType.RegularFile, name)
         entry.DataStream <- new MemoryStream(Encoding.UTF8.GetBytes(text: string))
         tar.WriteEntry entry)
    memory.ToArray()

/// A small Cranfield collection in SMART format: 2 documents, 2 queries (numbered with a gap), 3 judgements.
let private smartFiles =
    [ "cran.all.1400", ".I 1\n.T\nwing flow\n.A\nx\n.B\ny\n.W\nwing flow in a slipstream .\n.I 2\n.T\nheat slabs\n.A\nx\n.B\ny\n.W\nheat conduction in slabs .\n"
      "cran.qry", ".I 001\n.W\nwhat about wings .\n.I 004\n.W\nwhat about heat .\n"
      "cranqrel", "1 1 2\n2 2 1\n2 1 -1\n" ]

let private tarGzOfBytes (files: (string * byte[]) list) =
    use memory = new MemoryStream()
    (use gz = new GZipStream(memory, CompressionLevel.Optimal, true)
     use tar = new TarWriter(gz, TarEntryFormat.Ustar, false)
     for name, bytes in files do
         let entry = UstarTarEntry(TarEntryType.RegularFile, name)
         entry.DataStream <- new MemoryStream(bytes: byte[])
         tar.WriteEntry entry)
    memory.ToArray()

/// CIFAR binary records: label, then the R, G and B planes (each filled with one value that encodes the record).
let private cifarBatch (labels: int list) =
    [| for i, label in List.indexed labels do
           yield byte label
           for plane in 0..2 do yield! Array.create 1024 (byte (10 * plane + i)) |]

let private cifarManifest (url: string) (md5: string) =
    String.concat "\n" [
        "id: cifar-mini"; "title: tiny CIFAR"; "kind: image-classification"; "format: cifar-binary"; "path: images/cifar-mini"
        "files:"; "  - { path: data_batch_1.bin, role: train-batch }"; "  - { path: data_batch_2.bin, role: train-batch }"
        "  - { path: test_batch.bin, role: test-batch }"; "  - { path: batches.meta.txt, role: readme, optional: true }"
        "classes: [a, b]"
        "source:"; "  downloads:"; sprintf "    - { url: %s, archive: tar.gz, strip_prefix: cifar-10-batches-bin/, md5: %s }" url md5
        "  instructions: serve it from the test server"
        "counts:"; "  classes: 2"; "  splits:"; "    train: { images: 4 }"; "    test: { images: 2 }"; "  images_per_class: { train: 2, test: 1 }"
        "licence: test"; "citation: test"; "" ]

let private beirManifest (url: string) (path: string) (md5: string option) (reference: (string * string) list) =
    let pin name = reference |> List.tryFind (fst >> (=) name) |> Option.map (fun (_, text) -> sprintf ", sha256: %s" (sha text)) |> Option.defaultValue ""
    String.concat "\n" [
        "id: beir-mini"; "title: tiny BEIR"; "kind: text-retrieval"; "format: beir"; "mirrored: false"; sprintf "path: %s" path
        "files:"
        sprintf "  - { path: corpus.jsonl, role: corpus%s }" (pin "corpus.jsonl")
        sprintf "  - { path: queries.jsonl, role: queries%s }" (pin "queries.jsonl")
        sprintf "  - { path: qrels/test.tsv, role: qrels, split: test%s }" (pin "qrels/test.tsv")
        "source:"; "  downloads:"; sprintf "    - url: %s" url; "      archive: zip"; "      strip_prefix: mini/"
        (match md5 with Some m -> sprintf "      md5: %s" m | None -> "")
        "  instructions: serve it from the test server"
        "counts:"; "  docs: 3"; "  queries: 2"; "  splits:"; "    test: { queries: 2, qrels: 2 }"
        "licence: test"; "citation: test"; "" ]

let private smartManifest (url: string) (path: string) (docs: int) =
    String.concat "\n" [
        "id: cran-mini"; "title: tiny Cranfield"; "kind: text-retrieval"; "format: cranfield"; "mirrored: false"; sprintf "path: %s" path
        "files:"
        "  - { path: cran.all.1400, role: corpus }"; "  - { path: cran.qry, role: queries }"; "  - { path: cranqrel, role: qrels, split: all }"
        "  - { path: cranqrel.readme, role: readme, optional: true }"
        "source:"; "  downloads:"; sprintf "    - { url: %s, archive: tar.gz }" url
        "  instructions: serve it from the test server"
        "relevance_map: { \"1\": 4, \"2\": 3, \"3\": 2, \"4\": 1, \"-1\": 0 }"
        "counts:"; sprintf "  docs: %d" docs; "  queries: 2"; "  splits:"; "    all: { queries: 2, qrels: 3 }"
        "licence: test"; "citation: test"; "" ]

/// gzip of some bytes (Fashion-MNIST's files are single gzipped IDX files).
let private gzip (bytes: byte[]) =
    use memory = new MemoryStream()
    (use gz = new GZipStream(memory, CompressionLevel.Optimal, true)
     gz.Write(bytes, 0, bytes.Length))
    memory.ToArray()

let private idx (magic: int) (dims: int list) (data: byte[]) =
    let bigEndian (v: int) = [| byte (v >>> 24); byte (v >>> 16); byte (v >>> 8); byte v |]
    Array.concat ([ bigEndian magic ] @ List.map bigEndian dims @ [ data ])

let private smecDll = Path.Combine(AppContext.BaseDirectory, "smec.dll")

/// Run the smec CLI with the given environment changes; exit code, stdout, stderr.
let private runSmec (env: (string * string) list) (args: string list) =
    let psi = Diagnostics.ProcessStartInfo("dotnet", UseShellExecute = false, RedirectStandardOutput = true,
                                           RedirectStandardError = true, WorkingDirectory = repoRoot)
    psi.ArgumentList.Add smecDll
    for a in args do psi.ArgumentList.Add a
    for name, value in env do psi.Environment[name] <- value
    use proc = Diagnostics.Process.Start psi
    let stdout = proc.StandardOutput.ReadToEndAsync()
    let stderr = proc.StandardError.ReadToEnd()
    proc.WaitForExit()
    proc.ExitCode, stdout.Result, stderr

/// The six datasets of catalog item 1 as tiny copies on the test server, in every upstream
/// format the manifests use (BEIR zip, SMART tar.gz x2, CIFAR binary tar.gz, IDX .gz files,
/// Flickr captions + image archive); manifests (no pinned bytes, counts only) go to `folder`.
let private itemOneUpstream (folder: string) =
    let cacm =
        [ "cacm.all", ".I 1\n.T\nAlgebraic language\n.B\nCACM\n.A\nPerlis\n.N\nx\n.I 2\n.T\nSorting\n.W\nsorting methods\n.B\nCACM\n"
          "query.text", ".I 1\n.W\n sorting?\n.N\n x\n.I 2\n.W\n languages\n.N\n y\n"
          "qrels.text", "01 2  0 0\n02 1  0 0\n" ]
    let flickrImages = tarGzOfBytes [ "images/a.jpg", [| 1uy |]; "images/b.jpg", [| 2uy |] ]
    let files =
        Map [ "/beir/scifact.zip", zipOf "scifact/" (beirFiles "Alpha")
              "/cran/cran.tar.gz", tarGzOf smartFiles
              "/cacm/cacm.tar.gz", tarGzOf cacm
              "/cifar/cifar-10-binary.tar.gz", tarGzOfBytes [ "cifar-10-batches-bin/data_batch_1.bin", cifarBatch [ 0; 1 ]
                                                              "cifar-10-batches-bin/test_batch.bin", cifarBatch [ 1; 0 ] ]
              "/fmnist/train-images-idx3-ubyte.gz", gzip (idx 0x803 [ 2; 2; 2 ] (Array.create 8 7uy))
              "/fmnist/train-labels-idx1-ubyte.gz", gzip (idx 0x801 [ 2 ] [| 0uy; 1uy |])
              "/fmnist/t10k-images-idx3-ubyte.gz", gzip (idx 0x803 [ 2; 2; 2 ] (Array.create 8 9uy))
              "/fmnist/t10k-labels-idx1-ubyte.gz", gzip (idx 0x801 [ 2 ] [| 1uy; 0uy |])
              "/flickr/images.tar.gz", flickrImages
              "/flickr/captions.txt", Encoding.UTF8.GetBytes "image,caption\na.jpg,a cat\na.jpg,\"a cat, sitting\"\nb.jpg,a dog\nb.jpg,a dog running\n" ]
    let server = new LocalServer(files)
    let write (id: string) (lines: string list) =
        File.WriteAllText(Path.Combine(folder, id + ".yaml"), String.concat "\n" (lines @ [ "licence: test"; "citation: test"; "" ]))
    let common id kind format path = [ sprintf "id: %s" id; "title: tiny"; sprintf "kind: %s" kind; sprintf "format: %s" format; sprintf "path: %s" path ]
    write "scifact" (common "scifact" "text-retrieval" "beir" "beir/scifact" @ [
        "files:"; "  - { path: corpus.jsonl, role: corpus }"; "  - { path: queries.jsonl, role: queries }"; "  - { path: qrels/test.tsv, role: qrels, split: test }"
        "source:"; "  downloads:"; sprintf "    - { url: %s, archive: zip, strip_prefix: scifact/, md5: %s }" (server.Url "/beir/scifact.zip") (md5 files["/beir/scifact.zip"])
        "  instructions: test"; "counts:"; "  docs: 3"; "  queries: 2"; "  splits:"; "    test: { queries: 2, qrels: 2 }" ])
    write "cranfield" (common "cranfield" "text-retrieval" "cranfield" "classic/cranfield" @ [
        "files:"; "  - { path: cran.all.1400, role: corpus }"; "  - { path: cran.qry, role: queries }"; "  - { path: cranqrel, role: qrels, split: all }"
        "source:"; "  downloads:"; sprintf "    - { url: %s, archive: tar.gz }" (server.Url "/cran/cran.tar.gz"); "  instructions: test"
        "relevance_map: { \"1\": 4, \"2\": 3, \"3\": 2, \"4\": 1, \"-1\": 0 }"
        "counts:"; "  docs: 2"; "  queries: 2"; "  splits:"; "    all: { queries: 2, qrels: 3 }" ])
    write "cacm" (common "cacm" "text-retrieval" "cacm" "classic/cacm" @ [
        "files:"; "  - { path: cacm.all, role: corpus }"; "  - { path: query.text, role: queries }"; "  - { path: qrels.text, role: qrels, split: all }"
        "source:"; "  downloads:"; sprintf "    - { url: %s, archive: tar.gz }" (server.Url "/cacm/cacm.tar.gz"); "  instructions: test"
        "counts:"; "  docs: 2"; "  queries: 2"; "  splits:"; "    all: { queries: 2, qrels: 2 }" ])
    write "cifar10" (common "cifar10" "image-classification" "cifar-binary" "images/cifar-10-batches-bin" @ [
        "files:"; "  - { path: data_batch_1.bin, role: train-batch }"; "  - { path: test_batch.bin, role: test-batch }"; "classes: [a, b]"
        "source:"; "  downloads:"; sprintf "    - { url: %s, archive: tar.gz, strip_prefix: cifar-10-batches-bin/, md5: %s }" (server.Url "/cifar/cifar-10-binary.tar.gz") (md5 files["/cifar/cifar-10-binary.tar.gz"])
        "  instructions: test"; "counts:"; "  classes: 2"; "  splits:"; "    train: { images: 2 }"; "    test: { images: 2 }" ])
    let idxFiles = [ "train-images-idx3-ubyte.gz", "train-images"; "train-labels-idx1-ubyte.gz", "train-labels"
                     "t10k-images-idx3-ubyte.gz", "test-images"; "t10k-labels-idx1-ubyte.gz", "test-labels" ]
    write "fashion-mnist" (common "fashion-mnist" "image-classification" "idx" "fashion-mnist" @ [ "files:" ]
        @ [ for name, role in idxFiles -> sprintf "  - { path: %s, role: %s }" name role ]
        @ [ "classes: [a, b]"; "source:"; "  downloads:" ]
        @ [ for name, _ in idxFiles -> sprintf "    - { url: %s, archive: file, target: %s }" (server.Url("/fmnist/" + name)) name ]
        @ [ "  instructions: test"; "counts:"; "  classes: 2"; "  splits:"; "    train: { images: 2 }"; "    test: { images: 2 }" ])
    write "flickr8k-1k" (common "flickr8k-1k" "image-captions" "flickr-captions" "multimodal/flickr8k-1k" @ [
        "files:"; "  - { path: images.tar.gz, role: archive }"; "  - { path: captions.txt, role: captions }"
        "source:"; "  downloads:"
        sprintf "    - { url: %s, archive: file, target: images.tar.gz }" (server.Url "/flickr/images.tar.gz")
        sprintf "    - { url: %s, archive: file, target: captions.txt }" (server.Url "/flickr/captions.txt")
        "  instructions: test"; "counts:"; "  images: 2"; "  captions: 4"; "  captions_per_image: 2" ])
    server

/// A temporary user cache and manifests folder, with the environment pointed at them (tests run
/// sequenced, so the variables are restored before the next test).
type private Sandbox() =
    let temp = new TempDir()
    let saved = [ "SMEC_CACHE_DIR"; "SMEC_OFFLINE"; "SMEC_NO_MIRROR"; "SMEC_DATA_DIR" ] |> List.map (fun v -> v, Environment.GetEnvironmentVariable v)
    do
        Environment.SetEnvironmentVariable("SMEC_CACHE_DIR", Path.Combine(temp.Path, "cache"))
        Environment.SetEnvironmentVariable("SMEC_OFFLINE", null)
        Environment.SetEnvironmentVariable("SMEC_NO_MIRROR", "1")
        Environment.SetEnvironmentVariable("SMEC_DATA_DIR", null)
        Directory.CreateDirectory(Path.Combine(temp.Path, "manifests", "datasets")) |> ignore
    member _.Path = temp.Path
    member _.Cache = Path.Combine(temp.Path, "cache")
    member _.Manifest(id: string, yaml: string) =
        let file = Path.Combine(temp.Path, "manifests", "datasets", id + ".yaml")
        File.WriteAllText(file, yaml)
        ManifestReader.ReadDataset file
    /// Every file left under the cache (downloads, partial folders), relative.
    member this.Leftovers() =
        if Directory.Exists this.Cache then
            Directory.EnumerateFileSystemEntries(this.Cache, "*", SearchOption.AllDirectories)
            |> Seq.map (fun p -> Path.GetRelativePath(this.Cache, p)) |> Seq.sort |> List.ofSeq
        else []
    interface IDisposable with
        member _.Dispose() =
            for name, value in saved do Environment.SetEnvironmentVariable(name, value)
            (temp :> IDisposable).Dispose()

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
            Expect.isEmpty (box.Leftovers() |> List.filter (fun p -> p.Contains ".partial")) "no partial folder"
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
            Expect.isEmpty (Directory.GetDirectories(Path.GetDirectoryName folder) |> Array.filter (fun d -> d.Contains ".partial")) "no partial folder"

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

open Smec.Experiments.Running
open Smec.Experiments.Running.Checks

/// Blessed values record the data they were made on; a regression cell on other data is not compared.
[<Tests>]
let identityInVerdicts =
    testList "DataIdentity.verdicts" [
        testCase "a blessed value keeps its data identity; files from before identities read as the reference data" <| fun () ->
            use temp = new TempDir()
            let path = Path.Combine(temp.Path, "blessed", "item-2-local.csv")
            let value =
                { BlessedValue.Panel = "SciFact"; Row = "SMEC"; Column = "24"; Value = 0.65; Spread = 0.0
                  Seeds = [ 1L ]; CellHash = "h"; BlessedOn = "2026-11-29"; DataIdentity = "scifact=0123456789abcdef" }
            Smec.Experiments.Running.Blessed.save path [ value ]
            Expect.equal (Smec.Experiments.Running.Blessed.load path) [ value ] "round trip"
            File.WriteAllText(path, "panel,row,column,value,spread,seeds,cell_hash,blessed_on\nSciFact,SMEC,24,0.65,0,1,h,2026-11-28\n")
            Expect.equal (Smec.Experiments.Running.Blessed.load path).Head.DataIdentity "" "an old file: the reference data"

        testCase "a regression cell blessed on other data says 'other data copy: not comparable', neither OK nor FAIL" <| fun () ->
            let blessed =
                { BlessedValue.Panel = "SciFact"; Row = "SMEC"; Column = "24"; Value = 0.65; Spread = 0.0
                  Seeds = [ 1L ]; CellHash = "h"; BlessedOn = "2026-11-29"; DataIdentity = "" }
            let check =
                Smec.Experiments.Running.Checks.otherDataCopy blessed "scifact=0123456789abcdef"
                    (Smec.Experiments.Running.Quantities.Value { Mean = 0.2; Spread = 0.0; PerSeed = [ 0.2 ] })
            Expect.equal check.Status Smec.Experiments.Running.Checks.Skipped "not judged"
            Expect.stringStarts check.Note "other data copy: not comparable" "says why"
            expectContains check.Note [ "the reference data"; "scifact=0123456789abcdef" ] "names both identities"

        testCase "with the mirror, item 2's cells are on the reference data and keep their result keys" <| fun () ->
            let spec = Smec.Experiments.Catalog.Catalog.build 2 Smec.Experiments.Catalog.Model.Local { Seeds = [ 1L ]; Manifest = None }
            for cell in spec.Cells do
                Expect.equal (Smec.Experiments.Running.Datasets.cellDataIdentity cell.Value) "" (sprintf "%s/%s/%s" cell.Panel cell.Row cell.Column)
            Expect.equal (Smec.Experiments.Running.Datasets.identityName "scifact") (Some DataIdentity.ReferenceName) "the mirror's SciFact is the reference copy"
    ]
