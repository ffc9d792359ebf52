/// Fields of the committed reference CSVs (published.csv, blessed/*.csv) read the one way: a
/// number must be finite. Double.TryParse also reads "NaN" and "Infinity", and a NaN reference
/// makes every comparison with it false, so a cell could never fail against it.
module Smec.Experiments.Catalog.CsvFields

open System
open System.Globalization

/// The finite number `text` of field `name` at `path`:`line`, or an error naming them.
let finite (path: string) (line: int) (name: string) (text: string) =
    match Double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture) with
    | true, v when Double.IsFinite v -> v
    | _ -> failwithf "%s:%d: field '%s' is '%s'; expected a finite number" path line name text
