/// A table's verdicts: every cell's value with its checks, every claim, from the run's outcomes.
module Smec.Experiments.Running.TableRun

open System
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.Published
open Smec.Experiments.Running.Checks
open Smec.Experiments.Running.Environment
open Smec.Experiments.Running.Quantities
open Smec.Experiments.Running.Runner

type CellResult =
    { Cell: Cell
      /// What the cell computes (seed-independent): the key of its blessed value.
      CellHash: string
      Value: Evaluation
      Checks: CheckResult list
      /// Hashes of the experiments behind it (for every seed of the table).
      Experiments: string list }

    member this.Status = Status.combine (this.Checks |> List.map (fun c -> c.Status))

type TableResult =
    { Spec: TableSpec
      Cells: CellResult list
      Claims: ClaimResult list
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

/// `keyOf`: the key of an experiment's outcome (Runner.keyOf under the run's environment).
let evaluate (published: PublishedTable) (blessed: BlessedValue list) (blessedPath: string) (manifestPath: string option)
             (keyOf: ExperimentConfig -> string) (spec: TableSpec) (planned: PlannedExperiment list) (outcomes: Map<string, Outcome>) : TableResult =
    let lookup (config: ExperimentConfig) = outcomes.TryFind(keyOf config)
    let evaluateQuantity = Quantities.evaluate lookup spec.Seeds
    let cellResult (cell: Cell) =
        let value = evaluateQuantity cell.Value
        let cellHash = ConfigHash.quantityHash cell.Value
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
            |> List.collect (fun c -> spec.Seeds |> List.map (fun s -> keyOf (ExperimentConfig.withSeed s c)))
            |> List.distinct }
    { Spec = spec
      Cells = spec.Cells |> List.map cellResult
      Claims = spec.Claims |> List.map (Checks.claim evaluateQuantity)
      Planned = planned
      Outcomes = outcomes
      Published = published.ForItem spec.Item
      BlessedPath = blessedPath
      ManifestPath = manifestPath
      GeneratedUtc = DateTime.UtcNow }

/// Plan, run (or reuse) and judge one table.
let reproduce (env: RunEnvironment) (published: PublishedTable) (options: RunOptions) (spec: TableSpec) : TableResult =
    let planned = Runner.plan env spec
    let outcomes = Runner.run env options planned
    let blessedPath = Blessed.pathOf env.PaperResultsDir spec.Item spec.Profile
    evaluate published (Blessed.load blessedPath) blessedPath (env.Manifest |> Option.map (fun m -> m.Path)) (Runner.keyOf env) spec planned outcomes

/// Blessed values for every cell of a table that has a value now (from its cached results).
let blessings (result: TableResult) (date: string) : BlessedValue list =
    [ for c in result.Cells do
          match c.Value with
          | Value v when Catalog.experimentsOf c.Cell.Value |> List.exists (fun e -> e.Kind <> DatasetDescription) ->
              yield
                  { Panel = c.Cell.Panel
                    Row = c.Cell.Row
                    Column = c.Cell.Column
                    Value = v.Mean
                    Spread = v.Spread
                    Seeds = (if Quantities.seedDependent c.Cell.Value then result.Spec.Seeds else [ 0L ])
                    CellHash = c.CellHash
                    BlessedOn = date
                    DataIdentity = Datasets.cellDataIdentity c.Cell.Value }
          | _ -> () ]
