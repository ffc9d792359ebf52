/// Item 2: BEIR with LLM2Vec-7B (3584-d): PCA vs Search-Adaptor vs Matryoshka-Adaptor vs SMEC across
/// dims (the paper's "LLM2Vec" figure and its abstract). Local: SciFact, Cranfield, CACM and their
/// mean with all-MiniLM-L6-v2, 24-384 dims, plus the truncation and MRL rows.
module Smec.Experiments.Catalog.Items.Item2Llm2Vec

open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Profiles
open Smec.Experiments.Catalog.Builders

let title = "BEIR retrieval across dims: PCA, Search-Adaptor, Matryoshka-Adaptor, SMEC (LLM2Vec-7B)"

let private chart publishedPanel ours =
    Some
        { XTitle = "dims"
          YTitle = "nDCG@10 x100"
          Panels = ours
          PublishedPanel = Some publishedPanel
          PublishedEncoder = Some llm2vec7B }

let private local (context: CatalogContext) =
    let spec =
        { table 2 Local context title
              "SciFact (train qrels, 100 queries held out for validation), Cranfield and CACM (queries halved by a fixed hash), all-MiniLM-L6-v2 384-d; test split only for the report." with
            Notes =
                [ "Local stand-in for the paper's BEIR average: the mean over SciFact, Cranfield and CACM."
                  "truncation = the frozen encoder's first d dims (at 384 dims: the full frozen encoder)." ] }
    MethodTables.localTable spec miniLM localTextDatasets true localTextMethods localDims [ pca; truncation ] Display.percent
        (chart "BEIR mean" [ meanPanel; "SciFact" ])

let private paper (context: CatalogContext) =
    let methods = [ pca; searchAdaptor; matryoshkaAdaptor; smec ]
    let spec = table 2 Paper context title "BEIR datasets named by the embeddings manifest, LLM2Vec-7B 3584-d."
    let main =
        MethodTables.paperTable spec context llm2vec7B "BEIR datasets" "BEIR mean" methods paperDims7B [ pca ]
            Display.percent (chart "BEIR mean" [ "BEIR mean" ])
    // The abstract's exact figures: SMEC's lead at 256 dims over the two adaptors.
    let at256 row = main.Cells |> List.find (fun c -> c.Panel = "BEIR mean" && c.Row = row && c.Column = "256")
    let lead (other: MethodSpec) =
        cell "abstract" (sprintf "SMEC - %s" other.Row) "256" Display.percent
            (match (at256 smec.Row).Value, (at256 other.Row).Value with
             | Unavailable reason, _ -> Unavailable reason
             | smecValue, otherValue -> Difference(smecValue, otherValue))
        |> withPublished
            { Item = 2; Panel = "abstract"; Row = sprintf "SMEC - %s" other.Row; Encoder = llm2vec7B
              Metric = "ndcg@10 difference"; X = 256 }
        |> fun c -> { c with HigherIsBetter = Some true }
    { main with
        Panels = main.Panels @ [ "abstract" ]
        Rows = main.Rows @ [ "SMEC - Matryoshka-Adaptor"; "SMEC - Search-Adaptor" ]
        Cells = main.Cells @ [ lead matryoshkaAdaptor; lead searchAdaptor ] }

let item =
    { Number = 2
      Title = title
      PaperSource = "figure \"LLM2Vec\" + abstract"
      PaperEncoders = [ llm2vec7B ]
      Build = function Local -> local | Paper -> paper }
