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

/// Measurements the importance probe reports (Running/ProbeRunners.fs): per d, important_share@d,
/// subset_val_ndcg@d and subset_test_ndcg@d (retrieval with only the selected dims), prefix_overlap@d,
/// chance_share@d; for "random" the mean over the subsets and _sd/_min/_max of each.
let private probe dataset encoder source split budget (key: string) (trains: bool) (dims: int list) =
    { Kind = DimensionImportance
      Dataset = dataset
      Encoder = encoder
      Source = source
      Split = split
      Method = key
      Options = Map.ofList (importanceOptions @ (if key = "random" then [ "random_subsets", "20" ] else []))
      Dims = dims
      Seed = (if trains then 1L else 0L)
      Budget = (if trains then Some budget else None) }

let private sharePanel, validationPanel, testPanel = "important dims kept", "validation nDCG@10 of the subset", "test nDCG@10 of the subset"

/// `measure key name`: a measurement of the probe for a method key (SMEC's, truncation's, or "random").
let private build (spec: TableSpec) (dims: int list) (measure: string -> string -> Quantity) (published: bool) =
    let ads, prefix, random = measure smec.Key, measure truncation.Key, measure "random"
    let rows =
        [ "ADS", ads, ""
          "prefix truncation", prefix, ""
          "random subsets: mean of 20", random, ""
          "random subsets: sd", random, "_sd"
          "random subsets: min", random, "_min"
          "random subsets: max", random, "_max" ]
    let panelCells panel name display =
        [ for row, m, suffix in rows do
              for d in dims ->
                  cell panel row (string d) display (m (sprintf "%s%s@%d" name suffix d))
                  |> fun c ->
                      { c with
                          NoiseAllowance = importanceShareAllowance
                          HigherIsBetter = (if suffix = "_sd" then None else c.HigherIsBetter)
                          Published =
                              if published && panel = sharePanel && (row = "ADS" || row = "prefix truncation") then
                                  Some { Item = 9; Panel = "important dims kept"; Row = row; Encoder = llm2vec7B; Metric = "share of important dims kept"; X = d }
                              else None } ]
    let extraShareCells =
        [ for d in dims do
              yield cell sharePanel "chance level (d / D)" (string d) Display.sharePercent (prefix (sprintf "chance_share@%d" d))
              yield cell sharePanel "ADS: share inside the prefix" (string d) Display.sharePercent (ads (sprintf "prefix_overlap@%d" d)) ]
    { spec with
        Panels = [ sharePanel; validationPanel; testPanel ]
        Rows = (rows |> List.map (fun (r, _, _) -> r)) @ [ "chance level (d / D)"; "ADS: share inside the prefix" ]
        Columns = dimsColumns dims
        Cells =
            panelCells sharePanel "important_share" Display.sharePercent @ extraShareCells
            @ panelCells validationPanel "subset_val_ndcg" Display.fraction
            @ panelCells testPanel "subset_test_ndcg" Display.fraction
        Claims =
            [ for d in dims do
                  yield
                      claim (sprintf "ADS keeps more @%d" d) sharePanel Display.sharePercent (sprintf "at %d dims ADS keeps a larger share of the important dims than the prefix" d)
                          (chain ("ADS", ads (sprintf "important_share@%d" d)) [ Greater, "prefix", prefix (sprintf "important_share@%d" d) ])
                  yield
                      claim (sprintf "ADS subset beats the prefix @%d" d) testPanel Display.fraction
                          (sprintf "at %d dims retrieval with ADS's dims scores above retrieval with the first %d (test nDCG@10)" d d)
                          (chain ("ADS", ads (sprintf "subset_test_ndcg@%d" d)) [ Greater, "prefix", prefix (sprintf "subset_test_ndcg@%d" d) ])
                  yield
                      claim (sprintf "ADS subset beats random subsets @%d" d) testPanel Display.fraction
                          (sprintf "at %d dims ADS's dims score above the best of 20 random subsets of that size (test nDCG@10)" d)
                          (chain ("ADS", ads (sprintf "subset_test_ndcg@%d" d)) [ Greater, "random max", random (sprintf "subset_test_ndcg_max@%d" d) ]) ] }

let private local (context: CatalogContext) =
    let spec =
        { table 9 Local context title "SciFact / all-MiniLM-L6-v2, 48 and 96 of 384 dims: the ADS subset, the prefix and 20 random subsets of the same size, judged by retrieval with only those dims and by the share of the important dims they keep." with
            Notes =
                [ "ADS is trained alone over the encoder's 384 dims (no layer in front), with SMEC's loss forms, ADS initialisations, anneal and early stopping, chosen on validation; the prefix keeps dims 0..d-1; random subsets are seeded."
                  "Importance = drop in validation nDCG@10 when a dim is zeroed; many dims tie (zeroing one of 384 rarely changes the top 10), ties are broken at random. Chance level of the share: d / D (12.5% at 48 of 384)."
                  "Subsets are selected on train/validation only; the test split only scores the fixed subsets." ] }
    let dims = [ 48; 96 ]
    build spec dims
        (fun key name -> Measure(probe "scifact" miniLM Mirror (SplitRules.ofDataset "scifact") localBudget key (key = smec.Key) dims, name)) false

let private paper (context: CatalogContext) =
    let spec = table 9 Paper context title "The first LLM2Vec-7B entry of the embeddings manifest, 256 dims."
    let entry = context.Manifest |> Option.bind (fun m -> m.For llm2vec7B |> List.tryHead)
    build spec [ 256 ]
        (fun key name ->
            match entry with
            | None -> Unavailable(needsManifest [ llm2vec7B ] "any BEIR dataset")
            | Some e -> Measure(probe e.Dataset e.Encoder (Manifest e.Fingerprint) (manifestSplit e) paperBudget key (key = smec.Key) [ 256 ], name))
        true

let item =
    { Number = 9
      Title = title
      PaperSource = "secondary source: 83.6% vs 17.4% at 256 dims"
      PaperEncoders = [ llm2vec7B ]
      Build = function Local -> local | Paper -> paper }
