/// Central finite differences in float64 against torch autograd.
module Smec.Tests.Baselines.GradientCheck

open TorchSharp

/// A float64 tensor of the given shape (F# needs the reshape to pick one torch.tensor overload).
let float64Tensor (values: float[]) (shape: int64[]) = torch.tensor(values, dtype = torch.float64).reshape(shape)

/// Largest |analytic - numeric| over every coordinate of x for the scalar function f.
/// Step 1e-6 in float64: truncation error ~1e-12 and rounding error ~1e-10 for O(1) losses, far
/// below the 1e-6 tolerance the callers use; |.| kinks are avoided by random (non-degenerate) inputs.
let maxGradientError (f: torch.Tensor -> torch.Tensor) (x: float[]) (shape: int64[]) =
    use scope = torch.NewDisposeScope()
    let input = (float64Tensor x shape).requires_grad_(true)
    let loss = f input
    loss.backward()
    let analytic = input.grad.data<float>().ToArray()
    let value (values: float[]) =
        use inner = torch.NewDisposeScope()
        use _ = torch.no_grad()
        (f (float64Tensor values shape)).item<float>()
    let h = 1e-6
    x
    |> Array.mapi (fun i _ ->
        let plus = Array.copy x
        let minus = Array.copy x
        plus.[i] <- x.[i] + h
        minus.[i] <- x.[i] - h
        abs ((value plus - value minus) / (2.0 * h) - analytic.[i]))
    |> Array.max
