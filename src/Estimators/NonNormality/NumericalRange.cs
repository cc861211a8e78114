using SpectralMonitor.Estimators.Dense;

namespace SpectralMonitor.Estimators.NonNormality;

/// <summary>The numerical radius <c>r(A) = max{|xᴴAx| : ‖x‖ = 1} = max_θ λ_max(Re(e^{iθ}A))</c>.</summary>
/// <param name="Value"><c>r(A)</c>; <c>ρ(A) ≤ r(A) ≤ ‖A‖₂ ≤ 2r(A)</c>.</param>
/// <param name="Angle">The maximizing θ (in [0, π] for a real matrix, by conjugate symmetry).</param>
/// <param name="Convergence">
/// Converged when every <c>λ_max</c> evaluation met its tolerance (always for the dense path; restarted Lanczos may
/// stop at its restart cap) and the golden-section refinements met theirs. Iterations: <c>λ_max</c> evaluations;
/// operator applications: products with the <c>2n × 2n</c> embedding (0 on the dense path); no residual norms.
/// </param>
public sealed record NumericalRadiusResult(double Value, double Angle, ConvergenceInfo Convergence)
{
    /// <summary>How many <c>λ_max</c> evaluations the search used.</summary>
    public int Evaluations => Convergence.Iterations;
}

/// <summary>Numerical abscissa and numerical radius of a dense real matrix (the extent of its field of values).</summary>
public static class NumericalRange
{
    private const int DenseEigenLimit = 48;
    private const double GoldenTolerance = 1e-8;

    /// <summary>
    /// The numerical abscissa <c>ω(A) = λ_max((A + Aᵀ)/2)</c>: the initial growth rate of <c>‖e^{tA}‖</c>
    /// (MathNet's symmetric EVD).
    /// </summary>
    /// <param name="matrix">A square, finite matrix.</param>
    /// <returns><c>ω(A)</c>.</returns>
    /// <exception cref="ArgumentException">The matrix is empty, not square or not finite.</exception>
    public static double NumericalAbscissa(double[,] matrix)
    {
        int n = DenseLinearAlgebra.CheckSquare(matrix, nameof(matrix));
        var s = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                s[i, j] = 0.5 * (matrix[i, j] + matrix[j, i]);
            }
        }

        return DenseLinearAlgebra.LargestSymmetricEigenvalue(s);
    }

    /// <summary>
    /// The numerical radius by a global search over θ: <paramref name="gridPoints"/> equally spaced angles on [0, π]
    /// (enough for a real matrix, since <c>f(−θ) = f(θ)</c>), then golden-section refinement around each of the three
    /// best grid maxima. <c>λ_max</c> of the Hermitian <c>Re(e^{iθ}A)</c> is taken through its real symmetric
    /// <c>2n × 2n</c> embedding: a dense EVD for small <c>n</c>, restarted Lanczos otherwise.
    /// </summary>
    /// <param name="matrix">A square, finite matrix.</param>
    /// <param name="gridPoints">Angles on the grid, at least 8 (default 64).</param>
    /// <returns><c>r(A)</c> and the maximizing angle.</returns>
    /// <exception cref="ArgumentException">The matrix is invalid or <paramref name="gridPoints"/> is less than 8.</exception>
    public static NumericalRadiusResult NumericalRadius(double[,] matrix, int gridPoints = 64)
    {
        int n = DenseLinearAlgebra.CheckSquare(matrix, nameof(matrix));
        if (gridPoints < 8)
        {
            throw new ArgumentException($"gridPoints must be at least 8; got {gridPoints}.", nameof(gridPoints));
        }

        var sym = new double[n, n];
        var skew = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                sym[i, j] = 0.5 * (matrix[i, j] + matrix[j, i]);
                skew[i, j] = 0.5 * (matrix[i, j] - matrix[j, i]);
            }
        }

        double scale = Math.Max(DenseLinearAlgebra.FrobeniusNorm(matrix), double.Epsilon);
        using var lanczos = n > DenseEigenLimit ? new DenseSymmetricLanczos(2 * n) : null;
        int evaluations = 0;
        int unconverged = 0;
        long products = 0;
        double F(double theta)
        {
            evaluations++;
            double c = Math.Cos(theta);
            double s = Math.Sin(theta);
            if (lanczos is null)
            {
                return DenseLinearAlgebra.LargestSymmetricEigenvalue(Embedded(sym, skew, c, s));
            }

            var (value, converged) = lanczos.LargestEigenvalue(
                (x, y) =>
                {
                    products++;
                    EmbeddedProduct(sym, skew, c, s, n, x, y);
                },
                scale);
            unconverged += converged ? 0 : 1;
            return value;
        }

        var (best, bestAngle) = GlobalMaximum(F, gridPoints);
        var info = unconverged == 0
            ? new ConvergenceInfo(ConvergenceStatus.Converged, $"Grid of {gridPoints} angles refined by golden section to {GoldenTolerance:G3}; every λ_max converged.", 1, [], evaluations, products)
            : new ConvergenceInfo(ConvergenceStatus.MaxIterationsReached, $"{unconverged} of {evaluations} λ_max evaluations stopped at the Lanczos restart cap.", 0, [], evaluations, products);
        return new NumericalRadiusResult(Math.Max(best, 0), bestAngle, info);
    }

    /// <summary>
    /// max over θ ∈ [0, π] of <paramref name="f"/>: a grid, then golden-section refinement around the three best grid maxima.
    /// Returns the maximum and its angle in [0, π] (the angle is only meaningful modulo the symmetry).
    /// </summary>
    private static (double Best, double Angle) GlobalMaximum(Func<double, double> f, int gridPoints)
    {
        double step = Math.PI / (gridPoints - 1);
        var values = new double[gridPoints];
        for (int i = 0; i < gridPoints; i++)
        {
            values[i] = f(i * step);
        }

        // Local maxima of the grid; the ends reflect (f is even about 0 and about π for a real matrix).
        var maxima = new List<int>();
        for (int i = 0; i < gridPoints; i++)
        {
            double left = i > 0 ? values[i - 1] : values[1];
            double right = i + 1 < gridPoints ? values[i + 1] : values[gridPoints - 2];
            if (values[i] >= left && values[i] >= right)
            {
                maxima.Add(i);
            }
        }

        maxima.Sort((p, q) => values[q].CompareTo(values[p]));
        double best = double.NegativeInfinity;
        double bestAngle = 0;
        foreach (int i in maxima.Take(3))
        {
            var (value, angle) = GoldenSection(f, (i - 1) * step, (i + 1) * step);
            if (values[i] > value)
            {
                (value, angle) = (values[i], i * step);
            }

            if (value > best)
            {
                (best, bestAngle) = (value, angle);
            }
        }

        bestAngle = Math.Abs(bestAngle);
        return (best, bestAngle > Math.PI ? (2 * Math.PI) - bestAngle : bestAngle);
    }

    /// <summary>The real symmetric <c>2n × 2n</c> embedding <c>[[cS, −sT], [sT, cS]]</c> of the Hermitian <c>cS + i·sT</c>.</summary>
    private static double[,] Embedded(double[,] sym, double[,] skew, double c, double s)
    {
        int n = sym.GetLength(0);
        var embedded = new double[2 * n, 2 * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                embedded[i, j] = c * sym[i, j];
                embedded[n + i, n + j] = c * sym[i, j];
                embedded[i, n + j] = -s * skew[i, j];
                embedded[n + i, j] = s * skew[i, j];
            }
        }

        return embedded;
    }

    private static void EmbeddedProduct(double[,] sym, double[,] skew, double c, double s, int n, double[] x, double[] y)
    {
        // [[cS, −sT], [sT, cS]]·[u; v] for the real embedding of cS + i·sT.
        for (int i = 0; i < n; i++)
        {
            double top = 0;
            double bottom = 0;
            for (int j = 0; j < n; j++)
            {
                double sij = sym[i, j];
                double tij = skew[i, j];
                double u = x[j];
                double v = x[n + j];
                top += (c * sij * u) - (s * tij * v);
                bottom += (s * tij * u) + (c * sij * v);
            }

            y[i] = top;
            y[n + i] = bottom;
        }
    }

    private static (double Value, double X) GoldenSection(Func<double, double> f, double a, double b)
    {
        double ratio = (Math.Sqrt(5) - 1) / 2;
        double x1 = b - (ratio * (b - a));
        double x2 = a + (ratio * (b - a));
        double f1 = f(x1);
        double f2 = f(x2);
        while (b - a > GoldenTolerance * (1 + Math.Abs(a)))
        {
            if (f1 >= f2)
            {
                b = x2;
                x2 = x1;
                f2 = f1;
                x1 = b - (ratio * (b - a));
                f1 = f(x1);
            }
            else
            {
                a = x1;
                x1 = x2;
                f1 = f2;
                x2 = a + (ratio * (b - a));
                f2 = f(x2);
            }
        }

        return f1 >= f2 ? (f1, x1) : (f2, x2);
    }
}
