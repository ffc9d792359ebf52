/// docs/METHOD.md stays true to the code: every option a method's options class exposes is named
/// there, and every option or class its "Inferred choices" table names exists. Types are found by
/// name in Smec.Core, so the check does not depend on namespaces.
module Smec.Tests.DocsMethodTests

open System
open System.IO
open System.Reflection
open System.Text.RegularExpressions
open Expecto
open Smec.Tests.TestSupport

let private core = lazy (Assembly.Load "Smec.Core")

let private coreType (name: string) =
    core.Value.GetTypes() |> Array.tryFind (fun t -> t.Name = name && not (t.IsNested && t.Name.StartsWith "<"))

/// The classes whose settable properties are a method's or the training loop's choices.
let private optionClasses =
    [ "SmecOptions"; "MatryoshkaAdaptorOptions"; "SearchAdaptorOptions"; "AdaptorTrainingOptions"; "TrainingOptions" ]

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
    ]
