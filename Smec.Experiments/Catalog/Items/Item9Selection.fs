/// Item 9: ADS vs prefix truncation, the share of the "important" dimensions each keeps (secondary
/// source: 83.6% vs 17.4% at 256 dims). Local: all-MiniLM-L6-v2 at 48 and 96 of 384 dims, importance
/// measured on validation queries only.
module Smec.Experiments.Catalog.Items.Item9Selection

open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Profiles
open Smec.Experiments.Catalog.Builders

let title = "Adaptive dimension selection vs prefix: share of the important dimensions kept"

/// How importance is measured (an option, recorded): the drop in validation nDCG@10 when the
/// dimension is removed.
let importanceOptions = [ "importance", "validation-ndcg-drop" ]

/// Measurements the importance probe reports (Running/Probes.fs): important_share@d, the share of
/// the d most important dims that the method's selection at d dims keeps.
let private probe dataset encoder source split budget (methodSpec: MethodSpec) (dims: int list) =
    { Kind = DimensionImportance
      Dataset = dataset
      Encoder = encoder
      Source = source
      Split = split
      Method = methodSpec.Key
      Options = Map.ofList importanceOptions
      Dims = dims
      Seed = (if methodSpec.Trains then 1L else 0L)
      Budget = (if methodSpec.Trains then Some budget else None) }

let private rows = [ "ADS", smec; "prefix truncation", truncation ]

let private build (spec: TableSpec) (panel: string) (dims: int list) (valueOf: MethodSpec -> int -> Quantity) (published: bool) =
    { spec with
        Panels = [ panel ]
        Rows = rows |> List.map fst
        Columns = dimsColumns dims
        Cells =
            [ for row, methodSpec in rows do
                  for d in dims ->
                      cell panel row (string d) Display.sharePercent (valueOf methodSpec d)
                      |> fun c ->
                          { c with
                              NoiseAllowance = importanceShareAllowance
                              Published =
                                  if published then
                                      Some { Item = 9; Panel = "important dims kept"; Row = row; Encoder = llm2vec7B; Metric = "share of important dims kept"; X = d }
                                  else None } ]
        Claims =
            [ for d in dims ->
                  claim (sprintf "ADS keeps more @%d" d) panel Display.sharePercent (sprintf "at %d dims ADS keeps a larger share of the important dims than the prefix" d)
                      (chain ("ADS", valueOf smec d) [ Greater, "prefix", valueOf truncation d ]) ] }

let private local (context: CatalogContext) =
    let spec =
        { table 9 Local context title "SciFact / all-MiniLM-L6-v2, 48 and 96 of 384 dims; importance = drop in validation nDCG@10 when a dim is removed." with
            Notes = [ "ADS is trained alone over the encoder's 384 dims (no layer in front), with SMEC's loss, anneal and early stopping; the prefix keeps dims 0..d-1. Importance uses the validation queries only." ] }
    let dims = [ 48; 96 ]
    build spec "SciFact / all-MiniLM-L6-v2" dims
        (fun m d -> Measure(probe "scifact" miniLM Mirror (localSplit "scifact") localBudget m dims, sprintf "important_share@%d" d)) false

let private paper (context: CatalogContext) =
    let spec = table 9 Paper context title "The first LLM2Vec-7B entry of the embeddings manifest, 256 dims."
    let entry = context.Manifest |> Option.bind (fun m -> m.For llm2vec7B |> List.tryHead)
    build spec "important dims kept" [ 256 ]
        (fun m d ->
            match entry with
            | None -> Unavailable(needsManifest [ llm2vec7B ] "any BEIR dataset")
            | Some e -> Measure(probe e.Dataset e.Encoder (Manifest e.Fingerprint) (manifestSplit e) paperBudget m [ 256 ], sprintf "important_share@%d" d))
        true

let item =
    { Number = 9
      Title = title
      PaperSource = "secondary source: 83.6% vs 17.4% at 256 dims"
      PaperEncoders = [ llm2vec7B ]
      Build = function Local -> local | Paper -> paper }
