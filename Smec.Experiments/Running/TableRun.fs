/// A table's verdicts: every cell's value with its checks, every claim, from the run's outcomes.
module Smec.Experiments.Running.TableRun

open System
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Published
open Smec.Experiments.Verdicts.Checks
open Smec.Experiments.Running.Environment
open Smec.Experiments.Verdicts.Quantities
open Smec.Experiments.Running.Runner
open Smec.Experiments.Store
open Smec.Experiments.Verdicts

type CellResult =
    { Cell: Cell
      /// What the cell computes (seed-independent): the key of its blessed value.
      CellHash: string
      Value: Evaluation
      Checks: CheckResult list
      /// Hashes of the experiments behind it (for every seed of the table).
      Experiments: string list
      /// Seeds at which a trained experiment behind the cell kept its untrained start (KeptStart).
      KeptStart: int64 list
      /// The value's seed-and-query 95% interval (None where no per-query scores stand behind it):
      /// the error bar of the report's charts.
      Interval: Bootstrap.Interval option }

    member this.Status = Status.combine (this.Checks |> List.map (fun c -> c.Status))

type TableResult =
    { Spec: TableSpec
      Cells: CellResult list
      Claims: ClaimResult list
      /// Every pair of methods at each cell a claim touches.
      Pairwise: Pairwise.Matrix list
      Planned: PlannedExperiment list
      Outcomes: Map<string, Outcome>
      /// The published values of the item (shown beside ours in every profile).
      Published: PublishedValue list
      BlessedPath: string
      ManifestPath: string option
      GeneratedUtc: DateTime }

    /// Statuses of every check and claim, for the summary line and the exit code.
    member this.Statuses =
        (this.Cells |> List.collect (fun c -> c.Checks |> List.map (fun k -> k.Status))) @ (this.Claims |> List.map (fun c -> c.Status))

    /// Fewer seeds than the default for a table with trained cells: numbers of a quick run.
    member this.Quick =
        this.Spec.Seeds.Length < Profiles.defaultSeedCount
        && this.Spec.Cells |> List.exists (fun c -> Quantities.seedDependent c.Value)

    /// Torch thread counts of the finished trained experiments, with how many ran with each (an
    /// untrained method, PCA or truncation, has no training whose float sums the count could reorder).
    member this.ThreadCounts =
        this.Planned
        |> List.filter (fun p -> p.Config.Budget.IsSome)
        |> List.choose (fun p -> match this.Outcomes.TryFind p.Hash with Some(Finished(r, _)) -> Some r.TorchThreads | _ -> None)
        |> List.countBy id
        |> List.sort

/// "quick (1 seed)" for a quick run's numbers, "" otherwise.
let quickLabel (result: TableResult) =
    if result.Quick then sprintf "quick (%d seed%s)" result.Spec.Seeds.Length (if result.Spec.Seeds.Length = 1 then "" else "s") else ""

/// A sentence when the results mix torch thread counts (float sums differ between them), else None.
let threadNote (result: TableResult) =
    match result.ThreadCounts with
    | [] | [ _ ] -> None
    | counts ->
        Some(
            sprintf "these results mix torch thread counts (%s): float sums are ordered differently, so cells may differ by training noise between them"
                (counts |> List.map (fun (t, n) -> sprintf "%d thread%s: %d experiment%s" t (if t = 1 then "" else "s") n (if n = 1 then "" else "s")) |> String.concat ", ")
        )

/// What identifies a comparison that several claims share (SMEC vs MA in each "vs baseline" chain).
let private comparisonKey (c: ClaimResult) (l: LinkResult) = c.Claim.Panel, l.Left, l.LeftValue, l.Relation, l.Right, l.RightValue

/// The distinct comparisons (claim links) judged by an interval.
let private judgedComparisons (claims: ClaimResult list) =
    claims
    |> List.collect (fun c -> c.Links |> List.choose (fun l -> l.Interval |> Option.map (fun i -> comparisonKey c l, l, i)))
    |> List.distinctBy (fun (key, _, _) -> key)

/// Verdicts for the item's comparisons tested together: each distinct comparison judged by an
/// interval gets the level Holm's step-down gives it at family-wise 5% (Bootstrap.holmLevels), and
/// its verdict is read from its interval at that level; the 95% interval stays beside it.
let adjustClaims (claims: ClaimResult list) : ClaimResult list =
    let judged = judgedComparisons claims
    let levels = Bootstrap.holmLevels 0.05 (judged |> List.map (fun (_, l, i) -> Bootstrap.pValueAgainst l.Null i))
    let levelOf = List.zip (judged |> List.map (fun (key, _, _) -> key)) levels |> Map.ofList
    claims
    |> List.map (fun c ->
        if c.Links.IsEmpty then c
        else
            c.Links
            |> List.map (fun l ->
                match l.Interval with
                | Some i ->
                    let adjusted = Bootstrap.atLevel levelOf.[comparisonKey c l] i
                    { l with Adjusted = Some adjusted; Status = Checks.judgeInterval l.Relation adjusted l.Null }
                | None -> l)
            |> Checks.withLinks c.Claim)

/// The multiple-comparisons note of a report.
let comparisonsNote (result: TableResult) =
    let judged = judgedComparisons result.Claims
    if judged.IsEmpty then None
    else
        let decided (interval: LinkResult -> Bootstrap.Interval option) =
            judged
            |> List.filter (fun (_, l, _) ->
                match interval l with
                | Some i -> Checks.judgeInterval l.Relation i l.Null <> Tie
                | None -> false)
            |> List.length
        Some(
            sprintf "%d comparisons are tested together. Verdicts use Holm-adjusted intervals (family-wise 5%%): %d are decided (OK or FAIL); at 95%% each, unadjusted, %d would be (about %.1f by chance alone if no difference were real). Intervals include seed and query variance (the bootstrap variance of both: in closed form for differences and means, else %d resamples per level)."
                judged.Length (decided (fun l -> l.Adjusted)) (decided (fun l -> l.Interval)) (0.05 * float judged.Length) Bootstrap.DefaultResamples
        )

/// The split rule of every dataset the table's experiments score, one line each: the fixed split,
/// or k-fold with k and its number of judged queries (the queries its folds tested, once a fold
/// of every query has run), and where the rule came from (the manifest's split field, the default).
let splitRuleNotes (result: TableResult) =
    // Text collections only: image sets split by class in their own providers (their notes say how).
    let isText (config: ExperimentConfig) =
        match config.Source with
        | Manifest _ -> true
        | Mirror ->
            match (try Some Smec.Core.Data.Manifests.ManifestCatalog.Default with _ -> None) with
            | Some catalog ->
                match catalog.Datasets.TryGetValue config.Dataset with
                | true, d -> d.Kind = "text-retrieval"
                | _ -> false
            | None -> false
    let scored = result.Planned |> List.map (fun p -> p.Config) |> List.filter (fun c -> c.Kind <> DatasetDescription && isText c)
    let hashOf = result.Planned |> List.map (fun p -> p.Config, p.Hash) |> Map.ofList
    [ for (source, dataset), configs in scored |> List.groupBy (fun c -> c.Source, c.Dataset) do
          let rule = Splits.unfolded configs.Head.Split
          let ruleSource = match source with Mirror -> snd (SplitRules.ofDatasetWithSource dataset) | Manifest _ -> SplitRules.Default
          let where = match source with Mirror -> dataset | Manifest _ -> dataset + " (embeddings manifest)"
          match rule with
          | KFold(k, _, _) ->
              let queries =
                  let complete =
                      configs
                      |> List.groupBy (fun c -> c.Method, c.Options, c.Seed)
                      |> List.tryPick (fun (_, folds) ->
                          let outcomes = folds |> List.choose (fun c -> hashOf.TryFind c |> Option.bind result.Outcomes.TryFind)
                          let counts = outcomes |> List.choose (function Finished(r, _) -> r.PerQuery |> Option.map (fun q -> q.QueryIds.Length) | _ -> None)
                          if counts.Length = k then Some(List.sum counts) else None)
                  // Before a fold has run: the counts the collection's manifest declares (or its qrels files).
                  let declared () =
                      match source with
                      | Manifest _ -> None
                      | Mirror ->
                          try
                              SplitRules.judgedCounts (Smec.Core.Data.Manifests.ManifestCatalog.Default.Dataset dataset)
                              |> Option.map (fun (train, test) -> defaultArg train 0 + test)
                          with _ -> None
                  match complete, declared () with
                  | Some n, _ -> sprintf "%d judged queries, each tested once" n
                  | None, Some n -> sprintf "%d judged queries (declared; none of its folds has run), each tested once" n
                  | None, None -> "judged queries counted once every fold of a method has run"
              yield sprintf "%s: k-fold, k = %d, %s; %s" where k queries (SplitRules.describe rule ruleSource)
          | _ -> yield sprintf "%s: fixed split; %s" where (SplitRules.describe rule ruleSource) ]

/// A claim's terms that name a row (a method row of the catalog, or a row of any panel of the
/// table) must name a row of the claim's own panel: a typo, or a row another change removed,
/// would otherwise compare the wrong numbers. Derived terms ("spread @24") are not rows.
let validateClaims (spec: TableSpec) =
    let methodRows = Profiles.localTextMethods |> List.map (fun m -> m.Row)
    let tableRows = spec.Cells |> List.map (fun cell -> cell.Row)
    for c in spec.Claims do
        if not (List.contains c.Panel spec.Panels) then
            failwithf "item %d (%s) claim '%s' names panel '%s', which the table lacks (panels: %s)"
                spec.Item (Profile.name spec.Profile) c.Id c.Panel (String.concat ", " spec.Panels)
        let terms =
            match c.Assertion with
            | Chain(first, rest) -> first :: (rest |> List.map snd)
            | Bound(t, _, _) -> [ t ]
        let panelRows = spec.Cells |> List.filter (fun cell -> cell.Panel = c.Panel) |> List.map (fun cell -> cell.Row) |> List.distinct
        for t in terms do
            let namesRow = List.contains t.Label methodRows || List.contains t.Label tableRows
            if namesRow && not (List.contains t.Label panelRows) then
                failwithf "item %d (%s) claim '%s' names row '%s', which panel '%s' lacks (rows: %s)"
                    spec.Item (Profile.name spec.Profile) c.Id t.Label c.Panel (String.concat ", " panelRows)

/// `keyOf`: the key of an experiment's outcome (Runner.keyOf under the run's environment);
/// `settingsKeyOf`: what it computes, without the implementation (Runner.settingsKeyOf), naming cells.
let evaluate (published: PublishedTable) (blessed: BlessedValue list) (blessedPath: string) (manifestPath: string option)
             (keyOf: ExperimentConfig -> string) (settingsKeyOf: ExperimentConfig -> string) (spec: TableSpec) (planned: PlannedExperiment list) (outcomes: Map<string, Outcome>) : TableResult =
    let outcomeOf (config: ExperimentConfig) = outcomes.TryFind(keyOf config)
    // A k-fold cell config reads its folds' outcomes merged (each query from the fold that tested it).
    // Remembered per config: every cell, claim and pairwise matrix reads the same outcomes, and a k-fold
    // config merges its folds on each read (about half of `smec check`'s time on item 2 before).
    let lookup =
        let merged = FoldResults.lookup outcomeOf
        let memo = System.Collections.Generic.Dictionary<ExperimentConfig, Outcome option>(HashIdentity.Structural)
        fun (config: ExperimentConfig) ->
            match memo.TryGetValue config with
            | true, known -> known
            | _ ->
                let outcome = merged config
                memo[config] <- outcome
                outcome
    let evaluateQuantity = Quantities.evaluate lookup spec.Seeds
    let keptStartSeeds (quantity: Quantity) =
        [ for config, measure in Quantities.leaves quantity do
              if config.Budget.IsSome then
                  for seed in spec.Seeds do
                      // A k-fold cell kept its start at a seed when any fold's model did.
                      for fold in Splits.experimentsOf config do
                          match outcomeOf (ExperimentConfig.withSeed seed fold) with
                          | Some(Finished(r, _)) when KeptStart.kept r.Settings (KeptStart.dimsOfMeasure measure) -> yield seed
                          | _ -> () ]
        |> List.distinct
        |> List.sort
    let cellResult (cell: Cell) =
        let value = evaluateQuantity cell.Value
        let cellHash = ConfigHash.quantityHashWith settingsKeyOf cell.Value
        // Descriptions of data are checked against the data's declared counts and checksums, not blessed.
        let hasExperiments = Catalog.experimentsOf cell.Value |> List.exists (fun c -> c.Kind <> DatasetDescription)
        let checks =
            [ yield! Checks.published published cell value |> Option.toList
              yield! Checks.declared cell value |> Option.toList
              // Regression checks guard our own numbers: local profile, cells computed from experiments.
              if spec.Profile = Local && hasExperiments && cell.Declared.IsNone then
                  match Blessed.find blessed cell, Datasets.cellDataIdentity cell.Value with
                  | Some b, data when b.DataIdentity <> data -> yield Checks.otherDataCopy b data value
                  | found, _ -> yield Checks.regression found spec.Item cell cellHash value
              // A cell that cannot be computed says why, even when it has nothing to be checked against.
              match value with
              | Gap gap when cell.Published.IsNone && cell.Declared.IsNone && not (spec.Profile = Local && hasExperiments) ->
                  yield { Kind = RegressionCheck; Expected = None; Actual = None; Tolerance = None
                          Status = (if gap.Failed then Fail else Skipped); Note = gap.Reason }
              | _ -> () ]
        { Cell = cell
          CellHash = cellHash
          Value = value
          Checks = checks
          Experiments =
            Catalog.experimentsOf cell.Value
            |> List.collect Splits.experimentsOf
            |> List.collect (fun c -> spec.Seeds |> List.map (fun s -> keyOf (ExperimentConfig.withSeed s c)))
            |> List.distinct
          KeptStart = keptStartSeeds cell.Value
          Interval =
            match value with
            | Value _ -> Checks.intervalOf (Quantities.querySample lookup spec.Seeds) cell.Value [ cell.Value ] |> Result.toOption
            | Gap _ -> None }
    { Spec = spec
      Cells = spec.Cells |> List.map cellResult
      Claims = spec.Claims |> List.map (Checks.claim evaluateQuantity (Quantities.querySample lookup spec.Seeds)) |> adjustClaims
      Pairwise = Pairwise.matrices spec (Quantities.querySample lookup spec.Seeds)
      Planned = planned
      Outcomes = outcomes
      Published = published.ForItem spec.Item
      BlessedPath = blessedPath
      ManifestPath = manifestPath
      GeneratedUtc = DateTime.UtcNow }

/// Plan, run (or reuse) and judge one table.
let reproduce (env: RunEnvironment) (published: PublishedTable) (options: RunOptions) (spec: TableSpec) : TableResult =
    validateClaims spec
    let planned = Runner.plan env spec
    let outcomes = Runner.run env options planned
    let blessedPath = Blessed.pathOf env.PaperResultsDir spec.Item spec.Profile
    evaluate published (Blessed.load blessedPath) blessedPath (env.Manifest |> Option.map (fun m -> m.Path)) (Runner.keyOf env) (Runner.settingsKeyOf env) spec planned outcomes

/// Blessed values for every cell of a table that has a value now (from its cached results).
/// Quick results are refused: a blessed value is the reference of a band derived from its seeds.
let blessings (result: TableResult) (date: string) : Result<BlessedValue list, string> =
    if result.Quick then
        Error(
            sprintf "item %d was reproduced with %d seed(s), a quick run: bless from the default %d seeds (`smec reproduce --table %d`, then `smec bless --table %d`)"
                result.Spec.Item result.Spec.Seeds.Length Profiles.defaultSeedCount result.Spec.Item result.Spec.Item
        )
    else
        Ok
            [ for c in result.Cells do
                  match c.Value with
                  | Value v when Catalog.experimentsOf c.Cell.Value |> List.exists (fun e -> e.Kind <> DatasetDescription) ->
                      yield
                          { Panel = c.Cell.Panel
                            Row = c.Cell.Row
                            Column = c.Cell.Column
                            Value = v.Mean
                            PerSeed = v.PerSeed
                            Seeds = (if Quantities.seedDependent c.Cell.Value then result.Spec.Seeds else [ 0L ])
                            CellHash = c.CellHash
                            BlessedOn = date
                            DataIdentity = Datasets.cellDataIdentity c.Cell.Value }
                  | _ -> () ]
