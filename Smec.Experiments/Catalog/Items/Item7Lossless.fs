/// Item 7: the paper's Figure 1, frozen encoder vs encoder + SMEC across dims on BEIR Quora, and the
/// "lossless compression factor" (full dims / the smallest d at which SMEC matches the frozen
/// encoder at full dims). Local: SciFact with all-MiniLM-L6-v2 and arctic-embed-xs.
module Smec.Experiments.Catalog.Items.Item7Lossless

open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Profiles
open Smec.Experiments.Catalog.Builders

let title = "Figure 1: encoders with and without SMEC across dims, and the lossless compression factor"

/// Rows for one encoder: the frozen encoder truncated to d dims, and SMEC; plus the factor cell.
let private encoderCells (panel: string) (display: Display) (name: string) (dims: int list)
                         (frozen: int -> Quantity) (withSmec: int -> Quantity) (published: string -> int -> Published.PublishedKey option) =
    let full = List.max dims
    let rows =
        [ for d in dims do
              yield cell panel name (string d) display (frozen d) |> fun c -> { c with Published = published "frozen" d }
              yield cell panel (name + " + SMEC") (string d) display (withSmec d) |> fun c -> { c with Published = published "SMEC" d } ]
    let factor =
        cell "lossless factor" (name + " + SMEC") "factor" Display.ratio
            (LosslessFactor(full, frozen full, [ for d in dims -> d, withSmec d ]))
        |> fun c ->
            { c with
                Published = published "factor" full
                // The factor is full / d for a d on the ladder: no training noise is added to the label's precision.
                NoiseAllowance = Absolute 0.0
                RegressionFloor = Absolute 0.0 }
    let claims =
        [ for d in dims |> List.sort |> List.truncate 2 ->
              claim (sprintf "SMEC helps @%d %s" d name) panel display (sprintf "at %d dims %s + SMEC > %s" d name name)
                  (chain (name + " + SMEC", withSmec d) [ Greater, name, frozen d ]) ]
    rows, factor, claims

let private assemble (spec: TableSpec) (panel: string) (columns: int list) (parts: (string * (Cell list * Cell * Claim list)) list) =
    { spec with
        Panels = [ panel; "lossless factor" ]
        Rows = [ for name, _ in parts do yield name; yield name + " + SMEC" ]
        Columns = dimsColumns columns @ [ "factor" ]
        Cells = [ for _, (rows, factor, _) in parts do yield! rows; yield factor ]
        Claims = [ for _, (_, _, claims) in parts do yield! claims ]
        Chart = Some { XTitle = "dims"; YTitle = "nDCG@10"; Panels = [ panel ]; PublishedPanel = Some "Quora"; PublishedEncoder = None } }

let private local (context: CatalogContext) =
    let spec =
        { table 7 Local context title "SciFact test split, all-MiniLM-L6-v2 and arctic-embed-xs (384-d), 24-384 dims." with
            Notes = [ "Without SMEC = the frozen encoder's first d dims (truncation), as in the paper's curves for encoders without MRL." ] }
    let parts =
        [ for encoder in [ miniLM; arcticXs ] ->
              let frozen d = Measure(localRetrieval "scifact" encoder truncation [], ndcgAt d)
              let withSmec d = Measure(localRetrieval "scifact" encoder smec [], ndcgAt d)
              encoder, encoderCells "SciFact" Display.fraction encoder localDims frozen withSmec (fun _ _ -> None) ]
    assemble spec "SciFact" localDims parts

let private paper (context: CatalogContext) =
    let spec = table 7 Paper context title "BEIR Quora (manifest dataset 'quora'), LLM2Vec-7B (3584-d) and LLM2Vec-1B (1536-d)."
    let ladders = [ llm2vec7B, [ 128; 256; 512; 1024; 1536; 3584 ]; llm2vec1B, [ 128; 256; 512; 1024; 1536 ] ]
    let parts =
        [ for encoder, dims in ladders ->
              let entries =
                  context.Manifest |> Option.map (fun m -> m.For encoder) |> Option.defaultValue []
                  |> List.filter (fun e -> e.Dataset.ToLowerInvariant() = "quora")
              let valueOf methodSpec d =
                  match entries with
                  | [] -> Unavailable(needsManifest [ encoder ] "BEIR Quora (dataset 'quora')")
                  | _ -> Mean [ for e in entries -> Measure(manifestRetrieval e dims methodSpec [], ndcgAt d) ]
              let published row d : Published.PublishedKey option =
                  match row with
                  | "factor" -> Some { Item = 7; Panel = "lossless factor"; Row = "SMEC"; Encoder = encoder; Metric = "lossless compression factor"; X = d }
                  | _ -> Some { Item = 7; Panel = "Quora"; Row = row; Encoder = encoder; Metric = "ndcg@10"; X = d }
              let cells, factor, claims = encoderCells "Quora" Display.fraction encoder dims (valueOf truncation) (valueOf smec) published
              encoder, (cells, factor, claims) ]
    assemble spec "Quora" (snd ladders.Head) parts

let item =
    { Number = 7
      Title = title
      PaperSource = "Figure 1 labels"
      PaperEncoders = [ llm2vec7B; llm2vec1B ]
      Build = function Local -> local | Paper -> paper }
