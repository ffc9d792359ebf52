using Microsoft.ML.OnnxRuntime;
using Smec.Core.Runtime;

namespace Smec.Core.Encoders;

/// <summary>ONNX Runtime sessions configured the same way everywhere: SMEC_THREADS intra-op threads, CPU.</summary>
public static class OnnxSessions
{
    public static SessionOptions Options()
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = Determinism.ConfiguredThreads(),
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        return options;
    }

    public static InferenceSession FromBytes(byte[] model, string source)
    {
        try { return new InferenceSession(model, Options()); }
        catch (OnnxRuntimeException e) { throw new InvalidDataException($"{source}: ONNX Runtime cannot load the model ({e.Message})", e); }
    }

    public static InferenceSession FromFile(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException(
                $"{path}: model file not found. The build copies it from its NuGet package into the program folder; rebuild with `make build`.", path);
        try { return new InferenceSession(path, Options()); }
        catch (OnnxRuntimeException e) { throw new InvalidDataException($"{path}: ONNX Runtime cannot load the model ({e.Message})", e); }
    }
}
