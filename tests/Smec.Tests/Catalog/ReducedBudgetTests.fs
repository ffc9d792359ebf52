/// "The same table with a reduced budget" (notebooks' quick versions of long items): only trained
/// experiments change, and they change identity, so a reduced result never passes for a full one.
module Smec.Tests.Catalog.ReducedBudgetTests

open Expecto
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Store

let private context = { Seeds = [ 1L ]; Manifest = None }
let private quick = { Profiles.localBudget with MaxSteps = 200; ValidateEvery = 50 }
let private trained (c: ExperimentConfig) = c.Budget.IsSome

[<Tests>]
let tests =
    testList "Catalog.ReducedBudget" [
        testCase "item 6: every trained experiment gets the reduced budget and a new hash; cells and claims keep their places" <| fun () ->
            let full = Catalog.build 6 Local context
            let reduced = ReducedBudget.withBudget quick full
            let fullConfigs, reducedConfigs = Catalog.tableExperiments full, Catalog.tableExperiments reduced
            Expect.isTrue (fullConfigs |> List.forall trained) "item 6 trains every variant"
            Expect.equal reducedConfigs.Length fullConfigs.Length "one reduced experiment per full one"
            for c in reducedConfigs do Expect.equal c.Budget (Some quick) (Runner.describe c)
            let fullHashes = fullConfigs |> List.map ConfigHash.hash |> set
            Expect.isTrue (reducedConfigs |> List.forall (fun c -> not (fullHashes.Contains(ConfigHash.hash c)))) "no reduced config shares a full config's cache key"
            // Apart from the budget and the selection grids cut to their first candidate, each reduced
            // config is its full counterpart (same order).
            let withoutCandidates (c: Smec.Experiments.Catalog.Model.ExperimentConfig) =
                { c with Budget = None; Options = c.Options |> Map.filter (fun k _ -> not (k.EndsWith "_candidates")) }
            Expect.equal (reducedConfigs |> List.map withoutCandidates) (fullConfigs |> List.map withoutCandidates) "only the budget and the grids change"
            for c in reducedConfigs do
                for KeyValue(k, v) in c.Options do
                    if k.EndsWith "_candidates" then Expect.isFalse (v.Contains ",") (sprintf "%s: one candidate for %s" (Runner.describe c) k)
            Expect.isTrue (reducedConfigs |> List.exists (fun c -> c.Options.ContainsKey "loss_candidates")) "SMEC's loss-form grid is cut"
            Expect.equal (reduced.Cells |> List.map (fun c -> c.Panel, c.Row, c.Column)) (full.Cells |> List.map (fun c -> c.Panel, c.Row, c.Column)) "same cells"
            Expect.equal (reduced.Claims |> List.map (fun c -> c.Id)) (full.Claims |> List.map (fun c -> c.Id)) "same claims"
            Expect.isTrue (reduced.Claims |> List.forall (fun c -> Catalog.assertionQuantities c.Assertion |> List.collect Catalog.experimentsOf |> List.forall (fun e -> e.Budget = Some quick))) "claims judge the reduced experiments"
            Expect.stringContains reduced.Title "reduced budget" "the title says so"
            Expect.isTrue (ReducedBudget.isReduced reduced && not (ReducedBudget.isReduced full)) "isReduced tells them apart"
            Expect.exists reduced.Notes (fun n -> n.Contains "not the full `make reproduce TABLE=6`") "a note says it is not the full run"

        testCase "item 7: experiments that learn nothing (frozen encoder, truncation) are left as they are" <| fun () ->
            let full = Catalog.build 7 Local context
            let reduced = ReducedBudget.withBudget quick full
            let untrained spec = Catalog.tableExperiments spec |> List.filter (trained >> not)
            Expect.isNonEmpty (untrained full) "item 7 has untrained cells (the lossless factor's reference)"
            Expect.equal (untrained reduced) (untrained full) "untouched"
            let trainedReduced = Catalog.tableExperiments reduced |> List.filter trained
            Expect.isNonEmpty trainedReduced "item 7 trains SMEC"
            Expect.isTrue (trainedReduced |> List.forall (fun c -> c.Budget = Some quick)) "every trained one reduced"
    ]
