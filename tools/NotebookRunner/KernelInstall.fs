/// Prepares the notebook kernel: a private copy of the dotnet-interactive tool whose bundled
/// FSharp.Core is replaced by the one the harness is built with.
///
/// Why: dotnet-interactive 1.0.712001 ships FSharp.Core 10.0.0.0, but Plotly.NET 6 and the
/// harness need 10.1.403, so loading them in the F# kernel fails (docs/TOOLCHAIN.md, "Trap 5"). The tool
/// lives in the shared NuGet cache, which must not be modified; the copy lives under
/// <repo>/.cache/notebook-kernel/ and is made once (idempotent: a stamp file marks it complete).
module Smec.NotebookRunner.KernelInstall

open System
open System.Diagnostics
open System.IO
open System.Text.Json

[<Literal>]

let ToolPackageId = "microsoft.dotnet-interactive"
[<Literal>]
let AppDll = "Microsoft.DotNet.Interactive.App.dll"

/// The folder holding .config/dotnet-tools.json, searched upwards from `start`
/// (the same lookup `dotnet tool` uses for local tools).
let findManifestRoot (start: string) : string =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then
            failwithf "no .config/dotnet-tools.json found above %s; run the runner inside the repository" start
        elif File.Exists(Path.Combine(dir.FullName, ".config", "dotnet-tools.json")) then dir.FullName
        else up dir.Parent
    up (DirectoryInfo(Path.GetFullPath start))

/// The dotnet-interactive version pinned in the local tool manifest.
let toolVersion (manifestRoot: string) : string =
    let path = Path.Combine(manifestRoot, ".config", "dotnet-tools.json")
    use doc = JsonDocument.Parse(File.ReadAllText path)
    match doc.RootElement.GetProperty("tools").TryGetProperty ToolPackageId with
    | true, tool -> tool.GetProperty("version").GetString()
    | _ -> failwithf "%s: no entry for %s (expected under \"tools\")" path ToolPackageId

let private nugetPackagesRoot () =
    match Environment.GetEnvironmentVariable "NUGET_PACKAGES" with
    | null | "" -> Path.Combine(Environment.GetFolderPath Environment.SpecialFolder.UserProfile, ".nuget", "packages")
    | dir -> dir

/// The restored tool's folder (the one holding the app dll), if `dotnet tool restore` has run.
let private tryRestoredToolDir (version: string) =
    let packageDir = Path.Combine(nugetPackagesRoot (), ToolPackageId, version, "tools")
    if not (Directory.Exists packageDir) then None
    else
        Directory.EnumerateFiles(packageDir, AppDll, SearchOption.AllDirectories)
        |> Seq.tryHead
        |> Option.map Path.GetDirectoryName

let private restoreTools (manifestRoot: string) =
    let psi = ProcessStartInfo("dotnet", "tool restore", WorkingDirectory = manifestRoot, UseShellExecute = false)
    use proc = Process.Start psi
    proc.WaitForExit()
    if proc.ExitCode <> 0 then failwithf "`dotnet tool restore` failed in %s (exit %d)" manifestRoot proc.ExitCode

let private copyTree (source: string) (target: string) =
    for dir in Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories) do
        Directory.CreateDirectory(Path.Combine(target, Path.GetRelativePath(source, dir))) |> ignore
    for file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories) do
        File.Copy(file, Path.Combine(target, Path.GetRelativePath(source, file)))

/// The FSharp.Core this program runs with: the version pinned for the whole harness.
let harnessFSharpCore () = typeof<list<int>>.Assembly.Location

/// Path to the kernel's app dll in the private copy, making the copy first if needed.
/// `log` receives one line when (and only when) something is installed.
let ensureKernel (manifestRoot: string) (log: string -> unit) : string =
    let version = toolVersion manifestRoot
    let fsharpCore = harnessFSharpCore ()
    // The package version ("10.1.403"), which is what Directory.Packages.props names.
    let fsharpCoreVersion = FileVersionInfo.GetVersionInfo(fsharpCore).ProductVersion.Split('-', '+')[0]
    let target =
        Path.Combine(manifestRoot, ".cache", "notebook-kernel", $"dotnet-interactive-{version}-fsharp.core-{fsharpCoreVersion}")
    let stamp = Path.Combine(target, ".complete")
    if not (File.Exists stamp) then
        let source =
            match tryRestoredToolDir version with
            | Some dir -> dir
            | None ->
                log $"notebook kernel: {ToolPackageId} {version} is not restored; running `dotnet tool restore`"
                restoreTools manifestRoot
                match tryRestoredToolDir version with
                | Some dir -> dir
                | None -> failwithf "%s %s is still missing from %s after `dotnet tool restore`" ToolPackageId version (nugetPackagesRoot ())
        // Build next to the target and rename, so an interrupted copy is never mistaken for a kernel.
        let staging = target + ".partial"
        if Directory.Exists staging then Directory.Delete(staging, true)
        if Directory.Exists target then Directory.Delete(target, true)
        copyTree source staging
        File.Copy(fsharpCore, Path.Combine(staging, "FSharp.Core.dll"), overwrite = true)
        File.WriteAllText(Path.Combine(staging, ".complete"),
                          $"copied from {source}\nFSharp.Core.dll replaced by {fsharpCore} ({fsharpCoreVersion})\n")
        Directory.Move(staging, target)
        // Copies for other tool or FSharp.Core versions are stale now (about 130 MB each).
        for stale in Directory.GetDirectories(Path.GetDirectoryName target) do
            if stale <> target then Directory.Delete(stale, true)
        log ($"notebook kernel: made a private copy of {ToolPackageId} {version} in {target} with FSharp.Core " +
             $"{fsharpCoreVersion} in place of the bundled one (docs/TOOLCHAIN.md, \"Trap 5\"); the shared tool store is untouched")
    Path.Combine(target, AppDll)
