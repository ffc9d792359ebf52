/// Claims blessed as known FAILs. Where a paper's claim does not reproduce on our data, that is a
/// finding, not a regression: `smec bless --table N` records each claim that FAILs, with its numbers,
/// in paper-results/blessed/item-<N>-<profile>.claims.csv, and `smec check` then lists it as a known
/// finding instead of failing. The check still fails both ways on a changed verdict: a claim that
/// was not blessed as a FAIL and now FAILs, and a blessed FAIL that now holds (OK: re-bless or
/// explain). A blessed FAIL that is now a TIE is reported but does not fail: an interval that moved
/// across 0 within seed noise is not a changed finding.
module Smec.Experiments.Verdicts.BlessedClaims

open System
open System.IO
open Smec.Core.Storage
open CsvHelper
open Smec.Experiments.Catalog.Model

type KnownFail =
    { Panel: string
      Claim: string
      /// The comparisons and intervals when it was blessed.
      Detail: string
      BlessedOn: string }

let pathOf (paperResultsDir: string) (item: int) (profile: Profile) =
    Path.Combine(paperResultsDir, "blessed", sprintf "item-%d-%s.claims.csv" item (Profile.name profile))

let private header = [ "panel"; "claim"; "status"; "detail"; "blessed_on" ]

let load (path: string) : KnownFail list =
    if not (File.Exists path) then []
    else
        use csv = CsvReader.FromFile(path, CsvReaderOptions(TrackLineNumbers = true, Separator = Nullable ','))
        Blessed.requireColumns path (csv.Headers |> Set.ofSeq) header ""
        [ while csv.Read() do
              let status = csv.GetString "status"
              if status <> "FAIL" then
                  failwithf "%s:%d: field 'status' is '%s', expected FAIL (only failing claims are blessed)" path (int csv.LineNumber) status
              yield
                  { Panel = csv.GetString "panel"
                    Claim = csv.GetString "claim"
                    Detail = csv.GetString "detail"
                    BlessedOn = csv.GetString "blessed_on" } ]

let find (known: KnownFail list) (panel: string) (claim: string) =
    known |> List.tryFind (fun k -> k.Panel = panel && k.Claim = claim)

/// Write (atomically) the item's failing claims; the file is replaced (a claim that holds now is
/// no longer a known FAIL). No failing claim: the file is removed.
let save (path: string) (fails: KnownFail list) =
    if fails.IsEmpty then (if File.Exists path then File.Delete path)
    else
        use text = new StringWriter()
        (use csv = CsvWriter.Create(text, CsvWriterOptions(NewLine = "\n"))
         for h in header do csv.WriteField h
         csv.EndRecord()
         for f in fails do
             csv.WriteField f.Panel
             csv.WriteField f.Claim
             csv.WriteField "FAIL"
             csv.WriteField f.Detail
             csv.WriteField f.BlessedOn
             csv.EndRecord())
        AtomicFile.WriteAllText(path, text.ToString())
