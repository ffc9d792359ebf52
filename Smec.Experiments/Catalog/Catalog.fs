/// Items 1-9. The paper's own table numbers are not known, so the catalog numbers its items
/// (docs/PAPER-RESULTS.md, "Catalog numbering"); `make reproduce TABLE=2` runs item 2.
module Smec.Experiments.Catalog.Catalog

open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Items

let items : CatalogItem list =
    [ Item1Datasets.item
      Item2Llm2Vec.item
      Item3OpenAi.item
      Item4Image.item
      Item5Multimodal.item
      Item6Ablation.item
      Item7Lossless.item
      Item8Gradients.item
      Item9Selection.item ]

let tryFind (number: int) = items |> List.tryFind (fun i -> i.Number = number)

let find (number: int) =
    match tryFind number with
    | Some item -> item
    | None -> failwithf "no catalog item %d (items are %s)" number (items |> List.map (fun i -> string i.Number) |> String.concat ", ")

/// The table of an item under a profile.
let build (number: int) (profile: Profile) (context: CatalogContext) = (find number).Build profile context

/// Every distinct experiment a table names (in cells and claims), before seeds are applied.
let rec experimentsOf (quantity: Quantity) : ExperimentConfig list =
    match quantity with
    | Measure(config, _) -> [ config ]
    | Mean qs
    | Spread qs -> qs |> List.collect experimentsOf
    | Difference(a, b)
    | Ratio(a, b) -> experimentsOf a @ experimentsOf b
    | LosslessFactor(_, reference, candidates) -> experimentsOf reference @ (candidates |> List.collect (snd >> experimentsOf))
    | Constant _
    | Unavailable _ -> []

let assertionQuantities =
    function
    | Chain(first, rest) -> first.Value :: (rest |> List.map (fun (_, t) -> t.Value))
    | Bound(t, _, _) -> [ t.Value ]

let tableExperiments (spec: TableSpec) =
    [ for c in spec.Cells do yield! experimentsOf c.Value
      for cl in spec.Claims do for q in assertionQuantities cl.Assertion do yield! experimentsOf q ]
    |> List.distinct
