/// The repository explains itself: every relative link in its markdown (README.md, docs/, the
/// READMEs of data-manifests/ and paper-results/, the notebooks' markdown cells) reaches an
/// existing file, and a `#anchor` into a markdown file an existing heading (GitHub's slug); every
/// `docs/<name>.md` a source file cites exists, and a section it names in quotes is a heading
/// there. The checker is exercised on a small synthetic tree first, so a broken link is shown to fail.
/// README.md stays a front door (at most 300 lines, the two commands), and docs/README.md's index
/// names every page of docs/.
module Smec.Tests.DocsLinkTests

open System
open System.IO
open System.Text.Json
open System.Text.RegularExpressions
open Expecto
open Smec.Tests.TestSupport

module DocsLinks =
    /// Folders never scanned: build output, results, caches and tool state.
    let private skippedFolders = set [ "bin"; "obj"; "results"; "node_modules" ]

    let rec private walk (folder: string) : string seq =
        seq {
            yield! Directory.EnumerateFiles folder
            for sub in Directory.EnumerateDirectories folder do
                let name = Path.GetFileName sub
                if not (name.StartsWith "." || skippedFolders.Contains name) then yield! walk sub
        }

    let private relative (root: string) (path: string) = Path.GetRelativePath(root, path).Replace('\\', '/')

    /// GitHub's heading anchor: lower case, punctuation dropped (letters, digits, `_`, `-` and
    /// spaces kept), each space a hyphen. Inline links keep only their text.
    let slug (heading: string) =
        let text = Regex.Replace(heading, @"!?\[([^\]]*)\]\([^)]*\)", "$1").Trim().ToLowerInvariant()
        let kept = text |> String.filter (fun c -> Char.IsLetterOrDigit c || c = '_' || c = '-' || c = ' ')
        kept.Replace(' ', '-')

    /// Fenced code blocks blanked (kept as empty lines, so line numbers stay right).
    let private withoutFences (markdown: string) =
        let lines = markdown.Replace("\r\n", "\n").Split('\n')
        let mutable fence: string option = None
        [| for line in lines do
               let trimmed = line.TrimStart()
               match fence with
               | Some marker ->
                   if trimmed.StartsWith marker then fence <- None
                   yield ""
               | None when trimmed.StartsWith "```" || trimmed.StartsWith "~~~" ->
                   fence <- Some(trimmed.Substring(0, 3))
                   yield ""
               | None -> yield line |]
        |> String.concat "\n"

    /// The anchors of a markdown text's headings, with GitHub's -1, -2 suffixes for repeats.
    let anchors (markdown: string) : Set<string> =
        let headings =
            [ for line in (withoutFences markdown).Split('\n') do
                  let m = Regex.Match(line, @"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$")
                  if m.Success then yield slug m.Groups.[1].Value ]
        headings
        |> List.fold (fun (seen: Map<string, int>, found) s ->
            match seen.TryFind s with
            | None -> seen.Add(s, 1), s :: found
            | Some n -> seen.Add(s, n + 1), sprintf "%s-%d" s n :: found) (Map.empty, [])
        |> snd
        |> Set.ofList

    /// The text of a markdown text's headings (for sections cited by name).
    let headingTexts (markdown: string) : string list =
        [ for line in (withoutFences markdown).Split('\n') do
              let m = Regex.Match(line, @"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$")
              if m.Success then yield m.Groups.[1].Value ]

    /// (line, target) of every inline link, image and reference definition outside code.
    let links (markdown: string) : (int * string) list =
        let text = Regex.Replace(withoutFences markdown, "`[^`\n]*`", fun m -> String(' ', m.Length))
        let lineOf (index: int) = 1 + (text.Substring(0, index) |> Seq.filter ((=) '\n') |> Seq.length)
        let inline' =
            [ for m in Regex.Matches(text, @"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^()\s>]+)>?(?:\s+""[^""]*"")?\s*\)") ->
                  lineOf m.Index, m.Groups.[1].Value ]
        let definitions =
            [ for m in Regex.Matches(text, @"(?m)^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)") -> lineOf m.Index, m.Groups.[1].Value ]
        inline' @ definitions

    let private isExternal (target: string) = Regex.IsMatch(target, @"^[A-Za-z][A-Za-z0-9+.-]*:")

    let private insideRoot (root: string) (path: string) =
        let full = Path.GetFullPath path
        let rootFull = Path.GetFullPath(root).TrimEnd(Path.DirectorySeparatorChar) + string Path.DirectorySeparatorChar
        full.StartsWith(rootFull, StringComparison.Ordinal)

    /// Problems with one relative link written in `fromFile` (whose own text is `ownText`).
    let checkLink (root: string) (fromFile: string) (ownText: string) (line: int) (target: string) : string list =
        let where = sprintf "%s:%d: link '%s'" (relative root fromFile) line target
        if isExternal target then []
        else
            let pathPart, anchor =
                match target.IndexOf '#' with
                | -1 -> target, None
                | i -> target.Substring(0, i), Some(Uri.UnescapeDataString(target.Substring(i + 1)))
            let resolved =
                if pathPart = "" then fromFile
                else Path.GetFullPath(Path.Combine(Path.GetDirectoryName fromFile, Uri.UnescapeDataString pathPart))
            if not (insideRoot root resolved) then [ sprintf "%s leaves the repository" where ]
            elif not (File.Exists resolved || Directory.Exists resolved) then [ sprintf "%s: %s does not exist" where (relative root resolved) ]
            else
                match anchor with
                | Some a when a <> "" && resolved.EndsWith(".md", StringComparison.OrdinalIgnoreCase) && File.Exists resolved ->
                    let text = if resolved = fromFile then ownText else File.ReadAllText resolved
                    if (anchors text).Contains(a.ToLowerInvariant()) then []
                    else [ sprintf "%s: %s has no heading with anchor #%s" where (relative root resolved) a ]
                | _ -> []

    /// The markdown files whose links must resolve: every .md outside build output and dot-folders.
    let markdownFiles (root: string) =
        walk root |> Seq.filter (fun f -> f.EndsWith(".md", StringComparison.OrdinalIgnoreCase)) |> Seq.sort |> List.ofSeq

    /// The text of a notebook's markdown cells (one block per cell).
    let notebookMarkdown (path: string) : string =
        use document = JsonDocument.Parse(File.ReadAllText path)
        let cells =
            match document.RootElement.TryGetProperty "cells" with
            | true, c -> [ for cell in c.EnumerateArray() -> cell ]
            | _ -> []
        [ for cell in cells do
              match cell.TryGetProperty "cell_type", cell.TryGetProperty "source" with
              | (true, kind), (true, source) when kind.GetString() = "markdown" ->
                  yield
                      (match source.ValueKind with
                       | JsonValueKind.Array -> source.EnumerateArray() |> Seq.map (fun s -> s.GetString()) |> String.concat ""
                       | _ -> source.GetString())
              | _ -> () ]
        |> String.concat "\n\n"

    /// Every broken relative link in the repository's markdown files and notebooks' markdown cells.
    let brokenLinks (root: string) : string list =
        let notebooks = walk root |> Seq.filter (fun f -> f.EndsWith ".ipynb") |> Seq.sort |> List.ofSeq
        [ for file in markdownFiles root do
              let text = File.ReadAllText file
              for line, target in links text do yield! checkLink root file text line target
          for notebook in notebooks do
              let text = notebookMarkdown notebook
              for _, target in links text do
                  // Cells are joined, so line numbers mean nothing here: report the notebook alone.
                  yield! checkLink root notebook text 0 target ]

    let private sourceExtensions = set [ ".cs"; ".fs"; ".fsx"; ".ipynb"; ".props"; ".targets"; ".fsproj"; ".csproj"; ".sh"; ".yaml"; ".yml"; ".md" ]

    let private isSource (path: string) =
        sourceExtensions.Contains(Path.GetExtension(path).ToLowerInvariant()) || Path.GetFileName path = "Makefile"

    /// Where a section named in quotes after a docs citation must be: a heading equal to it, or
    /// one that starts with it and a colon ("Trap 4" names "Trap 4: parallel torch tests ...").
    let private hasSection (headings: string list) (section: string) =
        let wanted = section.Trim().ToLowerInvariant()
        headings
        |> List.exists (fun h ->
            let h = h.Trim().ToLowerInvariant()
            h = wanted || h.StartsWith(wanted + ":") || slug h = slug wanted)

    /// Problems with the docs citations in one source text.
    let checkCitations (root: string) (file: string) (text: string) : string list =
        let name = relative root file
        let lineOf (index: int) = 1 + (text.Substring(0, index) |> Seq.filter ((=) '\n') |> Seq.length)
        let docsFolder = Path.Combine(root, "docs")
        [ for m in Regex.Matches(text, @"shared/docs/") ->
              sprintf "%s:%d: cites the shared docs outside the repository; cite docs/<name>.md" name (lineOf m.Index)
          for m in Regex.Matches(text, @"(?<![\w.-])docs/([A-Za-z0-9_-]+)\.md(?:#[\w-]+)?(?:\)?,\s*\(?|\s*\()\\?""([^""\\\n]+)\\?""|(?<![\w.-])docs/([A-Za-z0-9_-]+)\.md") do
              let doc = if m.Groups.[1].Success then m.Groups.[1].Value else m.Groups.[3].Value
              let path = Path.Combine(docsFolder, doc + ".md")
              if not (File.Exists path) then
                  yield sprintf "%s:%d: cites docs/%s.md, which does not exist" name (lineOf m.Index) doc
              elif m.Groups.[2].Success && not (hasSection (headingTexts (File.ReadAllText path)) m.Groups.[2].Value) then
                  yield sprintf "%s:%d: cites section \"%s\" of docs/%s.md, which has no such heading" name (lineOf m.Index) m.Groups.[2].Value doc
          // A bare page name (METHOD.md) must say where it is, unless the page sits beside the
          // citing file or at the repository root (README.md, a folder's ATTRIBUTION.md).
          if not (file.EndsWith(".md", StringComparison.OrdinalIgnoreCase)) then
              for m in Regex.Matches(text, @"(?<![\w./\\-])([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*)\.md\b") do
                  let page = m.Groups.[1].Value + ".md"
                  let beside = File.Exists(Path.Combine(Path.GetDirectoryName file, page)) || File.Exists(Path.Combine(root, page))
                  if not beside then
                      yield sprintf "%s:%d: cites %s without its folder; write docs/%s" name (lineOf m.Index) page page ]

    /// This file states broken citations on purpose (its synthetic cases), so it is not scanned.
    let private thisFile = "DocsLinkTests.fs"

    /// Every citation problem in the repository's source files.
    let brokenCitations (root: string) : string list =
        [ for file in walk root |> Seq.filter (fun f -> isSource f && Path.GetFileName f <> thisFile) |> Seq.sort do
              yield! checkCitations root file (File.ReadAllText file) ]

let private report (problems: string list) = String.Join("\n", problems)

[<Tests>]
let tests =
    testList "Docs.Links" [
        testCase "GitHub-style anchors: punctuation dropped, spaces to hyphens, repeats numbered" <| fun () ->
            Expect.equal (DocsLinks.slug "The catalog: `make reproduce TABLE=N`") "the-catalog-make-reproduce-tablen" "code and colon"
            Expect.equal (DocsLinks.slug "SMEC = SMRL + ADS + S-XBM") "smec--smrl--ads--s-xbm" "each space is a hyphen"
            Expect.equal (DocsLinks.slug "Item 9: important dims kept") "item-9-important-dims-kept" "digits kept"
            Expect.equal (DocsLinks.slug "See [the catalog](CATALOG.md)") "see-the-catalog" "a link keeps its text"
            let anchors = DocsLinks.anchors "# A\n## Notes\n```\n# not a heading\n```\n## Notes\n"
            Expect.equal anchors (set [ "a"; "notes"; "notes-1" ]) "fenced lines are not headings; a repeat gets -1"

        testCase "the checker reports broken files, anchors and citations, and nothing else" <| fun () ->
            use dir = new TempDir()
            let root = dir.Path
            let write (path: string) (text: string) =
                let full = Path.Combine(root, path)
                Directory.CreateDirectory(Path.GetDirectoryName full) |> ignore
                File.WriteAllText(full, text)
            write "README.md"
                ("# Top\n[ok](docs/A.md) [ok anchor](docs/A.md#the-loss-l) [self](#top) [web](https://example.org/x.md)\n" +
                 "[gone](docs/B.md) [bad anchor](docs/A.md#nope)\n```\n[in a fence](nowhere.md)\n```\n`[in code](nowhere.md)`\n" +
                 "[two\nlines](docs/A.md#trap-1-a-trap) [out](../elsewhere.md)\n")
            write "docs/A.md" "# A\n## The loss L\n## Trap 1: a trap\n"
            write "src/Code.fs"
                ("// docs/A.md, \"The loss L\" and docs/A.md, \"Trap 1\" are fine\n// docs/A.md, \"No such part\"\n" +
                 "// docs/C.md is missing\n// METHOD.md is bare; see ../shared/docs/A.md\n// README.md and NOTES.md are fine\n")
            write "src/NOTES.md" "# Notes\n"
            let links = DocsLinks.brokenLinks root
            Expect.equal links
                [ "README.md:3: link 'docs/B.md': docs/B.md does not exist"
                  "README.md:3: link 'docs/A.md#nope': docs/A.md has no heading with anchor #nope"
                  "README.md:9: link '../elsewhere.md' leaves the repository" ]
                "exactly the broken links"
            let citations = DocsLinks.brokenCitations root
            Expect.equal (List.sort citations)
                (List.sort
                    [ "README.md:3: cites docs/B.md, which does not exist"
                      "src/Code.fs:2: cites section \"No such part\" of docs/A.md, which has no such heading"
                      "src/Code.fs:3: cites docs/C.md, which does not exist"
                      "src/Code.fs:4: cites METHOD.md without its folder; write docs/METHOD.md"
                      "src/Code.fs:4: cites the shared docs outside the repository; cite docs/<name>.md" ])
                "exactly the broken citations"

        testCase "every relative link in the repository's markdown and notebooks resolves" <| fun () ->
            let files = DocsLinks.markdownFiles repoRoot |> List.map (fun f -> Path.GetRelativePath(repoRoot, f).Replace('\\', '/'))
            for required in [ "README.md"; "docs/README.md"; "docs/METHOD.md"; "docs/CATALOG.md"; "docs/PAPER-RESULTS.md"; "docs/DATA.md"
                              "docs/FINDINGS.md"; "docs/PERFORMANCE.md"; "docs/SWEEPS.md"; "docs/EXTENDING.md"; "docs/TESTING.md"
                              "data-manifests/README.md"; "paper-results/README.md" ] do
                Expect.contains files required (sprintf "%s is among the files checked" required)
            let broken = DocsLinks.brokenLinks repoRoot
            Expect.isEmpty broken (sprintf "broken links:\n%s" (report broken))

        testCase "README.md is a front door: at most 300 lines, the two commands; docs/README.md indexes every page of docs/" <| fun () ->
            let readme = File.ReadAllText(Path.Combine(repoRoot, "README.md"))
            let lineCount = readme.TrimEnd('\n').Split('\n').Length
            Expect.isLessThanOrEqual lineCount 300 "README.md has at most 300 lines (the rest belongs in docs/)"
            for command in [ "make reproduce TABLE=2"; "make test" ] do
                Expect.stringContains readme command (sprintf "README.md shows `%s`" command)
            let index = File.ReadAllText(Path.Combine(repoRoot, "docs", "README.md"))
            let indexed = DocsLinks.links index |> List.map (fun (_, target) -> target.Split('#').[0]) |> set
            let pages =
                Directory.GetFiles(Path.Combine(repoRoot, "docs"), "*.md") |> Array.map Path.GetFileName
                |> Array.filter ((<>) "README.md") |> Array.sort |> List.ofArray
            Expect.isNonEmpty pages "docs/ has pages"
            let missing = pages |> List.filter (fun page -> not (indexed.Contains page))
            Expect.isEmpty missing (sprintf "pages of docs/ missing from docs/README.md's index: %s" (String.Join(", ", missing)))

        testCase "every docs/<name>.md a source file cites exists, with the sections it names" <| fun () ->
            let broken = DocsLinks.brokenCitations repoRoot
            Expect.isEmpty broken (sprintf "broken citations:\n%s" (report broken))
    ]
