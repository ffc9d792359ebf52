/// The order in which local worker processes take a sweep's points: longest expected first, learned
/// as the run goes. A point's expected time is the mean wall time of the finished points of the same
/// method on the same dataset (other seeds, other settings); points with nothing to go by come first,
/// in the order given (callers put the largest corpus first). Why: with N workers the run ends when
/// the last long point ends; taking long points early leaves the short ones (MRL, small corpora) to
/// fill the gaps at the end. Only the order changes, never a number.
module Smec.Experiments.Sweeps.WorkQueue

open System.Collections.Generic
open Smec.Experiments.Sweeps.SweepPlan

type Queue(points: Point list) =
    let gate = obj ()
    let pending = List<Point>(points)
    let seconds = Dictionary<string * string, List<float>>()
    let kind (p: Point) = p.Config.Method, p.Config.Dataset

    let expected (p: Point) =
        match seconds.TryGetValue(kind p) with
        | true, times -> Some(Seq.average times)
        | _ -> None

    /// The next point to run (None when all are taken): the first with no estimate, else the longest expected.
    member _.Take() : Point option =
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

    /// Record how long a finished point took (wall seconds of its worker).
    member _.Finished(p: Point, wallSeconds: float) =
        lock gate (fun () ->
            match seconds.TryGetValue(kind p) with
            | true, times -> times.Add wallSeconds
            | _ -> seconds[kind p] <- List [ wallSeconds ])

    member _.Remaining = lock gate (fun () -> pending.Count)
