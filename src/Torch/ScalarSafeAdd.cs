using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch;

/// <summary>
/// Additions that keep their Scalars alive through the native call. TorchSharp 0.107's <c>add(y)</c> and <c>add_(y)</c>
/// pass <c>alpha = 1</c> (and a number <c>y</c>) as implicitly converted Scalars, which a garbage collection started by
/// another thread can free while libtorch reads them (docs/reliability.md, "Other threads that allocate"). These make
/// the Scalars themselves and dispose them after the call; the arithmetic is the same.
/// </summary>
internal static class ScalarSafeAdd
{
    /// <summary><paramref name="x"/> += <paramref name="y"/>.</summary>
    public static Tensor PlusInPlace(this Tensor x, Tensor y)
    {
        using var one = 1.ToScalar();
        return x.add_(y, one);
    }

    /// <summary><paramref name="x"/> += <paramref name="y"/>.</summary>
    public static Tensor PlusInPlace(this Tensor x, double y)
    {
        using var value = y.ToScalar();
        using var one = 1.ToScalar();
        return x.add_(value, one);
    }

    /// <summary><paramref name="x"/> + <paramref name="y"/>, a new tensor.</summary>
    public static Tensor Plus(this Tensor x, double y)
    {
        using var value = y.ToScalar();
        using var one = 1.ToScalar();
        return x.add(value, one);
    }
}
