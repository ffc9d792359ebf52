/// Robustness of findings (issue 26): a protocol variant sets its options on every trained
/// experiment whose method has them, in cells and claims alike; a finding is robust only when every
/// judged variant gives the primary verdict.
module Smec.Tests.Catalog.RobustnessTests

open Expecto
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Verdicts
open Smec.Experiments.Verdicts.Checks

let private context = { Seeds = [ 1L ]; Manifest = None }

/// Every experiment config a table reads, cells and claims.
let private configsOf (spec: TableSpec) =
    let ofClaim (c: Claim) =
        match c.Assertion with
        | Chain(first, rest) -> first.Value :: (rest |> List.map (fun (_, t) -> t.Value))
        | Bound(t, _, _) -> [ t.Value ]
    (spec.Cells |> List.map (fun c -> c.Value)) @ (spec.Claims |> List.collect ofClaim) |> List.collect Catalog.experimentsOf

/// A variant over an option only SMEC has here (the test does not depend on which options exist today).
let private variant = ({ Name = "no S-XBM weight"; Question = "test"; Options = [ "sxbm_weight", "0" ] }: Robustness.Variant)
let private smecOnly (methodKey: string) (name: string) = methodKey = "smec" && name = "sxbm_weight"

let private claimOn panel id status =
    { Claim = { Id = id; Text = "text " + id; Panel = panel; Assertion = Bound({ Label = "x"; Value = Constant 1.0 }, AtLeast, 0.0)
                Slack = Absolute 0.0; Display = Display.percent }
      Status = status; Detail = ""; Links = [] }

let private claimResult id status = claimOn "p" id status

[<Tests>]
let tests =
    testList "Robustness" [
        testCase "a variant sets its options on every trained experiment of its method, in cells and claims, and nowhere else" <| fun () ->
            let spec = Catalog.build 2 Local context
            let changed = Robustness.specOf smecOnly variant spec
            let before, after = configsOf spec, configsOf changed
            Expect.equal after.Length before.Length "the same experiments, one for one"
            let pairs = List.zip before after
            let smec = pairs |> List.filter (fun (b, _) -> b.Method = "smec" && b.Budget.IsSome)
            Expect.isNonEmpty smec "item 2 has trained SMEC experiments"
            for b, a in smec do
                Expect.equal (a.Options.TryFind "sxbm_weight") (Some "0") "SMEC gets the variant's option"
                Expect.equal (a.Options.Remove "sxbm_weight") (b.Options.Remove "sxbm_weight") "and nothing else changes"
            for b, a in pairs |> List.filter (fun (b, _) -> b.Method <> "smec" || b.Budget.IsNone) do
                Expect.equal a b (sprintf "%s is left as it is" b.Method)
            Expect.isTrue (Robustness.changes smecOnly variant spec) "the variant applies"
            Expect.isFalse (Robustness.changes (fun _ _ -> false) variant spec) "a variant no method has does not apply"

        testCase "untrained methods never get a variant's options, even if they had the name" <| fun () ->
            let spec = Catalog.build 2 Local context
            let changed = Robustness.specOf (fun _ _ -> true) variant spec
            for b, a in List.zip (configsOf spec) (configsOf changed) do
                if b.Budget.IsNone then Expect.equal a b (sprintf "%s learns nothing" b.Method)
                else Expect.equal (a.Options.TryFind "sxbm_weight") (Some "0") (sprintf "%s learns" b.Method)

        testCase "robust only when every judged variant gives the primary verdict" <| fun () ->
            let v name = ({ Name = name; Question = ""; Options = [] }: Robustness.Variant)
            let primary = [ claimResult "a" Pass; claimResult "b" Pass; claimResult "c" Fail ]
            let rows =
                Robustness.rows primary
                    [ v "one", Some [ claimResult "a" Pass; claimResult "b" Tie; claimResult "c" Fail ]
                      v "two", Some [ claimResult "a" Pass; claimResult "b" Pass ]
                      v "three", None ]
            let byId id = rows |> List.find (fun r -> r.ClaimId = id)
            Expect.equal (byId "a").Robust (Some true) "the same verdict under every judged variant"
            Expect.equal (byId "b").Robust (Some false) "a TIE under one variant"
            Expect.stringContains (byId "b").Summary "TIE under one" "the summary names the variant and its verdict"
            Expect.equal (byId "c").Variants [ "one", Some Fail; "two", None; "three", None ] "a claim a variant could not judge is n/a there"
            Expect.equal (byId "c").Robust (Some true) "judged by one variant, the same verdict"
            let none = Robustness.rows [ claimResult "d" Pass ] [ v "one", None ]
            Expect.equal none.Head.Robust None "no variant judged: not tested, never 'robust'"

        testCase "a claim is matched by panel and id: the same id on a dataset and on the mean are two findings" <| fun () ->
            let v name = ({ Name = name; Question = ""; Options = [] }: Robustness.Variant)
            let primary = [ claimOn "SciFact" "1 @24 vs PCA" Pass; claimOn "Mean" "1 @24 vs PCA" Fail ]
            let rows = Robustness.rows primary [ v "one", Some [ claimOn "Mean" "1 @24 vs PCA" Fail; claimOn "SciFact" "1 @24 vs PCA" Tie ] ]
            Expect.equal (rows |> List.map (fun r -> r.Panel, r.Variants)) [ "SciFact", [ "one", Some Tie ]; "Mean", [ "one", Some Fail ] ] "each panel's own verdict"
            Expect.equal (rows |> List.map (fun r -> r.Robust)) [ Some false; Some true ] "robust per panel"

        testCase "SKIPPED is no verdict: a variant not yet run, or a primary not yet run, never makes a finding robust" <| fun () ->
            let v name = ({ Name = name; Question = ""; Options = [] }: Robustness.Variant)
            let rows = Robustness.rows [ claimResult "a" Pass; claimResult "b" Skipped ] [ v "one", Some [ claimResult "a" Skipped; claimResult "b" Skipped ] ]
            Expect.equal rows.[0].Variants [ "one", None ] "a variant SKIPPED is n/a"
            Expect.equal rows.[0].Robust None "nothing judged beside the primary"
            Expect.equal rows.[1].Robust None "the primary SKIPPED"
            Expect.stringContains rows.[1].Summary "not judged" "the summary says why"

        testCase "each variant's pairwise intervals render under their own heading, a matrix not yet computed says why" <| fun () ->
            let matrix: Smec.Experiments.Verdicts.Pairwise.Matrix =
                { Panel = "SciFact"; Column = "24"; Rows = [ "SMEC"; "PCA" ]; Display = Display.percent; Pairs = Error "not in the cache" }
            let text = Smec.Experiments.Reports.Markdown.pairwiseTables "####" [ matrix; { matrix with Column = "48" } ]
            Expect.stringContains text "#### SciFact, 24: row - column" "the first matrix's heading"
            Expect.stringContains text "#### SciFact, 48: row - column" "one heading per matrix"
            Expect.stringContains text "not available: not in the cache" "why it is missing"

        testCase "the Markdown table has a column per variant and says which findings are robust" <| fun () ->
            let v name = ({ Name = name; Question = "q " + name; Options = [ "k", "v" ] }: Robustness.Variant)
            let rows = Robustness.rows [ claimResult "a" Pass ] [ v "one", Some [ claimResult "a" Fail ] ]
            let text = Robustness.markdown [ v "one" ] rows
            Expect.stringContains text "| panel | claim | primary | one | robust |" "header"
            Expect.stringContains text "| p | a | OK | FAIL | **no** |" "the row"
            Expect.stringContains text "q one (k=v)" "what the variant changes"
        testCase "every standard variant sets an option every trained method has, to a value the option accepts, away from the local profile's" <| fun () ->
            let registry = Smec.Experiments.Methods.MethodRegistry.standard
            for entry in registry.Entries.Values |> Seq.filter (fun e -> e.Trains) do
                for v in Robustness.standardVariants do
                    for name, value in v.Options do
                        Expect.isTrue (entry.Options |> List.exists (fun o -> o.Name = name)) (sprintf "%s has option %s (variant %s)" entry.Key name v.Name)
                        let local = entry.ProfileOptions Local |> Map.ofList
                        let resolved = registry.ResolveOptions(entry.Key, local.Add(name, value))
                        Expect.isOk resolved (sprintf "%s accepts %s=%s" entry.Key name value)
                        let primary = registry.ResolveOptions(entry.Key, local) |> Result.defaultWith failwith
                        Expect.notEqual primary.[name] value (sprintf "variant %s changes %s's primary %s" v.Name entry.Key name)
            let spec = Catalog.build 2 Local context
            let has (methodKey: string) (name: string) =
                match registry.TryEntry methodKey with
                | Some e -> e.Options |> List.exists (fun o -> o.Name = name)
                | None -> false
            for v in Robustness.standardVariants do
                Expect.isTrue (Robustness.changes has v spec) (sprintf "variant %s changes item 2" v.Name)
    ]
