/// Blessed values record the data they were made on; a regression cell on other data is not compared.
module Smec.Tests.DataIdentityTests

open System.IO
open Expecto
open Smec.Core.Data
open Smec.Tests.TestSupport
open Smec.Tests.DataTestSupport
open Smec.Experiments.Running
open Smec.Experiments.Verdicts.Checks

[<Tests>]
let identityInVerdicts =
    testList "DataIdentity.verdicts" [
        testCase "a blessed value keeps its data identity; files from before identities read as the reference data" <| fun () ->
            use temp = new TempDir()
            let path = Path.Combine(temp.Path, "blessed", "item-2-local.csv")
            let value =
                { BlessedValue.Panel = "SciFact"; Row = "SMEC"; Column = "24"; Value = 0.65; PerSeed = [ 0.65 ]
                  Seeds = [ 1L ]; CellHash = "h"; BlessedOn = "2026-11-29"; DataIdentity = "scifact=0123456789abcdef" }
            Smec.Experiments.Verdicts.Blessed.save path [ value ]
            Expect.equal (Smec.Experiments.Verdicts.Blessed.load path) [ value ] "round trip"
            File.WriteAllText(path, "panel,row,column,value,sd,per_seed,seeds,cell_hash,blessed_on\nSciFact,SMEC,24,0.65,0,0.65,1,h,2026-11-28\n")
            Expect.equal (Smec.Experiments.Verdicts.Blessed.load path).Head.DataIdentity "" "an old file: the reference data"

        testCase "a regression cell blessed on other data says 'other data copy: not comparable', neither OK nor FAIL" <| fun () ->
            let blessed =
                { BlessedValue.Panel = "SciFact"; Row = "SMEC"; Column = "24"; Value = 0.65; PerSeed = [ 0.65 ]
                  Seeds = [ 1L ]; CellHash = "h"; BlessedOn = "2026-11-29"; DataIdentity = "" }
            let check =
                Smec.Experiments.Verdicts.Checks.otherDataCopy blessed "scifact=0123456789abcdef"
                    (Smec.Experiments.Verdicts.Quantities.Value(Smec.Experiments.Verdicts.Quantities.seedValues [ 0.2 ]))
            Expect.equal check.Status Smec.Experiments.Verdicts.Checks.Skipped "not judged"
            Expect.stringStarts check.Note "other data copy: not comparable" "says why"
            expectContains check.Note [ "the reference data"; "scifact=0123456789abcdef" ] "names both identities"

        testCase "with the mirror, item 2's cells are on the reference data and keep their result keys" <| fun () ->
            let spec = Smec.Experiments.Catalog.Catalog.build 2 Smec.Experiments.Catalog.Model.Local { Seeds = [ 1L ]; Manifest = None }
            for cell in spec.Cells do
                Expect.equal (Smec.Experiments.Running.Datasets.cellDataIdentity cell.Value) "" (sprintf "%s/%s/%s" cell.Panel cell.Row cell.Column)
            Expect.equal (Smec.Experiments.Running.Datasets.identityName "scifact") (Some DataIdentity.ReferenceName) "the mirror's SciFact is the reference copy"

        testCase "one checksum helper: a text's SHA-256 equals its file's, cut only to the named lengths" <| fun () ->
            use dir = new TempDir()
            let path = Path.Combine(dir.Path, "text.txt")
            File.WriteAllText(path, "smec-data scifact\n")
            let full = FileChecksums.Sha256OfText "smec-data scifact\n"
            Expect.equal full (FileChecksums.Sha256 path) "text and file hash alike (lower-case hex)"
            Expect.equal full.Length 64 "64 hex digits"
            Expect.equal (FileChecksums.Sha256OfText("smec-data scifact\n", HashLength.Identity)) full.[.. 15] "the identity length"
            Expect.equal (FileChecksums.Short full) full.[.. 11] "messages: 12 digits"
            Expect.equal (FileChecksums.Short("sha256:" + full)) ("sha256:" + full.[.. 11]) "after the sha256: prefix"
            Expect.equal (FileChecksums.Short "abc") "abc" "a short text stays"
    ]
