/// Smec.fsx: the one line a script or notebook needs to use the built harness,
///     #load "../Smec.fsx"      (the path from your .fsx or .ipynb to this file)
/// then `open Smec.Script` for the helpers below. It references the assemblies of the built
/// `smec` program, whose bin folder holds the natives (libtorch, and the copy of
/// libLibTorchSharp.so the build patches for Debian 12; docs/TOOLCHAIN.md, "Trap 1" and "Trap 2"), loads libtorch
/// on CPU with the harness's thread setting, and offers charts and tables that work offline.
///
/// NOT BUILT? F# then stops at the first #r below with "Unable to find the file
/// '.../Smec.Experiments/bin/Release/net10.0/linux-x64/Smec.Core.dll'": run `make build` in the
/// repository root. (F# resolves every #r of a #load-ed file before running any of its code, so
/// the check below can only speak when this file is run on its own: `dotnet fsi Smec.fsx`.)
let [<Literal>] BinFolder = __SOURCE_DIRECTORY__ + "/Smec.Experiments/bin/Release/net10.0/linux-x64"

if not (System.IO.File.Exists(BinFolder + "/smec.dll")) then
    eprintfn "Smec.fsx: the harness is not built (%s/smec.dll is missing). Run `make build` in %s first."
        BinFolder __SOURCE_DIRECTORY__
    exit 2

#r "Smec.Experiments/bin/Release/net10.0/linux-x64/Smec.Core.dll"
#r "Smec.Experiments/bin/Release/net10.0/linux-x64/smec.dll"
#r "Smec.Experiments/bin/Release/net10.0/linux-x64/TorchSharp.dll"
#r "Smec.Experiments/bin/Release/net10.0/linux-x64/Deedle.dll"
#r "Smec.Experiments/bin/Release/net10.0/linux-x64/Plotly.NET.dll"
#r "Smec.Experiments/bin/Release/net10.0/linux-x64/DynamicObj.dll"
#r "Smec.Experiments/bin/Release/net10.0/linux-x64/Giraffe.ViewEngine.dll"
#r "Smec.Experiments/bin/Release/net10.0/linux-x64/Newtonsoft.Json.dll"
#r "Smec.Experiments/bin/Release/net10.0/linux-x64/Spectre.Console.dll"
#r "Smec.Experiments/bin/Release/net10.0/linux-x64/Spectre.Console.Ansi.dll"

open System
open System.IO
open Plotly.NET
open Smec.Core.Data
open Smec.Core.Runtime

// Loads libtorch (CPU build) and applies SMEC_THREADS before any script touches a tensor.
Determinism.ConfigureTorch()

/// Helpers for scripts and notebooks.
module Script =
    /// The repository root (this file's folder).
    let repoRoot = __SOURCE_DIRECTORY__

    /// The data mirror, resolved by the harness's own rule (SMEC_DATA_DIR, then ../shared/data next
    /// to the checkout). A script run from outside the checkout gives the rule no repository to start
    /// from, so the checkout this file lives in is then passed explicitly.
    let dataRoot () : string =
        let resolved =
            match Option.ofObj (DataRoot.TryResolve()) with
            | None when isNull (RepoPaths.TryFindRoot()) ->
                Option.ofObj (DataRoot.TryResolve(Path.Combine(repoRoot, "..", "shared", "data")))
            | found -> found
        match resolved with
        | Some root -> root.Path
        | None ->
            failwithf "no data mirror found (looked in: %s); set %s to the folder holding the data"
                (DataRoot.Candidates() |> Seq.map (fun c -> c.Path) |> String.concat ", ") DataRoot.Variable

    /// A path inside the data mirror, checked to exist so a missing file is named at once.
    let dataFile (relative: string) : string =
        let path = Path.Combine(dataRoot (), relative)
        if not (File.Exists path || Directory.Exists path) then
            failwithf "%s does not exist in the data mirror %s" relative (dataRoot ())
        path

    /// The chart as one self-contained HTML fragment with plotly.js inlined, so it renders offline
    /// (the default loads plotly.js from a CDN and stays blank here; docs/TOOLCHAIN.md, "Trap 6").
    /// (toChartHTML assumes plotly.js is already on the page, so the embedded document is used.)
    let chartHtml (chart: GenericChart) : string =
        chart
        |> Chart.withDisplayOptions (DisplayOptions.init (PlotlyJSReference = PlotlyJSReference.Full))
        |> GenericChart.toEmbeddedHTML

    /// A log-scaled x axis with a tick at each dimension of the ladder, as in the paper's figures.
    let withDimsAxis (dims: seq<int>) (chart: GenericChart) : GenericChart =
        let axis =
            LayoutObjects.LinearAxis.init (
                Title = Title.init "dimensions (log scale)", AxisType = StyleParam.AxisType.Log, TickVals = dims)
        chart |> Chart.withXAxis axis

    /// Write the chart as a standalone offline HTML page and return its path.
    let saveChart (path: string) (chart: GenericChart) : string =
        let full = Path.GetFullPath path
        Smec.Core.Storage.AtomicFile.WriteAllText(full, chartHtml chart)
        full

    /// A compact text table (columns padded to their widest cell), for stdout and notebook outputs.
    /// Printing keeps notebooks small; returning a Deedle frame as a cell value emits megabytes of HTML.
    let formatTable (headers: string list) (rows: string list list) : string =
        let widths =
            headers :: rows
            |> List.map (List.map String.length)
            |> List.reduce (List.map2 max)
        let line cells = List.map2 (fun (c: string) w -> c.PadRight w) cells widths |> String.concat "  "
        let rule = widths |> List.map (fun w -> String('-', w)) |> String.concat "  "
        line headers :: rule :: List.map line rows |> List.map (fun l -> l.TrimEnd()) |> String.concat "\n"

    let printTable (headers: string list) (rows: string list list) = printfn "%s" (formatTable headers rows)

/// The catalog from a script or notebook: the tables `make reproduce` computes, read from its cache
/// (results/cache), the paper's published values beside ours, and the library's own report.
module Reproduced =
    open Spectre.Console
    open Smec.Experiments.Catalog
    open Smec.Experiments.Catalog.Model
    open Smec.Experiments.Running
    open Smec.Experiments.Verdicts
    open Smec.Experiments.Reports

    /// The same session `smec reproduce` opens: repository, published values, results folder, the
    /// default seeds (1-5).
    let session = lazy (Smec.Experiments.Cli.CatalogSession.openSession None None None ignore)

    let private reproduce (dryRun: bool) (spec: TableSpec) =
        let s = session.Force()
        TableRun.reproduce s.Environment s.Published { Runner.Force = false; Runner.DryRun = dryRun; Runner.Ensemble = false } spec

    /// Item `item` of the local profile as far as the cache holds it; nothing is computed.
    let cached (item: int) : TableRun.TableResult =
        reproduce true (Catalog.build item Local (session.Force()).Context)

    /// Compute (or reuse) only the cells `keep` selects, exactly as `make reproduce` would (same
    /// configs, same cache), so the quick part of a table can be filled in from a notebook.
    let compute (item: int) (keep: Cell -> bool) : TableRun.TableResult =
        let spec = Catalog.build item Local (session.Force()).Context
        reproduce false { spec with Cells = spec.Cells |> List.filter keep; Claims = [] }

    /// A budget for quick notebook versions of trained items: 200 steps, validation every 50
    /// (the local profile's batch, learning rate and patience otherwise).
    let quickBudget : TrainingBudget = { Profiles.localBudget with MaxSteps = 200; ValidateEvery = 50 }

    /// Item `item` with every trained experiment on `budget` (ReducedBudget.withBudget), computed or
    /// reused through the same runner and cache. The budget is part of each config's hash, so these
    /// results sit beside the full `make reproduce` ones and never replace them; the table's title
    /// and notes say it is a reduced-budget version.
    /// One seed (seed 1): a quick look, labelled "quick (1 seed)" in the table's title.
    let computeReduced (item: int) (budget: TrainingBudget) : TableRun.TableResult =
        let context = { (session.Force()).Context with Seeds = [ 1L ] }
        reproduce false (ReducedBudget.withBudget budget (Catalog.build item Local context))

    /// Whether every cell of the table has a value (e.g. the cache holds the whole item).
    let complete (result: TableRun.TableResult) =
        result.Cells |> List.forall (fun c -> match c.Value with Quantities.Value _ -> true | _ -> false)

    /// How many of the table's cells have a value.
    let computedCells (result: TableRun.TableResult) =
        result.Cells |> List.filter (fun c -> match c.Value with Quantities.Value _ -> true | _ -> false) |> List.length

    /// The table as plain text (the terminal report without colour, 140 columns wide).
    let print (result: TableRun.TableResult) =
        let settings =
            AnsiConsoleSettings(Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Out = AnsiConsoleOutput(Console.Out))
        let console = AnsiConsole.Create settings
        console.Profile.Width <- 140
        let footer =
            if ReducedBudget.isReduced result.Spec then
                sprintf "reduced-budget version computed here; the full table: `make reproduce TABLE=%d` (results/item-%d/local/)" result.Spec.Item result.Spec.Item
            else sprintf "`make reproduce TABLE=%d` writes results/item-%d/local/" result.Spec.Item result.Spec.Item
        Terminal.print console result footer

    /// The library's report page (report.html of `make reproduce`): our chart beside the paper's,
    /// the tables and every check; plotly.js inlined once.
    let reportHtml (result: TableRun.TableResult) : string = Html.render result
