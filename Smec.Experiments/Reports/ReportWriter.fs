/// Writes a table's report files into results/item-<N>/<profile>/: report.md, report.html,
/// cells.csv, results.json (each atomically).
module Smec.Experiments.Reports.ReportWriter

open System.IO
open Smec.Experiments.Catalog.Model
open Smec.Experiments.Running
open Smec.Experiments.Running.TableRun

let folderOf (resultsDir: string) (item: int) (profile: Profile) =
    Path.Combine(resultsDir, sprintf "item-%d" item, Profile.name profile)

/// Write every report file; returns the folder.
let write (resultsDir: string) (result: TableResult) =
    let folder = folderOf resultsDir result.Spec.Item result.Spec.Profile
    Directory.CreateDirectory folder |> ignore
    ResultStore.removeDeadTemporaries folder
    ResultStore.writeAtomically (Path.Combine(folder, "report.md")) (Markdown.render result)
    ResultStore.writeAtomically (Path.Combine(folder, "cells.csv")) (DataFiles.csv result)
    ResultStore.writeAtomically (Path.Combine(folder, "results.json")) (DataFiles.json result)
    ResultStore.writeAtomically (Path.Combine(folder, "report.html")) (Html.render result)
    folder
