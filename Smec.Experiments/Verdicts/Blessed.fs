/// Our own blessed values, the reference of the regression checks: paper-results/blessed/
/// item-<N>-<profile>.csv, committed data. `smec bless --table N` writes them from cached results,
/// with each cell's hash (what it computes, independent of seeds) and the date. A row keeps the
/// mean (`value`, the reference), every seed's value (`per_seed`, which the band is derived from)
/// and their sample SD (`sd`, for readers; recomputed from `per_seed` on load).
module Smec.Experiments.Verdicts.Blessed

open System
open System.Globalization
open System.IO
open Smec.Core.Storage
open CsvHelper
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Verdicts.Checks

let pathOf (paperResultsDir: string) (item: int) (profile: Profile) =
    Path.Combine(paperResultsDir, "blessed", sprintf "item-%d-%s.csv" item (Profile.name profile))

let private header = [ "panel"; "row"; "column"; "value"; "sd"; "per_seed"; "seeds"; "cell_hash"; "blessed_on" ]

/// Fail on a file whose header lacks any of `expected`, naming the file, the columns and a hint.
let requireColumns (path: string) (present: Set<string>) (expected: string list) (hint: string) =
    match expected |> List.filter (present.Contains >> not) with
    | [] -> ()
    | missing -> failwithf "%s:1: header lacks column(s) %s (expected %s%s)" path (String.Join(", ", missing)) (String.Join(",", expected)) hint

let load (path: string) : BlessedValue list =
    if not (File.Exists path) then []
    else
        use csv = CsvReader.FromFile(path, CsvReaderOptions(TrackLineNumbers = true, Separator = Nullable ','))
        let present = csv.Headers |> Set.ofSeq
        requireColumns path present header "; a file from before per-seed values were kept needs `smec bless`"
        [ while csv.Read() do
              let line = int csv.LineNumber
              let number (name: string) = Smec.Experiments.Catalog.CsvFields.finite path line name (csv.GetString name)
              let seeds =
                  (csv.GetString "seeds").Split(';', StringSplitOptions.RemoveEmptyEntries)
                  |> Array.map (fun s ->
                      match Int64.TryParse s with
                      | true, v -> v
                      | _ -> failwithf "%s:%d: field 'seeds' has '%s', expected integers separated by ';'" path line s)
                  |> List.ofArray
              let perSeed =
                  (csv.GetString "per_seed").Split(';', StringSplitOptions.RemoveEmptyEntries)
                  |> Array.map (Smec.Experiments.Catalog.CsvFields.finite path line "per_seed")
                  |> List.ofArray
              if seeds.IsEmpty then failwithf "%s:%d: field 'seeds' is empty, expected the seeds the value was blessed with" path line
              if perSeed.Length <> seeds.Length then
                  failwithf "%s:%d: field 'per_seed' has %d value(s) for %d seed(s) in 'seeds'" path line perSeed.Length seeds.Length
              yield
                  { Panel = csv.GetString "panel"
                    Row = csv.GetString "row"
                    Column = csv.GetString "column"
                    Value = number "value"
                    PerSeed = perSeed
                    Seeds = seeds
                    CellHash = csv.GetString "cell_hash"
                    BlessedOn = csv.GetString "blessed_on"
                    // Optional: files blessed before data identities existed were made on the reference data.
                    DataIdentity = (if present.Contains "data_identity" then csv.GetString "data_identity" else "") } ]

let find (values: BlessedValue list) (cell: Cell) =
    values |> List.tryFind (fun b -> b.Panel = cell.Panel && b.Row = cell.Row && b.Column = cell.Column)

/// Write (atomically) the given values, replacing the entries of the same cells and keeping the others.
let save (path: string) (values: BlessedValue list) =
    let key (b: BlessedValue) = b.Panel, b.Row, b.Column
    let replaced = values |> List.map key |> set
    let kept = load path |> List.filter (fun b -> not (replaced.Contains(key b)))
    use text = new StringWriter()
    (use csv = CsvWriter.Create(text, CsvWriterOptions(NewLine = "\n"))
     for h in header @ [ "data_identity" ] do csv.WriteField h
     csv.EndRecord()
     for b in kept @ values do
         csv.WriteField b.Panel
         csv.WriteField b.Row
         csv.WriteField b.Column
         csv.WriteField(b.Value.ToString("R", CultureInfo.InvariantCulture))
         csv.WriteField(b.Sd.ToString("R", CultureInfo.InvariantCulture))
         csv.WriteField(b.PerSeed |> List.map (fun v -> v.ToString("R", CultureInfo.InvariantCulture)) |> String.concat ";")
         csv.WriteField(b.Seeds |> List.map string |> String.concat ";")
         csv.WriteField b.CellHash
         csv.WriteField b.BlessedOn
         csv.WriteField b.DataIdentity
         csv.EndRecord())
    AtomicFile.WriteAllText(path, text.ToString())
