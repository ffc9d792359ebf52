/// `smec bless --table N`: record the current values of a table (from cached results, nothing is
/// recomputed) as the reference of its regression checks, in paper-results/blessed/.
module Smec.Experiments.Cli.BlessCommand

open Argu
open Smec.Experiments.Catalog
open Smec.Experiments.Running
open Smec.Experiments.Verdicts

type BlessArgs =
    | [<Mandatory; Unique>] Table of item: int
    | [<Unique>] Profile of name: string
    | [<Unique>] Seeds of count: int
    | Quick
    | [<Unique>] Embeddings of manifest: string
    | [<Unique>] Results of folder: string

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Table _ -> "catalog item whose values to bless"
            | Profile _ -> "local (default) or paper"
            | Seeds _ -> sprintf "the seeds the values were reproduced with (default %d; quick results are refused)" Smec.Experiments.Catalog.Profiles.defaultSeedCount
            | Quick -> "one seed per trained cell (seed 1): a quick look, labelled as such in every output"
            | Embeddings _ -> "embeddings manifest (paper profile)"
            | Results _ -> "results folder (default: results/ in the repository)"

let run (args: ParseResults<BlessArgs>) : int =
    CatalogSession.guard (fun () ->
        let session =
            CatalogSession.openSession (args.TryGetResult Embeddings) (CatalogSession.seedCount (args.TryGetResult Seeds) (args.Contains Quick)) (args.TryGetResult Results) ignore
        let profile = CatalogSession.parseProfile (args.TryGetResult Profile)
        let item = (Catalog.find (args.GetResult Table)).Number
        let spec = Catalog.build item profile session.Context
        let result = TableRun.reproduce session.Environment session.Published { Runner.Force = false; Runner.DryRun = true; Runner.Ensemble = false } spec
        let path = Blessed.pathOf session.Environment.PaperResultsDir item profile
        // Read the current file first: a malformed one is reported before anything is written.
        Blessed.load path |> ignore
        match TableRun.blessings result (System.DateTime.UtcNow.ToString "yyyy-MM-dd") with
        | Error message -> failwith message
        | Ok [] ->
            eprintfn "nothing to bless for item %d (%s): no cell has a value in the cache; run `smec reproduce --table %d` first" item (Model.Profile.name profile) item
            1
        | Ok values ->
            Blessed.save path values
            // The claims that FAIL now are known findings from here on (smec check lists them, does not fail on them).
            let today = System.DateTime.UtcNow.ToString "yyyy-MM-dd"
            let claimsPath = BlessedClaims.pathOf session.Environment.PaperResultsDir item profile
            BlessedClaims.load claimsPath |> ignore
            let fails =
                [ for c in result.Claims do
                      if c.Status = Checks.Fail then
                          yield { BlessedClaims.Panel = c.Claim.Panel; BlessedClaims.Claim = c.Claim.Id; BlessedClaims.Detail = c.Detail; BlessedClaims.BlessedOn = today } ]
            BlessedClaims.save claimsPath fails
            if not fails.IsEmpty then
                printfn "blessed %d failing claim(s) of item %d as known findings into %s" fails.Length item claimsPath
            let missing = result.Cells.Length - values.Length
            printfn "blessed %d cells of item %d (%s) into %s%s" values.Length item (Model.Profile.name profile) path
                (if missing > 0 then sprintf " (%d cells have no value and keep their previous blessing, if any)" missing else "")
            0)
