/// The option function_class (linear | residual-mlp) of every trained method (SMEC, MRL,
/// Matryoshka-Adaptor, Search-Adaptor), on a small real slice of SciFact with tiny budgets: each
/// form's parameter count, the default form unchanged, save/load of both forms (and of a model saved
/// before the option), the option's text, and the refusals (hidden width of a linear form, ensembles).
module Smec.Tests.Baselines.FunctionClassTests

open System.IO
open System.Text.Json.Nodes
open Expecto
open TorchSharp
open Smec.Core.Losses
open Smec.Core.Methods
open Smec.Core.Methods.Baselines
open Smec.Core.Methods.SmecMethod
open Smec.Core.Storage
open Smec.Core.Training
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Methods
open Smec.Tests.TestSupport

/// SciFact with MiniLM (384-d): the first 150 train queries (30 of them carved for validation), their
/// relevant docs and the first 600 corpus docs. Small enough that a 10-step fit takes about a second.
let private slice =
    lazy
        (let corpus, queries, train = SciFact.corpus (), SciFact.queries (), SciFact.qrels "train"
         let queryIds = train.QueryIds |> Seq.sort |> Seq.truncate 150 |> Array.ofSeq
         let relevant = queryIds |> Seq.collect (fun q -> train.ForQuery(q).Keys) |> Set.ofSeq
         let docIds = Seq.append (corpus.Ids |> Seq.truncate 600) relevant |> Seq.distinct |> Array.ofSeq
         ValidationSplit.Carve(corpus.Select docIds, queries.Select queryIds, train.Restrict queryIds, 30, 0L))

let private data () =
    let d = slice.Force()
    TrainingData(d.Corpus, d.Queries, d.Train, d.Validation, 3L)

let private D = 384L

/// The exception `f` throws (a test failure if it throws none, or another type).
let private thrown<'E when 'E :> exn> (f: unit -> unit) : 'E =
    try
        f ()
        failtestf "expected %s, nothing was thrown" typeof<'E>.Name
    with
    | :? 'E as e -> e

/// The residual MLP x + W2 relu(W1 x) at width w (hidden width w): two w x w weights and two biases.
let private mlp (w: int64) = 2L * w * w + 2L * w

/// An affine layer from `i` to `o` dims.
let private affine (i: int64) (o: int64) = i * o + o

/// Options as the registry sets them: function_class (when given) and any other option text.
type private Choice = { Form: FunctionClass option; Others: Map<string, string> }

let private formOnly (form: FunctionClass option) = { Form = form; Others = Map.empty }

/// The options record with function_class set through the option's text (as the registry sets it), or left at its default.
let private withForm (choice: Choice) (options: 'T) =
    let values =
        match choice.Form with
        | Some f -> choice.Others.Add("function_class", ProtocolRecord.Word f)
        | None -> choice.Others
    if values.IsEmpty then options else MethodOptions.apply options values

type private Case =
    { Key: string
      Default: FunctionClass
      Other: FunctionClass
      Build: Choice -> ICompressor
      /// The parameters each form must have (an independent count from the shapes).
      Parameters: FunctionClass -> int64
      /// The class's own loader (no seal check), for a model.json edited to look like an old save.
      LoadUnsealed: string -> ICompressor
      /// Remove the function class from a saved model's config (a model saved before the option); true if it was there.
      StripField: JsonObject -> bool }

let private tinyLoop = TrainingOptions(MaxSteps = 10, EvaluateEvery = 5, Patience = 100, Progress = false, BatchSize = 32)

let private smecOptions (smrl: bool) =
    SmecOptions(Ladder = [| 384; 192; 96 |], LossCandidates = [| RankingLossForm.InfoNce |], AdsAnnealSteps = 10,
                Smrl = smrl, Ads = smrl, Sxbm = smrl)

let private stripSmecField (config: JsonObject) = (config.["options"].AsObject()).Remove "FunctionClass"
let private stripConfigField (config: JsonObject) = config.Remove "function_class"

let private cases =
    [ { Key = "smec"; Default = FunctionClass.Linear; Other = FunctionClass.ResidualMlp
        Build = fun form -> new SmecCompressor(withForm form (smecOptions true), tinyLoop)
        // Step 1: 384 -> 384 (selects 192); step 2: 384 (the full output) -> 192 (selects 96). Each
        // residual-MLP step adds an MLP at its input width, 384.
        Parameters = fun form -> affine D D + affine D 192L + (if form = FunctionClass.ResidualMlp then 2L * mlp D else 0L)
        LoadUnsealed = fun dir -> SmecCompressor.Load dir
        StripField = stripSmecField }
      { Key = "mrl"; Default = FunctionClass.Linear; Other = FunctionClass.ResidualMlp
        Build = fun form -> new SmecCompressor(withForm form (smecOptions false), tinyLoop)
        // One 384 -> 384 layer whose prefixes serve 192 and 96.
        Parameters = fun form -> affine D D + (if form = FunctionClass.ResidualMlp then mlp D else 0L)
        LoadUnsealed = fun dir -> SmecCompressor.Load dir
        StripField = stripSmecField }
      { Key = "matryoshka-adaptor"; Default = FunctionClass.ResidualMlp; Other = FunctionClass.Linear
        Build =
          fun form ->
              new MatryoshkaAdaptor([| 192; 96 |],
                  withForm form (MatryoshkaAdaptorOptions(MaxStepsPerStage = 10, EvaluateEvery = 5, PatienceSteps = 100, BatchSize = 32,
                                                          RankingLossCandidates = [| RankingLossForm.InfoNce |], Progress = false)))
        // Linear: e + W e + b (W D x D); residual MLP: e + W2 relu(W1 e + b1) + b2.
        Parameters = fun form -> if form = FunctionClass.Linear then affine D D else mlp D
        LoadUnsealed = fun dir -> MatryoshkaAdaptor.Load dir
        StripField = stripConfigField }
      { Key = "search-adaptor"; Default = FunctionClass.ResidualMlp; Other = FunctionClass.Linear
        Build =
          fun form ->
              new SearchAdaptor([| 96 |],
                  withForm form (SearchAdaptorOptions(Grid = [| RegularizerWeights(0.1, 0.01) |], MaxSteps = 10, EvaluateEvery = 5,
                                                      PatienceSteps = 100, BatchSize = 32, Progress = false)))
        // The projection D -> 96, after the residual MLP in that form.
        Parameters = fun form -> affine D 96L + (if form = FunctionClass.ResidualMlp then mlp D else 0L)
        LoadUnsealed = fun dir -> SearchAdaptor.Load dir
        StripField = stripConfigField } ]

/// Every served dim below the input's compressed queries, as one array per dim.
let private outputs (c: ICompressor) =
    let queries = slice.Force().Queries
    [ for dim in c.Dims do
          if dim < int D then yield dim, c.Compress(queries, dim, EmbeddingRole.Query).Values ]

/// Fits of one case, made once: the default left unset, the default set explicitly, the other form.
let private fitted =
    cases
    |> List.map (fun case ->
        case.Key,
        lazy
            (let fit form =
                let c = case.Build(formOnly form)
                c.Fit(data ())
                c
             fit None, fit (Some case.Default), fit (Some case.Other)))
    |> Map.ofList

let private perMethod (case: Case) =
    testList case.Key [
        testCase "the default form is the unset option's, bit for bit, and the other form changes the output" <| fun () ->
            let unset, explicitDefault, other = fitted.[case.Key].Force()
            Expect.equal unset.Settings.["protocol.function_class"] (ProtocolRecord.Word case.Default) "the default form is recorded"
            Expect.equal (outputs unset) (outputs explicitDefault) "an explicit default reproduces the default bit for bit"
            Expect.notEqual (outputs other) (outputs unset) "the other form is another function"

        testCase "each form has its parameter count, recorded with the function class" <| fun () ->
            let _, explicitDefault, other = fitted.[case.Key].Force()
            for form, model in [ case.Default, explicitDefault; case.Other, other ] do
                let word = ProtocolRecord.Word form
                Expect.equal model.Settings.["protocol.function_class"] word "protocol.function_class"
                Expect.equal model.Settings.["protocol.parameters"] (string (case.Parameters form)) (sprintf "protocol.parameters of %s" word)
            Expect.isGreaterThan (case.Parameters FunctionClass.ResidualMlp) (case.Parameters FunctionClass.Linear) "the residual MLP is the larger class"

        testCase "save and load round-trip both forms; a model saved before the option loads as the default form" <| fun () ->
            let _, explicitDefault, other = fitted.[case.Key].Force()
            use dir = new TempDir()
            for form, model in [ case.Default, explicitDefault; case.Other, other ] do
                let folder = Path.Combine(dir.Path, ProtocolRecord.Word form)
                model.Save folder
                use loaded = MethodRegistry.standard.Load folder
                Expect.equal (outputs loaded) (outputs model) (sprintf "%s: equal outputs after load" (ProtocolRecord.Word form))
                Expect.equal loaded.Settings.["protocol.function_class"] (ProtocolRecord.Word form) "the loaded model says its form"
            // An old save: the same default-form folder without the field.
            let folder = Path.Combine(dir.Path, ProtocolRecord.Word case.Default)
            let manifestPath = Path.Combine(folder, SavedModel.ManifestFile)
            let manifest = JsonNode.Parse(File.ReadAllText manifestPath).AsObject()
            Expect.isTrue (case.StripField(manifest.["config"].AsObject())) "the saved config records the function class"
            File.WriteAllText(manifestPath, manifest.ToJsonString())
            use old = case.LoadUnsealed folder
            Expect.equal (outputs old) (outputs explicitDefault) "an old save loads as the default form"
        testCase "the other form with the other selection fits, and saves and loads to equal outputs" <| fun () ->
            // Search-Adaptor selects per dim by default; the others share one checkpoint by default.
            let selection = if case.Key = "search-adaptor" then "shared" else "per-dim"
            use model = case.Build { Form = Some case.Other; Others = Map.ofList [ "selection", selection ] }
            model.Fit(data ())
            Expect.equal model.Settings.["protocol.function_class"] (ProtocolRecord.Word case.Other) "the form"
            use dir = new TempDir()
            model.Save dir.Path
            use loaded = MethodRegistry.standard.Load dir.Path
            Expect.equal (outputs loaded) (outputs model) "equal outputs after load"
    ]

[<Tests>]
let tests =
    testList "FunctionClass" [
        yield! cases |> List.map perMethod

        testCase "every trained method has the option, with its paper's form as default; the text parses, a bad value is named" <| fun () ->
            for key, expected in [ "smec", "linear"; "mrl", "linear"; "matryoshka-adaptor", "residual-mlp"; "search-adaptor", "residual-mlp" ] do
                let resolve given = MethodRegistry.standard.ResolveOptions(key, Map.ofList [ "function_class", given ])
                Expect.equal (MethodRegistry.standard.ResolveOptions(key, Map.empty) |> Result.map (fun o -> o.["function_class"])) (Ok expected) (key + " default")
                Expect.equal (resolve "residual-mlp" |> Result.map (fun o -> o.["function_class"])) (Ok "residual-mlp") key
                Expect.equal (resolve "Linear" |> Result.map (fun o -> o.["function_class"])) (Ok "linear") key
                match resolve "mlp" with
                | Error e -> Expect.stringContains e "option 'function_class' is 'mlp'; expected one of linear, residual-mlp" key
                | Ok _ -> failtestf "%s accepted function_class=mlp" key

        testCase "the local profile gives every trained method the linear form; the paper profile each paper's own" <| fun () ->
            let form profile key = MethodRegistry.profileOptions profile key |> List.tryFind (fun (n, _) -> n = "function_class") |> Option.map snd
            for key in [ "smec"; "mrl"; "matryoshka-adaptor"; "search-adaptor" ] do
                Expect.equal (form Local key) (Some "linear") (key + " local")
            for key, expected in [ "smec", "linear"; "mrl", "linear"; "matryoshka-adaptor", "residual-mlp"; "search-adaptor", "residual-mlp" ] do
                Expect.equal (form Paper key) (Some expected) (key + " paper")

        testCase "a hidden width with the linear form is refused, naming both options" <| fun () ->
            let ma = thrown<System.ArgumentException> (fun () ->
                new MatryoshkaAdaptor([| 96 |], MatryoshkaAdaptorOptions(FunctionClass = FunctionClass.Linear, HiddenDim = System.Nullable 64)) |> ignore)
            let sa = thrown<System.ArgumentException> (fun () ->
                new SearchAdaptor([| 96 |], SearchAdaptorOptions(FunctionClass = FunctionClass.Linear, HiddenDim = System.Nullable 64)) |> ignore)
            for message in [ ma.Message; sa.Message ] do
                Expect.stringContains message "hidden_dim" "names the width option"
                Expect.stringContains message "function_class=linear" "and the form"

        testCase "the MRL and Search-Adaptor ensembles refuse a member of another form than their options'" <| fun () ->
            use set = new TrainingSet(data (), 5)
            let loop = TrainingOptions(MaxSteps = 2, Progress = false, BatchSize = 16)
            use step = new SmrlStep(384, 384, [| 96 |], false, false, null, FunctionClass.ResidualMlp)
            let mrlOptions = SmecOptions(Ladder = [| 384; 96 |], Smrl = false, Ads = false, Sxbm = false)
            let mrl = thrown<System.ArgumentException> (fun () ->
                MrlEnsemble.Train([| MrlMember(step, set, 1L, RankingLossForm.InfoNce) |], mrlOptions, loop) |> ignore)
            // The options say linear (the default); the member is a residual-MLP step.
            Expect.stringContains mrl.Message "function class (Linear); got a member step of ResidualMlp" "MRL ensemble: the options' form and the member's, named"
            use model = new SearchAdaptorModel(384, 384, 96, FunctionClass.Linear)
            use predictor = torch.nn.Linear(96L, 384L)
            let sa = thrown<System.ArgumentException> (fun () ->
                SearchAdaptorEnsemble.Train([| SearchAdaptorMember(model, predictor, RegularizerWeights(0.0, 0.0), RankingLossForm.Pairwise, set, 1L) |],
                                            SearchAdaptorOptions(), loop) |> ignore)
            // SearchAdaptorOptions() is the residual MLP; a linear member is not what the ensemble was asked to train.
            Expect.stringContains sa.Message "function_class=linear; expected the ensemble's residual-mlp" "Search-Adaptor ensemble: the member's form and the options' form, named"
    ]
