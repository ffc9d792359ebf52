/// Item 6: ablation, SMRL / ADS / S-XBM switched off one at a time (the paper reports only the
/// ranking SMRL > ADS > S-XBM in contribution). Local: SciFact / all-MiniLM-L6-v2 at 24 and 48 dims.
module Smec.Experiments.Catalog.Items.Item6Ablation

open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Profiles
open Smec.Experiments.Catalog.Builders

let title = "Ablation: SMEC without SMRL, without ADS, without S-XBM, without all three"

/// Rows: the method and the SMEC options that switch modules off ("smrl", "ads", "sxbm"; default
/// on). The full model has no options, so it is the very experiment items 2 and 7 run; with all
/// three off SMEC is MRL (one layer, summed nested losses), item 2's MRL row.
let variants =
    [ "SMEC", (smec, [])
      "without SMRL", (smec, [ "smrl", "false" ])
      "without ADS", (smec, [ "ads", "false" ])
      "without S-XBM", (smec, [ "sxbm", "false" ])
      "none (= MRL)", (mrl, []) ]

let private build (spec: TableSpec) (panel: string) (dims: int list) (valueOf: MethodSpec * (string * string) list -> int -> Quantity) =
    let rowValue row d = valueOf (variants |> List.find (fst >> (=) row) |> snd) d
    let cost row d = Difference(rowValue "SMEC" d, rowValue row d)
    let removalCosts d =
        [ for module' in [ "SMRL"; "ADS"; "S-XBM" ] ->
              claim (sprintf "3 @%d %s" d module') panel Display.percent
                  (sprintf "at %d dims removing %s lowers nDCG@10" d module')
                  (chain ("SMEC", rowValue "SMEC" d) [ Greater, "without " + module', rowValue ("without " + module') d ]) ]
    let ranking d =
        claim (sprintf "3 ranking @%d" d) panel Display.percent
            (sprintf "at %d dims SMRL contributes most and S-XBM least" d)
            (chain ("cost of removing SMRL", cost "without SMRL" d)
                 [ AtLeast, "cost of removing ADS", cost "without ADS" d
                   AtLeast, "cost of removing S-XBM", cost "without S-XBM" d ])
    { spec with
        Panels = [ panel ]
        Rows = variants |> List.map fst
        Columns = dimsColumns dims
        Cells = [ for row, variant in variants do for d in dims -> cell panel row (string d) Display.percent (valueOf variant d) ]
        Claims = [ for d in dims do yield! removalCosts d; yield ranking d ] }

let private local (context: CatalogContext) =
    let spec =
        { table 6 Local context title "SciFact / all-MiniLM-L6-v2, every variant trained on the full 384 -> 24 ladder, scored at 24 and 48 dims." with
            Notes = [ "\"none\" keeps the training loop and the ranking loss with prefix dims and no memory, in one layer: MRL, the plain supervised map." ] }
    build spec "SciFact / all-MiniLM-L6-v2" [ 24; 48 ] (fun (methodSpec, options) d -> Measure(localRetrieval "scifact" miniLM methodSpec options, ndcgAt d))

let private paper (context: CatalogContext) =
    let spec =
        { table 6 Paper context title "BEIR datasets named by the embeddings manifest, LLM2Vec-7B, scored at 128 and 256 dims." with
            Notes = [ "The paper gives no numbers for the ablation, only the ranking SMRL > ADS > S-XBM: these cells have claim checks only." ] }
    let entries = context.Manifest |> Option.map (fun m -> m.For llm2vec7B) |> Option.defaultValue []
    build spec "BEIR mean" [ 128; 256 ] (fun (methodSpec, options) d ->
        match entries with
        | [] -> Unavailable(needsManifest [ llm2vec7B ] "BEIR datasets")
        | _ -> Mean [ for e in entries -> Measure(manifestRetrieval e paperDims7B methodSpec options, ndcgAt d) ])

let item =
    { Number = 6
      Title = title
      PaperSource = "reported ranking only: SMRL > ADS > S-XBM in contribution (secondary source)"
      PaperEncoders = [ llm2vec7B ]
      Build = function Local -> local | Paper -> paper }
