/// A method's options as named, typed, string-valued settings with defaults, read off its C#
/// options record by reflection. Every public settable property of a supported type becomes an
/// option (PascalCase -> snake_case), and its default is the value a fresh record holds. So a
/// field added to SmecOptions is an option of `smec` at once, and a changed C# default changes the
/// resolved options — and with them every result key (ConfigHash.resultKey) — without a hand-bumped tag.
module Smec.Experiments.Methods.MethodOptions

open System
open System.Collections.Generic
open System.Globalization
open System.Reflection

/// The type of an option's value, as a spec file or the command line writes it.
type OptionKind =
    | Flag
    | Integer
    | Number
    /// One of the listed words.
    | Choice of string list
    /// A comma-separated list of the listed words (e.g. the loss forms a method tries).
    | ChoiceList of string list
    /// A whole number, or "auto" (a C# `int?` whose null means "derived from the data").
    | IntegerOrAuto

module OptionKind =
    let describe =
        function
        | Flag -> "true or false"
        | Integer -> "a whole number"
        | Number -> "a number"
        | Choice words -> "one of " + String.concat ", " words
        | ChoiceList words -> "a comma-separated list of " + String.concat ", " words
        | IntegerOrAuto -> "a whole number or auto"

type OptionSpec =
    { Name: string
      Kind: OptionKind
      /// The canonical text of the default.
      Default: string
      /// Where the option lands ("SmecOptions.AdsTemperatureStart"), or what it means.
      Doc: string }

/// "AdsTemperatureStart" -> "ads_temperature_start"; "L1" -> "l1".
let snakeCase (name: string) =
    let text = Text.StringBuilder()
    name
    |> Seq.iteri (fun i c ->
        if Char.IsUpper c && i > 0 && (Char.IsLower name[i - 1] || (i + 1 < name.Length && Char.IsLower name[i + 1] && Char.IsUpper name[i - 1])) then
            text.Append '_' |> ignore
        text.Append(Char.ToLowerInvariant c) |> ignore)
    text.ToString()

/// Enum values are written in kebab case ("InfoNce" -> "info-nce"); parsing ignores case, '-' and '_'.
let private enumWord (value: obj) = (snakeCase (string value)).Replace('_', '-')
let private enumWords (t: Type) = Enum.GetValues t |> Seq.cast<obj> |> Seq.map enumWord |> List.ofSeq
let private squash (text: string) = text.Replace("-", "").Replace("_", "").Trim().ToLowerInvariant()

let private tryEnum (t: Type) (text: string) =
    Enum.GetValues t |> Seq.cast<obj> |> Seq.tryFind (fun v -> squash (string v) = squash text)

let private enumListElement (t: Type) =
    if t.IsGenericType && t.GetGenericTypeDefinition() = typedefof<IReadOnlyList<_>> && (t.GetGenericArguments()[0]).IsEnum then
        Some((t.GetGenericArguments())[0])
    else None

let private kindOf (t: Type) : OptionKind option =
    if t = typeof<bool> then Some Flag
    elif t = typeof<int> then Some Integer
    elif t = typeof<double> then Some Number
    elif t = typeof<Nullable<int>> then Some IntegerOrAuto
    elif t.IsEnum then Some(Choice(enumWords t))
    else enumListElement t |> Option.map (enumWords >> ChoiceList)

let private formatNumber (v: double) = v.ToString("R", CultureInfo.InvariantCulture)

/// The canonical text of a property value.
let private format (t: Type) (value: obj) =
    if t = typeof<bool> then (if unbox<bool> value then "true" else "false")
    elif t = typeof<int> then (unbox<int> value).ToString(CultureInfo.InvariantCulture)
    elif t = typeof<double> then formatNumber (unbox<double> value)
    elif t = typeof<Nullable<int>> then (match value with null -> "auto" | v -> (unbox<int> v).ToString(CultureInfo.InvariantCulture))
    elif t.IsEnum then enumWord value
    else (value :?> Collections.IEnumerable) |> Seq.cast<obj> |> Seq.map enumWord |> String.concat ","

/// Parse an option's text to its canonical text, or say what was expected.
let canonical (spec: OptionSpec) (text: string) : Result<string, string> =
    let fail () = Error(sprintf "option '%s' is '%s'; expected %s" spec.Name text (OptionKind.describe spec.Kind))
    let t = text.Trim()
    match spec.Kind with
    | Flag ->
        match t.ToLowerInvariant() with
        | "true" | "yes" | "on" -> Ok "true"
        | "false" | "no" | "off" -> Ok "false"
        | _ -> fail ()
    | Integer ->
        match Int32.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture) with
        | true, v -> Ok(v.ToString(CultureInfo.InvariantCulture))
        | _ -> fail ()
    | IntegerOrAuto ->
        if t.ToLowerInvariant() = "auto" then Ok "auto"
        else
            match Int32.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture) with
            | true, v -> Ok(v.ToString(CultureInfo.InvariantCulture))
            | _ -> fail ()
    | Number ->
        match Double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture) with
        | true, v when Double.IsFinite v -> Ok(formatNumber v)
        | _ -> fail ()
    | Choice words ->
        match words |> List.tryFind (fun w -> squash w = squash t) with
        | Some w -> Ok w
        | None -> fail ()
    | ChoiceList words ->
        let parts = t.Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries) |> List.ofArray
        let found = parts |> List.map (fun p -> words |> List.tryFind (fun w -> squash w = squash p))
        if parts.IsEmpty || found |> List.exists Option.isNone then fail ()
        else Ok(found |> List.choose id |> String.concat ",")

/// Properties of a record that are options: public, readable, settable (init), of a supported type.
let private optionProperties (recordType: Type) (exclude: Set<string>) =
    recordType.GetProperties(BindingFlags.Public ||| BindingFlags.Instance)
    |> Array.filter (fun p -> p.CanRead && p.CanWrite && p.SetMethod.IsPublic && not (exclude.Contains p.Name))
    |> Array.choose (fun p -> kindOf p.PropertyType |> Option.map (fun kind -> p, kind))
    |> Array.sortBy (fun (p, _) -> p.Name)

/// The option specs of an options record, with the defaults that `defaults` holds. `exclude`
/// names properties that are not options (set from the budget or the dims, or not about numbers).
let specsOf (defaults: obj) (exclude: Set<string>) : OptionSpec list =
    let t = defaults.GetType()
    [ for p, kind in optionProperties t exclude ->
          { Name = snakeCase p.Name
            Kind = kind
            Default = format p.PropertyType (p.GetValue defaults)
            Doc = sprintf "%s.%s" t.Name p.Name } ]

let private parseValue (t: Type) (text: string) : obj =
    if t = typeof<bool> then box (text = "true")
    elif t = typeof<int> then box (Int32.Parse(text, CultureInfo.InvariantCulture))
    elif t = typeof<double> then box (Double.Parse(text, CultureInfo.InvariantCulture))
    elif t = typeof<Nullable<int>> then (if text = "auto" then null else box (Nullable(Int32.Parse(text, CultureInfo.InvariantCulture))))
    elif t.IsEnum then (tryEnum t text).Value
    else
        let element = (enumListElement t).Value
        let values = text.Split(',') |> Array.map (fun w -> (tryEnum element w).Value)
        let typed = Array.CreateInstance(element, values.Length)
        values |> Array.iteri (fun i v -> typed.SetValue(v, i))
        box typed

/// A copy of a C# record (its compiler-generated clone), so that `defaults` is never changed.
let private clone (record: 'T) : 'T =
    let cloneMethod = record.GetType().GetMethod("<Clone>$")
    if isNull cloneMethod then failwithf "%s is not a C# record (no clone method)" (record.GetType().Name)
    cloneMethod.Invoke(record, [||]) :?> 'T

/// A copy of `defaults` with every option in `values` that names one of its properties set
/// (values are canonical texts, as `canonical` returns them; other names are left to other records).
let apply (defaults: 'T) (values: Map<string, string>) : 'T =
    let copy = clone defaults
    for p, _ in optionProperties (defaults.GetType()) Set.empty do
        match values.TryFind(snakeCase p.Name) with
        | Some text -> p.SetValue(copy, parseValue p.PropertyType text)
        | None -> ()
    copy

/// Every spec's value: the given ones (validated, canonical) and the defaults of the rest.
/// Unknown names are an error that lists the known ones.
let resolve (owner: string) (specs: OptionSpec list) (given: Map<string, string>) : Result<Map<string, string>, string> =
    let byName = specs |> List.map (fun s -> s.Name, s) |> Map.ofList
    let unknown = given |> Map.toList |> List.map fst |> List.filter (byName.ContainsKey >> not)
    if not unknown.IsEmpty then
        Error(
            sprintf "method '%s' has no option(s) %s; known: %s" owner (String.concat ", " unknown)
                (if specs.IsEmpty then "none" else specs |> List.map (fun s -> s.Name) |> String.concat ", ")
        )
    else
        let parsed =
            given |> Map.toList |> List.map (fun (name, text) -> name, canonical byName[name] text)
        match parsed |> List.tryPick (fun (_, r) -> match r with Error e -> Some e | Ok _ -> None) with
        | Some e -> Error(sprintf "method '%s': %s" owner e)
        | None ->
            let values = parsed |> List.map (fun (n, r) -> n, (match r with Ok v -> v | Error _ -> "")) |> Map.ofList
            Ok(specs |> List.map (fun s -> s.Name, values |> Map.tryFind s.Name |> Option.defaultValue s.Default) |> Map.ofList)
