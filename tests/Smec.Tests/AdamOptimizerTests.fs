/// The fused Adam pass against the tensor-operation update it replaces (the oracle): the same bits.
module Smec.Tests.AdamOptimizerTests

open Expecto
open TorchSharp
open Smec.Core.Training

/// Two copies of the same parameters, one updated by the fused pass and one by the reference, fed
/// the same gradients for `steps` steps; returns both copies' final values.
let private runBoth (shapes: int64[] list) (dtype: torch.ScalarType) (weightDecay: float) (decoupled: bool) (steps: int) =
    let generator = new torch.Generator(7UL)
    let initial = shapes |> List.map (fun s -> torch.randn(s, dtype = dtype, generator = generator))
    let copy () = initial |> List.map (fun t -> torch.nn.Parameter(t.clone(), requires_grad = true)) |> List.toArray
    let fused, reference = copy (), copy ()
    use fusedAdam = new AdamOptimizer(fused, 1e-3, weightDecay, decoupled)
    use referenceAdam = new AdamOptimizer(reference, 1e-3, weightDecay, decoupled)
    for _ in 1..steps do
        // The gradient of sum(p * target) is target: a fresh random gradient each step, the same for both.
        let targets = shapes |> List.map (fun s -> torch.randn(s, dtype = dtype, generator = generator))
        for parameters in [ fused; reference ] do
            for p in parameters do p.grad <- null
            let loss = Seq.map2 (fun (p: Modules.Parameter) (t: torch.Tensor) -> (p * t).sum()) parameters targets |> Seq.reduce (fun a b -> a + b)
            loss.backward()
        fusedAdam.Step()
        referenceAdam.StepReference()
    fused, reference

/// Bit equality (NaN included), whatever the dtype.
let private bitsOf (t: torch.Tensor) = t.detach().contiguous().bytes.ToArray()

let private sameBits (fused: Modules.Parameter[]) (reference: Modules.Parameter[]) =
    Array.forall2 (fun (a: Modules.Parameter) (b: Modules.Parameter) -> bitsOf a = bitsOf b) fused reference

[<Tests>]
let tests =
    // Odd sizes leave a tail past the last full SIMD vector, which takes the scalar loop.
    let shapes = [ [| 384L; 384L |]; [| 384L |]; [| 37L; 5L |]; [| 3L |] ]
    testList "AdamOptimizer" [
        for name, weightDecay, decoupled in [ "Adam", 0.0, false; "Adam with L2 decay", 0.01, false; "AdamW", 0.01, true ] do
            testCase (sprintf "%s: the fused pass gives the reference's bits over 25 steps" name) <| fun () ->
                let fused, reference = runBoth shapes torch.ScalarType.Float32 weightDecay decoupled 25
                Expect.isTrue (sameBits fused reference) "every parameter bit-identical"
                // And the updates did something (a test of equality between two no-ops proves nothing).
                let generator = new torch.Generator(7UL)
                let start = torch.randn(shapes.Head, generator = generator)
                Expect.notEqual (bitsOf fused.[0]) (bitsOf start) "the parameters moved"

        testCase "float64 parameters take the tensor form and still match it" <| fun () ->
            let fused, reference = runBoth [ [| 10L; 3L |] ] torch.ScalarType.Float64 0.01 true 5
            Expect.isTrue (sameBits fused reference) "the same update"

        testCase "a changed update would be seen: one more reference step differs" <| fun () ->
            let fused, reference = runBoth [ [| 64L |] ] torch.ScalarType.Float32 0.0 false 3
            Expect.isTrue (sameBits fused reference) "equal after 3 steps each"
            let fused4, _ = runBoth [ [| 64L |] ] torch.ScalarType.Float32 0.0 false 4
            Expect.isFalse (sameBits fused4 reference) "4 steps against 3 differ"
    ]
