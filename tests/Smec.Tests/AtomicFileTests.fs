/// The one atomic-write helper: a reader sees the old file or the new one, and a failed write
/// leaves the old file and no temporary file behind.
module Smec.Tests.AtomicFileTests

open System
open System.IO
open Expecto
open Smec.Core.Storage
open Smec.Tests.TestSupport

[<Tests>]
let tests =
    testList "AtomicFile" [
        testCase "a write replaces the file whole and leaves no temporary file" <| fun () ->
            use dir = new TempDir()
            let path = Path.Combine(dir.Path, "sub", "a.txt")
            AtomicFile.WriteAllText(path, "old")
            AtomicFile.WriteAllLines(path, [ "new"; "lines" ])
            Expect.equal (File.ReadAllText path) "new\nlines\n" "the new content, one newline per line"
            Expect.sequenceEqual (Directory.GetFiles(Path.GetDirectoryName path) |> Array.map Path.GetFileName) [ "a.txt" ] "only the target"

        testCase "a write that fails keeps the old file and removes its temporary file" <| fun () ->
            use dir = new TempDir()
            let path = Path.Combine(dir.Path, "b.bin")
            AtomicFile.WriteAllBytes(path, ReadOnlySpan [| 1uy; 2uy |])
            let failing () =
                AtomicFile.WriteBinary(path, fun w ->
                    w.Write 42
                    failwith "disk full (test)")
            Expect.throws failing "the error reaches the caller"
            Expect.sequenceEqual (File.ReadAllBytes path) [| 1uy; 2uy |] "the old file is intact"
            Expect.sequenceEqual (Directory.GetFiles dir.Path |> Array.map Path.GetFileName) [ "b.bin" ] "no temporary file left"
    ]
