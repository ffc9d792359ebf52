/// The check every method's fit-together tests share: tuning grids of one cell fitted together route
/// every dim as the same grids fitted alone (the same point per dim, each point's validation within
/// 2e-3, the same selected steps), then every compressor is disposed.
module Smec.Tests.EnsembleGridChecks

open Expecto
open Smec.Core.Methods

/// Fit `together` as one ensemble and `alone` one by one (member k on data[k]) and compare them at
/// `dims`; `alsoCheck k together alone` adds a method's own checks.
let expectGridsRouteAlike (together: ICompressor[]) (alone: ICompressor[]) (data: TrainingData[]) (dims: int list)
                          (alsoCheck: int -> GridSearchCompressor -> GridSearchCompressor -> unit) =
    try
        Expect.isTrue (together.[0] :? GridSearchCompressor) "local-grid builds a tuning grid"
        Expect.isNull (EnsembleFit.CannotFitTogether together) "the grids of one cell fit together"
        (together.[0] :?> IEnsembleFit).FitTogether(together, data)
        for c, d in Array.zip alone data do c.Fit d
        for k in 0 .. data.Length - 1 do
            let t, a = together.[k] :?> GridSearchCompressor, alone.[k] :?> GridSearchCompressor
            Expect.equal (Map.ofSeq (t.Routing |> Seq.map (fun kv -> kv.Key, kv.Value))) (Map.ofSeq (a.Routing |> Seq.map (fun kv -> kv.Key, kv.Value)))
                (sprintf "member %d: each dim from the same point" k)
            for i in 0 .. a.PointValidation.Count - 1 do
                for KeyValue(d, v) in a.PointValidation.[i] do
                    Expect.floatClose { absolute = 2e-3; relative = 0.0 } t.PointValidation.[i].[d] v (sprintf "member %d, point %d, %d dims: validation" k (i + 1) d)
            for d in dims do
                Expect.equal t.Settings.[SelectedSteps.Key d] a.Settings.[SelectedSteps.Key d] (sprintf "member %d at %d dims: the same selected steps" k d)
            alsoCheck k t a
    finally
        for c in Array.append together alone do c.Dispose()
