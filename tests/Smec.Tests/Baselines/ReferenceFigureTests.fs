/// Truncation and PCA through the ICompressor API on the real SciFact MiniLM embeddings, against
/// the reference figures of docs/METHOD.md ("Reference figures on SciFact"; the same table `smec baselines` checks).
module Smec.Tests.Baselines.ReferenceFigureTests

open Expecto
open Smec.Core.Methods
open Smec.Core.Methods.Baselines
open Smec.Core.Training
open Smec.Experiments.Cli
open Smec.Tests.TestSupport

let private data = lazy (BaselinesCommand.loadSciFact (dataRoot ()))

let private check (method: ICompressor) =
    let d = data.Force()
    let split = ValidationSplit.Carve(d.Corpus, d.Queries, d.Train, BaselinesCommand.validationQueries, BaselinesCommand.validationSplitSeed)
    method.Fit split
    let testQueries = d.Queries.Select(d.Queries.Ids |> Seq.filter d.Test.HasQuery |> Array.ofSeq)
    for dim in [ 192; 96; 48; 24 ] do
        let expected = BaselinesCommand.referenceFigures.[(method.Name, dim)]
        let got = BaselinesCommand.testNdcg10 d testQueries method dim
        // References are printed to 4 decimals; 5e-4 allows that rounding plus float32 noise in
        // the projection, and still fails on any real change (adjacent dims differ by > 0.03).
        Expect.isLessThanOrEqual (abs (got - expected)) BaselinesCommand.referenceTolerance
            (sprintf "%s @%d: nDCG@10 %.5f vs reference %.4f" method.Name dim got expected)

[<Tests>]
let tests =
    testList "BaselineReferences" [
        testCase "truncation matches the SciFact reference figures (192: 0.6127 ... 24: 0.2765)" <| fun () ->
            check (Truncation([ 192; 96; 48; 24 ]))
        testCase "PCA fitted on the corpus matches the SciFact reference figures (192: 0.6273 ... 24: 0.3767)" <| fun () ->
            check (Pca([ 192; 96; 48; 24 ]))
    ]
