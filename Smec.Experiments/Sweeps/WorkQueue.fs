/// The order in which local worker processes take a sweep's units (WorkUnits: a point, or the points
/// of one ensemble): longest expected first, learned as the run goes. A point's expected time is the
/// mean wall time per point of the finished units of the same method on the same dataset (other
/// seeds, other settings), a unit's that times its points; units with nothing to go by come first,
/// in the order given (callers put the largest corpus first). Why: with N workers the run ends when
/// the last long point ends; taking long points early leaves the short ones (MRL, small corpora) to
/// fill the gaps at the end. Only the order changes, never a number.
module Smec.Experiments.Sweeps.WorkQueue

open System.Collections.Generic
open Smec.Experiments.Sweeps.SweepPlan

type Queue(units: Point list list) =
    let gate = obj ()
    let pending = List<Point list>(units |> List.filter (List.isEmpty >> not))
    let seconds = Dictionary<string * string, List<float>>()
    let kind (unit: Point list) = unit.Head.Config.Method, unit.Head.Config.Dataset

    let expected (unit: Point list) =
        match seconds.TryGetValue(kind unit) with
        | true, times -> Some(Seq.average times * float unit.Length)
        | _ -> None

    /// The next unit to run (None when all are taken): the first with no estimate, else the longest expected.
    member _.Take() : Point list option =
        lock gate (fun () ->
            if pending.Count = 0 then None
            else
                let index =
                    match Seq.tryFindIndex (fun p -> (expected p).IsNone) pending with
                    | Some i -> i
                    | None -> seq { 0 .. pending.Count - 1 } |> Seq.maxBy (fun i -> (expected pending[i]).Value, -i)
                let p = pending[index]
                pending.RemoveAt index
                Some p)

    /// Record how long a finished unit took (wall seconds of its worker), as seconds per point.
    member _.Finished(unit: Point list, wallSeconds: float) =
        lock gate (fun () ->
            let perPoint = wallSeconds / float unit.Length
            match seconds.TryGetValue(kind unit) with
            | true, times -> times.Add perPoint
            | _ -> seconds[kind unit] <- List [ perPoint ])

    member _.Remaining = lock gate (fun () -> pending.Count)
