/// The one method registry: option specs read off the C# options records, their resolution with
/// defaults, and result keys that follow every resolved option.
module Smec.Tests.Catalog.RegistryTests

open Expecto
open Smec.Core.Methods.SmecMethod
open Smec.Experiments.Running
open Smec.Experiments.Methods.MethodOptions
open Smec.Experiments.Methods
open Smec.Tests.TestSupport
open Smec.Tests.Catalog.CatalogTestSupport

/// A valid value other than the spec's default.
let private otherValue (spec: OptionSpec) =
    match spec.Kind with
    | Flag -> if spec.Default = "true" then "false" else "true"
    | Integer -> string (int spec.Default + 1)
    | IntegerOrAuto -> if spec.Default = "auto" then "7" else "auto"
    | Number -> string (float spec.Default * 2.0 + 1.0)
    | Choice words -> words |> List.find ((<>) spec.Default)
    | ChoiceList words -> if spec.Default = List.head words then List.last words else List.head words

let private configOf (entry: MethodRegistry.MethodEntry) =
    scifactConfig entry.Key entry.Trains [ 24; 48 ]

[<Tests>]
let tests =
    testList "Catalog.Registry" [
        testCase "option names follow the C# properties in snake case" <| fun () ->
            Expect.equal (snakeCase "AdsTemperatureStart") "ads_temperature_start" "words"
            Expect.equal (snakeCase "SxbmTopK") "sxbm_top_k" "single letters"
            Expect.equal (snakeCase "L1") "l1" "digits"
            let smecOptions = (MethodRegistry.entry "smec").Options |> List.map (fun o -> o.Name)
            for name in [ "smrl"; "ads"; "sxbm"; "ads_temperature_start"; "sxbm_capacity"; "sxbm_top_k"; "loss_candidates"; "ads_init_candidates"; "weight_decay"; "optimizer" ] do
                Expect.contains smecOptions name (sprintf "smec has option %s" name)
            Expect.isFalse (List.contains "ladder" smecOptions) "the ladder comes from the dims, not an option"
            Expect.isFalse (List.contains "max_steps" smecOptions) "the step budget comes from the experiment's budget"

        testCase "every standard method resolves no options to all its defaults" <| fun () ->
            for entry in MethodRegistry.standard.Entries.Values do
                match MethodRegistry.standard.ResolveOptions(entry.Key, Map.empty) with
                | Ok resolved ->
                    Expect.equal resolved.Count entry.Options.Length (sprintf "%s: one value per option" entry.Key)
                    for spec in entry.Options do Expect.equal resolved[spec.Name] spec.Default (sprintf "%s.%s default" entry.Key spec.Name)
                | Error e -> failtestf "%s: %s" entry.Key e

        testCase "applying the resolved defaults gives back the defaults; a set value reads back" <| fun () ->
            let specs = (MethodRegistry.entry "smec").Options |> List.filter (fun s -> s.Doc.StartsWith "SmecOptions.")
            let defaults = specs |> List.map (fun s -> s.Name, s.Default) |> Map.ofList
            let applied = MethodOptions.apply (SmecOptions()) defaults
            Expect.equal (specsOf applied (set [ "Ladder" ])) (specsOf (SmecOptions()) (set [ "Ladder" ])) "same values"
            let changed = MethodOptions.apply (SmecOptions()) (Map.ofList [ "sxbm_top_k", "3"; "dim_source", "step-output"; "ads", "false" ])
            Expect.equal changed.SxbmTopK 3 "integer"
            Expect.equal changed.DimSource DimSource.StepOutput "enum"
            Expect.isFalse changed.Ads "flag"
            Expect.equal (SmecOptions()).SxbmTopK 10 "the defaults object is not changed"

        testCase "an unknown option or a wrong value is an error naming it and what was expected" <| fun () ->
            match MethodRegistry.standard.ResolveOptions("smec", Map.ofList [ "ads_temprature", "2" ]) with
            | Error e ->
                Expect.stringContains e "ads_temprature" "names the option"
                Expect.stringContains e "ads_temperature_start" "lists the known ones"
            | Ok _ -> failtest "accepted a misspelt option"
            match MethodRegistry.standard.ResolveOptions("smec", Map.ofList [ "sxbm_top_k", "ten" ]) with
            | Error e ->
                Expect.stringContains e "sxbm_top_k" "names the option"
                Expect.stringContains e "a whole number" "says what was expected"
            | Ok _ -> failtest "accepted a non-number"
            match MethodRegistry.standard.ResolveOptions("smec", Map.ofList [ "dim_source", "sideways" ]) with
            | Error e -> Expect.stringContains e "selection" "lists the choices"
            | Ok _ -> failtest "accepted an unknown choice"
            match MethodRegistry.standard.ResolveOptions("nosuch", Map.empty) with
            | Error e -> Expect.stringContains e "pca" "lists the known methods"
            | Ok _ -> failtest "resolved an unknown method"

        testCase "a default written out explicitly gives the same key as leaving it out" <| fun () ->
            use dir = new TempDir()
            let env, _ = environment dir.Path MethodRegistry.standard None
            let config = configOf (MethodRegistry.entry "smec")
            let explicitDefault = { config with Options = Map.ofList [ "ads", "true"; "sxbm_top_k", "10" ] }
            Expect.equal (Runner.keyOf env explicitDefault) (Runner.keyOf env config) "same resolved options, same key"

        testCase "changing any option, or any option's default, changes the result key" <| fun () ->
            use dir = new TempDir()
            for entry in MethodRegistry.standard.Entries.Values do
                let env, _ = environment dir.Path MethodRegistry.standard None
                let config = configOf entry
                let baseKey = Runner.keyOf env config
                for spec in entry.Options do
                    let changedValue = { config with Options = Map.ofList [ spec.Name, otherValue spec ] }
                    Expect.notEqual (Runner.keyOf env changedValue) baseKey (sprintf "%s: setting %s changes the key" entry.Key spec.Name)
                    // The same config under a registry whose default of this option differs.
                    let changedDefault =
                        { entry with Options = entry.Options |> List.map (fun s -> if s.Name = spec.Name then { s with Default = otherValue s } else s) }
                    let otherEnv, _ = environment dir.Path (MethodRegistry.standard.With changedDefault) None
                    Expect.notEqual (Runner.keyOf otherEnv config) baseKey (sprintf "%s: a new default of %s changes the key" entry.Key spec.Name)
                    Expect.notEqual (Runner.settingsKeyOf otherEnv config) (Runner.settingsKeyOf env config)
                        (sprintf "%s: a new default of %s names another blessed cell" entry.Key spec.Name)

        testCase "a new implementation tag changes the result key but not the settings that name a blessed cell" <| fun () ->
            use dir = new TempDir()
            for entry in MethodRegistry.standard.Entries.Values do
                let env, _ = environment dir.Path MethodRegistry.standard None
                let bumped, _ = environment dir.Path (MethodRegistry.standard.With { entry with Implementation = entry.Implementation + "+next" }) None
                let config = configOf entry
                Expect.notEqual (Runner.keyOf bumped config) (Runner.keyOf env config) (sprintf "%s: new code, new result" entry.Key)
                // So a faster or fixed implementation is judged against the blessed value by its band.
                Expect.equal (Runner.settingsKeyOf bumped config) (Runner.settingsKeyOf env config) (sprintf "%s: same settings, same cell" entry.Key)

        testCase "smec train's short flags are aliases of registry options: the same options as --option NAME=VALUE" <| fun () ->
            let parser = Argu.ArgumentParser.Create<Smec.Experiments.Cli.TrainCommand.TrainArgs>()
            let optionsOf (argv: string list) =
                snd (Smec.Experiments.Cli.TrainCommand.methodOptions (parser.Parse(Array.ofList argv)) Smec.Experiments.Catalog.Model.Local)
            let short =
                [ "--no-ads"; "--no-sxbm"; "--residual"; "--step-input"; "selected"; "--init"; "identity"; "--dim-source"; "selection"
                  "--loss"; "pairwise"; "--loss-temperature"; "0.1"; "--similarity-weight"; "0.5"; "--ads-lr-scale"; "5"
                  "--ads-temperature"; "2"; "0.2"; "--ads-anneal-steps"; "100"; "--sxbm-weight"; "0.5"; "--sxbm-capacity"; "512"
                  "--sxbm-top-k"; "5"; "--sxbm-warmup"; "7"; "--weight-decay"; "0"; "--optimizer"; "adam"; "--hard-negatives"; "2" ]
            let long =
                [ "ads=false"; "sxbm=false"; "residual=true"; "step_input=selected-half"; "init=identity"; "dim_source=selection"
                  "loss_candidates=pairwise"; "loss_temperature=0.1"; "similarity_weight=0.5"; "ads_learning_rate_scale=5"
                  "ads_temperature_start=2"; "ads_temperature_end=0.2"; "ads_anneal_steps=100"; "sxbm_weight=0.5"; "sxbm_capacity=512"
                  "sxbm_top_k=5"; "sxbm_warmup_steps=7"; "weight_decay=0"; "optimizer=adam"; "hard_negatives_per_query=2" ]
                |> List.collect (fun o -> [ "--option"; o ])
            let defaults = optionsOf []
            let viaFlags = optionsOf short
            Expect.equal viaFlags (optionsOf long) "the flags and the registry's names give the same options"
            Expect.equal (viaFlags |> Map.filter (fun k v -> defaults[k] <> v) |> Map.count) 20 "every flag changed its option from the default"
            Expect.equal (optionsOf [ "--no-smrl" ]).["smrl"] "false" "--no-smrl"
    ]
