/// The units a sweep hands to one worker process or one Slurm task. With ensembles, the points of one
/// cell that differ only in seed (Runner.ensembleKeyOf) form one unit, so they reach the same process
/// and train there as one ensemble; a group split over processes would train as K solo fits. Without
/// ensembles, and for points that join no ensemble (untrained methods), each point is its own unit.
/// Only where points run changes, never a key or a number.
module Smec.Experiments.Sweeps.WorkUnits

open Smec.Experiments.Running
open Smec.Experiments.Sweeps.SweepPlan

/// The points as units, in the order of each unit's first point.
let group (together: bool) (points: Point list) : Point list list =
    if not together then points |> List.map List.singleton
    else
        let unitOf (p: Point) =
            match Runner.ensembleKeyOf p.Config with
            | Some cell -> "cell " + cell
            | None -> "alone " + p.Key
        points |> List.groupBy unitOf |> List.map snd

/// A unit as one readable line for progress.
let describe (unit: Point list) =
    match unit with
    | [ p ] -> sprintf "%s (%s)" (Runner.describe p.Config) (Smec.Experiments.Store.ConfigHash.short p.Key)
    | p :: _ ->
        let members = unit |> List.map (fun q -> { Runner.Config = q.Config; Runner.Hash = q.Key; Runner.Cached = false })
        sprintf "ensemble of %d: %s" unit.Length (Runner.describeMembers p.Config (Runner.membersText "," members))
    | [] -> "(empty unit)"
