namespace SpectralMonitor.Estimators.Dense;

/// <summary>An orthogonal similarity <c>A = Q·H·Qᵀ</c> with <c>H</c> upper Hessenberg.</summary>
/// <param name="Hessenberg">The upper Hessenberg matrix <c>H = QᵀAQ</c> (entries below the first subdiagonal are exactly zero).</param>
/// <param name="Orthogonal">The orthogonal matrix <c>Q</c>, or null when it was not requested.</param>
public sealed record HessenbergDecomposition(double[,] Hessenberg, double[,]? Orthogonal);

/// <summary>Householder reduction of a real square matrix to upper Hessenberg form.</summary>
/// <remarks>
/// MathNet.Numerics 5 performs this reduction inside its eigenvalue decomposition but does not expose it
/// (its Hessenberg routines are internal to the EVD classes), so it is written here: <c>n − 2</c> Householder
/// reflections applied from both sides, <c>10n³/3</c> flops, plus <c>4n³/3</c> to accumulate <c>Q</c>.
/// The non-normality measures reduce a matrix once and then evaluate <c>σ_min(zI − H)</c> in <c>O(n²)</c>
/// per point with <see cref="HessenbergResolvent"/>.
/// </remarks>
public static class HessenbergReduction
{
    /// <summary>Reduces <paramref name="matrix"/> to upper Hessenberg form.</summary>
    /// <param name="matrix">A square, finite matrix; not modified.</param>
    /// <param name="computeOrthogonal">Whether to accumulate <c>Q</c>.</param>
    /// <returns><c>H = QᵀAQ</c> and, when requested, <c>Q</c>.</returns>
    /// <exception cref="ArgumentException">The matrix is empty, not square or not finite.</exception>
    public static HessenbergDecomposition Reduce(double[,] matrix, bool computeOrthogonal = true)
    {
        int n = DenseLinearAlgebra.CheckSquare(matrix, nameof(matrix));
        var h = (double[,])matrix.Clone();
        double[,]? q = null;
        if (computeOrthogonal)
        {
            q = new double[n, n];
            for (int i = 0; i < n; i++)
            {
                q[i, i] = 1;
            }
        }

        var v = new double[n];
        for (int k = 0; k < n - 2; k++)
        {
            if (Reflector(h, k, v) is not double alpha)
            {
                continue;
            }

            // H ← P·H (rows k+1..n−1, columns k..n−1).
            for (int j = k; j < n; j++)
            {
                double dot = 0;
                for (int i = k + 1; i < n; i++)
                {
                    dot += v[i] * h[i, j];
                }

                dot *= 2;
                for (int i = k + 1; i < n; i++)
                {
                    h[i, j] -= dot * v[i];
                }
            }

            // H ← H·P (all rows, columns k+1..n−1), and the same on Q.
            for (int i = 0; i < n; i++)
            {
                ApplyRight(h, i, k + 1, n, v);
                if (q is not null)
                {
                    ApplyRight(q, i, k + 1, n, v);
                }
            }

            h[k + 1, k] = alpha;
            for (int i = k + 2; i < n; i++)
            {
                h[i, k] = 0;
            }
        }

        return new HessenbergDecomposition(h, q);
    }

    /// <summary>
    /// The reflector P = I − 2vvᵀ (‖v‖ = 1) mapping h[k+1.., k] onto a multiple of e₁, written into <paramref name="v"/>;
    /// returns the new subdiagonal entry, or null when the column is already reduced.
    /// </summary>
    private static double? Reflector(double[,] h, int k, double[] v)
    {
        int n = h.GetLength(0);
        double scale = 0;
        for (int i = k + 1; i < n; i++)
        {
            scale = Math.Max(scale, Math.Abs(h[i, k]));
        }

        if (scale == 0)
        {
            return null;
        }

        double norm2 = 0;
        for (int i = k + 1; i < n; i++)
        {
            v[i] = h[i, k] / scale;
            norm2 += v[i] * v[i];
        }

        double alpha = Math.Sqrt(norm2);
        if (v[k + 1] > 0)
        {
            alpha = -alpha;
        }

        // v = x − αe₁ (α has the sign opposite to x₁: no cancellation).
        v[k + 1] -= alpha;
        double vnorm2 = norm2 - (2 * alpha * (v[k + 1] + alpha)) + (alpha * alpha);
        if (vnorm2 <= 0)
        {
            return null;
        }

        double inv = 1 / Math.Sqrt(vnorm2);
        for (int i = k + 1; i < n; i++)
        {
            v[i] *= inv;
        }

        return alpha * scale;
    }

    /// <summary>Whether every entry below the first subdiagonal is exactly zero.</summary>
    /// <param name="matrix">A square matrix.</param>
    /// <returns>True when <paramref name="matrix"/> is upper Hessenberg.</returns>
    public static bool IsUpperHessenberg(double[,] matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        int n = matrix.GetLength(0);
        for (int i = 2; i < n; i++)
        {
            for (int j = 0; j < i - 1; j++)
            {
                if (matrix[i, j] != 0)
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static void ApplyRight(double[,] m, int row, int start, int n, double[] v)
    {
        double dot = 0;
        for (int j = start; j < n; j++)
        {
            dot += m[row, j] * v[j];
        }

        dot *= 2;
        for (int j = start; j < n; j++)
        {
            m[row, j] -= dot * v[j];
        }
    }
}
