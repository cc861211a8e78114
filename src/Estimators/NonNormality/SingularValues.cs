using SpectralMonitor.Estimators.Dense;

namespace SpectralMonitor.Estimators.NonNormality;

/// <summary>The top singular value of a matrix by power iteration.</summary>
/// <param name="Value">‖W‖₂ estimated as ‖W·v‖ for the final unit iterate <c>v</c>: a lower bound that converges from below.</param>
/// <param name="Convergence">
/// Iterations and products (one <c>W</c> and one <c>Wᵀ</c> per iteration); the residual is the relative change of the
/// estimate over the last iteration, and the status is Converged when it is at most the tolerance (otherwise the fixed
/// iteration count ran out first, which a warm-started monitor accepts), NonFiniteOperatorOutput on a non-finite product.
/// </param>
public sealed record SingularValueEstimate(double Value, ConvergenceInfo Convergence);

/// <summary>
/// Top singular values and stable ranks of (weight) matrices without decomposing them: power iteration on <c>WᵀW</c>
/// through <see cref="IHostMatrix"/> products, warm-started from the previous right singular vector.
/// </summary>
public static class SingularValues
{
    /// <summary>A reproducible start vector of length <paramref name="columns"/> (uniform entries in [−½, ½)).</summary>
    /// <param name="columns">The matrix's column count.</param>
    /// <param name="seed">Seed of the generator.</param>
    public static double[] StartVector(int columns, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        var v = new double[columns];
        var random = new Random(seed);
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = random.NextDouble() - 0.5;
        }

        return v;
    }

    /// <summary>
    /// Runs <paramref name="iterations"/> power iterations on <c>WᵀW</c> from <paramref name="rightVector"/>, which is
    /// overwritten with the final unit iterate (the warm start of the next call).
    /// </summary>
    /// <param name="matrix">The matrix <c>W</c>.</param>
    /// <param name="rightVector">The start vector, length <see cref="IHostMatrix.Columns"/>; non-zero.</param>
    /// <param name="iterations">Power iterations (≥ 1).</param>
    /// <param name="tolerance">Relative change of the estimate below which the result counts as converged.</param>
    /// <exception cref="ArgumentException"><paramref name="rightVector"/> has the wrong length, or <paramref name="iterations"/> is less than 1.</exception>
    public static SingularValueEstimate Top(IHostMatrix matrix, double[] rightVector, int iterations, double tolerance = 1e-6)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        ArgumentNullException.ThrowIfNull(rightVector);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        if (rightVector.Length != matrix.Columns)
        {
            throw new ArgumentException($"rightVector has length {rightVector.Length}; the matrix has {matrix.Columns} columns.", nameof(rightVector));
        }

        var u = new double[matrix.Rows];
        double sigma = 0;
        double change = double.NaN;
        int done = 0;
        while (done < iterations)
        {
            DenseVector.Normalize(rightVector);
            matrix.Multiply(rightVector, u);
            double next = DenseVector.Norm(u);
            change = Math.Abs(next - sigma) / next;
            sigma = next;
            done++;
            if (sigma == 0 || !double.IsFinite(sigma))
            {
                break;
            }

            matrix.MultiplyTranspose(u, rightVector);
        }

        DenseVector.Normalize(rightVector);
        return new SingularValueEstimate(sigma, Info(sigma, change, done, tolerance));
    }

    /// <summary>The stable rank <c>‖W‖²_F / ‖W‖²₂</c> (NaN when the top singular value is 0).</summary>
    /// <param name="frobeniusNormSquared">‖W‖²_F.</param>
    /// <param name="topSingularValue">‖W‖₂.</param>
    public static double StableRank(double frobeniusNormSquared, double topSingularValue) =>
        topSingularValue > 0 ? frobeniusNormSquared / (topSingularValue * topSingularValue) : double.NaN;

    private static ConvergenceInfo Info(double sigma, double change, int iterations, double tolerance)
    {
        long products = (2L * iterations) - (sigma == 0 || !double.IsFinite(sigma) ? 1 : 0);
        if (!double.IsFinite(sigma))
        {
            return new ConvergenceInfo(ConvergenceStatus.NonFiniteOperatorOutput, "The product W·v is not finite.", 0, [change], iterations, products);
        }

        if (sigma == 0)
        {
            return new ConvergenceInfo(ConvergenceStatus.Converged, "W maps the iterate to zero: ‖W‖ is estimated as 0.", 1, [0], iterations, products);
        }

        return change <= tolerance
            ? new ConvergenceInfo(ConvergenceStatus.Converged, $"Relative change {change:G3} ≤ {tolerance:G3}.", 1, [change], iterations, products)
            : new ConvergenceInfo(ConvergenceStatus.MaxIterationsReached, $"{iterations} power iterations; relative change {change:G3} > {tolerance:G3}.", 0, [change], iterations, products);
    }
}
