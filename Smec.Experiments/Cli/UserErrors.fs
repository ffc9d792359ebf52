/// The command line's one error path for user mistakes: raise `UserInputException` with one line
/// `<file or option>: <what is wrong>; <what was expected>`; Program prints it as `error: ...` and
/// exits 2. The checks here run before any work, so a mistake costs seconds, not a training run.
module Smec.Experiments.Cli.UserErrors

open System
open System.IO
open Smec.Core.Runtime

/// Raise a user error (printf-style).
let userError fmt = Printf.ksprintf (fun message -> raise (UserInputException message)) fmt

/// "a, b or c"
let private listed (choices: string seq) =
    match List.ofSeq choices with
    | [] -> "nothing"
    | [ one ] -> one
    | many -> String.Join(", ", many |> List.take (many.Length - 1)) + " or " + List.last many

let private distance (a: string) (b: string) =
    let d = Array2D.init (a.Length + 1) (b.Length + 1) (fun i j -> if i = 0 then j elif j = 0 then i else 0)
    for i in 1 .. a.Length do
        for j in 1 .. b.Length do
            let cost = if Char.ToLowerInvariant a.[i - 1] = Char.ToLowerInvariant b.[j - 1] then 0 else 1
            d.[i, j] <- min (min (d.[i - 1, j] + 1) (d.[i, j - 1] + 1)) (d.[i - 1, j - 1] + cost)
    d.[a.Length, b.Length]

/// What to expect for a name: every choice when there are few, else the close ones and where to look.
let expectedChoices (value: string) (choices: string list) (whereListed: string) =
    if choices.Length <= 12 then sprintf "expected %s" (listed choices)
    else
        match choices |> List.filter (fun c -> distance value c <= 3 || c.Contains(value, StringComparison.OrdinalIgnoreCase)) with
        | [] -> sprintf "expected one of the %d names %s lists" choices.Length whereListed
        | close -> sprintf "expected e.g. %s (%s lists all %d)" (listed close) whereListed choices.Length

/// `value` if it is one of `choices`, else a user error naming the option and the valid choices
/// (or, when there are many, the close ones and the command `whereListed` that lists them all).
let declared (option: string) (what: string) (whereListed: string) (choices: string list) (value: string) =
    if List.contains value choices then value
    else userError "%s: unknown %s '%s'; %s" option what value (expectedChoices value choices whereListed)

/// `value` if it is one of a few `choices`, else a user error naming the option and the choices.
let oneOf (option: string) (what: string) (choices: string list) (value: string) = declared option what "--help" choices value

/// An existing file (not a folder).
let requireFile (option: string) (path: string) =
    if Directory.Exists path then userError "%s: %s is a folder; expected a file" option path
    if not (File.Exists path) then userError "%s: %s does not exist; expected an existing file" option path
    path

/// An existing folder.
let requireFolder (option: string) (path: string) =
    if File.Exists path then userError "%s: %s is a file; expected a folder" option path
    if not (Directory.Exists path) then userError "%s: folder %s does not exist; expected an existing folder" option path
    path

/// The nearest existing ancestor of a path (itself when it exists).
let rec private existingAncestor (path: string) =
    if Directory.Exists path || File.Exists path then path
    else
        match Path.GetDirectoryName path with
        | null | "" -> path
        | parent -> existingAncestor parent

/// Check that files can be created in `folder` (created later if missing): probe the nearest existing
/// ancestor with a file created and deleted at once. Nothing is left behind.
let requireWritableFolder (option: string) (folder: string) =
    let folder = Path.GetFullPath folder
    let existing = existingAncestor folder
    if File.Exists existing then
        userError "%s: %s is a file, so folder %s cannot be created; expected a folder you can write to" option existing folder
    let probe = Path.Combine(existing, sprintf ".smec-write-probe.%d.%s" Environment.ProcessId (Guid.NewGuid().ToString "N"))
    try
        use _ = new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)
        ()
    with
    | :? UnauthorizedAccessException
    | :? IOException ->
        let where = if existing = folder then "" else sprintf " (nor is its existing parent %s)" existing
        userError "%s: folder %s is not writable%s; expected a folder you can write to" option folder where

/// An output file path: not a folder, and its folder writable.
let requireWritableFile (option: string) (path: string) =
    if Directory.Exists path then userError "%s: %s is a folder; expected a file path" option path
    requireWritableFolder option (Path.GetDirectoryName(Path.GetFullPath path))
    path

/// A positive integer option.
let requirePositive (option: string) (value: int) =
    if value <= 0 then userError "%s: %d is not positive; expected a number >= 1" option value
    value
