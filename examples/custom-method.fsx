// How to try a new compression method from a script, with the harness's own types:
// implement ICompressor, fit it on the catalog's training split, evaluate with the library's
// exact search + trec_eval nDCG@10 on the SciFact test split, and print a table.
//
//   dotnet fsi examples/custom-method.fsx            (after `make build`)
//
// The method here is a seeded Gaussian random projection (Johnson-Lindenstrauss): not one of the
// paper's methods, which is the point. It learns nothing from the training data; a learned method
// would use `data.Train` / `data.Validation` in Fit the same way.
#load "../Smec.fsx"

open System
open System.IO
open TorchSharp
open Smec.Script
open Smec.Core.Data
open Smec.Core.Methods
open Smec.Core.Retrieval
open Smec.Core.Runtime
open Smec.Core.Storage
open Smec.Core.Training

/// Project onto the first d columns of one seeded Gaussian matrix, so the d-dim codes are nested.
type RandomProjection(dims: int list) =
    let mutable projection: torch.Tensor option = None
    let mutable seed = 0L

    interface ICompressor with
        member _.Name = "RandomProjection"
        member _.Dims = dims
        member _.Settings = readOnlyDict [ "projection", "Gaussian N(0, 1), first d columns"; "seed", string seed ]

        member _.Fit(data: TrainingData) =
            seed <- data.Seed
            Determinism.Seed data.Seed |> ignore
            projection <- Some(torch.randn(int64 data.Corpus.Dim, int64 (List.max dims)))

        member _.Compress(embeddings: EmbeddingMatrix, dim: int, _role: EmbeddingRole) =
            let p = projection |> Option.defaultWith (fun () -> failwith "RandomProjection: call Fit first")
            use scope = torch.NewDisposeScope()
            use input = EmbeddingTensors.ToTensor embeddings
            let codes = input.mm(p.narrow(1, 0L, int64 dim))
            let normalised = codes / codes.norm(1, keepdim = true).clamp_min(1e-12)
            EmbeddingMatrix(embeddings.Ids, normalised.contiguous().data<float32>().ToArray(), dim)

        member _.Save(directory: string) =
            let p = projection |> Option.defaultWith (fun () -> failwith "RandomProjection: call Fit first")
            Npy.WriteFloat32(Path.Combine(directory, "projection.npy"), p.data<float32>().ToArray(), int p.shape[0], int p.shape[1])

    interface IDisposable with
        member _.Dispose() = projection |> Option.iter (fun p -> p.Dispose())

// SciFact with the mirror's all-MiniLM-L6-v2 embeddings (384-d).
let embeddings = dataFile "embeddings/scifact/all-MiniLM-L6-v2"
let corpus = Npy.ReadEmbeddings(Path.Combine(embeddings, "corpus.npy"), Path.Combine(embeddings, "corpus.ids.txt"))
let queries = Npy.ReadEmbeddings(Path.Combine(embeddings, "queries.npy"), Path.Combine(embeddings, "queries.ids.txt"))
let trainQrels = Qrels.Read(dataFile "beir/scifact/qrels/train.tsv")
let testQrels = Qrels.Read(dataFile "beir/scifact/qrels/test.tsv")

// The catalog's split: 100 train queries held out for validation; the test split is never seen in Fit.
let training = ValidationSplit.Carve(corpus, queries, trainQrels, 100, 0L)
let dims = [ 24; 48; 96; 192; 384 ]
let method = RandomProjection dims :> ICompressor
method.Fit(TrainingData(training.Corpus, training.Queries, training.Train, training.Validation, 42L))

let ndcg dim =
    RetrievalEvaluation.NdcgAt10(method.Compress(queries, dim, EmbeddingRole.Query),
                                 method.Compress(corpus, dim, EmbeddingRole.Document), testQrels)

let full = RetrievalEvaluation.NdcgAt10(queries, corpus, testQrels)
// The mirror's README gives 0.6472 for the uncompressed embeddings; a different figure means the
// data or the metric changed, so the example stops rather than print a misleading table.
if abs (full - 0.6472) > 0.0005 then failwithf "full-dim nDCG@10 is %.4f, the mirror's reference is 0.6472" full

printfn "SciFact test (%d queries), all-MiniLM-L6-v2, nDCG@10:" testQrels.QueryCount
printTable
    [ "dims"; method.Name; "full 384-d"; "kept" ]
    [ for d in dims ->
          let score = ndcg d
          [ string d; sprintf "%.4f" score; sprintf "%.4f" full; sprintf "%.0f%%" (100.0 * score / full) ] ]
