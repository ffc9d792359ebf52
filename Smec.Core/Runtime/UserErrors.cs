namespace Smec.Core.Runtime;

/// <summary>
/// A mistake in what the user gave (an option, a file, a name): the message is one line of the form
/// <c>&lt;file or option&gt;: &lt;what is wrong&gt;; &lt;what was expected&gt;</c>. The command line prints it as
/// <c>error: ...</c> with exit code 2 and no stack trace.
/// </summary>
public class UserInputException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A name (dataset, encoder, method...) that is not declared. A KeyNotFoundException, so lookups that catch those still do.</summary>
public sealed class UnknownNameException(string message) : KeyNotFoundException(message);

/// <summary>A training checkpoint written for other data or other settings than the run resuming it.</summary>
public sealed class CheckpointMismatchException(string message) : UserInputException(message);

/// <summary>Training stopped because the loss (or an output) became NaN or infinite.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);

/// <summary>Finite-value checks for data as it enters (embeddings, scores, trained outputs).</summary>
public static class Finite
{
    /// <summary>
    /// Throw when a row holds NaN or an infinity, naming the source and the row's id
    /// (<paramref name="rowName"/> gives it from the row index).
    /// </summary>
    public static void RequireRows(ReadOnlySpan<float> values, int cols, string source, Func<int, string> rowName)
    {
        for (var i = 0; i < values.Length; i++)
        {
            if (float.IsFinite(values[i])) continue;
            var row = i / cols;
            throw new InvalidDataException(
                $"{source}: row {row} ({rowName(row)}) holds {values[i]} at column {i % cols}; expected finite values");
        }
    }
}
