using SpectralMonitor.Estimators.Cpu;
using SpectralMonitor.Estimators.Dense;
using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Estimators.NonNormality;

/// <summary>The top singular value of a matrix by power iteration.</summary>
/// <param name="Value">‖W‖₂ estimated as ‖W·v‖ for the last unit iterate <c>v</c>: a lower bound that converges from below.</param>
/// <param name="Convergence">
/// Iterations and products (one <c>W</c> and one <c>Wᵀ</c> per iteration); the residual is the relative residual of the
/// last iterate as an eigenvector of <c>WᵀW</c>, <c>‖WᵀW·v − σ²v‖ / σ²</c>. The status is Converged when it is at most
/// the tolerance (the iteration then stopped), MaxIterationsReached when the iteration count ran out first (which a
/// warm-started monitor accepts), NonFiniteOperatorOutput on a non-finite product.
/// </param>
public sealed record SingularValueEstimate(double Value, ConvergenceInfo Convergence);

/// <summary>
/// Top singular values and stable ranks of (weight) matrices without decomposing them: Lanczos or power iteration on
/// <c>WᵀW</c> through <see cref="IHostMatrix"/> products, warm-started from the previous right singular vector.
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
    /// Runs power iterations on <c>WᵀW</c> from <paramref name="rightVector"/> until the relative residual
    /// <c>r = ‖WᵀW·v − σ²v‖ / σ²</c> of the iterate is at most <paramref name="tolerance"/>, or
    /// <paramref name="iterations"/> have run. <paramref name="rightVector"/> is overwritten with the next unit iterate
    /// (the warm start of the next call).
    /// </summary>
    /// <remarks>
    /// The residual costs no product: it is formed from the <c>Wᵀ(Wv)</c> that the next iterate needs anyway. For the
    /// symmetric <c>WᵀW</c> it bounds the error of the estimate: σ² lies within <c>r·σ²</c> of an eigenvalue of
    /// <c>WᵀW</c>, so σ lies within about <c>r/2</c> (relative) of a singular value of <c>W</c>, and within
    /// <c>r²σ²/gap</c> in σ² where the gap to the rest of the spectrum is known. Where the top singular values lie close
    /// together the iteration converges slowly; <see cref="TopByLanczos"/> is the better method there.
    /// </remarks>
    /// <param name="matrix">The matrix <c>W</c>.</param>
    /// <param name="rightVector">The start vector, length <see cref="IHostMatrix.Columns"/>; non-zero.</param>
    /// <param name="iterations">The most power iterations to run (≥ 1).</param>
    /// <param name="tolerance">The relative residual at which the iteration stops (≥ 0; 0 runs every iteration unless the residual is exactly 0).</param>
    /// <exception cref="ArgumentException"><paramref name="rightVector"/> has the wrong length, <paramref name="iterations"/> is less than 1, or <paramref name="tolerance"/> is negative or not finite.</exception>
    public static SingularValueEstimate Top(IHostMatrix matrix, double[] rightVector, int iterations, double tolerance = 1e-6)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        ArgumentNullException.ThrowIfNull(rightVector);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        if (!double.IsFinite(tolerance) || tolerance < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "The tolerance must be finite and at least 0.");
        }

        if (rightVector.Length != matrix.Columns)
        {
            throw new ArgumentException($"rightVector has length {rightVector.Length}; the matrix has {matrix.Columns} columns.", nameof(rightVector));
        }

        var u = new double[matrix.Rows];
        var v = new double[matrix.Columns];
        double sigma = 0;
        double residual = double.NaN;
        int done = 0;
        while (done < iterations)
        {
            DenseVector.Normalize(rightVector);
            rightVector.CopyTo(v, 0);
            matrix.Multiply(v, u);
            sigma = DenseVector.Norm(u);
            done++;
            if (sigma == 0 || !double.IsFinite(sigma))
            {
                break;
            }

            // rightVector ← WᵀW·v; its distance from σ²v is the residual, and normalized it is the next iterate.
            matrix.MultiplyTranspose(u, rightVector);
            double squared = sigma * sigma;
            double sum = 0;
            for (int i = 0; i < v.Length; i++)
            {
                double d = rightVector[i] - (squared * v[i]);
                sum += d * d;
            }

            residual = Math.Sqrt(sum) / squared;
            if (!double.IsFinite(residual) || residual <= tolerance)
            {
                break;
            }
        }

        if (sigma == 0 || !double.IsFinite(sigma) || !double.IsFinite(DenseVector.Normalize(rightVector)))
        {
            // No usable next iterate: keep the last unit vector as the warm start.
            v.CopyTo(rightVector, 0);
        }

        return new SingularValueEstimate(sigma, Info(sigma, residual, done, tolerance));
    }

    /// <summary>
    /// The top singular value by Lanczos on <c>WᵀW</c> (host vectors of length <see cref="IHostMatrix.Columns"/>),
    /// warm-started from <paramref name="rightVector"/>, which is overwritten with the new top right singular vector.
    /// </summary>
    /// <remarks>
    /// <para>Where the top singular values lie close together, as they do in a randomly initialized layer (the edge of
    /// its Marchenko–Pastur spectrum), power iteration converges like <c>(σ₂/σ₁)^(2k)</c> and needs hundreds of
    /// iterations; Lanczos needs about the square root of that. It stops on the residual of the top Ritz pair
    /// (<see cref="LanczosStoppingRule.Residual"/>): <c>‖WᵀW·x − θx‖ ≤ tolerance·θ</c>, so <c>σ² = θ</c> lies within
    /// <c>tolerance·σ²</c> of an eigenvalue of <c>WᵀW</c> and σ within about half the tolerance (relative) of a singular
    /// value of <c>W</c>, which from a warm start near the top vector is the top one. Lanczos's eigenvalue-error
    /// estimate is not used: at a clustered top it stops before the Krylov space has found the cluster's top member
    /// (relative errors up to 6e-3 at a requested 1e-3, measured on a trained MLP's layers; RESULTS.md "probe-cost").
    /// Like every Ritz value of the top end, the estimate is a lower bound.</para>
    /// <para>Cost: at most <paramref name="maxSteps"/> products with <c>W</c> and as many with <c>Wᵀ</c>, and a
    /// Krylov basis of at most 16 host vectors of length <see cref="IHostMatrix.Columns"/>.</para>
    /// </remarks>
    /// <param name="matrix">The matrix <c>W</c>.</param>
    /// <param name="rightVector">The warm start, length <see cref="IHostMatrix.Columns"/> (a zero vector means a cold start).</param>
    /// <param name="maxSteps">The most Lanczos steps, each one product with <c>WᵀW</c> (≥ 1).</param>
    /// <param name="tolerance">The relative residual of the top Ritz pair of <c>WᵀW</c> at which it stops, in (0, 1).</param>
    /// <param name="seed">Seed of the random start (and of the small random part of a warm start).</param>
    /// <param name="cancellationToken">Checked before every product with <c>WᵀW</c>; a cancelled solve reports <see cref="ConvergenceStatus.Cancelled"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="rightVector"/> has the wrong length, <paramref name="maxSteps"/> is less than 1, or <paramref name="tolerance"/> is outside (0, 1).</exception>
    public static SingularValueEstimate TopByLanczos(IHostMatrix matrix, double[] rightVector, int maxSteps, double tolerance, int seed = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        ArgumentNullException.ThrowIfNull(rightVector);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSteps, 1);
        if (!(tolerance > 0 && tolerance < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "The tolerance must be in (0, 1).");
        }

        if (rightVector.Length != matrix.Columns)
        {
            throw new ArgumentException($"rightVector has length {rightVector.Length}; the matrix has {matrix.Columns} columns.", nameof(rightVector));
        }

        var space = new CpuVectorSpace<double>(matrix.Columns);
        var u = new double[matrix.Rows];
        var gram = new DelegateOperator<double[]>(
            space,
            (x, y) =>
            {
                matrix.Multiply(x, u);
                matrix.MultiplyTranspose(u, y);
            },
            isSymmetric: true);
        var options = new LanczosOptions
        {
            Count = 1,
            Which = EigenvalueSelection.LargestAlgebraic,
            KrylovDimension = Math.Min(matrix.Columns, 16),
            Tolerance = tolerance,
            StoppingRule = LanczosStoppingRule.Residual,
            MaxApplications = maxSteps,
            Seed = seed,
        };
        using var vectors = space.CreateBasis(1);
        bool warm = DenseVector.Norm(rightVector) is > 0 and < double.PositiveInfinity;
        var result = Lanczos.Solve(gram, options, warm ? [rightVector] : null, vectors, cancellationToken);
        long steps = gram.Applications;
        var info = result.Convergence with { Iterations = (int)steps, OperatorApplications = 2 * steps };
        if (result.Eigenvalues.Count == 0 || !double.IsFinite(result.Eigenvalues[0]))
        {
            // Cancelled, or a non-finite product: no estimate (the warm start is left as it was).
            var status = info.Status is ConvergenceStatus.Converged or ConvergenceStatus.MaxIterationsReached ? ConvergenceStatus.NonFiniteOperatorOutput : info.Status;
            return new SingularValueEstimate(double.NaN, info with { Status = status, ConvergedCount = 0 });
        }

        if (vectors.Count > 0)
        {
            vectors[0].CopyTo(rightVector, 0);
        }

        // A Ritz value of WᵀW is ≥ 0 up to rounding; a zero matrix gives exactly 0.
        double lambda = Math.Max(0, result.Eigenvalues[0]);
        return new SingularValueEstimate(Math.Sqrt(lambda), info);
    }

    /// <summary>The stable rank <c>‖W‖²_F / ‖W‖²₂</c> (NaN when the top singular value is 0).</summary>
    /// <param name="frobeniusNormSquared">‖W‖²_F.</param>
    /// <param name="topSingularValue">‖W‖₂.</param>
    public static double StableRank(double frobeniusNormSquared, double topSingularValue) =>
        topSingularValue > 0 ? frobeniusNormSquared / (topSingularValue * topSingularValue) : double.NaN;

    private static ConvergenceInfo Info(double sigma, double residual, int iterations, double tolerance)
    {
        long products = (2L * iterations) - (sigma == 0 || !double.IsFinite(sigma) ? 1 : 0);
        if (!double.IsFinite(sigma) || (sigma > 0 && !double.IsFinite(residual)))
        {
            return new ConvergenceInfo(ConvergenceStatus.NonFiniteOperatorOutput, "The product W·v or Wᵀ(W·v) is not finite.", 0, [residual], iterations, products);
        }

        if (sigma == 0)
        {
            return new ConvergenceInfo(ConvergenceStatus.Converged, "W maps the iterate to zero: ‖W‖ is estimated as 0.", 1, [0], iterations, products);
        }

        return residual <= tolerance
            ? new ConvergenceInfo(ConvergenceStatus.Converged, $"Relative residual {residual:G3} ≤ {tolerance:G3} after {iterations} power iteration(s).", 1, [residual], iterations, products)
            : new ConvergenceInfo(ConvergenceStatus.MaxIterationsReached, $"{iterations} power iterations; relative residual {residual:G3} > {tolerance:G3}.", 0, [residual], iterations, products);
    }
}
