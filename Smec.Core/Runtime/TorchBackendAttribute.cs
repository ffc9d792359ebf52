namespace Smec.Core.Runtime;

/// <summary>The libtorch backend this assembly was built against (the TorchBackend build switch).</summary>
[AttributeUsage(AttributeTargets.Assembly)]
public sealed class TorchBackendAttribute(string backend) : Attribute
{
    public string Backend { get; } = backend;
}
