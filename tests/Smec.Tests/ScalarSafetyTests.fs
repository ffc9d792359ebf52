/// Guards against TorchSharp 0.107's temporary-Scalar hazard (see Smec.Core.Training.ScalarSafe):
/// the training code must not call any TorchSharp API that converts a number to a Scalar inside,
/// because the GC may finalize that Scalar while libtorch still reads it. We walk the IL.
module Smec.Tests.ScalarSafetyTests

open System
open System.Reflection
open System.Reflection.Emit
open Expecto

let private opcodes =
    typeof<OpCodes>.GetFields(BindingFlags.Public ||| BindingFlags.Static)
    |> Array.map (fun f -> f.GetValue null :?> OpCode)
    |> Array.map (fun o -> uint16 o.Value, o)
    |> dict

/// The methods a method body calls (call, callvirt, newobj, ldftn), decoded opcode by opcode.
let private callees (m: MethodBase) : MethodBase list =
    match (try m.GetMethodBody() with _ -> null) with
    | null -> []
    | body ->
        let il = body.GetILAsByteArray()
        let typeArgs = if m.DeclaringType <> null && m.DeclaringType.IsGenericType then m.DeclaringType.GetGenericArguments() else [||]
        let methodArgs = if m.IsGenericMethod then m.GetGenericArguments() else [||]
        let result = Collections.Generic.List<MethodBase>()
        let mutable i = 0
        while i < il.Length do
            let code, size =
                if il.[i] = 0xFEuy && i + 1 < il.Length then (0xFE00us ||| uint16 il.[i + 1]), 2 else uint16 il.[i], 1
            match opcodes.TryGetValue code with
            | false, _ -> i <- il.Length // unknown byte: stop rather than misread
            | true, op ->
                let operandStart = i + size
                let operandSize =
                    match op.OperandType with
                    | OperandType.InlineNone -> 0
                    | OperandType.ShortInlineBrTarget | OperandType.ShortInlineI | OperandType.ShortInlineVar -> 1
                    | OperandType.InlineVar -> 2
                    | OperandType.InlineI8 | OperandType.InlineR -> 8
                    | OperandType.InlineSwitch -> 4 + 4 * BitConverter.ToInt32(il, operandStart)
                    | _ -> 4
                if op.OperandType = OperandType.InlineMethod then
                    try result.Add(m.Module.ResolveMethod(BitConverter.ToInt32(il, operandStart), typeArgs, methodArgs)) with _ -> ()
                i <- operandStart + operandSize
        List.ofSeq result

let private torchSharp = typeof<TorchSharp.Scalar>.Assembly

let private createsScalar (m: MethodBase) =
    m.DeclaringType = typeof<TorchSharp.Scalar> && m.Name = "op_Implicit"
    || m.DeclaringType = typeof<TorchSharp.ScalarExtensionMethods> && m.Name.StartsWith "To"

/// Does a TorchSharp method create a temporary Scalar, itself or through TorchSharp callees (a few levels)?
let private hazardous =
    let cache = Collections.Generic.Dictionary<MethodBase, bool>()
    let rec check depth (m: MethodBase) =
        match cache.TryGetValue m with
        | true, v -> v
        | _ ->
            cache.[m] <- false // cycles
            let v =
                createsScalar m
                || depth > 0 && (callees m |> List.exists (fun c -> c.DeclaringType <> null && c.DeclaringType.Assembly = torchSharp && check (depth - 1) c))
            cache.[m] <- v
            v
    check 3

/// These make their Scalars explicitly and keep them alive (static or `using`); their other calls are checked.
let private explicitScalarMakers = set [ "ScalarSafe"; "AdamOptimizer" ]

let private offenders (namespaces: string list) =
    let core = typeof<Smec.Core.Training.TrainingLoop>.Assembly
    [ for t in core.GetTypes() do
        let ns = if isNull t.Namespace then "" else t.Namespace
        let outer = (if isNull t.DeclaringType then t else t.DeclaringType).Name
        if namespaces |> List.contains ns then
            let flags = BindingFlags.Public ||| BindingFlags.NonPublic ||| BindingFlags.Instance ||| BindingFlags.Static ||| BindingFlags.DeclaredOnly
            let members = Seq.append (t.GetMethods flags |> Seq.cast<MethodBase>) (t.GetConstructors flags |> Seq.cast<MethodBase>)
            for m in members do
                for c in callees m do
                    let explicitlyKept = explicitScalarMakers.Contains outer && createsScalar c
                    if c.DeclaringType <> null && c.DeclaringType.Assembly = torchSharp && hazardous c && not explicitlyKept then
                        yield sprintf "%s.%s calls %s.%s" t.FullName m.Name c.DeclaringType.Name c.Name ]
    |> List.distinct

/// Every namespace whose code trains or computes a training loss.
let private trainingNamespaces =
    [ "Smec.Core.Losses"; "Smec.Core.Analysis"; "Smec.Core.Methods"; "Smec.Core.Methods.SmecMethod"
      "Smec.Core.Methods.Baselines"; "Smec.Core.Training"; "Smec.Core.Multimodal"; "Smec.Core.ImageRetrieval" ]

[<Tests>]
let tests =
    testList "Scalar safety" [
        testCase "the IL walker flags tensor + tensor and passes tensor - tensor (positive and negative control)" <| fun () ->
            let tensorType = typeof<TorchSharp.torch.Tensor>
            let addition = tensorType.GetMethod("op_Addition", [| tensorType; tensorType |])
            let subtract = tensorType.GetMethod("sub", [| tensorType |])
            Expect.isTrue (hazardous addition) "a + b passes a temporary alpha Scalar in TorchSharp 0.107"
            Expect.isFalse (hazardous subtract) "a.sub(b) passes no Scalar"

        testCase "every namespace that trains is checked" <| fun () ->
            // A namespace trains when one of its types runs the shared loop or is a loop objective/task.
            let core = typeof<Smec.Core.Training.TrainingLoop>.Assembly
            let loopRun = typeof<Smec.Core.Training.TrainingLoop>.GetMethods() |> Array.filter (fun m -> m.Name = "Run") |> Array.map (fun m -> m :> MethodBase)
            let isLoopType (t: Type) =
                typeof<Smec.Core.Training.ITrainingObjective>.IsAssignableFrom t || typeof<Smec.Core.Training.ILoopTask>.IsAssignableFrom t
            let flags = BindingFlags.Public ||| BindingFlags.NonPublic ||| BindingFlags.Instance ||| BindingFlags.Static ||| BindingFlags.DeclaredOnly
            let training =
                [ for t in core.GetTypes() do
                    let runsLoop =
                        t.GetMethods flags |> Seq.cast<MethodBase> |> Seq.exists (fun m ->
                            callees m |> List.exists (fun c -> loopRun |> Array.contains c))
                    if (runsLoop || isLoopType t) && not (isNull t.Namespace) then yield t.Namespace ]
                |> set
            Expect.isTrue (training.Contains "Smec.Core.Multimodal") "the joint space trains (through the shared loop)"
            let missing = training - set trainingNamespaces
            Expect.isEmpty missing (sprintf "namespaces that train but are not checked: %A" missing)

        testCase "the training code (losses, methods, loop, joint space, image retrieval) makes no temporary Scalar" <| fun () ->
            let found = offenders trainingNamespaces
            Expect.isEmpty found (sprintf "use ScalarSafe instead:\n%s" (String.Join("\n", found)))
    ]
