/// Verdicts, pyserini/anserini style. A value within tolerance of the expected one is OK; within
/// 1.5x the tolerance, or better than expected where higher is better, OK*; otherwise FAIL. A
/// check that has nothing to compare is SKIPPED with the reason.
module Smec.Experiments.Running.Checks

open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Published
open Smec.Experiments.Running.Quantities

type Status =
    | Ok
    | OkStar
    | Fail
    | Skipped

module Status =
    let name = function Ok -> "OK" | OkStar -> "OK*" | Fail -> "FAIL" | Skipped -> "SKIPPED"

    /// The status of several checks: FAIL if any fails; SKIPPED if all are skipped; else the weaker of OK/OK*.
    let combine (statuses: Status list) =
        if statuses |> List.contains Fail then Some Fail
        elif statuses.IsEmpty then None
        elif statuses |> List.forall ((=) Skipped) then Some Skipped
        elif statuses |> List.contains OkStar then Some OkStar
        else Some Ok

type CheckKind =
    /// Against the paper's value (paper profile).
    | PublishedCheck
    /// Against our own blessed value (local profile).
    | RegressionCheck
    /// Against the count the data's documentation declares (item 1).
    | DeclaredCheck

module CheckKind =
    let name = function PublishedCheck -> "published" | RegressionCheck -> "regression" | DeclaredCheck -> "declared"

type CheckResult =
    { Kind: CheckKind
      Expected: float option
      Actual: float option
      Tolerance: float option
      Status: Status
      Note: string }

    member this.Delta =
        match this.Expected, this.Actual with
        | Some e, Some a -> Some(a - e)
        | _ -> None

/// Float rounding must not turn a value exactly at the boundary into a miss.
let private boundaryEpsilon (expected: float) = 1e-9 * max 1.0 (abs expected)

/// The status rule: |delta| <= tol: OK; better than expected (higher is better): OK*; |delta| <=
/// 1.5 tol: OK*; else FAIL.
let judge (expected: float) (actual: float) (tolerance: float) (higherIsBetter: bool option) =
    let delta = actual - expected
    let eps = boundaryEpsilon expected
    if abs delta <= tolerance + eps then Ok
    elif higherIsBetter = Some true && delta > 0.0 then OkStar
    elif abs delta <= 1.5 * tolerance + eps then OkStar
    else Fail

let private fromGap kind expected (gap: Gap) =
    { Kind = kind
      Expected = expected
      Actual = None
      Tolerance = None
      Status = (if gap.Failed then Fail else Skipped)
      Note = gap.Reason }

/// The published check of a cell: tolerance = the value's reading precision + the cell's allowance.
let published (table: PublishedTable) (cell: Cell) (value: Evaluation) : CheckResult option =
    cell.Published
    |> Option.map (fun key ->
        match table.TryFind key with
        | None ->
            { Kind = PublishedCheck; Expected = None; Actual = None; Tolerance = None; Status = Fail
              Note = sprintf "the catalog names a published value that %s lacks: %A" table.Path key }
        | Some pv ->
            let expected = scaled pv
            let precision = scaledPrecision pv
            let allowance = Allowance.resolve expected cell.NoiseAllowance
            let source = sprintf "%s, %s (line %d)" pv.Figure (Source.name pv.Source) pv.Line
            match value with
            | Gap gap -> { fromGap PublishedCheck (Some expected) gap with Note = sprintf "%s [paper: %s]" gap.Reason source }
            | Value v ->
                let tolerance = precision + allowance
                { Kind = PublishedCheck
                  Expected = Some expected
                  Actual = Some v.Mean
                  Tolerance = Some tolerance
                  Status = judge expected v.Mean tolerance cell.HigherIsBetter
                  Note = sprintf "%s; tolerance = reading precision %g + allowance %g" source precision allowance })

/// A blessed value of a cell (paper-results/blessed/).
type BlessedValue =
    { Panel: string
      Row: string
      Column: string
      Value: float
      Spread: float
      Seeds: int64 list
      CellHash: string
      BlessedOn: string
      /// The data the value was made on: "" for the reference copies (the mirror's bytes, also
      /// the embedded archive's), else "dataset=identity" pairs (Datasets.cellDataIdentity).
      DataIdentity: string }

/// How a data identity reads in a note.
let describeDataIdentity (identity: string) = if identity = "" then "the reference data (the mirror's bytes)" else "data " + identity

/// A regression cell whose blessed value was made on another copy of the data: not compared.
let otherDataCopy (blessed: BlessedValue) (dataIdentity: string) (value: Evaluation) : CheckResult =
    { Kind = RegressionCheck
      Expected = Some blessed.Value
      Actual = (match value with Value v -> Some v.Mean | Gap _ -> None)
      Tolerance = None
      Status = Skipped
      Note =
        sprintf "other data copy: not comparable (blessed %s on %s; this run used %s)"
            blessed.BlessedOn (describeDataIdentity blessed.DataIdentity) (describeDataIdentity dataIdentity) }

/// The regression check: tolerance = max(the cell's floor, blessed spread, current spread).
let regression (blessed: BlessedValue option) (item: int) (cell: Cell) (cellHash: string) (value: Evaluation) : CheckResult =
    let skipped expected note =
        { Kind = RegressionCheck; Expected = expected; Actual = None; Tolerance = None; Status = Skipped; Note = note }
    match blessed, value with
    | None, Gap gap -> fromGap RegressionCheck None gap
    | None, Value v ->
        { skipped None (sprintf "no blessed value yet: run `smec bless --table %d`" item) with Actual = Some v.Mean }
    | Some b, _ when b.CellHash <> cellHash ->
        { skipped (Some b.Value)
              (sprintf "blessed %s for another configuration (cell hash %s, now %s): re-bless with `smec bless --table %d`"
                  b.BlessedOn (ConfigHash.short b.CellHash) (ConfigHash.short cellHash) item) with
            Actual = (match value with Value v -> Some v.Mean | Gap _ -> None) }
    | Some b, Gap gap -> fromGap RegressionCheck (Some b.Value) gap
    | Some b, Value v ->
        let tolerance = List.max [ Allowance.resolve b.Value cell.RegressionFloor; b.Spread; v.Spread ]
        { Kind = RegressionCheck
          Expected = Some b.Value
          Actual = Some v.Mean
          Tolerance = Some tolerance
          Status = judge b.Value v.Mean tolerance cell.HigherIsBetter
          Note =
            sprintf "blessed %s with %d seed(s); tolerance = max(floor, blessed spread %g, spread %g)"
                b.BlessedOn b.Seeds.Length b.Spread v.Spread }

/// A declared count must match exactly.
let declared (cell: Cell) (value: Evaluation) : CheckResult option =
    cell.Declared
    |> Option.map (fun expected ->
        match value with
        | Gap gap -> fromGap DeclaredCheck (Some expected) gap
        | Value v ->
            { Kind = DeclaredCheck
              Expected = Some expected
              Actual = Some v.Mean
              Tolerance = Some 0.0
              Status = judge expected v.Mean 0.0 None
              Note = "declared by the data's documentation; must match exactly" })

// ---- claims ---------------------------------------------------------------------------------

type ClaimResult =
    { Claim: Claim
      Status: Status
      /// The numbers, e.g. "SMEC 62.1 >= Matryoshka-Adaptor 60.3 > PCA 37.7".
      Detail: string }

let private holds relation (a: float) (b: float) =
    match relation with
    | AtLeast -> a >= b
    | Greater -> a > b
    | AtMost -> a <= b
    | Less -> a < b

/// How far `a rel b` misses (an equality misses a strict relation by 0, which any slack covers).
let private miss relation (a: float) (b: float) =
    if holds relation a b then 0.0 else abs (a - b)

let claim (evaluate: Quantity -> Evaluation) (c: Claim) : ClaimResult =
    let show (v: SeedValues) = Display.format c.Display v.Mean
    match c.Assertion with
    | Chain(first, rest) ->
        let terms = first :: (rest |> List.map snd)
        let values = terms |> List.map (fun t -> t, evaluate t.Value)
        match values |> List.choose (function _, Gap g -> Some g | _ -> None) with
        | gap :: _ ->
            { Claim = c; Status = (if gap.Failed then Fail else Skipped); Detail = gap.Reason }
        | [] ->
            let known = values |> List.map (function t, Value v -> t, v | _, Gap _ -> failwith "unreachable")
            let links =
                List.zip (known |> List.take rest.Length) (List.zip (rest |> List.map fst) known.Tail)
                |> List.map (fun ((_, a), (relation, (_, b))) ->
                    let slack = List.max [ Allowance.resolve (max (abs a.Mean) (abs b.Mean)) c.Slack; a.Spread; b.Spread ]
                    let status =
                        if holds relation a.Mean b.Mean then Ok
                        elif miss relation a.Mean b.Mean <= slack then OkStar
                        else Fail
                    relation, status)
            let detail =
                let head = sprintf "%s %s" (fst known.Head).Label (show (snd known.Head))
                List.zip links known.Tail
                |> List.fold (fun text ((relation, status), (t, v)) ->
                    let mark = match status with Ok -> "" | OkStar -> " (within noise)" | _ -> " (violated)"
                    sprintf "%s %s%s %s %s" text (Relation.symbol relation) mark t.Label (show v)) head
            { Claim = c; Status = (Status.combine (links |> List.map snd) |> Option.defaultValue Ok); Detail = detail }
    | Bound(t, relation, bound) ->
        match evaluate t.Value with
        | Gap gap -> { Claim = c; Status = (if gap.Failed then Fail else Skipped); Detail = gap.Reason }
        | Value v ->
            let status =
                if holds relation v.Mean bound then Ok
                else
                    let lenient = match relation with AtMost | Less -> bound * 1.5 | AtLeast | Greater -> bound / 1.5
                    if holds relation v.Mean lenient then OkStar else Fail
            { Claim = c
              Status = status
              Detail = sprintf "%s %s %s %s" t.Label (show v) (Relation.symbol relation) (Display.format c.Display bound) }
