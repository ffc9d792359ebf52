/// The catalog: every item resolves under both profiles, every published value a cell names exists
/// (and every published value is named), experiments are shared between tables.
module Smec.Tests.Catalog.CatalogItemsTests

open Expecto
open Smec.Experiments.Catalog
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Catalog.EmbeddingsManifest
open Smec.Experiments.Running
open Smec.Experiments.Store
open Smec.Experiments.Verdicts
open Smec.Tests.Catalog.CatalogTestSupport

/// A manifest whose entries stand for every paper encoder (files are never opened by the catalog).
let fullManifest : EmbeddingsManifest =
    let entry encoder dataset =
        { Encoder = encoder; StandsFor = encoder; Dataset = dataset; Corpus = "c.npy"; CorpusIds = "c.ids"; Queries = "q.npy"
          QueryIds = "q.ids"; QrelsTest = "test.tsv"; QrelsTrain = None; DropSelfMatches = false; Fingerprint = "f-" + encoder + dataset; Line = 1 }
    { Path = "embeddings.yaml"
      Entries =
        [ entry Profiles.llm2vec7B "scifact"; entry Profiles.llm2vec7B "quora"; entry Profiles.llm2vec1B "quora"
          entry Profiles.openAiLarge "scifact"; entry Profiles.image1024 "products10k"
          entry Profiles.multimodal768 "fashion200k-a"; entry Profiles.multimodal768 "fashion200k-b" ] }

let contexts =
    [ "no manifest", { Seeds = [ 1L ]; Manifest = None }
      "full manifest", { Seeds = [ 1L; 2L; 3L ]; Manifest = Some fullManifest } ]

let allTables () =
    [ for name, context in contexts do
          for item in Catalog.items do
              for profile in [ Local; Paper ] -> sprintf "item %d %s (%s)" item.Number (Profile.name profile) name, item.Build profile context ]

[<Tests>]
let tests =
    testList "Catalog.Items" [
        testCase "items are numbered 1-9, as docs/PAPER-RESULTS.md's catalog numbering" <| fun () ->
            Expect.equal (Catalog.items |> List.map (fun i -> i.Number)) [ 1 .. 9 ] "items 1-9"
            Expect.throwsC (fun () -> Catalog.find 10 |> ignore) (fun e -> Expect.stringContains e.Message "no catalog item 10" "names the item")

        testCase "every item resolves under both profiles, with and without a manifest; cells sit in their table's grid" <| fun () ->
            for name, spec in allTables () do
                Expect.isNonEmpty spec.Cells (name + ": has cells")
                for c in spec.Cells do
                    Expect.contains spec.Panels c.Panel (sprintf "%s: panel %s declared" name c.Panel)
                    Expect.contains spec.Rows c.Row (sprintf "%s: row %s declared" name c.Row)
                    Expect.contains spec.Columns c.Column (sprintf "%s: column %s declared" name c.Column)
                let duplicates = spec.Cells |> List.countBy (fun c -> c.Panel, c.Row, c.Column) |> List.filter (fun (_, n) -> n > 1)
                Expect.isEmpty duplicates (name + ": one cell per (panel, row, column)")

        testCase "every published value a catalog cell names is in published.csv" <| fun () ->
            let table = published ()
            for name, spec in allTables () do
                for c in spec.Cells do
                    match c.Published with
                    | Some key -> Expect.isSome (table.TryFind key) (sprintf "%s: %s/%s/%s names %A" name c.Panel c.Row c.Column key)
                    | None -> ()

        testCase "every published value is reproduced by some paper-profile cell" <| fun () ->
            let named =
                [ for item in Catalog.items do
                      for c in (item.Build Paper { Seeds = [ 1L ]; Manifest = Some fullManifest }).Cells do
                          yield! Option.toList c.Published ]
                |> set
            let unnamed = (published ()).Values |> List.filter (fun v -> not (named.Contains v.Key))
            Expect.isEmpty unnamed "published values no cell compares with"

        testCase "without a manifest the paper profile runs nothing and says which manifest to provide" <| fun () ->
            for item in Catalog.items |> List.filter (fun i -> not i.PaperEncoders.IsEmpty) do
                let spec = item.Build Paper { Seeds = [ 1L ]; Manifest = None }
                Expect.isEmpty (Catalog.tableExperiments spec) (sprintf "item %d plans no experiment" item.Number)
                for c in spec.Cells do
                    match Quantities.atSeed (fun _ -> None) 1L c.Value with
                    | Result.Error gap ->
                        Expect.stringContains gap.Reason "--embeddings" "says how to pass a manifest"
                        Expect.isTrue (item.PaperEncoders |> List.exists gap.Reason.Contains) (sprintf "item %d names the encoder: %s" item.Number gap.Reason)
                    | Result.Ok v -> failtestf "item %d: %s/%s has a value %g without embeddings" item.Number c.Row c.Column v

        testCase "one run feeds many tables: item 2's SMEC is items 6's and 7's SMEC" <| fun () ->
            let context = { Seeds = [ 1L ]; Manifest = None }
            let smecOf (spec: TableSpec) panel row column =
                match (spec.Cells |> List.find (fun c -> c.Panel = panel && c.Row = row && c.Column = column)).Value with
                | Mean qs -> qs |> List.pick (function Measure(c, _) when c.Dataset = "scifact" -> Some c | _ -> None)
                | Measure(c, _) -> c
                | other -> failtestf "unexpected %A" other
            let item2 = smecOf (Catalog.build 2 Local context) "SciFact" "SMEC" "24"
            let item6 = smecOf (Catalog.build 6 Local context) "SciFact / all-MiniLM-L6-v2" "SMEC" "24"
            let item7 = smecOf (Catalog.build 7 Local context) "SciFact" "all-MiniLM-L6-v2 + SMEC" "24"
            Expect.equal (ConfigHash.hash item6) (ConfigHash.hash item2) "item 6 reuses item 2's experiment"
            Expect.equal (ConfigHash.hash item7) (ConfigHash.hash item2) "item 7 reuses item 2's experiment"

        testCase "item 2 local: SciFact, Cranfield, CACM and their mean, 6 methods x dims 24-384, 18 experiments" <| fun () ->
            let spec = Catalog.build 2 Local { Seeds = [ 1L ]; Manifest = None }
            Expect.equal spec.Panels [ "SciFact"; "Cranfield"; "CACM"; "mean of 3" ] "panels"
            Expect.equal spec.Columns [ "24"; "48"; "96"; "192"; "384" ] "dims"
            Expect.equal spec.Rows [ "truncation"; "PCA"; "MRL"; "Search-Adaptor"; "Matryoshka-Adaptor"; "SMEC" ] "rows"
            Expect.equal (Catalog.tableExperiments spec).Length 18 "3 datasets x 6 methods, every dim from one experiment"
            let trained = Catalog.tableExperiments spec |> List.filter (fun c -> c.Budget.IsSome) |> List.map (fun c -> c.Method) |> List.distinct |> List.sort
            Expect.equal trained [ "matryoshka-adaptor"; "mrl"; "search-adaptor"; "smec" ] "truncation and PCA learn nothing, so have no seed"
    ]
