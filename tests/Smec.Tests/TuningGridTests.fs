/// Tuning grids (issue 26): one mechanism for every trained method. The grid search chooses per dim
/// or shared on validation, serves each dim from its chosen point, saves and loads as one model; a
/// single point is the plain compressor; every trained method's local grid has the same size and
/// varies only its own key weights and the learning rate. Fakes with fixed validation figures: fast.
module Smec.Tests.TuningGridTests

open System
open System.Collections.Generic
open System.IO
open System.Text.Json.Nodes
open Expecto
open Smec.Core.Data
open Smec.Core.Methods
open Smec.Core.Methods.Baselines
open Smec.Core.Methods.SmecMethod
open Smec.Core.Losses
open Smec.Core.Storage
open TorchSharp
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Methods
open Smec.Tests.TestSupport

let private fakeKind = "test-tuning-fake"

/// A compressor whose validation figures are given: it serves the first d dims plus its `offset` in
/// column 0 (so each point's output is told apart), records the data its Fit saw and its disposal.
type private FakeScored(offset: float32, scores: IReadOnlyDictionary<int, double>, dims: int[]) =
    let mutable fitted: TrainingData option = None
    member val Disposed = false with get, set
    member _.Seen = fitted
    interface IValidationScored with
        member _.ValidationNdcgByDim = scores
    interface ICompressor with
        member _.Name = "fake"
        member _.Dims = dims
        member _.Fit data = fitted <- Some data
        member _.Compress(embeddings, dim, _) =
            let values =
                [| for r in 0 .. embeddings.Rows - 1 do
                       for c in 0 .. dim - 1 -> embeddings.Values[r * embeddings.Dim + c] + (if c = 0 then offset else 0.0f) |]
            EmbeddingMatrix(embeddings.Ids, values, dim)
        member _.Settings =
            readOnlyDict [ "fake.offset", string offset; "protocol.steps_run", "10"; "protocol.grid_points", "2"; "protocol.lr", string offset
                           "protocol.selection", "validation" ]
        member this.Save directory =
            let config = JsonObject()
            config["offset"] <- JsonValue.Create offset
            config["scores"] <- JsonObject(scores |> Seq.map (fun kv -> KeyValuePair(string kv.Key, JsonValue.Create kv.Value :> JsonNode)))
            SavedModel.Write(directory, fakeKind, this, config, [])
        member this.Dispose() = this.Disposed <- true

let private loadFake (saved: SavedModelReader) : ICompressor =
    let scores = saved.Get<Dictionary<string, float>>("scores")
    new FakeScored(saved.Get<float32>("offset"), (scores |> Seq.map (fun kv -> int kv.Key, kv.Value) |> readOnlyDict), saved.Dims)

/// The standard registry plus the fake's loader, as a script registers a method.
let private withFake =
    MethodRegistry.standard.With
        { MethodRegistry.pca with Key = fakeKind; Saved = { Kind = fakeKind; Load = loadFake } }

let private fake (offset: float32) (scores: (int * float) list) =
    new FakeScored(offset, readOnlyDict scores, [| 8; 4 |])

let private data () =
    let random = Random 5
    let matrix prefix rows = EmbeddingMatrix([| for i in 0 .. rows - 1 -> sprintf "%s%d" prefix i |], Array.init (rows * 16) (fun _ -> float32 (random.NextDouble())), 16)
    let qrels ids = Qrels(Dictionary(dict [ for i in ids -> sprintf "q%d" i, Dictionary(dict [ sprintf "d%d" i, 1 ]) ]))
    TrainingData(matrix "d" 20, matrix "q" 10, qrels [ 4 .. 9 ], qrels [ 0 .. 3 ], 1L)

let private output (c: ICompressor) (x: EmbeddingMatrix) d = c.Compress(x, d, EmbeddingRole.Query).Values

// A at 8 dims 0.9, at 4 dims 0.5 (mean 0.7); B at 8 dims 0.6, at 4 dims 0.7 (mean 0.65): per dim
// takes A at 8 and B at 4, shared takes A for both.
let private pointA () = fake 1.0f [ 8, 0.9; 4, 0.5 ]
let private pointB () = fake 2.0f [ 8, 0.6; 4, 0.7 ]

/// SMEC with its validation curve as IValidationScored (until SmecCompressor implements it itself).
type private ScoredSmec(inner: SmecCompressor) =
    interface IValidationScored with
        member _.ValidationNdcgByDim = inner.ValidationCurve :> IReadOnlyDictionary<_, _>
    interface ICompressor with
        member _.Name = inner.Name
        member _.Dims = (inner :> ICompressor).Dims
        member _.Fit data = inner.Fit data
        member _.Compress(embeddings, dim, role) = inner.Compress(embeddings, dim, role)
        member _.Settings = inner.Settings
        member _.Save directory = inner.Save directory
        member _.Dispose() = inner.Dispose()

/// 40 queries, each a noisy copy of "its" doc among 80 (16-d); 8 held out for validation.
let private synthetic () =
    let random = Random 3
    let corpus = EmbeddingMatrix([| for i in 0 .. 79 -> sprintf "d%d" i |], Array.init (80 * 16) (fun _ -> float32 (random.NextDouble() * 2.0 - 1.0)), 16)
    let queries = EmbeddingMatrix([| for i in 0 .. 39 -> sprintf "q%d" i |], Array.init (40 * 16) (fun i -> corpus.Values.[i] + float32 (random.NextDouble() - 0.5)), 16)
    let qrels ids = Qrels(Dictionary(dict [ for i in ids -> sprintf "q%d" i, Dictionary(dict [ sprintf "d%d" i, 1 ]) ]))
    TrainingData(corpus, queries, qrels [ 8 .. 39 ], qrels [ 0 .. 7 ], 1L)

let private messageOf (f: unit -> unit) =
    try f (); "" with e -> e.Message

/// Each trained method's own key weights: what its local grid may vary, besides the learning rate.
let private ownWeights =
    Map.ofList
        [ "search-adaptor", set [ "alpha"; "beta" ]
          "matryoshka-adaptor", set [ "alpha"; "beta"; "gamma" ]
          "smec", set [ "sxbm_weight"; "ads_temperature_start"; "ads_temperature_end"; "ads_anneal_steps"; "ads_learning_rate_scale" ]
          "mrl", set [ "dim_weighting" ] ]

[<Tests>]
let tests =
    testList "TuningGrid" [
        testCase "per dim serves each dim from the point best at it; shared from the best mean" <| fun () ->
            let training = data ()
            let a, b = pointA (), pointB ()
            use perDim = new GridSearchCompressor([| TuningPoint("A", a); TuningPoint("B", b) |], DimSelection.PerDim)
            perDim.Fit training
            Expect.equal (Map.ofSeq (perDim.Routing |> Seq.map (fun kv -> kv.Key, kv.Value))) (Map.ofList [ 8, 0; 4, 1 ]) "8 from A, 4 from B"
            Expect.sequenceEqual (output perDim training.Queries 8) (output a training.Queries 8) "8 dims served by A"
            Expect.sequenceEqual (output perDim training.Queries 4) (output b training.Queries 4) "4 dims served by B"
            Expect.equal perDim.ValidationNdcgByDim[4] 0.7 "the chosen point's figure at 4"
            Expect.isFalse (a.Disposed || b.Disposed) "both points serve a dim: neither is disposed"
            Expect.equal perDim.Settings["tuning.choice@4"] "point2 (B)" "the choice is recorded"
            Expect.stringContains perDim.Settings["tuning.point1"] "8:0.9000 4:0.5000" "every point's figures are recorded"
            Expect.equal perDim.Settings["protocol.steps_run"] "20" "steps summed over the points"
            Expect.equal perDim.Settings["protocol.grid_points"] "4" "loss forms x tuning points"
            let a2, b2 = pointA (), pointB ()
            use shared = new GridSearchCompressor([| TuningPoint("A", a2); TuningPoint("B", b2) |], DimSelection.Shared)
            shared.Fit training
            Expect.equal (Map.ofSeq (shared.Routing |> Seq.map (fun kv -> kv.Key, kv.Value))) (Map.ofList [ 8, 0; 4, 0 ]) "A (mean 0.7) serves every dim"
            Expect.sequenceEqual (output shared training.Queries 4) (output a2 training.Queries 4) "4 dims served by A too"
            Expect.isTrue b2.Disposed "the unchosen point is disposed"

        testCase "every point fits on the same training data and nothing else" <| fun () ->
            let training = data ()
            let a, b = pointA (), pointB ()
            use grid = new GridSearchCompressor([| TuningPoint("A", a); TuningPoint("B", b) |], DimSelection.PerDim)
            grid.Fit training
            // TrainingData holds corpus, training queries, train and validation judgements: no test split.
            for p in [ a; b ] do
                Expect.isTrue (p.Seen |> Option.exists (fun seen -> obj.ReferenceEquals(seen, training))) "the fit sees the experiment's TrainingData only"

        testCase "a compressor without validation figures is refused, naming IValidationScored" <| fun () ->
            let message =
                messageOf (fun () ->
                    new GridSearchCompressor([| TuningPoint("A", pointA ()); TuningPoint("pca", new Pca([| 8; 4 |])) |], DimSelection.Shared) |> ignore)
            Expect.stringContains message "IValidationScored" "names the interface"
            Expect.stringContains message "tuning=default" "says the way out"

        testCase "a saved grid loads back with the registry's loaders and serves the same outputs" <| fun () ->
            use dir = new TempDir()
            let training = data ()
            use grid = new GridSearchCompressor([| TuningPoint("A", pointA ()); TuningPoint("B", pointB ()) |], DimSelection.PerDim)
            grid.Fit training
            let folder = Path.Combine(dir.Path, "grid")
            grid.Save folder
            use loaded = withFake.Load folder
            Expect.isTrue (loaded :? GridSearchCompressor) "loaded as a grid"
            Expect.sequenceEqual loaded.Dims grid.Dims "dims"
            Expect.equal (Map.ofSeq (loaded.Settings |> Seq.map (fun kv -> kv.Key, kv.Value))) (Map.ofSeq (grid.Settings |> Seq.map (fun kv -> kv.Key, kv.Value))) "settings"
            for d in [ 8; 4 ] do
                Expect.sequenceEqual (output loaded training.Queries d) (output grid training.Queries d) (sprintf "equal outputs at %d dims" d)

        testCase "one point is the plain compressor with its overrides, more points a grid with each point's rate" <| fun () ->
            let requests = ResizeArray<MethodRegistry.MethodRequest>()
            let create (request: MethodRegistry.MethodRequest) : ICompressor =
                requests.Add request
                fake (float32 requests.Count) [ 8, 0.5; 4, 0.5 ]
            let request : MethodRegistry.MethodRequest =
                { Method = "smec"; Options = Map.ofList [ "tuning", "local-grid"; "sxbm_weight", "1" ]
                  Dims = [ 8; 4 ]; InputDim = 16
                  Budget = Some { MaxSteps = 10; BatchSize = 8; LearningRate = 1e-3; Patience = 1; ValidateEvery = 5 }
                  Seed = 1L; Progress = false; CheckpointPath = None }
            let single = MethodRegistry.tuned MethodRegistry.smec.Options (fun _ -> [ [ "sxbm_weight", "0.3" ] ]) create request
            Expect.isTrue (single :? FakeScored) "a single point is not wrapped"
            Expect.equal requests[0].Options["sxbm_weight"] "0.3" "its override is applied"
            requests.Clear()
            use grid = MethodRegistry.tuned MethodRegistry.smec.Options (fun _ -> [ [ "learning_rate", "0.001" ]; [ "learning_rate", "0.0003" ] ]) create request
            Expect.isTrue (grid :? GridSearchCompressor) "two points are a grid"
            Expect.equal [ for r in requests -> r.Budget.Value.LearningRate ] [ 1e-3; 3e-4 ] "each point's rate goes to its budget"
            requests.Clear()
            let plain = MethodRegistry.tuned MethodRegistry.smec.Options (fun _ -> [ [ "learning_rate", "0.001" ]; [ "learning_rate", "0.0003" ] ]) create { request with Options = request.Options.Add("tuning", "default") }
            Expect.isTrue (plain :? FakeScored) "tuning=default fits the options as given"
            Expect.equal requests[0] { request with Options = request.Options.Add("tuning", "default") } "the request untouched"

        testCase "an option the grid searches, set away from its default as well, is refused, naming both" <| fun () ->
            let options = MethodRegistry.standard.ResolveOptions("smec", Map.ofList [ "tuning", "local-grid"; "ads_learning_rate_scale", "3" ]) |> Result.defaultWith failwith
            let request : MethodRegistry.MethodRequest =
                { Method = "smec"; Options = options; Dims = [ 8; 4 ]; InputDim = 16
                  Budget = Some { MaxSteps = 10; BatchSize = 8; LearningRate = 1e-3; Patience = 1; ValidateEvery = 5 }
                  Seed = 1L; Progress = false; CheckpointPath = None }
            let message = messageOf (fun () -> (MethodRegistry.smec.Create request).Dispose())
            Expect.stringContains message "option ads_learning_rate_scale=3 is set, but option tuning=local-grid searches it" "names the option and the grid"
            Expect.stringContains message "tuning=default" "says the way out"

        testCase "a grid of real SMEC fits serves each dim exactly as a standalone fit of the point chosen there" <| fun () ->
            let data = synthetic ()
            let options = MethodRegistry.standard.ResolveOptions("smec", Map.ofList [ "tuning", "local-grid" ]) |> Result.defaultWith failwith
            let request : MethodRegistry.MethodRequest =
                { Method = "smec"; Options = options.Add("selection", "per-dim"); Dims = [ 8; 4 ]; InputDim = 16
                  Budget = Some { MaxSteps = 10; BatchSize = 8; LearningRate = 1e-3; Patience = 2; ValidateEvery = 5 }
                  Seed = 1L; Progress = false; CheckpointPath = None }
            let scored (r: MethodRegistry.MethodRequest) : ICompressor =
                new ScoredSmec(MethodRegistry.smec.Create { r with Options = r.Options.Add("tuning", "default") } :?> SmecCompressor)
            let points = [ [ "sxbm_weight", "1"; "learning_rate", "0.001" ]; [ "sxbm_weight", "0.3"; "learning_rate", "0.01" ] ]
            use grid = MethodRegistry.tuned MethodRegistry.smec.Options (fun _ -> points) scored request :?> GridSearchCompressor
            grid.Fit data
            for d in [ 8; 4 ] do
                let chosen = grid.Routing[d]
                Expect.equal grid.ValidationNdcgByDim[d] (grid.PointValidation |> Seq.map (fun v -> v[d]) |> Seq.max) (sprintf "the best point at %d dims" d)
                use alone = scored (MethodRegistry.pointRequest request chosen points[chosen])
                alone.Fit data
                Expect.sequenceEqual (output grid data.Queries d) (output alone data.Queries d) (sprintf "%d dims: bit-identical to point %d fitted alone" d (chosen + 1))
            Expect.stringContains grid.Settings["protocol.lr"] "0.01" "both rates are recorded"
            Expect.equal grid.Settings["protocol.grid_points"] "4" "2 loss forms x 2 tuning points"

        testCase "the registry's SMEC at tuning=default is today's SmecCompressor, not a wrapper" <| fun () ->
            let options = MethodRegistry.standard.ResolveOptions("smec", Map.empty) |> Result.defaultWith failwith
            Expect.equal options["tuning"] "default" "the default is one point"
            let request : MethodRegistry.MethodRequest =
                { Method = "smec"; Options = options; Dims = [ 8; 4 ]; InputDim = 16
                  Budget = Some { MaxSteps = 10; BatchSize = 8; LearningRate = 1e-3; Patience = 1; ValidateEvery = 5 }
                  Seed = 1L; Progress = false; CheckpointPath = None }
            use model = MethodRegistry.smec.Create request
            Expect.isTrue (model :? SmecCompressor) "the plain compressor"

        testCase "every trained method's local grid has the same size (>= 4) and varies only its own weights and the rate" <| fun () ->
            let trained = MethodRegistry.standard.Entries.Values |> Seq.filter (fun e -> e.Trains) |> List.ofSeq
            Expect.equal (trained |> List.map (fun e -> e.Key) |> set) (ownWeights.Keys |> set) "the trained methods"
            let sizes = trained |> List.map (fun e -> (e.TuningGrid Local).Length) |> List.distinct
            Expect.hasLength sizes 1 (sprintf "one size for every method: %A" sizes)
            Expect.isGreaterThanOrEqual sizes.Head 4 "at least 4 points"
            for e in trained do
                let grid = e.TuningGrid Local
                let specs = e.Options |> List.map (fun s -> s.Name, s) |> Map.ofList
                Expect.equal (grid |> List.distinct |> List.length) grid.Length (sprintf "%s: distinct points" e.Key)
                for point in grid do
                    for name, value in point do
                        if name = MethodRegistry.learningRateKey then
                            Expect.isTrue (Double.Parse(value, Globalization.CultureInfo.InvariantCulture) > 0.0) "a positive rate"
                        else
                            Expect.isTrue (ownWeights[e.Key].Contains name) (sprintf "%s varies %s, not one of its own weights" e.Key name)
                            Expect.equal (MethodOptions.canonical specs[name] value) (Ok value) (sprintf "%s: %s=%s is a canonical option value" e.Key name value)
                let varied = grid |> List.collect (List.map fst) |> set
                Expect.isTrue (varied.Contains MethodRegistry.learningRateKey) (sprintf "%s: the rate is on the grid" e.Key)
                Expect.isTrue ((Set.intersect varied ownWeights[e.Key]).Count > 0) (sprintf "%s: its own weights are on the grid" e.Key)
                // The first point is the method's default at the local budget's rate.
                let defaults = MethodRegistry.standard.ResolveOptions(e.Key, Map.empty) |> Result.defaultWith failwith
                for name, value in grid.Head do
                    let expected =
                        if name = MethodRegistry.learningRateKey then Smec.Experiments.Catalog.Profiles.localBudget.LearningRate.ToString("R", Globalization.CultureInfo.InvariantCulture)
                        else defaults[name]
                    Expect.equal value expected (sprintf "%s: the first point's %s is the default" e.Key name)
                Expect.contains (e.ProfileOptions Local) ("tuning", "local-grid") (sprintf "%s: the local profile searches it" e.Key)

        testCase "the paper profile: Search-Adaptor's 3 x 3 grid, one point for the others" <| fun () ->
            Expect.equal (MethodRegistry.searchAdaptor.TuningGrid Paper |> List.length) 9 "Search-Adaptor's paper grid"
            for e in [ MethodRegistry.smec; MethodRegistry.mrl; MethodRegistry.matryoshkaAdaptor ] do
                Expect.equal (e.TuningGrid Paper) [ [] ] (sprintf "%s: no grid in its paper" e.Key)

        testCase "a bad tuning value is the option error naming the choices" <| fun () ->
            match MethodRegistry.standard.ResolveOptions("search-adaptor", Map.ofList [ "tuning", "full" ]) with
            | Ok _ -> failtest "accepted tuning=full"
            | Error message ->
                Expect.stringContains message "option 'tuning' is 'full'" "names the option and the value"
                Expect.stringContains message "default, local-grid, paper-grid" "lists the choices"

        testCase "MRL's dim weighting: uniform is every view 1; toward-small grows with smaller dims and averages 1" <| fun () ->
            let widths = [| 384; 192; 96; 48; 24 |]
            Expect.sequenceEqual (SmecOptions.ViewWeights(DimWeighting.Uniform, widths)) [| 1.0; 1.0; 1.0; 1.0; 1.0 |] "uniform"
            let w = SmecOptions.ViewWeights(DimWeighting.TowardSmall, widths)
            Expect.floatClose Accuracy.high (Array.average w) 1.0 "mean 1: the loss scale stays"
            Expect.floatClose Accuracy.high w[4] (5.0 / 3.0) "24 of 384 weighs 5/3"
            Expect.isTrue (w |> Array.pairwise |> Array.forall (fun (x, y) -> y > x)) "smaller dims weigh more"
            Expect.equal (SmecOptions()).DimWeighting DimWeighting.Uniform "the default is today's uniform sum"

        testCase "MRL's nested loss: uniform is the plain sum over the views (today's), toward-small weighs them" <| fun () ->
            torch.manual_seed 3L |> ignore
            use step = new SmrlStep(16, 16, [| 8; 4 |], false, false)
            let inputs = torch.randn(8L, 16L)
            let relevance = torch.eye(4L)
            let positive = torch.arange(4L)
            let rows = StepRows(4, 4, 0, 4)
            let options weighting = SmecOptions(Ladder = [| 16; 8; 4 |], Smrl = false, Ads = false, Sxbm = false, DimWeighting = weighting)
            let loss weighting = (SmrlStepLoss.Compute(step, inputs, inputs, rows, relevance, positive, Nullable(), options weighting)).item<float32>()
            let output = step.forward inputs
            let terms =
                [ for view in Seq.append [ output ] (step.Select output) ->
                      RankingLoss.Compute(RankingLossForm.InfoNce, view.narrow(0L, 0L, 4L), view.narrow(0L, 4L, 4L), relevance, positive, 0.05) ]
            let plain = (terms |> List.reduce (fun a b -> a.add b)).item<float32>()
            Expect.equal (loss DimWeighting.Uniform) plain "uniform: exactly the unweighted sum (default unchanged)"
            let weighted = (List.map2 (fun (t: torch.Tensor) w -> t.mul(torch.tensor(w: float32)).item<float32>()) terms [ 0.5f; 1.0f; 1.5f ]) |> List.sum
            Expect.floatClose Accuracy.medium (float (loss DimWeighting.TowardSmall)) (float weighted) "toward-small: 16, 8, 4 weigh 0.5, 1, 1.5"
    ]
