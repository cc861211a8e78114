using SpectralMonitor.Estimators.Dense;

namespace SpectralMonitor.Estimators.NonNormality;

/// <summary>Henrici's departure from normality <c>dep(A) = √(‖A‖²_F − Σ|λᵢ|²)</c>.</summary>
/// <param name="Value"><c>dep(A) ≥ 0</c>; zero exactly for normal matrices (up to rounding of order <c>√(n·ε)·‖A‖_F</c>).</param>
/// <param name="Relative"><c>dep(A)/‖A‖_F</c> in [0, 1] (0 for the zero matrix).</param>
/// <param name="FrobeniusNorm"><c>‖A‖_F</c>.</param>
public sealed record HenriciResult(double Value, double Relative, double FrobeniusNorm);

/// <summary>A Hutchinson estimate of the normalized self-commutator <c>‖AᵀA − AAᵀ‖_F / ‖A‖²_F</c>.</summary>
/// <param name="Value">The estimate <c>√(mean ‖Mz‖²) / mean ‖Az‖²</c> with <c>M = AᵀA − AAᵀ</c> and Rademacher probes <c>z</c>.</param>
/// <param name="StandardError">Delta-method standard error of <see cref="Value"/> from the sample (co)variances; NaN with one probe.</param>
/// <param name="CommutatorNormSquared">The estimate of <c>‖M‖²_F</c>.</param>
/// <param name="FrobeniusNormSquared">The estimate of <c>‖A‖²_F</c> (from the same probes: <c>E‖Az‖² = ‖A‖²_F</c>).</param>
/// <param name="Probes">Number of probes.</param>
/// <param name="OperatorApplications">Applications of <c>A</c> and <c>Aᵀ</c> (4 per probe).</param>
public sealed record CommutatorEstimate(
    double Value,
    double StandardError,
    double CommutatorNormSquared,
    double FrobeniusNormSquared,
    int Probes,
    long OperatorApplications)
{
    /// <summary>The estimate's quality: finite or not, its standard error as the residual, probes as iterations.</summary>
    public ConvergenceInfo Convergence => ConvergenceInfo.ForSampleMean(Value, StandardError, Probes, OperatorApplications);
}

/// <summary>Scalar measures of how far a matrix is from normal (<c>AᵀA = AAᵀ</c>).</summary>
public static class DepartureFromNormality
{
    /// <summary>Henrici's departure from normality of a dense matrix (eigenvalues by MathNet's EVD).</summary>
    /// <param name="matrix">A square, finite matrix.</param>
    /// <returns>The departure, absolute and relative to <c>‖A‖_F</c>.</returns>
    /// <exception cref="ArgumentException">The matrix is empty, not square or not finite.</exception>
    public static HenriciResult Henrici(double[,] matrix)
    {
        DenseLinearAlgebra.CheckSquare(matrix, nameof(matrix));
        double frobenius = DenseLinearAlgebra.FrobeniusNorm(matrix);
        if (frobenius == 0)
        {
            return new HenriciResult(0, 0, 0);
        }

        double sum = 0;
        foreach (var lambda in DenseLinearAlgebra.RealEigenvalues(matrix))
        {
            double m = lambda.Magnitude / frobenius;
            sum += m * m;
        }

        // Schur: ‖A‖²_F = Σ|λᵢ|² + ‖N‖²_F; rounding can push the difference slightly below zero.
        double relative = Math.Sqrt(Math.Max(0, 1 - sum));
        return new HenriciResult(relative * frobenius, relative, frobenius);
    }

    /// <summary>The exact normalized commutator <c>‖AᵀA − AAᵀ‖_F / ‖A‖²_F</c> of a dense matrix (0 for the zero matrix).</summary>
    /// <param name="matrix">A square, finite matrix.</param>
    /// <returns>The normalized commutator, in [0, √2].</returns>
    /// <exception cref="ArgumentException">The matrix is empty, not square or not finite.</exception>
    public static double NormalizedCommutator(double[,] matrix)
    {
        int n = DenseLinearAlgebra.CheckSquare(matrix, nameof(matrix));
        double frobenius = DenseLinearAlgebra.FrobeniusNorm(matrix);
        if (frobenius == 0)
        {
            return 0;
        }

        var scaled = new double[n, n];
        var transposed = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                scaled[i, j] = matrix[i, j] / frobenius;
                transposed[j, i] = scaled[i, j];
            }
        }

        var ata = DenseLinearAlgebra.Multiply(transposed, scaled);
        var aat = DenseLinearAlgebra.Multiply(scaled, transposed);
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                ata[i, j] -= aat[i, j];
            }
        }

        return DenseLinearAlgebra.FrobeniusNorm(ata);
    }

    /// <summary>
    /// Matrix-free normalized commutator by Hutchinson probes: for Rademacher <c>z</c>, <c>E‖Mz‖² = ‖M‖²_F</c> with
    /// <c>Mz = Aᵀ(Az) − A(Aᵀz)</c> (4 applications per probe) and <c>E‖Az‖² = ‖A‖²_F</c> from the same <c>Az</c>.
    /// The relative standard deviation of the <c>‖M‖²_F</c> estimate is at most <c>√(2/probes)</c>.
    /// </summary>
    /// <typeparam name="TVec">The backend's vector type.</typeparam>
    /// <param name="operator">The operator; must support <see cref="LinearOperator{TVec}.ApplyTranspose"/>.</param>
    /// <param name="probes">Number of probes, at least 1.</param>
    /// <param name="seed">Seed of the first probe (probe <c>p</c> uses <c>seed + p</c>).</param>
    /// <param name="cancellationToken">Stops between probes; the estimate then uses the probes done (at least one).</param>
    /// <returns>The estimate and its standard error.</returns>
    /// <exception cref="ArgumentException"><paramref name="probes"/> is less than 1.</exception>
    /// <exception cref="NotSupportedException">The operator has no transpose.</exception>
    public static CommutatorEstimate NormalizedCommutator<TVec>(LinearOperator<TVec> @operator, int probes, int seed = 1, CancellationToken cancellationToken = default)
        where TVec : class
    {
        ArgumentNullException.ThrowIfNull(@operator);
        if (probes < 1)
        {
            throw new ArgumentException($"probes must be at least 1; got {probes}.", nameof(probes));
        }

        if (!@operator.SupportsTranspose)
        {
            throw new NotSupportedException($"The commutator AᵀA − AAᵀ needs ApplyTranspose; {@operator.GetType().Name} does not support it.");
        }

        var space = @operator.Space;
        var z = space.CreateVector();
        var az = space.CreateVector();
        var t = space.CreateVector();
        var u = space.CreateVector();
        var commutator = new List<double>(probes);
        var frobenius = new List<double>(probes);
        long applications = 0;
        try
        {
            for (int p = 0; p < probes; p++)
            {
                if (p > 0 && cancellationToken.IsCancellationRequested)
                {
                    break;
                }

                space.FillRandom(z, RandomKind.Rademacher, seed + p);
                @operator.Apply(z, az);
                double azNorm = space.Norm(az);
                @operator.ApplyTranspose(az, t);
                @operator.ApplyTranspose(z, u);
                @operator.Apply(u, az);
                applications += 4;
                space.Axpy(-1, az, t);
                double mzNorm = space.Norm(t);
                commutator.Add(mzNorm * mzNorm);
                frobenius.Add(azNorm * azNorm);
            }
        }
        finally
        {
            space.Release(z);
            space.Release(az);
            space.Release(t);
            space.Release(u);
        }

        return Estimate(commutator, frobenius, applications);
    }

    /// <summary>√(mean ‖[A, Aᵀ]z‖²) / mean ‖Az‖² with its delta-method standard error over the probes.</summary>
    private static CommutatorEstimate Estimate(List<double> commutator, List<double> frobenius, long applications)
    {
        int count = commutator.Count;
        double c = commutator.Average();
        double f = frobenius.Average();
        if (f == 0 || !double.IsFinite(c) || !double.IsFinite(f))
        {
            double degenerate = f == 0 && c == 0 ? 0 : double.NaN;
            return new CommutatorEstimate(degenerate, double.NaN, c, f, count, applications);
        }

        double value = Math.Sqrt(c) / f;
        double standardError = double.NaN;
        if (count > 1)
        {
            double varC = 0;
            double varF = 0;
            double cov = 0;
            for (int i = 0; i < count; i++)
            {
                varC += (commutator[i] - c) * (commutator[i] - c);
                varF += (frobenius[i] - f) * (frobenius[i] - f);
                cov += (commutator[i] - c) * (frobenius[i] - f);
            }

            varC /= count - 1;
            varF /= count - 1;
            cov /= count - 1;

            // g(C, F) = √C / F: ∂g/∂C = g/(2C), ∂g/∂F = −g/F; variance of the means is the sample variance / count.
            double relativeVariance = c == 0
                ? 0
                : ((varC / (4 * c * c)) + (varF / (f * f)) - (cov / (c * f))) / count;
            standardError = value * Math.Sqrt(Math.Max(0, relativeVariance));
        }

        return new CommutatorEstimate(value, standardError, c, f, count, applications);
    }
}
