/// docs/METHOD.md stays true to the code: every option a method's options class exposes is named
/// there, and every option or class its "Inferred choices" table names exists. Types are found by
/// name in Smec.Core, so the check does not depend on namespaces.
module Smec.Tests.DocsMethodTests

open System
open System.IO
open System.Reflection
open System.Text.RegularExpressions
open Expecto
open Smec.Experiments.Methods
open Smec.Tests.TestSupport

let private core = lazy (Assembly.Load "Smec.Core")

let private coreType (name: string) =
    core.Value.GetTypes() |> Array.tryFind (fun t -> t.Name = name && not (t.IsNested && t.Name.StartsWith "<"))

/// The classes whose settable properties are a method's or the training loop's choices: every class
/// a standard method's registry entry reads options from (an option's Doc is "Class.Property"; a
/// derived options record brings its base class's properties).
let private optionClasses =
    [ for entry in MethodRegistry.standard.Entries.Values do
          for spec in entry.Options do
              match spec.Doc.Split('.') with
              | [| className; _ |] when (coreType className).IsSome -> yield className
              | _ -> () ]
    |> List.distinct

/// Properties that steer a run but choose nothing about the method (output, bookkeeping, hooks).
let private notChoices = set [ "Progress"; "Label"; "AfterBackward"; "CheckpointPath" ]

let private settable (t: Type) =
    t.GetProperties(BindingFlags.Public ||| BindingFlags.Instance)
    |> Array.filter (fun p -> p.CanWrite && p.SetMethod <> null && p.SetMethod.IsPublic)
    |> Array.map (fun p -> p.Name)

let private methodDoc () = File.ReadAllText(Path.Combine(repoRoot, "docs/METHOD.md"))

/// Identifier words inside the backtick spans of a text.
let private codeWords (text: string) =
    [ for span in Regex.Matches(text, "`([^`\n]+)`") do
          for word in Regex.Matches(span.Groups.[1].Value, @"[A-Za-z_][A-Za-z0-9_]*") -> word.Value ]
    |> Set.ofList

/// The rows of the table under a heading: the cells of each row, trimmed.
let private tableUnder (heading: string) (markdown: string) =
    let lines = markdown.Replace("\r\n", "\n").Split('\n')
    let start = lines |> Array.findIndex (fun l -> l.TrimStart('#', ' ') = heading)
    lines
    |> Array.skip (start + 1)
    |> Array.takeWhile (fun l -> not (l.StartsWith "## "))
    |> Array.filter (fun l -> l.StartsWith "|" && not (Regex.IsMatch(l, @"^\|[\s\-|:]+\|$")))
    |> Array.map (fun l -> l.Trim().Trim('|').Split('|') |> Array.map (fun c -> c.Trim()))
    |> Array.skip 1 // the header row

[<Tests>]
let tests =
    testList "Docs.Method" [
        testCase "every option of the options classes is named in docs/METHOD.md" <| fun () ->
            let named = codeWords (methodDoc ())
            for expected in [ "SmecOptions"; "TrainingOptions"; "MatryoshkaAdaptorOptions"; "SearchAdaptorOptions" ] do
                Expect.contains optionClasses expected "the registry's options come from the methods' options records"
            let missing =
                [ for className in optionClasses do
                      let t = coreType className |> Option.defaultWith (fun () -> failwithf "Smec.Core has no type %s" className)
                      for p in settable t do
                          if not (notChoices.Contains p || named.Contains p) then yield sprintf "%s.%s" className p ]
                |> List.distinct
            Expect.isEmpty missing
                (sprintf "options not described in docs/METHOD.md (name each in backticks where its choice is explained): %s" (String.Join(", ", missing)))

        testCase "the inferred-choices table names options and classes that exist" <| fun () ->
            let rows = tableUnder "Inferred choices and the options that hold them" (methodDoc ())
            Expect.isGreaterThan rows.Length 20 "the table is there"
            let properties =
                optionClasses |> List.collect (fun c -> coreType c |> Option.map (settable >> List.ofArray) |> Option.defaultValue []) |> set
            let problems =
                [ for row in rows do
                      let optionCell = row.[2]
                      for span in Regex.Matches(optionCell, "`([^`]+)`") do
                          let name = span.Groups.[1].Value
                          let parts = name.Split('.')
                          match coreType parts.[0] with
                          | Some t when parts.Length = 2 ->
                              if t.GetMember(parts.[1], BindingFlags.Public ||| BindingFlags.NonPublic ||| BindingFlags.Instance ||| BindingFlags.Static).Length = 0 then
                                  yield sprintf "row '%s': %s has no member %s" row.[1] parts.[0] parts.[1]
                          | Some _ -> ()
                          | None when properties.Contains name -> ()
                          | None -> yield sprintf "row '%s': `%s` is neither an option nor a Smec.Core type" row.[1] name ]
            Expect.isEmpty problems (String.Join("\n", problems))

        testCase "every registry entry's docs anchor is a section of its page" <| fun () ->
            for entry in MethodRegistry.standard.Entries.Values do
                match entry.Docs.Split('#') with
                | [| page; anchor |] ->
                    let path = Path.Combine(repoRoot, page)
                    Expect.isTrue (File.Exists path) (sprintf "%s: %s exists" entry.Key page)
                    Expect.contains (Smec.Tests.DocsLinkTests.DocsLinks.anchors (File.ReadAllText path)) anchor
                        (sprintf "%s: %s has a section #%s" entry.Key page anchor)
                | _ -> failtestf "%s: Docs '%s' is not page#anchor" entry.Key entry.Docs

        // A method is known in one place: its class (the saved-model kind) and its registry entry. Other
        // code names it through the entry (MethodRegistry.smec.Key, Profiles.smec). "smec" is also the
        // program's name: its cache folder, the default run-file tag and the command-line parser say so.
        testCase "each method key is written only in its class and its registry entry" <| fun () ->
            let programName = set [ "Smec.Core/Data/DataRoot.cs"; "Smec.Core/Retrieval/TrecRunFile.cs"; "Smec.Experiments/Cli/Program.fs"; "Smec.Experiments/Cli/SearchCommand.fs" ]
            let sources =
                [ for folder in [ "Smec.Core"; "Smec.Experiments"; "bench" ] do
                      for file in Directory.EnumerateFiles(Path.Combine(repoRoot, folder), "*.*", SearchOption.AllDirectories) do
                          let relative = Path.GetRelativePath(repoRoot, file).Replace('\\', '/')
                          let parts = relative.Split('/')
                          if (file.EndsWith ".fs" || file.EndsWith ".cs") && not (Array.contains "bin" parts || Array.contains "obj" parts) then
                              yield relative, File.ReadAllText file ]
            Expect.isGreaterThan sources.Length 100 "the sources are found"
            let registryFile = "Smec.Experiments/Methods/MethodRegistry.fs"
            let strays =
                [ for entry in MethodRegistry.standard.Entries.Values do
                      let literal = "\"" + entry.Key + "\""
                      for file, text in sources do
                          if text.Contains literal && file <> registryFile
                             && not (text.Contains(sprintf "public const string Kind = %s;" literal) && text.Split(literal).Length = 2)
                             && not (entry.Key = "smec" && programName.Contains file) then
                              yield sprintf "%s names %s" file literal ]
            Expect.isEmpty strays (String.Join("\n", strays))
    ]
