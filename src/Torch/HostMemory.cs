using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch;

/// <summary>Which tensors a managed pass may read in place, through <c>Tensor.bytes</c>, without a copy.</summary>
internal static class HostMemory
{
    /// <summary>
    /// A contiguous CPU tensor of <paramref name="type"/> whose memory fits one span: its elements can be read as a
    /// span of that type.
    /// </summary>
    public static bool InPlace(Tensor tensor, ScalarType type) =>
        tensor.device_type == DeviceType.CPU && tensor.dtype == type && tensor.is_contiguous()
        && tensor.numel() * tensor.element_size() <= int.MaxValue;
}
