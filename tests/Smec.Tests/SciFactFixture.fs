/// SciFact with the mirror's MiniLM embeddings, loaded once for the training tests.
module Smec.Tests.SciFactFixture

open System.IO
open Smec.Core.Data
open Smec.Core.Storage
open Smec.Core.Methods
open Smec.Core.Training

let private cached = lazy (TestSupport.SciFact.corpus (), TestSupport.SciFact.queries (), TestSupport.SciFact.qrels "train")

/// Train data with 100 train queries held out for validation (split seed 0), training seed given.
let trainingData (seed: int64) =
    let corpus, queries, train = cached.Force()
    let d = ValidationSplit.Carve(corpus, queries, train, 100, 0L)
    TrainingData(d.Corpus, d.Queries, d.Train, d.Validation, seed)
