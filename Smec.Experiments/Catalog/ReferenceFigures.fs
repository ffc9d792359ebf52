/// Reference figures of the local data (paper-results/reference-figures.csv): what the data
/// mirror's README and docs/METHOD.md ("Reference figures on SciFact") state for methods that learn nothing. The CLI, the tests and the
/// examples read them from here, so each figure is written down once.
module Smec.Experiments.Catalog.ReferenceFigures

open System
open System.Globalization
open System.IO
open CsvHelper

type ReferenceFigure =
    { Dataset: string
      Encoder: string
      Split: string
      /// A method registry key.
      Method: string
      /// "cosine" (renormalised vectors) or "raw-prefix-dot" (inner product of the raw prefix).
      Similarity: string
      Dims: int
      Metric: string
      Value: float
      Tolerance: float
      Source: string }

    /// Whether a measured value agrees with this figure within its tolerance.
    member this.Agrees(measured: float) = abs (measured - this.Value) <= this.Tolerance

let fileName = "reference-figures.csv"

/// paper-results/reference-figures.csv under a repository root.
let defaultPath (repoRoot: string) = Path.Combine(repoRoot, "paper-results", fileName)

let private columns = [ "dataset"; "encoder"; "split"; "method"; "similarity"; "dims"; "metric"; "value"; "tolerance"; "source" ]

/// Every figure in the file; errors name the file, the line and the field.
let loadFrom (path: string) : ReferenceFigure list =
    if not (File.Exists path) then failwithf "%s: reference figures not found" path
    use csv = CsvReader.FromFile(path, CsvReaderOptions(TrackLineNumbers = true, Separator = Nullable ','))
    let header = csv.Headers |> List.ofSeq
    match columns |> List.filter (fun c -> not (List.contains c header)) with
    | [] -> ()
    | missing -> failwithf "%s: missing column(s) %s (expected %s)" path (String.concat ", " missing) (String.concat "," columns)
    [ while csv.Read() do
          let line = int csv.LineNumber
          let text (name: string) : string = (csv.GetString name).Trim()
          let number (name: string) = CsvFields.finite path line name (text name)
          let dims =
              match Int32.TryParse(text "dims", NumberStyles.Integer, CultureInfo.InvariantCulture) with
              | true, v when v > 0 -> v
              | _ -> failwithf "%s line %d: dims '%s' is not a positive integer" path line (text "dims")
          yield
              { Dataset = text "dataset"; Encoder = text "encoder"; Split = text "split"; Method = text "method"
                Similarity = text "similarity"; Dims = dims; Metric = text "metric"; Value = number "value"
                Tolerance = number "tolerance"; Source = text "source" } ]

/// The repository's figures (found from the working directory, like the rest of the harness).
let load () =
    match Option.ofObj (Smec.Core.Data.RepoPaths.TryFindRoot()) with
    | Some root -> loadFrom (defaultPath root)
    | None -> failwith "reference figures: run inside the repository (Smec.sln not found above the working directory)"

/// The cosine nDCG@10 figures of one method on a dataset x encoder's test split, by dims.
let ndcg10 (figures: ReferenceFigure list) (dataset: string) (encoder: string) (methodKey: string) =
    figures
    |> List.filter (fun f ->
        f.Dataset = dataset && f.Encoder = encoder && f.Split = "test" && f.Method = methodKey
        && f.Similarity = "cosine" && f.Metric = "ndcg@10")
    |> List.sortByDescending (fun f -> f.Dims)
