/// Student's t distribution (cumulative probability and quantile) for the seed-and-query intervals
/// (Bootstrap.seedQueryInterval): with 3 or 5 seeds the seed part of a comparison's variance has
/// only 2 or 4 degrees of freedom, and a normal quantile would give intervals that miss too often.
/// No package on this machine provides it (MathNet.Numerics is not referenced), so it is written
/// out here from the textbook identities and tested against tabulated quantiles.
module Smec.Experiments.Verdicts.StudentT

open System

/// ln Gamma(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error below 1e-13 for x >= 0.5).
let private logGamma (x: float) =
    let coefficients =
        [| 0.99999999999980993; 676.5203681218851; -1259.1392167224028; 771.32342877765313
           -176.61502916214059; 12.507343278686905; -0.13857109526572012; 9.9843695780195716e-6
           1.5056327351493116e-7 |]
    let x = x - 1.0
    let mutable sum = coefficients.[0]
    for i in 1 .. 8 do sum <- sum + coefficients.[i] / (x + float i)
    let t = x + 7.5
    0.5 * Math.Log(2.0 * Math.PI) + (x + 0.5) * Math.Log t - t + Math.Log sum

/// The continued fraction of the incomplete beta function (modified Lentz), for x < (a+1)/(a+b+2).
let private betaFraction (a: float) (b: float) (x: float) =
    let tiny = 1e-300
    let clamp v = if abs v < tiny then tiny else v
    let mutable c = 1.0
    let mutable d = 1.0 / clamp (1.0 - (a + b) * x / (a + 1.0))
    let mutable result = d
    let mutable m = 1
    let mutable converged = false
    while not converged && m <= 10000 do
        let m2 = float (2 * m)
        let even = float m * (b - float m) * x / ((a + m2 - 1.0) * (a + m2))
        d <- 1.0 / clamp (1.0 + even * d)
        c <- clamp (1.0 + even / c)
        result <- result * d * c
        let odd = -(a + float m) * (a + b + float m) * x / ((a + m2) * (a + m2 + 1.0))
        d <- 1.0 / clamp (1.0 + odd * d)
        c <- clamp (1.0 + odd / c)
        let delta = d * c
        result <- result * delta
        converged <- abs (delta - 1.0) < 1e-15
        m <- m + 1
    result

/// The regularised incomplete beta function I_x(a, b).
let private incompleteBeta (a: float) (b: float) (x: float) =
    if x <= 0.0 then 0.0
    elif x >= 1.0 then 1.0
    else
        let front = Math.Exp(logGamma (a + b) - logGamma a - logGamma b + a * Math.Log x + b * Math.Log(1.0 - x))
        if x < (a + 1.0) / (a + b + 2.0) then front * betaFraction a b x / a
        else 1.0 - front * betaFraction b a (1.0 - x) / b

/// P(Z <= z) for the standard normal, from erfc (Chebyshev fit, fractional error below 1.2e-7;
/// Press et al., Numerical Recipes, erfcc): the limit of t as df grows, where the beta form loses
/// digits.
let private normalCdf (z: float) =
    let x = abs z / Math.Sqrt 2.0
    let t = 1.0 / (1.0 + 0.5 * x)
    let erfc =
        t * Math.Exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
            + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
    if z >= 0.0 then 1.0 - 0.5 * erfc else 0.5 * erfc

/// P(T <= t) for T ~ Student t with `df` degrees of freedom (df > 0; above 1e7, and at infinity, the normal).
let cdf (df: float) (t: float) =
    if Double.IsNaN t || Double.IsNaN df || df <= 0.0 then nan
    elif df > 1e7 then normalCdf t
    else
        let tail = 0.5 * incompleteBeta (df / 2.0) 0.5 (df / (df + t * t))
        if t >= 0.0 then 1.0 - tail else tail

/// The p-quantile of Student t with `df` degrees of freedom (0 < p < 1), by bisection on the cdf
/// (to 1e-12; the cdf is monotone, so bisection cannot miss).
let quantile (df: float) (p: float) =
    if not (p > 0.0 && p < 1.0) then invalidArg "p" (sprintf "a quantile needs 0 < p < 1, got %g" p)
    if not (df > 0.0) then invalidArg "df" (sprintf "degrees of freedom must be positive, got %g" df)
    let mutable low, high = -1.0, 1.0
    while cdf df low > p do low <- low * 2.0
    while cdf df high < p do high <- high * 2.0
    for _ in 1 .. 200 do
        let middle = 0.5 * (low + high)
        if cdf df middle < p then low <- middle else high <- middle
    0.5 * (low + high)
