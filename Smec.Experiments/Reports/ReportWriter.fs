/// Writes a table's report files into results/item-<N>/<profile>/: report.md, report.html,
/// cells.csv, results.json (each atomically).
module Smec.Experiments.Reports.ReportWriter

open System.IO
open Smec.Core.Storage
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Running.TableRun
open Smec.Experiments.Store

let folderOf (resultsDir: string) (item: int) (profile: Profile) =
    Path.Combine(resultsDir, sprintf "item-%d" item, Profile.name profile)

/// Write every report file; returns the folder.
let write (resultsDir: string) (result: TableResult) =
    let folder = folderOf resultsDir result.Spec.Item result.Spec.Profile
    Directory.CreateDirectory folder |> ignore
    ResultStore.removeDeadTemporaries folder
    AtomicFile.WriteAllText(Path.Combine(folder, "report.md"), Markdown.render result)
    AtomicFile.WriteAllText(Path.Combine(folder, "cells.csv"), DataFiles.csv result)
    AtomicFile.WriteAllText(Path.Combine(folder, "results.json"), DataFiles.json result)
    AtomicFile.WriteAllText(Path.Combine(folder, "report.html"), Html.render result)
    folder
