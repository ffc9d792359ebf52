/// A declarative sweep: a base (datasets, encoders, methods, dims, budget, profile, seeds) and axes
/// (method options and budget fields) varied as a grid (every combination) or zipped (the i-th
/// values together). Written in YAML (`read`) or built in an F# script (`SweepSpec.create` and the
/// `with*` functions); both give the same record, which SweepPlan validates and expands.
///
///   name: my-sweep
///   datasets: [scifact]
///   encoders: [all-MiniLM-L6-v2]
///   methods: [pca, matryoshka-adaptor, smec]
///   dims: [24, 48]
///   seeds: [1, 2, 3]
///   budget: { max_steps: 300 }          # fields not given keep the profile's budget
///   options: { search-adaptor: { grid: single } }   # fixed options of a method
///   grid: { smec.ads: [true, false], learning_rate: [0.001, 0.0005] }
///   zip:  { smec.smrl: [false, true], smec.sxbm: [true, false] }
module Smec.Experiments.Sweeps.SweepSpec

open System
open System.Globalization
open System.IO
open YamlDotNet.Core
open YamlDotNet.RepresentationModel
open Smec.Experiments.Catalog.Model

/// A problem with a sweep spec, naming the file, the field (and line) and what was expected.
let SweepSpecException (file: string, field: string, problem: string) =
    InvalidDataException(sprintf "%s: field '%s': %s" file field problem)

/// One varied setting: `option` (every method that has it), `method.option` (that method only), a
/// budget field (max_steps, batch_size, learning_rate, patience, validate_every; methods that
/// learn), or `seed`. Values are texts as written; SweepPlan checks them against the option's type.
type Axis =
    { Name: string
      Values: string list }

/// Which fields may be partially given in `budget:` and varied as axes.
let budgetFields = [ "max_steps"; "batch_size"; "learning_rate"; "patience"; "validate_every" ]

type SweepSpec =
    { Name: string
      /// The YAML file it was read from, or "(script)".
      File: string
      Description: string
      Profile: Profile
      Datasets: string list
      Encoders: string list
      /// Method keys as the catalog names them (pca, smec, matryoshka-adaptor, ...).
      Methods: string list
      /// None: the profile's dims ladder.
      Dims: int list option
      Seeds: int64 list
      /// Budget fields that replace the profile's (snake_case names, texts).
      Budget: Map<string, string>
      /// Fixed options per method key.
      Options: Map<string, Map<string, string>>
      Grid: Axis list
      Zip: Axis list
      /// Field path -> line in the YAML file (for error messages); empty for a script.
      Lines: Map<string, int> }

    /// "file: field 'x' (line n)" error for this spec.
    member this.Fail(field: string, problem: string) : 'a =
        let field' = match this.Lines.TryFind field with Some line -> sprintf "%s (line %d)" field line | None -> field
        raise (SweepSpecException(this.File, field', problem))

/// The empty spec a script starts from: local profile, seed 1, every default.
let create (name: string) =
    { Name = name
      File = "(script)"
      Description = ""
      Profile = Local
      Datasets = []
      Encoders = []
      Methods = []
      Dims = None
      Seeds = [ 1L ]
      Budget = Map.empty
      Options = Map.empty
      Grid = []
      Zip = []
      Lines = Map.empty }

/// A value's text as a spec writes it (invariant culture, shortest round-trip numbers).
let text (value: obj) =
    match value with
    | :? bool as b -> if b then "true" else "false"
    | :? float as f -> f.ToString("R", CultureInfo.InvariantCulture)
    | :? float32 as f -> f.ToString("R", CultureInfo.InvariantCulture)
    | :? IFormattable as f -> f.ToString(null, CultureInfo.InvariantCulture)
    | v -> string v

/// An axis from values of any type (bools, numbers, words).
let axis (name: string) (values: 'a list) = { Name = name; Values = values |> List.map (box >> text) }

let withDatasets datasets (spec: SweepSpec) = { spec with Datasets = datasets }
let withEncoders encoders (spec: SweepSpec) = { spec with Encoders = encoders }
let withMethods methods (spec: SweepSpec) = { spec with Methods = methods }
let withDims dims (spec: SweepSpec) = { spec with Dims = Some dims }
let withSeeds (seeds: int list) (spec: SweepSpec) = { spec with Seeds = seeds |> List.map int64 }
let withProfile profile (spec: SweepSpec) = { spec with Profile = profile }
let withBudget (field: string) (value: 'a) (spec: SweepSpec) = { spec with Budget = spec.Budget.Add(field, text (box value)) }
let withGrid (axes: Axis list) (spec: SweepSpec) = { spec with Grid = spec.Grid @ axes }

// ---- YAML ------------------------------------------------------------------------------------

let private topFields =
    [ "name"; "description"; "profile"; "datasets"; "encoders"; "methods"; "dims"; "seeds"; "budget"; "options"; "grid"; "zip" ]

type private Reader(file: string) =
    let mutable lines = Map.empty<string, int>
    member _.Lines = lines
    member _.Note(field: string, node: YamlNode) = lines <- lines.Add(field, int node.Start.Line)
    member _.Fail(field: string, node: YamlNode, problem: string) : 'a =
        raise (SweepSpecException(file, sprintf "%s (line %d)" field node.Start.Line, problem))

    member this.Scalar(field: string, node: YamlNode, expected: string) =
        this.Note(field, node)
        match node with
        | :? YamlScalarNode as s when not (String.IsNullOrWhiteSpace s.Value) -> s.Value.Trim()
        | :? YamlScalarNode -> this.Fail(field, node, sprintf "is empty; expected %s" expected)
        | _ -> this.Fail(field, node, sprintf "expected %s, got a %s" expected (if node :? YamlSequenceNode then "list" else "mapping"))

    /// A list of scalars; a single scalar is read as a one-element list.
    member this.List(field: string, node: YamlNode, expected: string) =
        this.Note(field, node)
        match node with
        | :? YamlSequenceNode as seq ->
            let items = seq.Children |> Seq.mapi (fun i n -> this.Scalar(sprintf "%s[%d]" field i, n, expected)) |> List.ofSeq
            if items.IsEmpty then this.Fail(field, node, sprintf "is an empty list; expected a list of %s" expected)
            items
        | :? YamlScalarNode -> [ this.Scalar(field, node, expected) ]
        | _ -> this.Fail(field, node, sprintf "expected a list of %s, got a mapping" expected)

    member this.Mapping(field: string, node: YamlNode) =
        this.Note(field, node)
        match node with
        | :? YamlMappingNode as m ->
            [ for KeyValue(k, v) in m.Children ->
                  match k with
                  | :? YamlScalarNode as key -> key.Value, v
                  | _ -> this.Fail(field, k, "keys must be plain names") ]
        | _ -> this.Fail(field, node, "expected a mapping (name: value lines)")

    member this.Int(field: string, node: YamlNode, text: string) =
        match Int32.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture) with
        | true, v when v > 0 -> v
        | _ -> this.Fail(field, node, sprintf "'%s' is not a positive whole number" text)

/// Read a spec from YAML; every problem names the file, the field with its line, and what was expected.
let parse (file: string) (yaml: string) : SweepSpec =
    let stream = Smec.Core.Runtime.YamlInput.Load(file, yaml)
    if stream.Documents.Count = 0 then raise (SweepSpecException(file, "(document)", "the file is empty; expected at least name, datasets, encoders and methods"))
    let r = Reader(file)
    let root = stream.Documents[0].RootNode
    let fields = r.Mapping("(document)", root)
    for key, node in fields do
        if not (List.contains key topFields) then
            r.Fail(key, node, sprintf "unknown field; expected one of %s" (String.concat ", " topFields))
    let find key = fields |> List.tryFind (fst >> (=) key) |> Option.map snd
    let required key expected =
        match find key with
        | Some node -> node
        | None -> raise (SweepSpecException(file, key, sprintf "is required (%s)" expected))
    let name = r.Scalar("name", required "name" "the sweep's name, used for its results folder", "a name")
    if name |> Seq.exists (fun c -> not (Char.IsLetterOrDigit c || c = '-' || c = '_' || c = '.')) then
        r.Fail("name", (required "name" ""), sprintf "'%s' may hold only letters, digits, '-', '_' and '.' (it names a folder)" name)
    let listOf key expected = r.List(key, required key expected, expected)
    let profile =
        match find "profile" with
        | None -> Local
        | Some node ->
            match Profile.parse (r.Scalar("profile", node, "local or paper")) with
            | Ok p -> p
            | Error message -> r.Fail("profile", node, message)
    let dims =
        find "dims" |> Option.map (fun node -> r.List("dims", node, "positive whole numbers") |> List.mapi (fun i t -> r.Int(sprintf "dims[%d]" i, node, t)))
    let seeds =
        match find "seeds" with
        | None -> [ 1L ]
        | Some node -> r.List("seeds", node, "whole numbers") |> List.mapi (fun i t -> int64 (r.Int(sprintf "seeds[%d]" i, node, t)))
    let budget =
        match find "budget" with
        | None -> Map.empty
        | Some node ->
            [ for key, v in r.Mapping("budget", node) ->
                  if not (List.contains key budgetFields) then
                      r.Fail("budget." + key, v, sprintf "unknown budget field; expected one of %s" (String.concat ", " budgetFields))
                  key, r.Scalar("budget." + key, v, "a number") ]
            |> Map.ofList
    let options =
        match find "options" with
        | None -> Map.empty
        | Some node ->
            [ for methodKey, v in r.Mapping("options", node) ->
                  methodKey, (r.Mapping("options." + methodKey, v) |> List.map (fun (k, x) -> k, r.Scalar(sprintf "options.%s.%s" methodKey k, x, "a value")) |> Map.ofList) ]
            |> Map.ofList
    let axes key =
        match find key with
        | None -> []
        | Some node -> [ for axisName, v in r.Mapping(key, node) -> { Name = axisName; Values = r.List(sprintf "%s.%s" key axisName, v, "values") } ]
    { Name = name
      File = file
      Description = (match find "description" with Some n -> r.Scalar("description", n, "a sentence") | None -> "")
      Profile = profile
      Datasets = listOf "datasets" "dataset ids, e.g. [scifact]"
      Encoders = listOf "encoders" "encoder ids, e.g. [all-MiniLM-L6-v2]"
      Methods = listOf "methods" "method keys, e.g. [pca, smec]"
      Dims = dims
      Seeds = seeds
      Budget = budget
      Options = options
      Grid = axes "grid"
      Zip = axes "zip"
      Lines = r.Lines }

/// Read a spec file.
let read (path: string) =
    if Directory.Exists path then
        raise (Smec.Core.Runtime.UserInputException(sprintf "%s: is a folder; expected a sweep spec file (YAML), e.g. examples/sweeps/ablation.yaml" path))
    if not (File.Exists path) then raise (FileNotFoundException(sprintf "sweep spec '%s' does not exist" path, path))
    parse (Path.GetFullPath path) (File.ReadAllText path)
