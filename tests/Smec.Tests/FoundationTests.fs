/// The foundation: libtorch loads, training moves the loss, seeding makes runs bit-identical.
module Smec.Tests.FoundationTests

open Expecto
open TorchSharp
open type TorchSharp.torch.nn
open Smec.Core.Runtime

/// Train a small linear layer with AdamW on a fixed regression problem; return (losses, final parameters).
let private trainLinear (seed: int64) (steps: int) =
    Determinism.Seed seed |> ignore
    use scope = torch.NewDisposeScope()
    let layer = Linear(8L, 1L)
    let inputs = torch.randn(64L, 8L)
    let trueWeights = torch.arange(8L, dtype = torch.float32).reshape(8L, 1L)
    let targets = inputs.matmul(trueWeights)
    let optimizer = torch.optim.AdamW(layer.parameters(), lr = 0.3)
    let losses =
        [ for _ in 1..steps ->
              use stepScope = torch.NewDisposeScope()
              optimizer.zero_grad()
              let loss = functional.mse_loss(layer.forward inputs, targets)
              loss.backward()
              optimizer.step() |> ignore
              loss.item<float32>() ]
    let parameters = [ for p in layer.parameters() -> p.detach().cpu().data<float32>().ToArray() ]
    losses, parameters

[<Tests>]
let tests =
    testList "Foundation" [
        testCase "libtorch loads and a tensor computes" <| fun () ->
            Determinism.ConfigureTorch()
            use t = torch.tensor([| 1.0f; 2.0f; 3.0f |])
            use s = t.sum()
            Expect.equal (s.item<float32>()) 6.0f "1 + 2 + 3"

        testCase "AdamW steps on a linear layer lower the loss" <| fun () ->
            let losses, _ = trainLinear 7L 60
            let first, last = List.head losses, List.last losses
            Expect.isLessThan last (first * 0.1f) (sprintf "loss should fall tenfold in 60 steps: %g -> %g" first last)

        testCase "the same seed gives bit-identical parameters" <| fun () ->
            let _, a = trainLinear 11L 20
            let _, b = trainLinear 11L 20
            Expect.sequenceEqual (Array.concat a) (Array.concat b) "same seed, same parameters, bit for bit"

        testCase "a different seed gives different parameters" <| fun () ->
            let _, a = trainLinear 11L 5
            let _, b = trainLinear 12L 5
            Expect.notEqual (Array.concat a) (Array.concat b) "seeds must matter"

        testCase "SMEC_THREADS must be a positive integer" <| fun () ->
            let saved = System.Environment.GetEnvironmentVariable Determinism.ThreadsVariable
            try
                System.Environment.SetEnvironmentVariable(Determinism.ThreadsVariable, "1")
                Expect.equal (Determinism.ConfiguredThreads()) 1 "explicit value"
                System.Environment.SetEnvironmentVariable(Determinism.ThreadsVariable, string (System.Environment.ProcessorCount + 1))
                Expect.equal (Determinism.ConfiguredThreads()) System.Environment.ProcessorCount "more than the cores is capped at the cores"
                System.Environment.SetEnvironmentVariable(Determinism.ThreadsVariable, "zero")
                Expect.throws (fun () -> Determinism.ConfiguredThreads() |> ignore) "non-numeric is rejected"
                System.Environment.SetEnvironmentVariable(Determinism.ThreadsVariable, null)
                Expect.equal (Determinism.ConfiguredThreads()) System.Environment.ProcessorCount "default is the core count"
            finally
                System.Environment.SetEnvironmentVariable(Determinism.ThreadsVariable, saved)

        testCase "the build patched libLibTorchSharp.so in the output folder, not the NuGet cache" <| fun () ->
            let glue = System.IO.Path.Combine(System.AppContext.BaseDirectory, "libLibTorchSharp.so")
            Expect.isTrue (System.IO.File.Exists glue) "the glue library is copied next to the test program"
            // It loaded (first test), which on Debian 12 is only possible with the weak version need.
            Determinism.ConfigureTorch()
    ]
