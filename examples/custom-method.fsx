// How to add a compression method from a script: implement ICompressor, register it with ONE
// method-registry entry, and get a row in a catalog table beside truncation and PCA. The catalog
// runner computes it like any cell of `make reproduce`: the same configs, the same result cache
// (results/cache: a second run reads it back), the same checks (truncation and PCA must still
// reproduce their reference figures, paper-results/reference-figures.csv). Nothing else is edited.
//
//   dotnet fsi examples/custom-method.fsx            (after `make build`)
//
// The method here is a seeded Gaussian random projection (Johnson-Lindenstrauss): not one of the
// paper's methods, which is the point. It learns nothing from the training data; a learned method
// would use `data.Train` / `data.Validation` in Fit, and say `Trains = true` in its entry.
#load "../Smec.fsx"

open System
open TorchSharp
open Smec.Core.Methods
open Smec.Core.Retrieval
open Smec.Core.Runtime
open Smec.Core.Storage
open Smec.Experiments.Catalog
open Smec.Experiments.Cli
open Smec.Experiments.Running
open Smec.Experiments.Methods
open Smec.Experiments.Verdicts
open Smec.Reproduced

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

        // The one saved-model format: a manifest naming the method, and its tensors.
        member this.Save(directory: string) =
            let p = projection |> Option.defaultWith (fun () -> failwith "RandomProjection: call Fit first")
            SavedModel.Write(directory, "random-projection", this, null, [ struct ("projection", p) ] |> Seq.map (fun (struct (n, t)) -> (n, t)))

    interface IDisposable with
        member _.Dispose() = projection |> Option.iter (fun p -> p.Dispose())

// The method's one registry entry: key, table label, whether it learns, options, factory, and the
// implementation tag that is part of its results' cache key (bump it when the numbers change).
let entry : MethodRegistry.MethodEntry =
    { Key = "random-projection"
      Label = "random projection"
      Trains = false
      Summary = "a seeded Gaussian projection onto d dims (Johnson-Lindenstrauss)"
      Options = []
      Create = fun request -> new RandomProjection(request.Dims) :> ICompressor
      Implementation = "examples/custom-method.fsx RandomProjection/1" }

// The catalog session scripts and notebooks share, with the method registered.
let catalog = session.Force()
let environment = { catalog.Environment with Methods = catalog.Environment.Methods.With entry }

// SciFact with all-MiniLM-L6-v2 at the catalog's dims: truncation and PCA have exactly item 2's
// configs (so their cached results are reused), the new method gets its own row.
let panels = [ { CatalogView.Title = Profiles.datasetTitle "scifact"; CatalogView.Dataset = "scifact"; CatalogView.Split = Profiles.localSplit "scifact" } ]
let rows = [ "truncation"; "pca"; entry.Key ] |> List.map (CatalogView.row environment.Methods (fun _ -> []))
let spec =
    CatalogView.table 2 catalog.Context "A custom method beside truncation and PCA"
        "SciFact, all-MiniLM-L6-v2 (384-d), the catalog's split; test nDCG@10" Profiles.miniLM panels rows Profiles.localDims
let result = TableRun.reproduce environment catalog.Published { Runner.Force = false; Runner.DryRun = false } spec
print result

// A failed check (e.g. truncation no longer reproducing its reference figures) stops the example.
if result.Statuses |> List.contains Checks.Fail then failwith "a check failed: see the table above"
