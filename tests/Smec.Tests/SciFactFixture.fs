/// SciFact with the mirror's MiniLM embeddings, loaded once for the training tests.
module Smec.Tests.SciFactFixture

open System.IO
open Smec.Core.Data
open Smec.Core.Storage
open Smec.Core.Methods
open Smec.Core.Training

let private load () =
    let root = TestSupport.dataRoot ()
    let emb = Path.Combine(root, "embeddings", "scifact", "all-MiniLM-L6-v2")
    let corpus = Npy.ReadEmbeddings(Path.Combine(emb, "corpus.npy"), Path.Combine(emb, "corpus.ids.txt"))
    let queries = Npy.ReadEmbeddings(Path.Combine(emb, "queries.npy"), Path.Combine(emb, "queries.ids.txt"))
    let train = Qrels.Read(Path.Combine(root, "beir", "scifact", "qrels", "train.tsv"))
    corpus, queries, train

let private cached = lazy (load ())

/// Train data with 100 train queries held out for validation (split seed 0), training seed given.
let trainingData (seed: int64) =
    let corpus, queries, train = cached.Force()
    let d = ValidationSplit.Carve(corpus, queries, train, 100, 0L)
    TrainingData(d.Corpus, d.Queries, d.Train, d.Validation, seed)
