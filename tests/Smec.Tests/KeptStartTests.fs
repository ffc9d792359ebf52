/// The "[kept start]" mark (issue 26): every trained method writes `selected_steps@<d>` (the step each
/// trained part serving d selected on validation) in per-dim and shared selection, agreeing with the
/// method's own records; a tuning grid takes each dim's from the point serving it; KeptStart.kept
/// reads it per dim and falls back to the older records for results stored before it.
module Smec.Tests.KeptStartTests

open System
open System.Collections.Generic
open System.Text.RegularExpressions
open Expecto
open Smec.Core.Data
open Smec.Core.Storage
open Smec.Core.Losses
open Smec.Core.Methods
open Smec.Core.Methods.Baselines
open Smec.Core.Methods.SmecMethod
open Smec.Core.Training
open Smec.Experiments.Verdicts

let private settingsMap (c: ICompressor) = c.Settings |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq

let private stepsAt (settings: Map<string, string>) (d: int) =
    match settings.TryFind(SelectedSteps.Key d) with
    | Some v -> v.Split ' ' |> Array.map int |> List.ofArray
    | None -> failtestf "no %s in %A" (SelectedSteps.Key d) (settings |> Map.keys |> List.ofSeq)

let private int' (g: Group) = int g.Value

/// SMEC/MRL's expected steps at d, read from its own records: `result.step<k>` (dims, best_step),
/// `.chosen` ("per dim: d: point (score at step B); ...") and `result.dim_source@d`. The chain up to
/// the step giving d (the first, or the last when d's source is the step output); earlier steps with
/// their best_step, the giving step with d's own snapshot step when d is a selection dim it chose per dim.
let private smecExpected (settings: Map<string, string>) (d: int) =
    let steps =
        [ for k in 1 .. 9 do
              match settings.TryFind(sprintf "result.step%d" k) with
              | Some v ->
                  let m = Regex.Match(v, @"^\d+->(\d+)->\[([\d,]*)\].*best_step=(\d+)")
                  let selection = m.Groups.[2].Value.Split(',', StringSplitOptions.RemoveEmptyEntries) |> Array.map int |> List.ofArray
                  let perDim =
                      match settings.TryFind(sprintf "result.step%d.chosen" k) with
                      | Some c when c.StartsWith "per dim: " ->
                          [ for m in Regex.Matches(c, @"(\d+): [^;]*at step (\d+)\)") -> int' m.Groups.[1], int' m.Groups.[2] ] |> Map.ofList
                      | _ -> Map.empty
                  yield int' m.Groups.[1], selection, int' m.Groups.[3], perDim
              | None -> () ]
    let gives (out, selection, _, _) = out = d || List.contains d selection
    let viaOutput = settings.TryFind(sprintf "result.dim_source@%d" d) |> Option.exists (fun s -> s.StartsWith "StepOutput")
    let giving = if viaOutput then List.findIndexBack gives steps else List.findIndex gives steps
    [ for i, (out, _, best, perDim) in List.indexed steps.[.. giving] ->
          if i = giving && out <> d && perDim.ContainsKey d then perDim.[d] else best ]

let private smecTraining = TrainingOptions(MaxSteps = 10, EvaluateEvery = 5, Patience = 100, Progress = false, BatchSize = 32)

/// Matryoshka-Adaptor's supervised step at d from its own records: per dim `selected @d` ("form at step
/// B (...)"), shared the chosen form's `supervised, <form> stage` ("... at step B of N").
let private maExpected (settings: Map<string, string>) (d: int) =
    match settings.TryFind(sprintf "selected @%d" d) with
    | Some v -> [ int' (Regex.Match(v, @"at step (\d+) \(").Groups.[1]) ]
    | None ->
        let stage = settings.[sprintf "supervised, %s stage" settings.["ranking loss (chosen on validation)"]]
        [ int' (Regex.Match(stage, @"at step (\d+) of").Groups.[1]) ]

/// Search-Adaptor's step at d: the selected point's "(step B)" in `grid @d`.
let private saExpected (settings: Map<string, string>) (d: int) =
    let selected = settings.[sprintf "selected @%d" d]
    let point = selected.Substring(0, selected.IndexOf " (")
    let m = Regex.Match(settings.[sprintf "grid @%d" d], Regex.Escape point + @": -?[\d.]+ \(step (\d+)\)")
    Expect.isTrue m.Success (sprintf "the selected point %s is in grid @%d" point d)
    [ int' m.Groups.[1] ]

let private checkEveryDim name (model: ICompressor) expected =
    let settings = settingsMap model
    for d in model.Dims do
        Expect.equal (stepsAt settings d) (expected settings d) (sprintf "%s: selected_steps@%d agrees with its own records" name d)
        Expect.equal (KeptStart.kept settings (Some d)) (expected settings d |> List.forall ((=) 0)) (sprintf "%s: the mark at %d" name d)
    settings

/// A compressor with given validation figures and given selected steps per dim (for the grid's routing).
type private StepsFake(label: string, scores: (int * float) list, steps: (int * string) list) =
    interface IValidationScored with
        member _.ValidationNdcgByDim = readOnlyDict scores
    interface ICompressor with
        member _.Name = "fake"
        member _.Dims = [| 8; 4 |]
        member _.Fit _ = ()
        member _.Compress(embeddings, _, _) = embeddings
        member _.Settings = readOnlyDict [ yield "fake.label", label; for d, s in steps -> SelectedSteps.Key d, s ]
        member _.Save _ = ()
        member _.Dispose() = ()

let private tinyData () =
    let random = Random 5
    let matrix prefix rows = EmbeddingMatrix([| for i in 0 .. rows - 1 -> sprintf "%s%d" prefix i |], Array.init (rows * 16) (fun _ -> float32 (random.NextDouble())), 16)
    let qrels ids = Qrels(Dictionary(dict [ for i in ids -> sprintf "q%d" i, Dictionary(dict [ sprintf "d%d" i, 1 ]) ]))
    TrainingData(matrix "d" 20, matrix "q" 10, qrels [ 4 .. 9 ], qrels [ 0 .. 3 ], 1L)

[<Tests>]
let tests =
    testList "KeptStart" [
        for selection in [ DimSelection.PerDim; DimSelection.Shared ] do
            testCase (sprintf "SMEC (%A): selected_steps@d at every served dim, the chain up to the step giving d" selection) <| fun () ->
                let data = SciFactFixture.trainingData 4L
                use model = new SmecCompressor(SmecOptions(Ladder = [| 384; 192; 96 |], Selection = selection, LossCandidates = [| RankingLossForm.InfoNce |]), smecTraining)
                model.Fit data
                let settings = checkEveryDim "SMEC" model smecExpected
                // Steps 384->384->[192], 192->192->[96]: 96 is served through both steps, 384 by step 1 alone.
                Expect.equal (stepsAt settings 96).Length 2 "96: both steps"
                Expect.equal (stepsAt settings 384).Length 1 "384: step 1"

            testCase (sprintf "MRL (%A): selected_steps@d is the one step's snapshot at d (its output's for the output)" selection) <| fun () ->
                let data = SciFactFixture.trainingData 3L
                use model =
                    new SmecCompressor(
                        SmecOptions(Ladder = [| 384; 96; 48 |], Smrl = false, Ads = false, Sxbm = false, Selection = selection,
                                    LossCandidates = [| RankingLossForm.InfoNce; RankingLossForm.Pairwise |]), smecTraining)
                model.Fit data
                let settings = checkEveryDim "MRL" model smecExpected
                for d in model.Dims do Expect.equal (stepsAt settings d).Length 1 (sprintf "%d: one trained part" d)

            testCase (sprintf "Matryoshka-Adaptor (%A): selected_steps@d is the supervised stage's step at d" selection) <| fun () ->
                let data = SciFactFixture.trainingData 2L
                use model =
                    new MatryoshkaAdaptor([ 96; 48; 24 ],
                        MatryoshkaAdaptorOptions(MaxStepsPerStage = 10, EvaluateEvery = 5, PatienceSteps = 500, BatchSize = 32, Progress = false,
                                                 RankingLossCandidates = [| RankingLossForm.InfoNce; RankingLossForm.Pairwise |], Selection = selection))
                model.Fit data
                checkEveryDim "Matryoshka-Adaptor" model maExpected |> ignore

            testCase (sprintf "Search-Adaptor (%A): selected_steps@d is the selected grid point's best step at d" selection) <| fun () ->
                let data = SciFactFixture.trainingData 2L
                use model =
                    new SearchAdaptor([ 48; 24 ],
                        SearchAdaptorOptions(Grid = [| RegularizerWeights(0.0, 0.0); RegularizerWeights(1.0, 0.1) |], MaxSteps = 10, EvaluateEvery = 5,
                                             PatienceSteps = 500, BatchSize = 32, Progress = false, Selection = selection))
                model.Fit data
                checkEveryDim "Search-Adaptor" model saExpected |> ignore

        testCase "per-dim selection keeping the start at one dim marks exactly that dim, whatever the older records say" <| fun () ->
            // The older records (step 2's best_step 0 for its one checkpoint) would mark 48 and 24 alike.
            let older =
                [ "result.step1", "384->96->[96] val_ndcg10=0.7000 best_step=0 steps=400 seconds=3.0"
                  "result.step2", "96->48->[48,24] val_ndcg10=0.6000 best_step=0 steps=400 seconds=3.0" ]
            Expect.isTrue (KeptStart.kept (Map.ofList older) (Some 24)) "the older rule marks 24"
            let settings =
                Map.ofList (older @ [ SelectedSteps.Key 96, "0"; SelectedSteps.Key 48, "0 0"; SelectedSteps.Key 24, "0 35" ])
            Expect.isTrue (KeptStart.kept settings (Some 96)) "96 kept its start"
            Expect.isTrue (KeptStart.kept settings (Some 48)) "48 kept its start"
            Expect.isFalse (KeptStart.kept settings (Some 24)) "24's snapshot trained (step 35)"
            Expect.isFalse (KeptStart.kept settings (Some 12)) "a dim not served is not marked"
            Expect.isTrue (KeptStart.kept settings None) "any dim: 96 and 48 kept theirs"
            let trained = Map.ofList [ SelectedSteps.Key 48, "0 40"; SelectedSteps.Key 24, "0 0" ]
            Expect.isFalse (KeptStart.kept trained (Some 48)) "48 trained"
            Expect.isTrue (KeptStart.kept trained (Some 24)) "24 kept its start"
            Expect.isFalse (KeptStart.kept (Map.ofList [ SelectedSteps.Key 48, "10 20" ]) None) "no dim kept its start"

        testCase "a malformed selected_steps record is refused, naming the key and the expected form" <| fun () ->
            let bad = Map.ofList [ SelectedSteps.Key 48, "0 x" ]
            let e = Expect.throwsC (fun () -> KeptStart.kept bad (Some 48) |> ignore) id
            Expect.stringContains e.Message "selected_steps@48" "names the key"
            Expect.stringContains e.Message "integers" "says what was expected"

        testCase "a tuning grid takes each dim's selected steps from the point that serves it" <| fun () ->
            // A is best at 8 (trained there, kept its start at 4); B best at 4 (trained there, kept its start at 8).
            let a = new StepsFake("A", [ 8, 0.9; 4, 0.5 ], [ 8, "0 30"; 4, "0 0" ])
            let b = new StepsFake("B", [ 8, 0.6; 4, 0.7 ], [ 8, "0 0"; 4, "20 10" ])
            use perDim = new GridSearchCompressor([| TuningPoint("A", a); TuningPoint("B", b) |], DimSelection.PerDim)
            perDim.Fit(tinyData ())
            let settings = settingsMap perDim
            Expect.equal settings.[SelectedSteps.Key 8] "0 30" "8 from A"
            Expect.equal settings.[SelectedSteps.Key 4] "20 10" "4 from B, not the primary point A's"
            Expect.isFalse (KeptStart.kept settings (Some 8)) "8 trained"
            Expect.isFalse (KeptStart.kept settings (Some 4)) "4 trained (B's steps), though A kept its start at 4"
            let a2 = new StepsFake("A", [ 8, 0.6; 4, 0.5 ], [ 8, "0 30"; 4, "0 0" ])
            let b2 = new StepsFake("B", [ 8, 0.9; 4, 0.7 ], [ 8, "0 0"; 4, "20 10" ])
            use shared = new GridSearchCompressor([| TuningPoint("A", a2); TuningPoint("B", b2) |], DimSelection.Shared)
            shared.Fit(tinyData ())
            let sharedSettings = settingsMap shared
            Expect.isTrue (KeptStart.kept sharedSettings (Some 8)) "B serves both: 8 kept its start"
            Expect.isFalse (KeptStart.kept sharedSettings (Some 4)) "B at 4 trained"
            Expect.equal sharedSettings.[SelectedSteps.Key 4] "20 10" "B's record at 4"
    ]
