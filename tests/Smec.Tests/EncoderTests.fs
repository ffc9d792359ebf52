/// The encoders: MiniLM reproduces the mirror's SciFact embeddings, arctic-embed-xs and ResNet18
/// give unit vectors of their declared width, and the image path (decode, resize) is right.
module Smec.Tests.EncoderTests

open System
open System.IO
open System.Collections.Generic
open Expecto
open Smec.Core.Data
open Smec.Core.Data.Images
open Smec.Core.Data.Manifests
open Smec.Core.Encoders
open Smec.Core.Storage
open Smec.Tests.TestSupport
open Smec.Tests.DataTestSupport

let private norm (values: float32[]) (row: int) (dim: int) =
    sqrt (Seq.sum (seq { for d in 0 .. dim - 1 -> float values.[row * dim + d] ** 2.0 }))

let private cosine (values: float32[]) (dim: int) (a: int) (b: int) =
    Seq.sum (seq { for d in 0 .. dim - 1 -> float values.[a * dim + d] * float values.[b * dim + d] })

let private maxAbsDiff (mirror: EmbeddingMatrix) (ids: string[]) (values: float32[]) =
    let index = mirror.IndexById()
    seq {
        for i in 0 .. ids.Length - 1 do
            let row = mirror.Row(index.[ids.[i]]).ToArray()
            for d in 0 .. mirror.Dim - 1 -> abs (row.[d] - values.[i * mirror.Dim + d])
    }
    |> Seq.max

[<Tests>]
let tests =
    testList "Encoders" [
        testCase "MiniLM reproduces the mirror's SciFact embeddings (200 docs, 100 queries)" <| fun () ->
            let data = DatasetLoader.LoadText "scifact"
            let folder = SciFact.embeddingsFolder ()
            let mirrorCorpus = Npy.ReadEmbeddings(Path.Combine(folder, "corpus.npy"), Path.Combine(folder, "corpus.ids.txt"))
            let mirrorQueries = Npy.ReadEmbeddings(Path.Combine(folder, "queries.npy"), Path.Combine(folder, "queries.ids.txt"))
            // Every 25th document and every 11th query: spread over the files, long and short texts alike.
            let docs = [| for i in 0 .. 25 .. data.Corpus.Count - 1 -> data.Corpus.[i] |]
            let queries = [| for i in 0 .. 11 .. data.Queries.Count - 1 -> data.Queries.[i] |] |> Array.truncate 100
            Expect.equal docs.Length 208 "at least 200 documents"
            Expect.equal queries.Length 100 "100 queries"
            let encoder = miniLm.Force()
            let texts = docs |> Array.map (fun d -> d.Joined " ")
            let truncated = texts |> Array.filter (fun t -> encoder.Tokenize(t).Count = 256) |> Array.length
            Expect.isGreaterThan truncated 10 "the sample includes documents cut at 256 tokens"
            let docValues = encoder.Encode(texts, EncodeRole.Document)
            let queryValues = encoder.Encode(queries |> Array.map (fun q -> q.Text), EncodeRole.Query)
            // 1e-4 is the acceptance bound; same model, tokenizer and runtime measured 1.5e-7 (float
            // summation order in batched attention and pooling is all that differs).
            Expect.isLessThanOrEqual (maxAbsDiff mirrorCorpus (docs |> Array.map (fun d -> d.Id)) docValues) 1e-4f "corpus rows"
            Expect.isLessThanOrEqual (maxAbsDiff mirrorQueries (queries |> Array.map (fun q -> q.Id)) queryValues) 1e-4f "query rows"

        testCase "the batch size changes no bit of the embeddings (padding is masked exactly)" <| fun () ->
            // The default batch (8, the fastest measured by `smec bench`) may change without changing a
            // cached embedding or a result: every row is computed the same whatever else is in its batch.
            let data = DatasetLoader.LoadText "scifact"
            let texts = [| for i in 0 .. 37 .. data.Corpus.Count - 1 -> data.Corpus.[i].Joined " " |] |> Array.truncate 96
            let bits (batch: int) =
                use encoder = new BertOnnxEncoder(ManifestCatalog.Default.Encoder "all-MiniLM-L6-v2", BatchSize = batch)
                encoder.Encode(texts, EncodeRole.Document) |> Array.map BitConverter.SingleToInt32Bits
            let lengths = texts |> Array.map (fun t -> miniLm.Force().Tokenize(t).Count) |> Array.distinct
            Expect.isGreaterThan lengths.Length 20 "texts of many lengths, so each batch size pads differently"
            let reference = bits 1
            for batch in [ 8; 32 ] do
                Expect.sequenceEqual (bits batch) reference (sprintf "batch %d gives the bits of one text at a time" batch)

        testCase "the tokenizer keeps [CLS] ... [SEP] within max_tokens" <| fun () ->
            let encoder = miniLm.Force()
            let ids = encoder.Tokenize(String.replicate 400 "word ")
            Expect.equal ids.Count 256 "cut at 256"
            Expect.equal ids.[0] 101 "[CLS] first"
            Expect.equal ids.[255] 102 "[SEP] last"
            Expect.sequenceEqual (encoder.Tokenize "Hello World") [ 101; 7592; 2088; 102 ] "lower-cased WordPiece"

        testCase "arctic-embed-xs gives 384-d unit vectors, and prefixes queries only" <| fun () ->
            use encoder = new BertOnnxEncoder(ManifestCatalog.Default.Encoder "arctic-embed-xs")
            Expect.equal encoder.Dim 384 "384-d"
            let texts = [| "what causes tides"; "Tides are caused by the moon's gravity." |]
            let asQueries = encoder.Encode(texts, EncodeRole.Query)
            let asDocs = encoder.Encode(texts, EncodeRole.Document)
            Expect.equal asQueries.Length (2 * 384) "two rows"
            for row in 0 .. 1 do
                Expect.floatClose Accuracy.high (norm asQueries row 384) 1.0 "unit query vector"
                Expect.floatClose Accuracy.high (norm asDocs row 384) 1.0 "unit document vector"
            Expect.isLessThan (cosine (Array.append asQueries.[0..383] asDocs.[0..383]) 384 0 1) 0.999 "the query prefix changes the vector"

        testCase "ResNet18 gives 512-d unit vectors that group CIFAR-10 classes" <| fun () ->
            let data = DatasetLoader.LoadImageClasses "cifar10"
            // 4 test images from each of 3 visually distinct classes.
            let chosen =
                [ for label in [ 0; 3; 8 ] do yield! data.Split "test" |> Seq.filter (fun i -> i.Label = label) |> Seq.take 4 ]
            let wanted = HashSet(chosen |> List.map (fun i -> i.Id))
            let images = data.ReadImages("test", wanted) |> Seq.map (fun (struct (id, image)) -> id, image) |> dict
            use encoder = new ResNet18Encoder(ManifestCatalog.Default.Encoder "resnet18")
            let values = encoder.Encode(chosen |> Seq.map (fun i -> images.[i.Id]), chosen.Length)
            Expect.equal encoder.Dim 512 "512-d"
            Expect.equal values.Length (12 * 512) "12 rows"
            for row in 0 .. 11 do Expect.floatClose Accuracy.high (norm values row 512) 1.0 "unit row"
            let pairs = [ for a in 0 .. 11 do for b in a + 1 .. 11 -> a, b ]
            let mean f = pairs |> List.filter f |> List.averageBy (fun (a, b) -> cosine values 512 a b)
            let within = mean (fun (a, b) -> chosen.[a].Label = chosen.[b].Label)
            let between = mean (fun (a, b) -> chosen.[a].Label <> chosen.[b].Label)
            Expect.isGreaterThan within (between + 0.05) (sprintf "same-class cosine %.3f vs other-class %.3f" within between)

        testCase "bilinear resize uses half-pixel centres and clamps at the borders" <| fun () ->
            // A 2x1 image, black then 100 grey, upsampled to 4x4: x = 0..3 samples source
            // x = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
            let image = RgbImage(2, 1, [| 0uy; 0uy; 0uy; 100uy; 100uy; 100uy |])
            let planes = Array.zeroCreate<float32> (3 * 16)
            ImageResize.BilinearPlanar(image, 4, Span planes)
            for channel in 0 .. 2 do
                for y in 0 .. 3 do
                    let row = planes.[channel * 16 + y * 4 .. channel * 16 + y * 4 + 3]
                    Expect.equal row [| 0.0f; 25.0f; 75.0f; 100.0f |] "row values"

        testCase "a grey Fashion-MNIST image goes through ResNet18 as RGB" <| fun () ->
            let data = DatasetLoader.LoadImageClasses "fashion-mnist"
            let image = data.ReadImages("test", HashSet [ "test/00001" ]) |> Seq.exactlyOne |> fun (struct (_, i)) -> i
            let struct (r, g, b) = image.At(14, 14)
            Expect.isTrue (r = g && g = b) "grey replicated into R, G, B"
            use encoder = new ResNet18Encoder(ManifestCatalog.Default.Encoder "resnet18")
            let values = encoder.Encode([ image ], 1)
            Expect.floatClose Accuracy.high (norm values 0 512) 1.0 "unit row"

    ]
