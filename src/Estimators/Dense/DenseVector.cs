using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace SpectralMonitor.Estimators.Dense;

/// <summary>
/// The Euclidean norm, normalization, dot product and axpy of the small host vectors of the dense numerics (projected
/// problems, resolvent iterations, weight-matrix power iterations), written once. Norms are scaled by the largest
/// entry, so that they overflow or underflow only when the result does.
/// </summary>
internal static class DenseVector
{
    /// <summary><c>xᵀy</c>.</summary>
    internal static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y) => TensorPrimitives.Dot(x, y);

    /// <summary><c>y ← a·x + y</c>.</summary>
    internal static void Axpy(double a, ReadOnlySpan<double> x, Span<double> y) => TensorPrimitives.MultiplyAdd(x, a, y, y);

    /// <summary>‖x‖₂, scaled (NaN if an entry is NaN, +∞ if one is infinite).</summary>
    internal static double Norm(ReadOnlySpan<double> x)
    {
        double scale = 0;
        foreach (double value in x)
        {
            double magnitude = Math.Abs(value);
            if (double.IsNaN(magnitude))
            {
                return double.NaN;
            }

            scale = Math.Max(scale, magnitude);
        }

        if (scale == 0 || double.IsInfinity(scale))
        {
            return scale;
        }

        double sum = 0;
        foreach (double value in x)
        {
            double t = value / scale;
            sum += t * t;
        }

        return scale * Math.Sqrt(sum);
    }

    /// <summary>‖x‖₂ of a complex vector: the real norm of its interleaved real and imaginary parts.</summary>
    internal static double Norm(ReadOnlySpan<Complex> x) => Norm(MemoryMarshal.Cast<Complex, double>(x));

    /// <summary>Scales <paramref name="x"/> to unit norm and returns the norm it had; a zero or non-finite vector is left alone.</summary>
    internal static double Normalize(Span<double> x)
    {
        double norm = Norm(x);
        if (norm > 0 && double.IsFinite(norm))
        {
            TensorPrimitives.Divide(x, norm, x);
        }

        return norm;
    }

    /// <summary>Scales a complex <paramref name="x"/> to unit norm and returns the norm it had; a zero or non-finite vector is left alone.</summary>
    internal static double Normalize(Span<Complex> x) => Normalize(MemoryMarshal.Cast<Complex, double>(x));
}
