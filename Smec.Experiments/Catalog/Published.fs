/// The paper's published values (paper-results/published.csv): one row per value, with where it
/// was read and how precisely. Parsed with CsvHelper (FSharp.Data is not served here).
module Smec.Experiments.Catalog.Published

open System
open System.Globalization
open System.IO
open CsvHelper

/// How a published value is known (docs/PAPER-RESULTS.md, "Sources and reading precision").
type Source =
    /// Estimated from a figure's gridlines.
    | Read
    /// A number printed on a figure.
    | Label
    /// Stated in the abstract.
    | Abstract
    /// Reported by a secondary source, not the paper's own text.
    | Secondary

module Source =
    let parse (text: string) =
        match text.Trim().ToLowerInvariant() with
        | "read" -> Some Read
        | "label" -> Some Label
        | "abstract" -> Some Abstract
        | "secondary" -> Some Secondary
        | _ -> None

    let name = function Read -> "read" | Label -> "label" | Abstract -> "abstract" | Secondary -> "secondary"

/// Identifies one published value; a catalog cell names the value it is compared with by this key.
type PublishedKey =
    { Item: int
      Panel: string
      Row: string
      Encoder: string
      Metric: string
      /// Dimensions or epoch, per the row's axis.
      X: int }

type PublishedValue =
    { Key: PublishedKey
      Dataset: string
      Axis: string
      /// As printed in the paper, in `Unit`.
      Value: float
      Unit: string
      Source: Source
      /// Reading precision in `Unit`: 0.5 for `read` nDCG points, one unit of the last printed
      /// digit for `label` and `secondary`, 0 for `abstract`.
      Precision: float
      Figure: string
      Note: string
      /// Line in the CSV file (for error messages and provenance).
      Line: int }

/// Factor from a published unit to the harness's scale (nDCG as a fraction 0..1).
let unitFactor (unit: string) =
    match unit with
    | "percent" -> 0.01
    | "fraction" | "ratio" | "raw" -> 1.0
    | other -> failwithf "unknown unit '%s' (expected percent, fraction, ratio or raw)" other

/// The value on the harness's scale.
let scaled (v: PublishedValue) = v.Value * unitFactor v.Unit

/// The reading precision on the harness's scale.
let scaledPrecision (v: PublishedValue) = v.Precision * unitFactor v.Unit

type PublishedTable =
    { Path: string
      Values: PublishedValue list }

    member this.TryFind(key: PublishedKey) = this.Values |> List.tryFind (fun v -> v.Key = key)
    member this.ForItem(item: int) = this.Values |> List.filter (fun v -> v.Key.Item = item)

let private columns =
    [ "item"; "panel"; "row"; "encoder"; "dataset"; "axis"; "x"; "metric"; "value"; "unit"; "source"; "precision"; "figure"; "note" ]

/// Read published.csv; every error names the file, the line and the field.
let load (path: string) : PublishedTable =
    if not (File.Exists path) then
        failwithf "%s: published values file not found (it ships with the repository under paper-results/)" path
    let options = CsvReaderOptions(TrackLineNumbers = true, Separator = Nullable ',')
    use csv = CsvReader.FromFile(path, options)
    let header = csv.Headers |> Set.ofSeq
    if header.IsEmpty then failwithf "%s: empty file, expected a header line" path
    match columns |> List.filter (fun c -> not (header.Contains c)) with
    | [] -> ()
    | missing -> failwithf "%s:1: header lacks column(s) %s" path (String.Join(", ", missing))
    let values = ResizeArray()
    while csv.Read() do
        let line = int csv.LineNumber
        let text (name: string) = (csv.GetString name).Trim()
        let number (name: string) = CsvFields.finite path line name (text name)
        let integer (name: string) =
            match Int32.TryParse(text name, NumberStyles.Integer, CultureInfo.InvariantCulture) with
            | true, v -> v
            | _ -> failwithf "%s:%d: field '%s' is '%s', expected an integer" path line name (text name)
        let source =
            match Source.parse (text "source") with
            | Some s -> s
            | None -> failwithf "%s:%d: field 'source' is '%s', expected read, label, abstract or secondary" path line (text "source")
        let unit = text "unit"
        (try unitFactor unit |> ignore with e -> failwithf "%s:%d: field 'unit': %s" path line e.Message)
        values.Add
            { Key =
                { Item = integer "item"
                  Panel = text "panel"
                  Row = text "row"
                  Encoder = text "encoder"
                  Metric = text "metric"
                  X = integer "x" }
              Dataset = text "dataset"
              Axis = text "axis"
              Value = number "value"
              Unit = unit
              Source = source
              Precision = number "precision"
              Figure = text "figure"
              Note = text "note"
              Line = line }
    let duplicates =
        values |> Seq.groupBy (fun v -> v.Key) |> Seq.filter (fun (_, g) -> Seq.length g > 1) |> Seq.toList
    match duplicates with
    | [] -> ()
    | (key, group) :: _ ->
        failwithf "%s: lines %s give the same key %A twice" path (group |> Seq.map (fun v -> string v.Line) |> String.concat ", ") key
    { Path = path; Values = List.ofSeq values }

/// paper-results/published.csv under a repository root.
let defaultPath (repoRoot: string) = Path.Combine(repoRoot, "paper-results", "published.csv")
