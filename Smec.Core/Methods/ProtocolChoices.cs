namespace Smec.Core.Methods;

/// <summary>
/// The function class of every learned map of a trained method, one option with one meaning for all
/// of them (SMEC's steps, Matryoshka-Adaptor, Search-Adaptor, MRL). Linear: each learned map is one
/// affine layer. ResidualMlp: each learned map is x + W2 relu(W1 x) with hidden width equal to its
/// input width, followed by the method's linear projection where the width changes. A report's
/// protocol table states which one every row used, so capacity is never a silent difference.
/// </summary>
public enum FunctionClass { Linear, ResidualMlp }

/// <summary>
/// How a trained method chooses what serves each dim. PerDim: the value reported at dim d comes from
/// the checkpoint (and grid point) with the best validation nDCG@10 at d. Shared: one checkpoint (and
/// grid point) chosen on the mean validation nDCG@10 over the dims it serves, as one Matryoshka model.
/// </summary>
public enum DimSelection { PerDim, Shared }

/// <summary>
/// A fitted trained compressor's validation nDCG@10 at each dim it serves, measured on the
/// validation queries carved from the training queries (never the test split). Selection across
/// settings (grid points, folds) reads it.
/// </summary>
public interface IValidationScored
{
    IReadOnlyDictionary<int, double> ValidationNdcgByDim { get; }
}
