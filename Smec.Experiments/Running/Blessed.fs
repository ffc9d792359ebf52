/// Our own blessed values, the reference of the regression checks: paper-results/blessed/
/// item-<N>-<profile>.csv, committed data. `smec bless --table N` writes them from cached results,
/// with each cell's hash (what it computes, independent of seeds) and the date.
module Smec.Experiments.Running.Blessed

open System
open System.Globalization
open System.IO
open CsvHelper
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running.Checks

let pathOf (paperResultsDir: string) (item: int) (profile: Profile) =
    Path.Combine(paperResultsDir, "blessed", sprintf "item-%d-%s.csv" item (Profile.name profile))

let private header = [ "panel"; "row"; "column"; "value"; "spread"; "seeds"; "cell_hash"; "blessed_on" ]

let load (path: string) : BlessedValue list =
    if not (File.Exists path) then []
    else
        use csv = CsvReader.FromFile(path, CsvReaderOptions(TrackLineNumbers = true, Separator = Nullable ','))
        let present = csv.Headers |> Set.ofSeq
        match header |> List.filter (present.Contains >> not) with
        | [] -> ()
        | missing -> failwithf "%s:1: header lacks column(s) %s" path (String.Join(", ", missing))
        [ while csv.Read() do
              let line = int csv.LineNumber
              let number (name: string) =
                  match Double.TryParse(csv.GetString name, NumberStyles.Float, CultureInfo.InvariantCulture) with
                  | true, v -> v
                  | _ -> failwithf "%s:%d: field '%s' is '%s', expected a number" path line name (csv.GetString name)
              let seeds =
                  (csv.GetString "seeds").Split(';', StringSplitOptions.RemoveEmptyEntries)
                  |> Array.map (fun s ->
                      match Int64.TryParse s with
                      | true, v -> v
                      | _ -> failwithf "%s:%d: field 'seeds' has '%s', expected integers separated by ';'" path line s)
                  |> List.ofArray
              yield
                  { Panel = csv.GetString "panel"
                    Row = csv.GetString "row"
                    Column = csv.GetString "column"
                    Value = number "value"
                    Spread = number "spread"
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
         csv.WriteField(b.Spread.ToString("R", CultureInfo.InvariantCulture))
         csv.WriteField(b.Seeds |> List.map string |> String.concat ";")
         csv.WriteField b.CellHash
         csv.WriteField b.BlessedOn
         csv.WriteField b.DataIdentity
         csv.EndRecord())
    ResultStore.writeAtomically path (text.ToString())
