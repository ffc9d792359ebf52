/// Verdicts. A published or declared check: within tolerance PASS ("OK"), within 1.5x the
/// tolerance PASS-NEAR ("OK*"), beyond in either direction FAIL. A regression check: within the band
/// derived from the blessed and current seed spreads PASS; beyond it FAIL when worse, IMPROVED when
/// better (both fail `smec check`: a better number must be re-blessed or explained). A claim: each
/// comparison judged by a paired bootstrap interval over queries, PASS / FAIL / TIE. A check with
/// nothing to compare is SKIPPED with the reason.
module Smec.Experiments.Verdicts.Checks

open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Published
open Smec.Experiments.Verdicts.Quantities
open Smec.Experiments.Store

type Status =
    | Pass
    | PassNear
    /// A paired interval that contains 0: the data cannot tell the two apart. Not a failure.
    | Tie
    /// Better than the blessed value beyond its band: re-bless or explain.
    | Improved
    | Fail
    | Skipped

module Status =
    let name =
        function
        | Pass -> "OK"
        | PassNear -> "OK*"
        | Tie -> "TIE"
        | Improved -> "IMPROVED"
        | Fail -> "FAIL"
        | Skipped -> "SKIPPED"

    /// Every status, in the order summaries count them.
    let all = [ Pass; PassNear; Tie; Improved; Fail; Skipped ]

    /// Statuses that make `smec check` exit non-zero.
    let fails = function Fail | Improved -> true | _ -> false

    /// The status of several checks: FAIL if any fails, then IMPROVED, TIE, OK*; SKIPPED if all are skipped; else OK.
    let combine (statuses: Status list) =
        if statuses.IsEmpty then None
        elif statuses |> List.forall ((=) Skipped) then Some Skipped
        else [ Fail; Improved; Tie; PassNear; Pass ] |> List.tryFind (fun s -> List.contains s statuses)

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

/// The published / declared rule, symmetric: |delta| <= tol: OK; <= 1.5 tol: OK*; else FAIL
/// (a value far above the expected one differs as much as one far below).
let judge (expected: float) (actual: float) (tolerance: float) =
    let delta = actual - expected
    let eps = boundaryEpsilon expected
    if abs delta <= tolerance + eps then Pass
    elif abs delta <= 1.5 * tolerance + eps then PassNear
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
                let status = judge expected v.Mean tolerance
                let differs =
                    if status = Fail then sprintf "differs from the paper (%s); " (if v.Mean > expected then "above" else "below") else ""
                { Kind = PublishedCheck
                  Expected = Some expected
                  Actual = Some v.Mean
                  Tolerance = Some tolerance
                  Status = status
                  Note = sprintf "%s%s; tolerance = reading precision %g + allowance %g (OK* up to 1.5x, either direction)" differs source precision allowance })

/// A blessed value of a cell (paper-results/blessed/): the mean and every seed's value.
type BlessedValue =
    { Panel: string
      Row: string
      Column: string
      /// Mean over the seeds.
      Value: float
      /// The value at each seed, in the order of `Seeds`.
      PerSeed: float list
      Seeds: int64 list
      CellHash: string
      BlessedOn: string
      /// The data the value was made on: "" for the reference copies (the mirror's bytes, also
      /// the embedded archive's), else "dataset=identity" pairs (Datasets.cellDataIdentity).
      DataIdentity: string }

    /// Sample standard deviation over the blessed seeds.
    member this.Sd = sampleSd this.PerSeed

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

/// The regression band of a cell: max(floor, k x SE) with SE = sqrt(sd_b^2 / n_b + sd_c^2 / n_c),
/// the standard error of the difference of the blessed and current means over seeds. A side with
/// a single seed has no SD of its own and borrows the other side's.
let regressionBand (floor: float) (blessed: float list) (current: float list) =
    let nb, nc = blessed.Length, current.Length
    let sdb, sdc = sampleSd blessed, sampleSd current
    let sdb, sdc =
        match nb > 1, nc > 1 with
        | true, false -> sdb, sdb
        | false, true -> sdc, sdc
        | _ -> sdb, sdc
    let se = sqrt (sdb * sdb / float (max 1 nb) + sdc * sdc / float (max 1 nc))
    max floor (Profiles.regressionBandK * se), se

/// The regression check, symmetric: |delta| <= band: OK; worse beyond it: FAIL; better beyond it
/// (where higher is better): IMPROVED, which fails `smec check` until re-blessed or explained.
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
        let floor = Allowance.resolve b.Value cell.RegressionFloor
        let band, se = regressionBand floor b.PerSeed v.PerSeed
        let delta = v.Mean - b.Value
        let status =
            if abs delta <= band + boundaryEpsilon b.Value then Pass
            elif delta > 0.0 && cell.HigherIsBetter = Some true then Improved
            elif delta < 0.0 && cell.HigherIsBetter = Some false then Improved
            else Fail
        let verdict =
            match status with
            | Improved -> "improved: re-bless or explain; "
            | Fail when cell.HigherIsBetter.IsSome -> "regressed; "
            | Fail -> "differs from the blessed value; "
            | _ -> ""
        { Kind = RegressionCheck
          Expected = Some b.Value
          Actual = Some v.Mean
          Tolerance = Some band
          Status = status
          Note =
            sprintf "%sblessed %s from %d seed(s) (sd %.4f), now %d seed(s) (sd %.4f); band = max(floor %g, %g x SE %.4f)"
                verdict b.BlessedOn b.PerSeed.Length b.Sd v.PerSeed.Length v.Sd floor Profiles.regressionBandK se }

/// A declared value (a documented count, a frozen baseline's reference figure) within its tolerance.
let declared (cell: Cell) (value: Evaluation) : CheckResult option =
    cell.Declared
    |> Option.map (fun expected ->
        match value with
        | Gap gap -> fromGap DeclaredCheck (Some expected.Value) gap
        | Value v ->
            { Kind = DeclaredCheck
              Expected = Some expected.Value
              Actual = Some v.Mean
              Tolerance = Some expected.Tolerance
              Status = judge expected.Value v.Mean expected.Tolerance
              Note = expected.Source })

// ---- claims ---------------------------------------------------------------------------------

/// One comparison of a claim: `left rel right` (a chain link) or `left rel bound` (a bound).
type LinkResult =
    { Left: string
      Relation: Relation
      Right: string
      LeftValue: float
      RightValue: float
      /// Seed-and-query interval of left - right (a bound: of left) at 95%, before any adjustment;
      /// None under the fallback rule.
      Interval: Bootstrap.Interval option
      /// The same interval at the level Holm's procedure gives this comparison among the item's
      /// comparisons (TableRun.adjustClaims); the verdict is judged on it. None until adjusted.
      Adjusted: Bootstrap.Interval option
      /// What the link is compared with: 0 for a chain link (left - right), the bound for a bound.
      Null: float
      Status: Status
      /// How the link was judged (the rule, or why no interval could be had).
      Rule: string }

type ClaimResult =
    { Claim: Claim
      Status: Status
      /// The numbers and intervals, e.g. "SMEC 62.1 >= MA 60.3 (diff +1.8, 95% CI [+0.9, +2.7]) OK".
      Detail: string
      Links: LinkResult list }

let private holds relation (a: float) (b: float) =
    match relation with
    | AtLeast -> a >= b
    | Greater -> a > b
    | AtMost -> a <= b
    | Less -> a < b

/// The interval rule: for "a >= b" / "a > b" on the interval of a - b (or of a - bound): entirely
/// above 0: OK; entirely below 0: FAIL; containing 0: TIE. Mirrored for "<=" / "<".
let judgeInterval (relation: Relation) (interval: Bootstrap.Interval) (bound: float) =
    let low, high = interval.Low - bound, interval.High - bound
    match relation with
    | AtLeast | Greater -> if low > 0.0 then Pass elif high < 0.0 then Fail else Tie
    | AtMost | Less -> if high < 0.0 then Pass elif low > 0.0 then Fail else Tie

/// Per-query samples for a claim's quantities (Error: why paired statistics cannot be had).
type SampleSource = Quantity list -> Result<QuerySample, string>

/// The seed-and-query interval of `statistic` over the per-query scores of `parts`.
/// A linear statistic (a difference of methods, a mean over datasets) gets each level's bootstrap
/// variance in closed form (Bootstrap.linearSeedQueryInterval); any other is resampled.
let intervalOf (sample: SampleSource) (statistic: Quantity) (parts: Quantity list) =
    sample parts
    |> Result.bind (fun s ->
        match linearParts s statistic with
        | Error reason -> Error reason
        | Ok(Some linear) -> Ok(Bootstrap.linearSeedQueryInterval linear s.SeedCounts)
        | Ok None ->
        onDraws s statistic
        |> Result.bind (fun f ->
            let failure = ref None
            let interval =
                Bootstrap.seedQueryInterval Bootstrap.DefaultSeed Bootstrap.DefaultResamples s.Sizes s.SeedCounts (fun draw ->
                    match f draw with
                    | Ok v -> v
                    | Error g ->
                        failure.Value <- Some g.Reason
                        nan)
            match failure.Value with
            | Some reason -> Error reason
            | None -> Ok interval))

let private bootstrapRule =
    sprintf "bootstrap variance over seeds and queries (queries paired and resampled within each dataset, seeds resampled per trained experiment; in closed form for a difference or mean, else %d resamples per level, seed %d): estimate +- t x SE, 95%% before Holm's adjustment"
        Bootstrap.DefaultResamples Bootstrap.DefaultSeed

/// A link as the report prints it: "SMEC 62.1 >= MA 60.3 (diff +1.8, Holm CI [..] (98.75%), unadjusted 95% CI [..]) OK".
let linkText (display: Display) (l: LinkResult) =
    let show (v: float) = Display.format display v
    let signed (v: float) = (if v >= 0.0 then "+" else "") + show v
    let range (i: Bootstrap.Interval) = sprintf "[%s, %s]" (signed i.Low) (signed i.High)
    let withInterval (i: Bootstrap.Interval) what =
        match l.Adjusted with
        | Some a -> sprintf "%s %s, Holm CI %s (%.2f%%), unadjusted 95%% CI %s" what (signed i.Estimate) (range a) (100.0 * a.Level) (range i)
        | None -> sprintf "%s %s, 95%% CI %s" what (signed i.Estimate) (range i)
    let numbers =
        match l.Interval with
        | Some i when l.Right = "" -> withInterval i "value"
        | Some i -> withInterval i "diff"
        | None -> "no interval: " + l.Rule
    let right = if l.Right = "" then show l.RightValue else sprintf "%s %s" l.Right (show l.RightValue)
    sprintf "%s %s %s %s (%s) %s" l.Left (show l.LeftValue) (Relation.symbol l.Relation) right numbers (Status.name l.Status)

/// A claim's result from its links: the worst link decides.
let withLinks (c: Claim) (links: LinkResult list) =
    { Claim = c
      Status = Status.combine (links |> List.map (fun l -> l.Status)) |> Option.defaultValue Pass
      Detail = links |> List.map (linkText c.Display) |> String.concat "; "
      Links = links }

/// Judge a claim. `evaluate` gives the table's value of a quantity (mean over seeds); `sample`
/// the per-query scores behind quantities. A link whose quantities have per-query scores is
/// judged by its interval; one without (probe measurements) by the same three-way rule on the seed
/// means with a noise margin m = max(slack, seed SDs): the difference in the claim's direction
/// beyond +m: OK; beyond -m: FAIL; within +-m: TIE (seed noise cannot decide it either way).
let claim (evaluate: Quantity -> Evaluation) (sample: SampleSource) (c: Claim) : ClaimResult =
    let show (v: float) = Display.format c.Display v
    let gapResult (gap: Gap) = { Claim = c; Status = (if gap.Failed then Fail else Skipped); Detail = gap.Reason; Links = [] }
    let finish (links: LinkResult list) = withLinks c links
    match c.Assertion with
    | Chain(first, rest) ->
        let terms = first :: (rest |> List.map snd)
        let values = terms |> List.map (fun t -> t, evaluate t.Value)
        match values |> List.choose (function _, Gap g -> Some g | _ -> None) with
        | gap :: _ -> gapResult gap
        | [] ->
            let known = values |> List.map (function t, Value v -> t, v | _, Gap _ -> failwith "unreachable")
            List.zip (known |> List.take rest.Length) (List.zip (rest |> List.map fst) known.Tail)
            |> List.map (fun ((ta, a), (relation, (tb, b))) ->
                let link interval status rule =
                    { Left = ta.Label; Relation = relation; Right = tb.Label; LeftValue = a.Mean; RightValue = b.Mean
                      Interval = interval; Adjusted = None; Null = 0.0; Status = status; Rule = rule }
                match intervalOf sample (Difference(ta.Value, tb.Value)) [ ta.Value; tb.Value ] with
                | Ok interval -> link (Some interval) (judgeInterval relation interval 0.0) bootstrapRule
                | Error why ->
                    let slack = List.max [ Allowance.resolve (max (abs a.Mean) (abs b.Mean)) c.Slack; a.Sd; b.Sd ]
                    let margin = match relation with AtLeast | Greater -> a.Mean - b.Mean | AtMost | Less -> b.Mean - a.Mean
                    let status = if margin > slack then Pass elif margin < -slack then Fail else Tie
                    link None status (sprintf "%s; seed means compared with noise margin %g (within it: TIE)" why slack))
            |> finish
    | Bound(t, relation, bound) ->
        match evaluate t.Value with
        | Gap gap -> gapResult gap
        | Value v ->
            let link interval status rule =
                { Left = t.Label; Relation = relation; Right = ""; LeftValue = v.Mean; RightValue = bound
                  Interval = interval; Adjusted = None; Null = bound; Status = status; Rule = rule }
            match intervalOf sample t.Value [ t.Value ] with
            | Ok interval -> finish [ link (Some interval) (judgeInterval relation interval bound) bootstrapRule ]
            | Error why ->
                let status =
                    if holds relation v.Mean bound then Pass
                    else
                        let lenient = match relation with AtMost | Less -> bound * 1.5 | AtLeast | Greater -> bound / 1.5
                        if holds relation v.Mean lenient then PassNear else Fail
                finish [ link None status (sprintf "%s; the seed mean against the bound, OK* within 1.5x" why) ]
