/// The protocol table of a report: for every trained method behind the table, the selection protocol
/// it followed (the "protocol.*" settings each trained method records, Smec.Core ProtocolRecord), one
/// row per method and options, and where step budgets, grids, optimisers or function classes differ, which rows and why.
module Smec.Experiments.Reports.ProtocolTable

open System
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Methods
open Smec.Experiments.Running.Runner
open Smec.Experiments.Running.TableRun

type ProtocolRow =
    { Method: string
      Optimizer: string
      LearningRate: string
      WeightDecay: string
      MaxStepsPerDim: string
      /// Steps actually run (all grid points), as "mean (min-max)" over the runs behind the row.
      StepsRun: string
      LossForms: string
      GridPoints: string
      /// The method's tuning grid as its options ask for it (option `tuning`): size and points.
      TuningGrid: string
      Selection: string
      /// The function class of its learned maps ("linear", "residual-mlp"; "?" for a result recorded before the option).
      FunctionClass: string
      /// The parameters of those maps (all of them: every step, every per-dim model), as recorded.
      Parameters: string
      /// Why this method's grid or budget can differ from the others' (its registry entry's ProtocolNote).
      Note: string }

let header =
    [ "method"; "optimiser"; "lr"; "weight decay"; "max steps per trained dim"; "steps run (all grid points)"; "loss forms tried"; "grid points"; "tuning grid"; "selection criterion"; "function class (parameters)" ]

let cells (r: ProtocolRow) =
    [ r.Method; r.Optimizer; r.LearningRate; r.WeightDecay; r.MaxStepsPerDim; r.StepsRun; r.LossForms; r.GridPoints; r.TuningGrid; r.Selection; sprintf "%s (%s)" r.FunctionClass r.Parameters ]

let private label (config: ExperimentConfig) =
    if config.Options.IsEmpty then config.Method
    else config.Method + " [" + (config.Options |> Seq.map (fun kv -> kv.Key + "=" + kv.Value) |> String.concat " ") + "]"

/// The registry entry's note on the method's protocol (a method the standard registry does not hold: its options).
let private note (config: ExperimentConfig) =
    match MethodRegistry.standard.TryEntry config.Method with
    | Some entry -> entry.ProtocolNote config.Options
    | None -> "its options set it"

/// The registry entry's tuning grid that the row's option `tuning` asks for.
let private tuningGrid (config: ExperimentConfig) =
    match MethodRegistry.standard.TryEntry config.Method with
    | Some entry when entry.Trains -> MethodRegistry.describeGrid (MethodRegistry.gridOf entry.TuningGrid config.Options)
    | _ -> "1 point (its options)"

/// One row per (method, options) among the table's finished experiments that recorded a protocol.
let rows (result: TableResult) : ProtocolRow list =
    let finished =
        [ for p in result.Planned do
              match result.Outcomes.TryFind p.Hash with
              | Some(Finished(r, _)) when r.Settings.ContainsKey "protocol.selection" -> yield (label p.Config, note p.Config, tuningGrid p.Config), r
              | _ -> () ]
    [ for (methodLabel, methodNote, methodGrid), runs in finished |> List.groupBy fst do
          let settings = runs |> List.map (fun (_, r) -> r.Settings)
          let one (key: string) =
              settings |> List.map (fun s -> s.TryFind("protocol." + key) |> Option.defaultValue "?") |> List.distinct |> String.concat " / "
          let steps =
              settings |> List.choose (fun s -> s.TryFind "protocol.steps_run" |> Option.bind (fun v -> match Int32.TryParse v with | true, n -> Some(float n) | _ -> None))
          let stepsText =
              match steps with
              | [] -> "?"
              | [ n ] -> sprintf "%.0f" n
              | ns -> sprintf "%.0f (%.0f-%.0f over %d runs)" (List.average ns) (List.min ns) (List.max ns) ns.Length
          yield
              { Method = methodLabel
                Optimizer = one "optimizer"
                LearningRate = one "lr"
                WeightDecay = one "weight_decay"
                MaxStepsPerDim = one "max_steps_per_dim"
                StepsRun = stepsText
                LossForms = one "loss_forms"
                GridPoints = one "grid_points"
                TuningGrid = methodGrid
                Selection = one "selection"
                FunctionClass = one "function_class"
                Parameters = one "parameters"
                Note = methodNote } ]

/// Sentences on where the rows differ (budget per trained dim, grid size, optimiser, function class), or that they agree.
let differences (rows: ProtocolRow list) : string list =
    let compare (what: string) (value: ProtocolRow -> string) =
        match rows |> List.map value |> List.distinct with
        | [] | [ _ ] -> sprintf "%s: the same for every trained method." what
        | _ ->
            let common = rows |> List.countBy value |> List.maxBy snd |> fst
            let odd = rows |> List.filter (fun r -> value r <> common)
            sprintf "%s differs: most rows have %s; %s." what common
                (odd |> List.map (fun r -> sprintf "%s has %s (%s)" r.Method (value r) r.Note) |> String.concat "; ")
    if rows.IsEmpty then []
    else
        [ compare "Step budget per trained dim" (fun r -> r.MaxStepsPerDim)
          compare "Grid points" (fun r -> r.GridPoints)
          compare "Tuning grid size" (fun r -> r.TuningGrid.Split(' ').[0] + " point(s)")
          compare "Optimiser" (fun r -> r.Optimizer + ", weight decay " + r.WeightDecay)
          compare "Function class" (fun r -> r.FunctionClass)
          "Budgets are maxima: every method early-stops on its selection criterion, and 'steps run' shows how much of the budget it used (a budget that is never reached does not bind)." ]
