/// Item 3: BEIR with OpenAI text-embedding-3-large (3072-d), whose native MRL truncation is the
/// baseline row. Local: item 2's table with arctic-embed-xs, the second 384-d encoder (the truncation row
/// stands for the paper's native-MRL row).
module Smec.Experiments.Catalog.Items.Item3OpenAi

open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Profiles
open Smec.Experiments.Catalog.Builders

let title = "BEIR retrieval across dims: MRL truncation, Search-Adaptor, Matryoshka-Adaptor, SMEC (text-embedding-3-large)"

/// The paper's row for OpenAI's native Matryoshka prefixes.
let mrlTruncation = { truncation with Row = "MRL truncation" }

let private chart ours =
    Some
        { XTitle = "dims"
          YTitle = "nDCG@10 x100"
          Panels = ours
          PublishedPanel = Some "BEIR mean"
          PublishedEncoder = Some openAiLarge }

let private local (context: CatalogContext) =
    let spec =
        { table 3 Local context title
              "Item 2's local table with arctic-embed-xs (384-d) as the second encoder: SciFact, Cranfield, CACM and their mean." with
            Notes = [ "truncation stands for the paper's native-MRL row (arctic-embed-xs is not trained with MRL, so it is a weaker stand-in)." ] }
    MethodTables.localTable spec arcticXs localTextDatasets true localTextMethods localDims [ pca; truncation ] Display.percent
        (chart [ meanPanel; "SciFact" ])

let private paper (context: CatalogContext) =
    let spec = table 3 Paper context title "BEIR datasets named by the embeddings manifest, text-embedding-3-large 3072-d."
    MethodTables.paperTable spec context openAiLarge "BEIR datasets" "BEIR mean"
        [ mrlTruncation; searchAdaptor; matryoshkaAdaptor; smec ] paperDimsOpenAi [ mrlTruncation ] Display.percent
        (chart [ "BEIR mean" ])

let item =
    { Number = 3
      Title = title
      PaperSource = "figure \"OpenAI\""
      PaperEncoders = [ openAiLarge ]
      Build = function Local -> local | Paper -> paper }
