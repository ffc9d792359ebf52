/// What a sweep needs to know of a method before anything runs: whether it learns, and its options
/// (name, type, default), so that an unknown option or a value of the wrong type is reported with
/// the spec's file and field.
module Smec.Experiments.Sweeps.MethodOptionSpecs

open System
open System.Globalization
open Smec.Experiments.Catalog

type OptionType =
    | Flag
    | Number
    | Choice of string list

type OptionSpec =
    { Name: string
      Type: OptionType
      Default: string }

type MethodSpec =
    { Key: string
      Trains: bool
      Options: OptionSpec list }

let private flag name = { Name = name; Type = Flag; Default = "true" }
let private number name (value: float) = { Name = name; Type = Number; Default = value.ToString("R", CultureInfo.InvariantCulture) }

/// The options each method of the standard registry reads (MethodRegistry.fs), with their defaults.
let standard : MethodSpec list =
    let trains (m: Profiles.MethodSpec) = m.Trains
    [ { Key = "truncation"; Trains = trains Profiles.truncation; Options = [] }
      { Key = "pca"; Trains = trains Profiles.pca; Options = [] }
      { Key = "mrl"; Trains = trains Profiles.mrl; Options = [] }
      { Key = "search-adaptor"; Trains = trains Profiles.searchAdaptor; Options = [ { Name = "grid"; Type = Choice [ "full"; "reduced"; "single" ]; Default = "full" } ] }
      { Key = "matryoshka-adaptor"; Trains = trains Profiles.matryoshkaAdaptor; Options = [ flag "supervised"; number "alpha" 1.0; number "beta" 1.0; number "gamma" 1.0 ] }
      { Key = "smec"; Trains = trains Profiles.smec; Options = [ flag "smrl"; flag "ads"; flag "sxbm" ] } ]

let describeType =
    function
    | Flag -> "true or false"
    | Number -> "a number"
    | Choice words -> "one of " + String.concat ", " words

/// The canonical text of a value, or what was expected.
let canonical (spec: OptionSpec) (value: string) : Result<string, string> =
    let t = value.Trim()
    let fail () = Error(sprintf "'%s' is not %s (option '%s')" value (describeType spec.Type) spec.Name)
    match spec.Type with
    | Flag ->
        match t.ToLowerInvariant() with
        | "true" | "yes" | "on" -> Ok "true"
        | "false" | "no" | "off" -> Ok "false"
        | _ -> fail ()
    | Number ->
        match Double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture) with
        | true, v when Double.IsFinite v -> Ok(v.ToString("R", CultureInfo.InvariantCulture))
        | _ -> fail ()
    | Choice words -> if List.contains t words then Ok t else fail ()
