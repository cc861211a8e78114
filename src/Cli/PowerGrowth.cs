using MathNet.Numerics.LinearAlgebra;

namespace SpectralMonitor.Cli;

/// <summary>max_{1≤k≤K} ‖Aᵏ‖₂ of <c>A = 2^p · S</c>, with the power of two kept apart so that no horizon overflows.</summary>
/// <param name="Max"><c>max_k ‖Aᵏ‖₂</c> as a double: +∞ when it is beyond the double range, 0 when every power is 0.</param>
/// <param name="Argmax">The smallest k attaining the maximum (exact even when the maximum is beyond the double range).</param>
/// <param name="Norm"><c>‖A‖₂</c> (k = 1), +∞ beyond the double range.</param>
internal sealed record PowerGrowthResult(double Max, int Argmax, double Norm);

/// <summary>
/// Transient growth by renormalized powers: <c>Sᵏ = 2^{E_k}·P_k</c> with <c>P_k</c>'s largest |entry| in [1, 2), so
/// <c>‖Aᵏ‖ = 2^{k·p + E_k}·‖P_k‖₂</c>. The products and 2-norms run on <c>P_k</c> only (MathNet product, SVD without
/// vectors), which never overflows or underflows however large k is, and the maximum is compared as (exponent, mantissa)
/// pairs, exactly. Rescaling by powers of two adds no rounding, so each ‖Aᵏ‖ carries the usual k·ε relative error of
/// k − 1 products.
/// </summary>
internal static class PowerGrowth
{
    public static PowerGrowthResult Compute(double[,] s, int exponent, int horizon, CancellationToken cancellationToken = default)
    {
        var m = Matrix<double>.Build.DenseOfArray(s);
        var power = m.Clone();
        var spare = Matrix<double>.Build.Dense(m.RowCount, m.ColumnCount);
        long powerExponent = 0;
        double bestMantissa = 0;
        long bestExponent = 0;
        int argmax = 1;
        double norm = 0;
        for (int k = 1; k <= horizon; k++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (k > 1)
            {
                power.Multiply(m, spare);
                (power, spare) = (spare, power);
            }

            double largest = power.Enumerate().Max(Math.Abs);
            if (largest == 0)
            {
                // Sᵏ = 0 (nilpotent): every later power is 0 as well, and 0 never beats the maximum so far.
                break;
            }

            int shift = Math.ILogB(largest);
            if (shift != 0)
            {
                power.Multiply(Math.ScaleB(1.0, -shift), power);
                powerExponent += shift;
            }

            double mantissa = power.L2Norm();
            long total = (k * (long)exponent) + powerExponent;
            if (k == 1)
            {
                norm = ToDouble(mantissa, total);
            }

            if (k == 1 || Greater(mantissa, total, bestMantissa, bestExponent))
            {
                (bestMantissa, bestExponent, argmax) = (mantissa, total, k);
            }
        }

        return new PowerGrowthResult(ToDouble(bestMantissa, bestExponent), argmax, norm);
    }

    /// <summary>Whether <c>a·2^x &gt; b·2^y</c> for positive mantissas of moderate size.</summary>
    private static bool Greater(double a, long x, double b, long y) =>
        b == 0 ? a > 0 : a > Math.ScaleB(b, (int)Math.Clamp(y - x, -4096, 4096));

    private static double ToDouble(double mantissa, long exponent) =>
        Math.ScaleB(mantissa, (int)Math.Clamp(exponent, -1_000_000, 1_000_000));
}
