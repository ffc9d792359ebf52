/// The learned joint space and the cross-modal tasks, on small synthetic tensors (the math only;
/// the real Flickr8k-1k run is `smec images`).
module Smec.Tests.Multimodal.MultimodalTests

open System
open Expecto
open TorchSharp
open Smec.Core.Data
open Smec.Core.Multimodal
open Smec.Core.Runtime
open Smec.Core.Storage

/// A synthetic captioned-image set: a latent 6-d "content" per image; image features are one
/// random linear view of it, each of the 5 captions another view plus its own noise.
let private synthetic (images: int) (seed: int) =
    let rng = Random seed
    let gauss () = sqrt (-2.0 * log (1.0 - rng.NextDouble())) * cos (2.0 * Math.PI * rng.NextDouble())
    let viewImage = Array.init 24 (fun _ -> Array.init 6 (fun _ -> gauss ()))
    let viewText = Array.init 12 (fun _ -> Array.init 6 (fun _ -> gauss ()))
    let project (view: float[][]) (z: float[]) noise =
        view |> Array.map (fun w -> float32 (Array.fold2 (fun a x y -> a + x * y) 0.0 w z + noise * gauss ()))
    let latents = Array.init images (fun _ -> Array.init 6 (fun _ -> gauss ()))
    let imageIds = Array.init images (sprintf "img%03d")
    let imageRows = latents |> Array.map (fun z -> project viewImage z 0.1)
    let captionImage = imageIds |> Array.collect (Array.replicate 5)
    let captionIds = imageIds |> Array.collect (fun id -> Array.init 5 (sprintf "%s#%d" id))
    let captionRows = latents |> Array.collect (fun z -> Array.init 5 (fun _ -> project viewText z 0.3))
    CaptionedFeatures(EmbeddingMatrix(imageIds, Array.concat imageRows, 24),
                      EmbeddingMatrix(captionIds, Array.concat captionRows, 12), captionImage)

let private quickOptions =
    JointSpaceOptions(Dim = 8, BatchSize = 16, MaxSteps = 300, EvaluateEvery = 25, Patience = 100, Progress = false)

let private toArrays (t: torch.Tensor) =
    let rows, cols = int t.shape.[0], int t.shape.[1]
    let flat = t.contiguous().data<float32>().ToArray()
    Array.init rows (fun r -> Array.init cols (fun c -> float flat.[r * cols + c]))

/// Symmetric InfoNCE written out with loops: the oracle for JointSpaceModel.Loss.
let private naiveSymmetricInfoNce (images: float[][]) (captions: float[][]) (scale: float) =
    let n = images.Length
    let logit i j = scale * Array.fold2 (fun a x y -> a + x * y) 0.0 images.[i] captions.[j]
    let crossEntropy (row: int -> float) target =
        let values = Array.init n row
        let m = Array.max values
        -(values.[target] - (m + log (values |> Array.sumBy (fun v -> exp (v - m)))))
    let imageToCaption = [ for i in 0 .. n - 1 -> crossEntropy (logit i) i ] |> List.average
    let captionToImage = [ for j in 0 .. n - 1 -> crossEntropy (fun i -> logit i j) j ] |> List.average
    (imageToCaption + captionToImage) / 2.0

[<Tests>]
let tests =
    testList "Multimodal" [
        testCase "image split: disjoint parts of the asked sizes, seeded; compressor training may share the joint space's" <| fun () ->
            let ids = Array.init 50 (sprintf "x%02d")
            let split = ImageSplit.Make(ids, 20, 10, 5, 15, 3L)
            Expect.equal (split.JointTrain.Count, split.CompressorTrain.Count, split.Validation.Count, split.Test.Count) (20, 10, 5, 15) "sizes"
            Expect.equal (Set.ofSeq (Seq.concat [ split.JointTrain; split.CompressorTrain; split.Validation; split.Test ])).Count 50 "disjoint and covering"
            Expect.isFalse split.SharedTraining "separate training parts"
            let parts (s: ImageSplit) = List.ofSeq s.JointTrain, List.ofSeq s.CompressorTrain, List.ofSeq s.Validation, List.ofSeq s.Test
            Expect.equal (parts (ImageSplit.Make(Array.rev ids, 20, 10, 5, 15, 3L))) (parts split) "depends on the ids, not their input order"
            Expect.notEqual (List.ofSeq (ImageSplit.Make(ids, 20, 10, 5, 15, 4L)).Test) (List.ofSeq split.Test) "another seed, another test set"
            let shared = ImageSplit.Make(ids, 30, 0, 5, 15, 3L)
            Expect.isTrue shared.SharedTraining "0 compressor images: shared"
            Expect.equal (List.ofSeq shared.Test) (List.ofSeq split.Test) "the test images do not depend on how training images are divided"
            Expect.throwsT<ArgumentException> (fun () -> ImageSplit.Make(ids, 30, 10, 5, 15, 3L) |> ignore) "60 > 50 images"

        testCase "cross-modal judgements: a caption's one image; an image's five captions" <| fun () ->
            let set = (synthetic 4 1).Subset [| "img002"; "img000" |]
            Expect.equal (List.ofSeq set.Images.Ids) [ "img002"; "img000" ] "subset keeps the asked image order"
            Expect.equal set.Captions.Rows 10 "their 10 captions"
            let t2i = set.TextToImageQrels()
            Expect.equal (t2i.ForQuery "img002#3" |> Seq.map (fun kv -> kv.Key, kv.Value) |> List.ofSeq) [ "img002", 1 ] "caption -> its image"
            let i2t = set.ImageToTextQrels()
            Expect.equal (i2t.ForQuery "img000").Count 5 "image -> its 5 captions"
            Expect.isTrue (i2t.ForQuery "img000" |> Seq.forall (fun kv -> kv.Key.StartsWith "img000#")) "only its own"

        testCase "compressor training data: held-out images are absent, validation judgements point into the corpus" <| fun () ->
            let all = synthetic 20 2
            let split = ImageSplit.Make(all.Images.Ids, 6, 6, 3, 5, 1L)
            let train, validation = all.Subset split.CompressorTrain, all.Subset split.Validation
            let heldOut = set split.Test
            for direction in [ CrossModalDirection.TextToImage; CrossModalDirection.ImageToText ] do
                let data = CrossModalTraining.Build(train, validation, direction, 1L)
                let imageOf (id: string) = id.Split('#').[0]
                let everyId = Seq.append data.Corpus.Ids data.Queries.Ids
                Expect.isTrue (everyId |> Seq.forall (imageOf >> heldOut.Contains >> not)) (sprintf "%A: no held-out image or caption" direction)
                let corpus = set data.Corpus.Ids
                for q in data.Validation.QueryIds do
                    Expect.isTrue ((data.Validation.ForQuery q).Keys |> Seq.forall corpus.Contains) "validation targets are in the corpus"
                Expect.equal data.Train.QueryCount (if direction = CrossModalDirection.TextToImage then 30 else 6) "train queries"
                Expect.equal data.Validation.QueryCount (if direction = CrossModalDirection.TextToImage then 15 else 3) "validation queries"

        testCase "real Flickr8k-1k captions: the 400/300/100/200 split by image keeps every caption with its image" <| fun () ->
            let d = DatasetLoader.LoadCaptioned "flickr8k-1k"
            // Only ids and the caption -> image map matter here: one zero per row stands in for features.
            let zeros (ids: string seq) = let ids = Array.ofSeq ids in EmbeddingMatrix(ids, Array.zeroCreate ids.Length, 1)
            let all = CaptionedFeatures(zeros d.ImageIds, zeros (d.Captions |> Seq.map (fun c -> c.Id)), d.Captions |> Seq.map (fun c -> c.ImageId) |> Array.ofSeq)
            let split = ImageSplit.Make(all.Images.Ids, 400, 300, 100, 200, 0L)
            let test = all.Subset split.Test
            Expect.equal (test.Images.Rows, test.Captions.Rows) (200, 1000) "200 held-out images with their 1,000 captions"
            let i2t = test.ImageToTextQrels()
            Expect.isTrue (split.Test |> Seq.forall (fun i -> (i2t.ForQuery i).Count = 5)) "5 relevant captions per held-out image"
            let trainCaptions = Seq.append (all.Subset split.JointTrain).Captions.Ids (all.Subset split.CompressorTrain).Captions.Ids |> set
            Expect.isTrue (test.Captions.Ids |> Seq.forall (trainCaptions.Contains >> not)) "no held-out caption among the training captions"
            let t2i = test.TextToImageQrels()
            let sample = d.Captions |> Seq.find (fun c -> c.ImageId = split.Test.[0])
            Expect.equal (List.ofSeq (t2i.ForQuery sample.Id).Keys) [ sample.ImageId ] "a caption judges exactly the image its captions.txt line names"

        testCase "symmetric InfoNCE equals the loop-by-loop oracle" <| fun () ->
            Determinism.Seed 5L |> ignore
            let model = new JointSpaceModel(24, 12, JointSpaceOptions(Dim = 8, HiddenDim = 16))
            let set = synthetic 7 3
            use images = torch.tensor(set.Images.Values, ReadOnlySpan<int64>([| 7L; 24L |]))
            let captionRows = torch.tensor([| 0L; 5L; 10L; 15L; 20L; 25L; 30L |])
            use captions = torch.tensor(set.Captions.Values, ReadOnlySpan<int64>([| 35L; 12L |])).index_select(0, captionRows)
            let loss = model.Loss(images, captions).item<float32>()
            use _ = torch.no_grad()
            let expected = naiveSymmetricInfoNce (toArrays (model.EmbedImages images)) (toArrays (model.EmbedCaptions captions)) (1.0 / 0.07)
            // float32 forward pass vs a float64 oracle on 7x7 logits of size <= 1/0.07: 1e-4 relative is ample.
            Expect.floatClose { absolute = 1e-5; relative = 1e-4 } (float loss) expected "loss"

        testCase "the joint space learns to match held-out captions to images, reproducibly" <| fun () ->
            let all = synthetic 80 4
            let split = ImageSplit.Make(all.Images.Ids, 50, 0, 10, 20, 2L)
            let run () = JointSpace.TrainAndEvaluate(all, split, quickOptions, 7L)
            let report = run ()
            // Chance R@1 over 20 images is 0.05; the views share a 6-d latent, so a linear map finds it.
            Expect.isGreaterThan report.HeldOutTextToImage.RecallAt1 0.5 (sprintf "held-out text->image R@1 %.3f" report.HeldOutTextToImage.RecallAt1)
            Expect.isGreaterThan report.Training.BestValidationMeanRecall report.Training.History.[0].ValidationMeanRecall "training beat the random init on validation"
            let again = run ()
            Expect.equal again.HeldOutTextToImage report.HeldOutTextToImage "same seed, same figures"
            Expect.equal again.Training.BestStep report.Training.BestStep "same best step"

        testCase "joint embeddings are unit length with the space's width" <| fun () ->
            let all = synthetic 12 5
            let split = ImageSplit.Make(all.Images.Ids, 8, 0, 2, 2, 1L)
            let trained = JointSpace.Train(all.Subset split.JointTrain, all.Subset split.Validation, JointSpaceOptions(Dim = 8, BatchSize = 4, MaxSteps = 5, Progress = false), 1L)
            let embedded = JointSpace.Embed(trained.Model, all)
            Expect.equal (embedded.Images.Dim, embedded.Captions.Dim) (8, 8) "8-d"
            for m in [ embedded.Images; embedded.Captions ] do
                for r in 0 .. m.Rows - 1 do
                    let norm = m.Row(r).ToArray() |> Array.sumBy (fun x -> float x * float x) |> sqrt
                    Expect.floatClose Accuracy.medium norm 1.0 "unit row"
    ]
