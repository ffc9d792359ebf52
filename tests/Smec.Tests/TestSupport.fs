/// Helpers shared by the test files: repository paths and the data mirror.
module Smec.Tests.TestSupport

open System.IO
open Smec.Core.Data

/// The repository root (the folder holding Smec.sln).
let repoRoot =
    match Option.ofObj (RepoPaths.TryFindRoot()) with
    | Some root -> root
    | None -> failwith "tests must run inside the repository (Smec.sln not found above the working directory)"

/// The resolved data mirror; tests that need real data fail loudly without it rather than skip silently.
let dataRoot () =
    match Option.ofObj (DataRoot.TryResolve()) with
    | Some r -> r.Path
    | None ->
        failwithf "no data mirror found (looked in: %s); set SMEC_DATA_DIR"
            (DataRoot.Candidates() |> Seq.map (fun c -> c.Path) |> String.concat ", ")

/// A fresh temporary folder, removed by the caller's `use`.
type TempDir() =
    let path = Path.Combine(Path.GetTempPath(), "smec-test-" + Path.GetRandomFileName())
    do Directory.CreateDirectory path |> ignore
    member _.Path = path
    interface System.IDisposable with
        member _.Dispose() = try Directory.Delete(path, true) with _ -> ()
