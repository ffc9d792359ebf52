/// The protocol table of reports (items 2-6): rows from each trained method's "protocol.*" settings,
/// and sentences that say where budgets, grids and optimisers differ.
module Smec.Tests.Catalog.ProtocolTableTests

open Expecto
open Smec.Core.Methods
open Smec.Experiments.Methods
open Smec.Experiments.Reports.ProtocolTable

/// A row of a standard method, with its registry entry's protocol note.
let private row methodKey steps grid optimiser =
    { Method = methodKey; Optimizer = optimiser; LearningRate = "0.001"; WeightDecay = "0.01"; MaxStepsPerDim = steps
      StepsRun = "100"; LossForms = "InfoNce, Pairwise"; GridPoints = grid
      TuningGrid = MethodRegistry.describeGrid ((MethodRegistry.entry methodKey).TuningGrid Smec.Experiments.Catalog.Model.Local)
      Selection = "validation nDCG@10"; FunctionClass = "linear"; Parameters = "1000"
      Note = (MethodRegistry.entry methodKey).ProtocolNote Map.empty }

[<Tests>]
let tests =
    testList "Protocol table" [
        testCase "equal budgets and grids are reported as equal" <| fun () ->
            let sentences = differences [ row "mrl" "1500" "2" "AdamW"; row "matryoshka-adaptor" "1500" "2" "AdamW" ]
            Expect.contains sentences "Step budget per trained dim: the same for every trained method." "budget"
            Expect.contains sentences "Grid points: the same for every trained method." "grid"
            Expect.contains sentences "Tuning grid size: the same for every trained method." "tuning grid"

        testCase "a differing grid names the method, its value and why" <| fun () ->
            let sentences = differences [ row "mrl" "1500" "2" "AdamW"; row "search-adaptor" "1500" "2" "AdamW"; row "smec" "1500" "4" "AdamW" ]
            let grid = sentences |> List.find (fun s -> s.StartsWith "Grid points")
            Expect.stringContains grid "most rows have 2" "the common value"
            Expect.stringContains grid "smec has 4" "the odd row"
            Expect.stringContains grid "initialisation" "and why"

        testCase "the note comes from the method's registry entry and reads the row's options" <| fun () ->
            let note key options = (MethodRegistry.entry key).ProtocolNote(Map.ofList options)
            Expect.stringContains (note "matryoshka-adaptor" []) "two stages" "supervised Matryoshka-Adaptor"
            Expect.stringContains (note "matryoshka-adaptor" [ "supervised", "false" ]) "unsupervised variant" "MA-unsup"
            Expect.stringContains (note "smec" []) "ADS logits" "SMEC with ADS"
            Expect.equal (note "smec" [ "ads", "false" ]) "its options set it" "SMEC without ADS has no ADS grid"

        testCase "the tuning grid column states the grid the row's option tuning asks for, with its size" <| fun () ->
            let grid key options =
                let entry = MethodRegistry.entry key
                MethodRegistry.describeGrid (MethodRegistry.gridOf entry.TuningGrid (Map.ofList options))
            let local = grid "search-adaptor" [ "tuning", "local-grid" ]
            Expect.stringStarts local "4 points: " "the local grid's size"
            Expect.stringContains local "alpha=1 beta=0.1 learning_rate=0.0003" "its points"
            Expect.stringStarts (grid "search-adaptor" [ "tuning", "paper-grid" ]) "9 points" "the paper's 3 x 3"
            Expect.equal (grid "smec" []) "1 point (the defaults)" "tuning=default"

        testCase "a protocol record writes every key the table reads" <| fun () ->
            let record = ProtocolRecord("AdamW", 1e-3, 0.01, 1500.0, 640, "InfoNce, Pairwise", 2, "validation nDCG@10", FunctionClass.ResidualMlp, 296064L)
            let keys = record.Describe() |> Seq.map (fun kv -> kv.Key) |> Set.ofSeq
            for k in ProtocolRecord.Keys do Expect.isTrue (keys.Contains("protocol." + k)) k
            let values = record.Describe() |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq
            Expect.equal values.["protocol.function_class"] "residual-mlp" "the option's word"
            Expect.equal values.["protocol.parameters"] "296064" "the parameter count"

        testCase "a differing function class names the method and its form" <| fun () ->
            let sentences =
                differences [ row "mrl" "1500" "2" "AdamW"; row "smec" "1500" "2" "AdamW"
                              { row "search-adaptor" "1500" "2" "AdamW" with FunctionClass = "residual-mlp" } ]
            let functionClass = sentences |> List.find (fun s -> s.StartsWith "Function class")
            Expect.stringContains functionClass "most rows have linear" "the common form"
            Expect.stringContains functionClass "search-adaptor has residual-mlp" "the odd row"
            Expect.contains (differences [ row "mrl" "1500" "2" "AdamW"; row "smec" "1500" "2" "AdamW" ])
                "Function class: the same for every trained method." "equal forms"
    ]
