/// Test stand-ins for upstream data hosts: a small HTTP server on 127.0.0.1 (ephemeral port), tiny
/// archives in each upstream format (BEIR zip, SMART tar.gz, CIFAR binary, IDX .gz, Flickr
/// captions), manifests for them, a sandboxed user cache, and running the smec CLI.
module Smec.Tests.DataServerSupport

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

let md5 (bytes: byte[]) = Convert.ToHexStringLower(MD5.HashData bytes)
let sha (text: string) = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes text))

/// A small BEIR dataset: 3 documents, 2 queries, 2 test judgements.
let beirFiles (firstTitle: string) =
    [ "corpus.jsonl",
      sprintf "{\"_id\": \"d1\", \"title\": \"%s\", \"text\": \"alpha text\"}\n{\"_id\": \"d2\", \"title\": \"\", \"text\": \"beta text\"}\n{\"_id\": \"d3\", \"title\": \"Gamma\", \"text\": \"gamma text\"}\n" firstTitle
      "queries.jsonl", "{\"_id\": \"q1\", \"text\": \"about alpha\"}\n{\"_id\": \"q2\", \"text\": \"about beta\"}\n"
      "qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n" ]

let zipOf (prefix: string) (files: (string * string) list) =
    use memory = new MemoryStream()
    (use zip = new ZipArchive(memory, ZipArchiveMode.Create, true)
     for name, text in files do
         use entry = zip.CreateEntry(prefix + name).Open()
         let bytes = Encoding.UTF8.GetBytes(text: string)
         entry.Write(bytes, 0, bytes.Length))
    memory.ToArray()

let tarGzOf (files: (string * string) list) =
    use memory = new MemoryStream()
    (use gz = new GZipStream(memory, CompressionLevel.Optimal, true)
     use tar = new TarWriter(gz, TarEntryFormat.Ustar, false)
     for name, text in files do
         let entry = UstarTarEntry(TarEntryType.RegularFile, name)
         entry.DataStream <- new MemoryStream(Encoding.UTF8.GetBytes(text: string))
         tar.WriteEntry entry)
    memory.ToArray()

/// A small Cranfield collection in SMART format: 2 documents, 2 queries (numbered with a gap), 3 judgements.
let smartFiles =
    [ "cran.all.1400", ".I 1\n.T\nwing flow\n.A\nx\n.B\ny\n.W\nwing flow in a slipstream .\n.I 2\n.T\nheat slabs\n.A\nx\n.B\ny\n.W\nheat conduction in slabs .\n"
      "cran.qry", ".I 001\n.W\nwhat about wings .\n.I 004\n.W\nwhat about heat .\n"
      "cranqrel", "1 1 2\n2 2 1\n2 1 -1\n" ]

let tarGzOfBytes (files: (string * byte[]) list) =
    use memory = new MemoryStream()
    (use gz = new GZipStream(memory, CompressionLevel.Optimal, true)
     use tar = new TarWriter(gz, TarEntryFormat.Ustar, false)
     for name, bytes in files do
         let entry = UstarTarEntry(TarEntryType.RegularFile, name)
         entry.DataStream <- new MemoryStream(bytes: byte[])
         tar.WriteEntry entry)
    memory.ToArray()

/// CIFAR binary records: label, then the R, G and B planes (each filled with one value that encodes the record).
let cifarBatch (labels: int list) =
    [| for i, label in List.indexed labels do
           yield byte label
           for plane in 0..2 do yield! Array.create 1024 (byte (10 * plane + i)) |]

let cifarManifest (url: string) (md5: string) =
    String.concat "\n" [
        "id: cifar-mini"; "title: tiny CIFAR"; "kind: image-classification"; "format: cifar-binary"; "path: images/cifar-mini"
        "files:"; "  - { path: data_batch_1.bin, role: train-batch }"; "  - { path: data_batch_2.bin, role: train-batch }"
        "  - { path: test_batch.bin, role: test-batch }"; "  - { path: batches.meta.txt, role: readme, optional: true }"
        "classes: [a, b]"
        "source:"; "  downloads:"; sprintf "    - { url: %s, archive: tar.gz, strip_prefix: cifar-10-batches-bin/, md5: %s }" url md5
        "  instructions: serve it from the test server"
        "counts:"; "  classes: 2"; "  splits:"; "    train: { images: 4 }"; "    test: { images: 2 }"; "  images_per_class: { train: 2, test: 1 }"
        "licence: test"; "citation: test"; "" ]

let beirManifest (url: string) (path: string) (md5: string option) (reference: (string * string) list) =
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

let smartManifest (url: string) (path: string) (docs: int) =
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
let gzip (bytes: byte[]) =
    use memory = new MemoryStream()
    (use gz = new GZipStream(memory, CompressionLevel.Optimal, true)
     gz.Write(bytes, 0, bytes.Length))
    memory.ToArray()

let idx (magic: int) (dims: int list) (data: byte[]) =
    let bigEndian (v: int) = [| byte (v >>> 24); byte (v >>> 16); byte (v >>> 8); byte v |]
    Array.concat ([ bigEndian magic ] @ List.map bigEndian dims @ [ data ])

let smecDll = Path.Combine(AppContext.BaseDirectory, "smec.dll")

/// Run the smec CLI with the given environment changes; exit code, stdout, stderr.
let runSmec (env: (string * string) list) (args: string list) =
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
let itemOneUpstream (folder: string) =
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
type Sandbox() =
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

