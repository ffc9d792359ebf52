// How to add a compression method from a script: implement ICompressor, register it with ONE
// method-registry entry, and get a row in a catalog table beside truncation and PCA, a saved model,
// and `smec compress` on that saved model. The catalog runner computes the row like any cell of
// `make reproduce`: the same configs, the same result cache (results/cache: a second run reads it
// back), the same checks (truncation and PCA must still reproduce their reference figures,
// paper-results/reference-figures.csv). Nothing else is edited.
//
//   dotnet fsi examples/custom-method.fsx            (after `make build`)
//
// The method here is a seeded Gaussian random projection (Johnson-Lindenstrauss): not one of the
// paper's methods, which is the point. It learns nothing from the training data; a learned method
// would use `data.Train` / `data.Validation` in Fit, and say `Trains = true` in its entry.
#load "../Smec.fsx"

open System
open System.IO
open TorchSharp
open Smec.Core.Data
open Smec.Core.Methods
open Smec.Core.Retrieval
open Smec.Core.Runtime
open Smec.Core.Storage
open Smec.Core.Training
open Smec.Experiments.Catalog
open Smec.Experiments.Cli
open Smec.Experiments.Running
open Smec.Experiments.Methods
open Smec.Experiments.Verdicts
open Smec.Reproduced
open Smec.Script

/// The method's key: its registry entry's, and the kind its saved models name.
[<Literal>]
let Key = "random-projection"

/// Project onto the first d columns of one seeded Gaussian matrix, so the d-dim codes are nested.
type RandomProjection(dims: int list, fitted: torch.Tensor option, fittedSeed: int64) =
    let mutable projection = fitted
    let mutable seed = fittedSeed

    new(dims: int list) = new RandomProjection(dims, None, 0L)

    /// A saved model back: the dims and seed from its manifest, the matrix from its tensors.
    static member Load(saved: SavedModelReader) : ICompressor =
        new RandomProjection(List.ofArray saved.Dims, Some(saved.Tensor "projection"), int64 saved.Settings["seed"])

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

        // The one saved-model format: a manifest naming the method, and its tensors.
        member this.Save(directory: string) =
            let p = projection |> Option.defaultWith (fun () -> failwith "RandomProjection: call Fit first")
            SavedModel.Write(directory, Key, this, null, [ ("projection", p) ])

    interface IDisposable with
        member _.Dispose() = projection |> Option.iter (fun p -> p.Dispose())

// The method's one registry entry: key, table label, whether it learns, options, factory, the
// implementation tag that is part of its results' cache key (bump it when the numbers change), its
// saved-model kind and loader, the options the catalog's profiles give it, its protocol note, its docs.
let entry : MethodRegistry.MethodEntry =
    { Key = Key
      Label = "random projection"
      Trains = false
      Summary = "a seeded Gaussian projection onto d dims (Johnson-Lindenstrauss)"
      Options = []
      Create = fun request -> new RandomProjection(request.Dims) :> ICompressor
      Implementation = "examples/custom-method.fsx RandomProjection/1"
      Saved = { Kind = Key; Load = RandomProjection.Load }
      ProfileOptions = fun _ -> []
      TuningGrid = fun _ -> []
      ProtocolNote = fun _ -> "it learns nothing"
      Docs = "examples/custom-method.fsx" }

// The catalog session scripts and notebooks share, with the method registered.
let catalog = session.Force()
let environment = { catalog.Environment with Methods = catalog.Environment.Methods.With entry }

// SciFact with all-MiniLM-L6-v2 at the catalog's dims: truncation and PCA have exactly item 2's
// configs (so their cached results are reused), the new method gets its own row.
let panels = [ { CatalogView.Title = Profiles.datasetTitle "scifact"; CatalogView.Dataset = "scifact"; CatalogView.Split = SplitRules.ofDataset "scifact" } ]
let rows = [ "truncation"; "pca"; entry.Key ] |> List.map (CatalogView.row environment.Methods (fun _ -> []))
let spec =
    CatalogView.table 2 catalog.Context "A custom method beside truncation and PCA"
        "SciFact, all-MiniLM-L6-v2 (384-d), the catalog's split; test nDCG@10" Profiles.miniLM panels rows Profiles.localDims
let result = TableRun.reproduce environment catalog.Published { Runner.Force = false; Runner.DryRun = false; Runner.Ensemble = false } spec
print result

// A failed check (e.g. truncation no longer reproducing its reference figures) stops the example.
if result.Statuses |> List.contains Checks.Fail then failwith "a check failed: see the table above"

// Save a fitted model and compress SciFact's query embeddings with `smec compress` on the saved
// folder: the registry that holds the entry knows its kind and loader.
let embeddings = dataFile "embeddings/scifact/all-MiniLM-L6-v2"
let corpus = Npy.ReadEmbeddings(Path.Combine(embeddings, "corpus.npy"), Path.Combine(embeddings, "corpus.ids.txt"))
let queries = Npy.ReadEmbeddings(Path.Combine(embeddings, "queries.npy"), Path.Combine(embeddings, "queries.ids.txt"))
let split = ValidationSplit.Carve(corpus, queries, Qrels.Read(dataFile "beir/scifact/qrels/train.tsv"), 100, 0L)
let work = Directory.CreateTempSubdirectory "smec-custom-method-"
try
    use fitted =
        entry.Create
            { Method = entry.Key; Options = Map.empty; Dims = Profiles.localDims; InputDim = corpus.Dim; Budget = None; Seed = 1L
              Progress = true; CheckpointPath = None }
    fitted.Fit(TrainingData(split.Corpus, split.Queries, split.Train, split.Validation, 1L))
    let modelDir = Path.Combine(work.FullName, "model")
    fitted.Save modelDir
    let compressed = Path.Combine(work.FullName, "queries-48.npy")
    let exitCode =
        CompressCommand.runWith environment.Methods
            [| "--model"; modelDir; "--in"; Path.Combine(embeddings, "queries.npy"); "--dim"; "48"; "--out"; compressed |]
    if exitCode <> 0 then failwithf "smec compress on the saved model exited %d" exitCode
    let struct (values, rows, cols) = Npy.ReadFloat32 compressed
    if (rows, cols) <> (queries.Rows, 48) || values <> fitted.Compress(queries, 48, EmbeddingRole.Document).Values then
        failwith "smec compress on the saved model differs from the fitted model"
    printfn "smec compress with the saved %s model: %d x %d -> %d x %d, equal to the fitted model's output" entry.Label queries.Rows queries.Dim rows cols
finally
    work.Delete true
