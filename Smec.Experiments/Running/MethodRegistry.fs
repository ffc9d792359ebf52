/// Method name + options -> ICompressor. The catalog names methods by key ("smec", "pca", ...);
/// the registry turns a key into an implementation. Implementations live in Smec.Core and are
/// registered in `standard` as they land; until then a key maps to the reason it is pending.
module Smec.Experiments.Running.MethodRegistry

open Smec.Core.Methods
open Smec.Experiments.Catalog.Model

/// What a factory gets: the experiment's method options, dims, budget and seed, and the input dims.
type MethodRequest =
    { Method: string
      Options: Map<string, string>
      /// The dims to produce (the experiment's dims that fit the input).
      Dims: int list
      InputDim: int
      Budget: TrainingBudget option
      Seed: int64 }

type MethodFactory = MethodRequest -> ICompressor

type MethodRegistry =
    { Factories: Map<string, MethodFactory>
      /// Keys the catalog uses whose implementation has not landed, with where it comes from.
      Pending: Map<string, string> }

    member this.Resolve(key: string) : Result<MethodFactory, string> =
        match this.Factories.TryFind key, this.Pending.TryFind key with
        | Some factory, _ -> Ok factory
        | None, Some reason -> Error(sprintf "method '%s' is not available yet: %s" key reason)
        | None, None ->
            Error(sprintf "method '%s' is not registered (known: %s)" key (this.Factories |> Seq.map (fun kv -> kv.Key) |> String.concat ", "))

    member this.With(key: string, factory: MethodFactory) =
        { this with Factories = this.Factories.Add(key, factory); Pending = this.Pending.Remove key }

/// An option's value, or its default (options not set keep the catalog's config hash unchanged).
let option (request: MethodRequest) (name: string) (defaultValue: string) =
    request.Options |> Map.tryFind name |> Option.defaultValue defaultValue

/// The registry the `smec` command uses.
let standard : MethodRegistry =
    { Factories = Map.empty
      Pending =
        Map.ofList
            [ "truncation", "Truncation lands with branch baselines (Smec.Core/Methods/Baselines)"
              "pca", "PCA lands with branch baselines (Smec.Core/Methods/Baselines)"
              "mrl", "MRL lands with branch baselines (Smec.Core/Methods/Baselines)"
              "search-adaptor", "Search-Adaptor lands with branch baselines (Smec.Core/Methods/Baselines)"
              "matryoshka-adaptor", "Matryoshka-Adaptor lands with branch baselines (Smec.Core/Methods/Baselines)"
              "smec", "SMEC lands with branch smec (Smec.Core/Methods/Smec)" ] }
