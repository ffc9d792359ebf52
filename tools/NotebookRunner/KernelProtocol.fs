/// The slice of dotnet-interactive's stdio protocol the runner uses: one JSON command envelope
/// per line in (`SubmitCode`), one JSON event envelope per line out.
module Smec.NotebookRunner.KernelProtocol

open System.Text.Json
open System.Text.Json.Nodes

/// What a cell produced, in the order the kernel reported it.
type CellEvent =
    | StandardOutput of text: string
    | StandardError of text: string
    /// `display(...)`; later `DisplayedValueUpdated` events with the same id replace it.
    | Displayed of valueId: string option * data: (string * string) list
    | DisplayUpdated of valueId: string * data: (string * string) list
    | ReturnValue of data: (string * string) list
    | Succeeded
    | Failed of message: string

/// The `SubmitCode` envelope for one cell. Tokens must be unique per kernel session.
let submitCode (token: string) (kernelName: string) (code: string) : string =
    let command = JsonObject()
    command["code"] <- JsonValue.Create code
    command["targetKernelName"] <- JsonValue.Create kernelName
    let envelope = JsonObject()
    envelope["token"] <- JsonValue.Create token
    envelope["commandType"] <- JsonValue.Create "SubmitCode"
    envelope["command"] <- command
    envelope.ToJsonString()

let private formattedValues (event: JsonElement) =
    match event.TryGetProperty "formattedValues" with
    | true, values when values.ValueKind = JsonValueKind.Array ->
        [ for v in values.EnumerateArray() do
              let suppressed =
                  match v.TryGetProperty "suppressDisplay" with
                  | true, s when s.ValueKind = JsonValueKind.True -> true
                  | _ -> false
              if not suppressed then
                  yield v.GetProperty("mimeType").GetString(), v.GetProperty("value").GetString() ]
    | _ -> []

let private plainText (event: JsonElement) =
    formattedValues event |> List.map snd |> String.concat ""

let private valueId (event: JsonElement) =
    match event.TryGetProperty "valueId" with
    | true, id when id.ValueKind = JsonValueKind.String -> Some(id.GetString())
    | _ -> None

/// Events caused by the command with `token`: the command itself or one it spawned
/// (the kernel splits submissions and runs its own setup as child commands "token.1", ...).
let private belongsTo (token: string) (commandToken: string) =
    commandToken = token || commandToken.StartsWith(token + ".", System.StringComparison.Ordinal)

let private parseEnvelope (token: string) (root: JsonElement) : CellEvent option =
    let commandToken =
        match root.TryGetProperty "command" with
        | true, command when command.ValueKind = JsonValueKind.Object ->
            match command.TryGetProperty "token" with
            | true, t when t.ValueKind = JsonValueKind.String -> t.GetString()
            | _ -> ""
        | _ -> ""
    match root.TryGetProperty "eventType", root.TryGetProperty "event" with
    | (true, eventType), (true, event) when belongsTo token commandToken ->
        let isRoot = commandToken = token
        match eventType.GetString() with
        | "StandardOutputValueProduced" -> Some(StandardOutput(plainText event))
        | "StandardErrorValueProduced" -> Some(StandardError(plainText event))
        | "DisplayedValueProduced" -> Some(Displayed(valueId event, formattedValues event))
        | "DisplayedValueUpdated" -> valueId event |> Option.map (fun id -> DisplayUpdated(id, formattedValues event))
        | "ReturnValueProduced" -> Some(ReturnValue(formattedValues event))
        | "CommandSucceeded" when isRoot -> Some Succeeded
        | "CommandFailed" when isRoot ->
            match event.TryGetProperty "message" with
            | true, m when m.ValueKind = JsonValueKind.String -> Some(Failed(m.GetString()))
            | _ -> Some(Failed "the kernel reported CommandFailed without a message")
        | _ -> None
    | _ -> None

/// The kernel announces `KernelReady` once it accepts commands.
let isKernelReady (line: string) =
    line.StartsWith "{" && line.Contains "\"eventType\":\"KernelReady\""

/// Parse one line of kernel output. None for lines that are not events of this command
/// (the welcome banner, other commands' events, event types the runner does not record).
let tryParseEvent (token: string) (line: string) : CellEvent option =
    if not (line.StartsWith "{") then None
    else
        match (try Some(JsonDocument.Parse line) with :? JsonException -> None) with
        | None -> None
        | Some doc ->
            use doc = doc
            parseEnvelope token doc.RootElement
