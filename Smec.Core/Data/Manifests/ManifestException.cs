namespace Smec.Core.Data.Manifests;

/// <summary>A manifest file is malformed; the message names the file and the field.</summary>
public sealed class ManifestException : Exception
{
    public string File { get; }
    public string Field { get; }

    public ManifestException(string file, string field, string problem, Exception? inner = null)
        : base($"{file}: field '{field}': {problem}", inner)
    {
        File = file;
        Field = field;
    }
}
