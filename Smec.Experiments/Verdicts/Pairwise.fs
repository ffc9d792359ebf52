/// Every pair at the cells a claim touches. A claim chains adjacent methods (SMEC >= MA >= SA > PCA),
/// so on its own it gives no interval for SMEC - SA or SMEC - MRL; a reader asking "which method is
/// ahead, and by how much" needs them all. At each (panel, column) where a claim reads a cell, every
/// pair of the trained methods and PCA gets its seed-and-query interval, Holm-adjusted within the
/// matrix (its pairs are tested together) with the unadjusted 95% interval beside it.
module Smec.Experiments.Verdicts.Pairwise

open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model

type PairInterval =
    { RowA: string
      RowB: string
      /// Interval of A - B at 95%.
      Interval: Bootstrap.Interval
      /// The same at Holm's level among the matrix's pairs.
      Adjusted: Bootstrap.Interval }

type Matrix =
    { Panel: string
      Column: string
      /// The methods compared, in the table's row order.
      Rows: string list
      Display: Display
      /// Every pair (A above B in row order), or why the intervals cannot be had (no per-query scores).
      Pairs: Result<PairInterval list, string> }

/// The rows a matrix compares: every method that learns, and PCA (the strongest method that does not).
let private comparedRows =
    Profiles.localTextMethods |> List.filter (fun m -> m.Trains || m.Key = Profiles.pca.Key) |> List.map (fun m -> m.Row)

/// (panel, column) of every cell a claim's chain reads.
let touched (spec: TableSpec) : (string * string) list =
    [ for c in spec.Claims do
          let terms =
              match c.Assertion with
              | Chain(first, rest) -> first :: (rest |> List.map snd)
              | Bound(t, _, _) -> [ t ]
          for t in terms do
              for cell in spec.Cells do
                  if cell.Panel = c.Panel && cell.Value = t.Value then yield cell.Panel, cell.Column ]
    |> List.distinct

let private matrixAt (spec: TableSpec) (sample: Checks.SampleSource) (panel: string, column: string) =
    let cells =
        spec.Rows
        |> List.filter (fun row -> List.contains row comparedRows)
        |> List.choose (fun row -> spec.Cells |> List.tryFind (fun c -> c.Panel = panel && c.Column = column && c.Row = row))
    let pairs =
        [ for i in 0 .. cells.Length - 1 do
              for j in i + 1 .. cells.Length - 1 do
                  let a, b = cells.[i], cells.[j]
                  yield a.Row, b.Row, Checks.intervalOf sample (Difference(a.Value, b.Value)) [ a.Value; b.Value ] ]
    let intervals =
        match pairs |> List.tryPick (fun (_, _, r) -> match r with Error why -> Some why | Ok _ -> None) with
        | Some why -> Error why
        | None ->
            let found = pairs |> List.map (fun (a, b, r) -> a, b, Result.defaultWith (fun _ -> failwith "unreachable") r)
            let levels = Bootstrap.holmLevels 0.05 (found |> List.map (fun (_, _, i) -> i.PValue))
            Ok(List.map2 (fun (a, b, i) level -> { RowA = a; RowB = b; Interval = i; Adjusted = Bootstrap.atLevel level i }) found levels)
    { Panel = panel
      Column = column
      Rows = cells |> List.map (fun c -> c.Row)
      Display = (match cells with c :: _ -> c.Display | [] -> Display.percent)
      Pairs = intervals }

/// The matrices of a table: one per (panel, column) a claim touches, with at least two methods.
let matrices (spec: TableSpec) (sample: Checks.SampleSource) : Matrix list =
    touched spec |> List.map (matrixAt spec sample) |> List.filter (fun m -> m.Rows.Length >= 2)

/// A pair's entry as printed: "+4.8 [+2.1, +7.5]" (Holm), unadjusted in parentheses.
let entryText (display: Display) (p: PairInterval) =
    let show v = (if v >= 0.0 then "+" else "") + Display.format display v
    sprintf "%s [%s, %s] (95%%: [%s, %s])" (show p.Interval.Estimate) (show p.Adjusted.Low) (show p.Adjusted.High) (show p.Interval.Low) (show p.Interval.High)

/// A matrix as a table: a title, the header (corner, then the methods) and one row per method,
/// whose entry under B is A - B (above the diagonal; Holm-adjusted, unadjusted 95% beside it).
let tableOf (m: Matrix) : string * string list * string list list =
    let title = sprintf "%s, %s: row - column" m.Panel m.Column
    match m.Pairs with
    | Error why -> title, [ "pairwise intervals" ], [ [ "not available: " + why ] ]
    | Ok pairs ->
        let entry a b =
            match pairs |> List.tryFind (fun p -> p.RowA = a && p.RowB = b) with
            | Some p -> entryText m.Display p
            | None -> ""
        title, "" :: m.Rows, [ for a in m.Rows -> a :: [ for b in m.Rows -> entry a b ] ]
