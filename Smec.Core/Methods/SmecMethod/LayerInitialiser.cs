using TorchSharp;
using Smec.Core.Training;
using static TorchSharp.torch;

namespace Smec.Core.Methods.SmecMethod;

/// <summary>Starts a step's layer as PCA, as a selection of input dims, or at zero (residual branch).
/// A ResidualMlp step's MLP needs nothing here: it starts at the identity (its output layer at zero),
/// so the layer sees the step's input itself at the start and PCA of that input is the same start as
/// in the linear form.</summary>
public static class LayerInitialiser
{
    /// <param name="inputs">[n, in] the step's inputs on the corpus (no labels used).</param>
    public static void Initialise(SmrlStep step, LayerInit init, Tensor inputs)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var weight = step.Layer.weight!;
        var bias = step.Layer.bias!;
        if (step.Residual)
        {
            // A residual step starts exactly at its skip path.
            weight.zero_(); bias.zero_();
            return;
        }
        switch (init)
        {
            case LayerInit.Random:
                return;
            case LayerInit.Identity:
                weight.copy_(eye(step.OutputDim, step.InputDim));
                bias.zero_();
                return;
            case LayerInit.Pca:
                var (components, mean) = PrincipalComponents(inputs, step.OutputDim);
                weight.copy_(components);
                bias.copy_(-components.matmul(mean));
                return;
            default:
                throw new ArgumentOutOfRangeException(nameof(init), init, "unknown layer init");
        }
    }

    /// <summary>The top-<paramref name="count"/> principal directions ([count, in], by decreasing variance) and the mean.</summary>
    public static (Tensor Components, Tensor Mean) PrincipalComponents(Tensor inputs, int count)
    {
        var x = inputs.to(ScalarType.Float64);
        var mean = x.mean([0]);
        var centred = x - mean;
        var covariance = centred.t().matmul(centred).DividedBy(Math.Max(1, x.shape[0] - 1));
        var (_, vectors) = linalg.eigh(covariance); // ascending eigenvalues
        var top = vectors.flip(1).narrow(1, 0, count).t();
        // Fix each direction's sign (largest |entry| positive) so the init does not depend on the solver.
        var pivot = top.abs().argmax(1, keepdim: true);
        var signs = top.gather(1, pivot).sign();
        return ((top * signs).to(ScalarType.Float32), mean.to(ScalarType.Float32));
    }
}
