/// Truncation and PCA through the ICompressor API on the real SciFact MiniLM embeddings, against
/// the reference figures (paper-results/reference-figures.csv, the table `smec baselines` checks).
module Smec.Tests.Baselines.ReferenceFigureTests

open Expecto
open Smec.Core.Methods
open Smec.Core.Methods.Baselines
open Smec.Core.Retrieval
open Smec.Core.Training
open Smec.Experiments.Catalog
open Smec.Tests.TestSupport

/// Fit on the catalog's SciFact split (100 train queries held out, split seed 0) and score every
/// reference figure of the method on the test queries against the whole corpus.
let private check (methodKey: string) (method: ICompressor) =
    let corpus, queries, train, test = SciFact.corpus (), SciFact.queries (), SciFact.qrels "train", SciFact.qrels "test"
    method.Fit(ValidationSplit.Carve(corpus, queries, train, 100, Smec.Experiments.Running.Splits.ValidationSeed))
    let testQueries = queries.Select(queries.Ids |> Seq.filter test.HasQuery |> Array.ofSeq)
    let figures = ReferenceFigures.ndcg10 (ReferenceFigures.load ()) SciFact.Dataset SciFact.Encoder methodKey |> List.filter (fun f -> Seq.contains f.Dims method.Dims)
    Expect.isNonEmpty figures "the table holds figures for the method"
    for f in figures do
        let got = RetrievalEvaluation.NdcgAt10(method.Compress(testQueries, f.Dims, EmbeddingRole.Query), method.Compress(corpus, f.Dims, EmbeddingRole.Document), test)
        Expect.isTrue (f.Agrees got) (sprintf "%s @%d: nDCG@10 %.5f vs reference %.4f (tolerance %g)" methodKey f.Dims got f.Value f.Tolerance)

[<Tests>]
let tests =
    testList "BaselineReferences" [
        testCase "truncation matches the SciFact reference figures" <| fun () ->
            use method = new Truncation([ 192; 96; 48; 24 ])
            check "truncation" method
        testCase "PCA fitted on the corpus matches the SciFact reference figures" <| fun () ->
            use method = new Pca([ 192; 96; 48; 24 ])
            check "pca" method
    ]
