using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Smec.Core.Runtime;

/// <summary>A YAML file that does not parse: the message gives its file, line and column in plain words.</summary>
public sealed class YamlSyntaxException(string file, long line, long column, string problem, Exception? inner = null)
    : UserInputException($"{file}:{line}:{column}: not valid YAML: {problem}; expected YAML as in the documented examples (check brackets, quotes and indentation)", inner);

/// <summary>
/// The one way the harness parses YAML text (sweep specs, data manifests, embeddings manifests,
/// the embedded-data index): every syntax error becomes a <see cref="YamlSyntaxException"/> naming
/// the file, line and column. YamlDotNet reports some malformed input (an unclosed <c>[</c>) as an
/// InvalidOperationException with no position; the scanner's position is used for those.
/// </summary>
public static class YamlInput
{
    public static YamlStream Load(string file, string text)
    {
        var scanner = new Scanner(new StringReader(text));
        var stream = new YamlStream();
        try { stream.Load(new Parser(scanner)); }
        catch (YamlException e)
        {
            var problem = (e.InnerException as YamlException)?.Message ?? e.Message;
            throw new YamlSyntaxException(file, e.Start.Line, e.Start.Column, Plain(problem), e);
        }
        catch (InvalidOperationException e)
        {
            var at = scanner.CurrentPosition;
            throw new YamlSyntaxException(file, at.Line, at.Column, "the file ends inside an unclosed '[', '{' or quote", e);
        }
        return stream;
    }

    /// <summary>Read <paramref name="file"/> and parse it (see <see cref="Load(string, string)"/>).</summary>
    public static YamlStream LoadFile(string file) => Load(file, File.ReadAllText(file));

    /// <summary>YamlDotNet's parser states in words ("While parsing a flow sequence, did not find expected ',' or ']'.").</summary>
    private static string Plain(string message) =>
        message.Replace("While parsing", "while reading").Replace("did not find expected", "found no").TrimEnd('.');
}
