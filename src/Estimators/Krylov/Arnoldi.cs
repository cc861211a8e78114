using System.Numerics;
using SpectralMonitor.Estimators.Dense;

namespace SpectralMonitor.Estimators.Krylov;

/// <summary>Options of <see cref="Arnoldi.Solve"/>: <see cref="EigenvalueSelection.LargestMagnitude"/> (default) or
/// <see cref="EigenvalueSelection.LargestRealPart"/>; the other selections are rejected.</summary>
public sealed record ArnoldiOptions : KrylovEigenOptions
{
    /// <summary>Creates the default options.</summary>
    public ArnoldiOptions() => Which = EigenvalueSelection.LargestMagnitude;

    internal override int Resolve(int n, string parameterName)
    {
        if (Which is not (EigenvalueSelection.LargestMagnitude or EigenvalueSelection.LargestRealPart))
        {
            throw new ArgumentException(
                $"ArnoldiOptions.Which is {Which}; Arnoldi supports only LargestMagnitude and LargestRealPart (use Lanczos for the other selections of a symmetric operator).",
                parameterName);
        }

        int m = KrylovOptionChecks.ResolveKrylovDimension(nameof(ArnoldiOptions), parameterName, n, Count, KrylovDimension, Tolerance, MaxRestarts, MaxApplications);
        if (m < Count + 2 && m != n)
        {
            throw new ArgumentException(
                $"ArnoldiOptions.KrylovDimension is {m}; it must be at least Count + 2 = {Count + 2} (so that a complex-conjugate pair is never split at a restart) or equal to the operator dimension {n}.",
                parameterName);
        }

        return m;
    }
}

/// <summary>Eigenvalues of a general operator from a Krylov–Schur Arnoldi run, with the final projected problem.</summary>
/// <param name="Eigenvalues">The wanted Ritz values, ordered by <see cref="KrylovEigenOptions.Which"/> (conjugate pairs adjacent, positive imaginary part first).</param>
/// <param name="ProjectedMatrix">
/// <c>S = QᵀAQ</c> (<c>j × j</c>, double) of the final factorization, <c>Q</c> the final orthonormal basis
/// (<c>j = m</c> unless the method stopped early).
/// </param>
/// <param name="RitzCoordinates">
/// <c>j × k</c>: column <c>i</c> is the unit-norm eigenvector <c>y</c> of <see cref="ProjectedMatrix"/> for
/// <c>Eigenvalues[i]</c>, so that Ritz vector <c>i</c> is <c>Q·y</c> (unit norm, because <c>Q</c> is orthonormal).
/// </param>
/// <param name="Convergence">Status, residual norms <c>‖A·Q·y − λ·Q·y‖</c> (same order), restarts, operator applications.</param>
public sealed record ArnoldiResult(
    IReadOnlyList<Complex> Eigenvalues,
    double[,] ProjectedMatrix,
    Complex[,] RitzCoordinates,
    ConvergenceInfo Convergence);

/// <summary>Arnoldi with Krylov–Schur restarts (Stewart 2001) for general (non-symmetric) operators.</summary>
public static class Arnoldi
{
    /// <summary>Computes <see cref="KrylovEigenOptions.Count"/> eigenvalues of <paramref name="op"/>.</summary>
    /// <typeparam name="TVec">The backend's vector type.</typeparam>
    /// <param name="op">The operator (only <see cref="LinearOperator{TVec}.Apply"/> is used).</param>
    /// <param name="options">What to compute and when to stop.</param>
    /// <param name="startVector">The start vector (not modified); Gaussian from <see cref="KrylovEigenOptions.Seed"/> when null. A zero start vector gives <see cref="ConvergenceStatus.Breakdown"/>.</param>
    /// <param name="basis">When given, cleared and filled with the final orthonormal basis <c>Q</c> (its capacity must be at least the Krylov dimension).</param>
    /// <param name="cancellationToken">Checked before every operator application.</param>
    /// <returns>The eigenvalues, the final projected problem and how they were obtained. Non-convergence is a status, never thrown.</returns>
    /// <exception cref="ArgumentException">An option is invalid, the start vector is not of the operator's space, or <paramref name="basis"/> is too small.</exception>
    public static ArnoldiResult Solve<TVec>(
        LinearOperator<TVec> op,
        ArnoldiOptions options,
        TVec? startVector = null,
        IBasis<TVec>? basis = null,
        CancellationToken cancellationToken = default)
        where TVec : class
    {
        int m = KrylovOptionChecks.Resolve(op, options);
        int k = options.Count;
        int n = op.Dimension;
        var space = op.Space;
        if (startVector is not null && !space.IsCompatible(startVector))
        {
            throw new ArgumentException($"The start vector is not a vector of the operator's space (dimension {n}).", nameof(startVector));
        }

        if (basis is not null && basis.Capacity < m)
        {
            throw new ArgumentException($"The basis has capacity {basis.Capacity}; at least the Krylov dimension {m} is needed.", nameof(basis));
        }

        using var factorization = new KrylovSchurFactorization<TVec>(op, m, symmetric: false);
        var failure = Start(factorization, startVector, options.Seed);
        if (failure is not null)
        {
            basis?.Truncate(0);
            return new ArnoldiResult([], new double[0, 0], new Complex[0, 0], failure);
        }

        var outcome = KrylovSchurDriver.Run(
            factorization,
            KrylovSchurLimits.From(options),
            f => Analyze(f, options),
            ritz => RestartBasis(ritz, k, m),
            cancellationToken);
        return Finish(factorization, outcome, basis);
    }

    /// <summary>Initializes the factorization from the start vector (Gaussian when null); returns the failure, or null.</summary>
    private static ConvergenceInfo? Start<TVec>(KrylovSchurFactorization<TVec> factorization, TVec? startVector, int seed)
        where TVec : class
    {
        FactorizationStatus initial;
        if (startVector is null)
        {
            var space = factorization.Space;
            var random = space.CreateVector();
            try
            {
                space.FillRandom(random, RandomKind.Gaussian, seed);
                initial = factorization.Initialize(random);
            }
            finally
            {
                space.Release(random);
            }
        }
        else
        {
            initial = factorization.Initialize(startVector);
        }

        return KrylovSchurDriver.StartFailure(initial, "The start vector is zero: there is no Krylov space to build.", "The start vector has non-finite entries.");
    }

    /// <summary>
    /// An orthonormal real basis of the invariant subspace of the kept Ritz values: reorder the Schur form so that
    /// they come first, then take the <c>p</c> dominant left singular vectors of <c>[Re Z_p, Im Z_p]</c> (the kept set
    /// is closed under conjugation, so that real span has dimension exactly <c>p</c>).
    /// </summary>
    private static double[,] RestartBasis(RitzAnalysis ritz, int k, int m)
    {
        int keep = KrylovOptionChecks.KeepCount(k, m);
        var order = ritz.Order;
        if (ritz.Partner[order[keep - 1]] == order[keep])
        {
            // The last kept value's conjugate would be dropped: keep the pair whole.
            keep = keep + 1 <= m - 1 ? keep + 1 : keep - 1;
        }

        var selected = new bool[m];
        for (int i = 0; i < keep; i++)
        {
            selected[order[i]] = true;
        }

        return ComplexSchur.RealInvariantSubspace(ritz.Schur!, selected);
    }

    private static RitzAnalysis Analyze<TVec>(KrylovSchurFactorization<TVec> factorization, ArnoldiOptions options)
        where TVec : class
    {
        int j = factorization.Size;
        if (j == 0)
        {
            return new RitzAnalysis(null, [], [], [], new double[0, 0], new Complex[0, 0], [], [], 0);
        }

        var s = factorization.ProjectedMatrix();
        var b = factorization.ResidualCoupling();
        var schur = ComplexSchur.Decompose(s);
        var values = schur.Eigenvalues();
        var order = RitzSelection.RankComplex(values, options.Which);
        var partner = Partners(values, order);
        if (!schur.Converged)
        {
            return new RitzAnalysis(schur, values, order, partner, s, new Complex[j, 0], [], [], 0)
            {
                Failure = $"The QR iteration on the {j} × {j} projected matrix did not converge.",
            };
        }

        double normS = 0;
        for (int r = 0; r < j; r++)
        {
            for (int c = 0; c < j; c++)
            {
                normS += s[r, c] * s[r, c];
            }
        }

        normS = Math.Sqrt(normS);
        int reported = Math.Min(options.Count, j);
        var coordinates = new Complex[j, reported];
        var residuals = new double[reported];
        var converged = new bool[reported];
        int convergedCount = 0;
        for (int w = 0; w < reported; w++)
        {
            var y = SchurEigenvector(schur, order[w], normS);
            Complex projection = Complex.Zero;
            for (int t = 0; t < j; t++)
            {
                coordinates[t, w] = y[t];
                projection += b[t] * y[t];
            }

            residuals[w] = Complex.Abs(projection);
            converged[w] = residuals[w] <= options.Tolerance * Math.Max(Complex.Abs(values[order[w]]), normS * Precision.MachineEpsilon);
            convergedCount += converged[w] ? 1 : 0;
        }

        return new RitzAnalysis(schur, values, order, partner, s, coordinates, residuals, converged, convergedCount);
    }

    /// <summary>Unit eigenvector <c>Z·w</c> of <c>S = Z·T·Zᴴ</c> for the diagonal entry <paramref name="index"/>, by back substitution on <c>T</c>.</summary>
    private static Complex[] SchurEigenvector(ComplexSchurDecomposition schur, int index, double norm)
    {
        var t = schur.T;
        int j = t.GetLength(0);
        var lambda = t[index, index];
        var w = new Complex[j];
        w[index] = Complex.One;

        // A (near-)repeated eigenvalue makes T[r, r] − λ tiny: perturb it to ε·‖S‖ as LAPACK's ztrevc does.
        double smallest = Math.Max(norm * Precision.MachineEpsilon, double.Epsilon);
        for (int r = index - 1; r >= 0; r--)
        {
            Complex sum = Complex.Zero;
            for (int c = r + 1; c <= index; c++)
            {
                sum += t[r, c] * w[c];
            }

            var denominator = t[r, r] - lambda;
            if (Complex.Abs(denominator) < smallest)
            {
                denominator = smallest;
            }

            w[r] = -sum / denominator;
        }

        var y = new Complex[j];
        double length = 0;
        for (int r = 0; r < j; r++)
        {
            Complex sum = Complex.Zero;
            for (int c = 0; c <= index; c++)
            {
                sum += schur.Z[r, c] * w[c];
            }

            y[r] = sum;
            length += (sum.Real * sum.Real) + (sum.Imaginary * sum.Imaginary);
        }

        length = Math.Sqrt(length);
        for (int r = 0; r < j; r++)
        {
            y[r] /= length;
        }

        return y;
    }

    /// <summary>For each index, its conjugate partner in the ranking (adjacent), else −1.</summary>
    private static int[] Partners(Complex[] values, int[] order)
    {
        var partner = new int[values.Length];
        Array.Fill(partner, -1);
        for (int i = 0; i + 1 < order.Length; i++)
        {
            // RankComplex puts each pair's negative member right after its positive one; a positive value is only
            // unpaired when no negative value is left, so "positive then negative" always means a pair.
            if (values[order[i]].Imaginary > 0 && values[order[i + 1]].Imaginary < 0)
            {
                partner[order[i]] = order[i + 1];
                partner[order[i + 1]] = order[i];
                i++;
            }
        }

        return partner;
    }

    private static ArnoldiResult Finish<TVec>(KrylovSchurFactorization<TVec> factorization, KrylovSchurOutcome<RitzAnalysis> outcome, IBasis<TVec>? basis)
        where TVec : class
    {
        var ritz = outcome.Ritz;
        int reported = ritz.Residuals.Length;
        var values = new Complex[reported];
        for (int i = 0; i < reported; i++)
        {
            values[i] = ritz.Values[ritz.Order[i]];
        }

        if (basis is not null)
        {
            basis.Truncate(0);
            for (int i = 0; i < factorization.Size; i++)
            {
                basis.Append(factorization.Basis[i]);
            }
        }

        var info = new ConvergenceInfo(outcome.Status, outcome.Reason, ritz.ConvergedCount, ritz.Residuals, outcome.Restarts, factorization.OperatorApplications);
        return new ArnoldiResult(values, ritz.Projected, ritz.Coordinates, info);
    }

    private sealed record RitzAnalysis(
        ComplexSchurDecomposition? Schur,
        Complex[] Values,
        int[] Order,
        int[] Partner,
        double[,] Projected,
        Complex[,] Coordinates,
        double[] Residuals,
        bool[] Converged,
        int ConvergedCount) : IRitzAnalysis
    {
        public string? Failure { get; init; }
    }
}
