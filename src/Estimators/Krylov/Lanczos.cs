using MathNet.Numerics.LinearAlgebra;

namespace SpectralMonitor.Estimators.Krylov;

/// <summary>
/// Thick-restart Lanczos for symmetric operators: a Krylov–Schur factorization with full reorthogonalization,
/// restarted with the symmetric eigendecomposition of the projected matrix.
/// </summary>
public static class Lanczos
{
    /// <summary>
    /// Relative size of the random component added to a warm start. Large enough that no eigenvector is exactly
    /// missing from the start vector, small enough that previous Ritz vectors dominate.
    /// </summary>
    public const double WarmStartNoise = 1e-4;

    /// <summary>Computes <see cref="KrylovEigenOptions.Count"/> eigenvalues of the symmetric operator <paramref name="op"/>.</summary>
    /// <typeparam name="TVec">The backend's vector type.</typeparam>
    /// <param name="op">A symmetric operator (symmetry is assumed, not checked).</param>
    /// <param name="options">What to compute and when to stop.</param>
    /// <param name="startVectors">
    /// Warm start, for example the previous probe's Ritz vectors. The start vector is
    /// <c>s/‖s‖ + WarmStartNoise·g/‖g‖</c> with <c>s = Σ xᵢ/‖xᵢ‖</c> over the given non-zero vectors and <c>g</c> a
    /// Gaussian vector from <see cref="KrylovEigenOptions.Seed"/>, so that no eigenvector is exactly absent. When null or
    /// empty, the start vector is Gaussian. If every given vector is zero the result is
    /// <see cref="ConvergenceStatus.Breakdown"/>; if one has a non-finite entry, <see cref="ConvergenceStatus.NonFiniteOperatorOutput"/>.
    /// </param>
    /// <param name="eigenvectors">
    /// When given, cleared and filled with the unit-norm Ritz vectors of the reported eigenvalues, in the same order
    /// (its capacity must be at least <see cref="KrylovEigenOptions.Count"/>).
    /// </param>
    /// <param name="cancellationToken">Checked before every operator application.</param>
    /// <returns>The eigenvalues and how they were obtained. Non-convergence is reported in the status, never thrown.</returns>
    /// <exception cref="ArgumentException">An option is invalid, a start vector is not of the operator's space, or <paramref name="eigenvectors"/> is too small.</exception>
    public static SymmetricEigenResult Solve<TVec>(
        LinearOperator<TVec> op,
        LanczosOptions options,
        IReadOnlyList<TVec>? startVectors = null,
        IBasis<TVec>? eigenvectors = null,
        CancellationToken cancellationToken = default)
        where TVec : class
    {
        ArgumentNullException.ThrowIfNull(op);
        ArgumentNullException.ThrowIfNull(options);
        int n = op.Dimension;
        int m = options.Resolve(n, nameof(options));
        int k = options.Count;
        if (eigenvectors is not null && eigenvectors.Capacity < k)
        {
            throw new ArgumentException($"The eigenvector basis has capacity {eigenvectors.Capacity}; at least Count = {k} is needed.", nameof(eigenvectors));
        }

        var space = op.Space;
        if (startVectors is not null)
        {
            for (int i = 0; i < startVectors.Count; i++)
            {
                if (startVectors[i] is null || !space.IsCompatible(startVectors[i]))
                {
                    throw new ArgumentException($"startVectors[{i}] is not a vector of the operator's space (dimension {n}).", nameof(startVectors));
                }
            }
        }

        using var factorization = new KrylovSchurFactorization<TVec>(op, m, symmetric: true);
        var start = space.CreateVector();
        FactorizationStatus initial;
        string? startProblem;
        try
        {
            startProblem = BuildStartVector(space, startVectors, options.Seed, start);
            initial = startProblem is null ? factorization.Initialize(start) : FactorizationStatus.NonFiniteOperatorOutput;
        }
        finally
        {
            space.Release(start);
        }

        if (initial == FactorizationStatus.ZeroStartVector)
        {
            eigenvectors?.Truncate(0);
            return Empty(ConvergenceStatus.Breakdown, "The warm-start vectors are all zero: there is no start vector to build a Krylov space from.");
        }

        if (initial == FactorizationStatus.NonFiniteOperatorOutput)
        {
            eigenvectors?.Truncate(0);
            return Empty(ConvergenceStatus.NonFiniteOperatorOutput, startProblem ?? "The start vector has non-finite entries.");
        }

        int restarts = 0;
        int randomDirections = 0;
        while (true)
        {
            // Grow to k at once, then one vector at a time so that convergence is noticed after the application
            // that achieves it (the dense analysis of a ≤ m × m matrix costs far less than one operator application).
            int target = Math.Min(m, Math.Max(factorization.Size + 1, k));
            var status = factorization.IsInvariant
                ? FactorizationStatus.InvariantSubspace
                : factorization.Expand(target, options.MaxApplications, cancellationToken);
            var ritz = Analyze(factorization, options);
            bool allConverged = factorization.Size >= k && ritz.ConvergedAmongWanted(k) == k;

            if (status == FactorizationStatus.NonFiniteOperatorOutput)
            {
                return Finish(factorization, ritz, options, eigenvectors, ConvergenceStatus.NonFiniteOperatorOutput, restarts,
                    $"The operator returned a non-finite value at application {factorization.OperatorApplications}; results are from the Krylov space built before it.");
            }

            if (allConverged)
            {
                string reason = factorization.IsInvariant
                    ? $"Invariant subspace of dimension {factorization.Size} found: its eigenvalues are exact."
                    : $"All {k} wanted eigenvalues met the tolerance {options.Tolerance:G3}.";
                return Finish(factorization, ritz, options, eigenvectors, ConvergenceStatus.Converged, restarts, reason);
            }

            if (status == FactorizationStatus.InvariantSubspace)
            {
                // Fewer than k directions: the start vector lies in a small invariant subspace. Continue in its complement.
                if (!factorization.AddRandomDirection(unchecked(options.Seed + 1 + randomDirections++)))
                {
                    return Finish(factorization, ritz, options, eigenvectors, ConvergenceStatus.Converged, restarts,
                        $"The Krylov space spans the whole space (dimension {factorization.Size}): its eigenvalues are exact.");
                }

                continue;
            }

            if (status == FactorizationStatus.Cancelled)
            {
                return Finish(factorization, ritz, options, eigenvectors, ConvergenceStatus.Cancelled, restarts, "Cancelled by the caller.");
            }

            if (status == FactorizationStatus.ApplicationLimitReached)
            {
                return Finish(factorization, ritz, options, eigenvectors, ConvergenceStatus.MaxIterationsReached, restarts,
                    $"Operator-application cap {options.MaxApplications} reached with {ritz.ConvergedAmongWanted(k)} of {k} eigenvalues converged.");
            }

            if (factorization.Size == m)
            {
                if (restarts >= options.MaxRestarts)
                {
                    return Finish(factorization, ritz, options, eigenvectors, ConvergenceStatus.MaxIterationsReached, restarts,
                        $"Restart limit {options.MaxRestarts} reached with {ritz.ConvergedAmongWanted(k)} of {k} eigenvalues converged.");
                }

                int keep = KrylovOptionChecks.KeepCount(k, m);
                var u = new double[m, keep];
                for (int c = 0; c < keep; c++)
                {
                    int index = ritz.Order[c];
                    for (int r = 0; r < m; r++)
                    {
                        u[r, c] = ritz.Vectors[r, index];
                    }
                }

                factorization.Restart(u);
                restarts++;
            }
        }
    }

    private static string? BuildStartVector<TVec>(IVectorSpace<TVec> space, IReadOnlyList<TVec>? startVectors, int seed, TVec start)
        where TVec : class
    {
        space.FillRandom(start, RandomKind.Gaussian, seed);
        if (startVectors is null || startVectors.Count == 0)
        {
            return null;
        }

        var sum = space.CreateVector();
        try
        {
            space.Clear(sum);
            for (int i = 0; i < startVectors.Count; i++)
            {
                double norm = space.Norm(startVectors[i]);
                if (!double.IsFinite(norm))
                {
                    return $"startVectors[{i}] has non-finite entries.";
                }

                if (norm > 0)
                {
                    space.Axpy(1 / norm, startVectors[i], sum);
                }
            }

            double sumNorm = space.Norm(sum);
            if (sumNorm == 0)
            {
                space.Clear(start);
                return null;
            }

            double noiseNorm = space.Norm(start);
            space.Scale(start, WarmStartNoise / noiseNorm);
            space.Axpy(1 / sumNorm, sum, start);
            return null;
        }
        finally
        {
            space.Release(sum);
        }
    }

    private static RitzPairs Analyze<TVec>(KrylovSchurFactorization<TVec> factorization, LanczosOptions options)
        where TVec : class
    {
        int j = factorization.Size;
        if (j == 0)
        {
            return new RitzPairs([], new double[0, 0], [], [], [], 0);
        }

        var s = factorization.ProjectedMatrix();
        var b = factorization.ResidualCoupling();
        var evd = Matrix<double>.Build.DenseOfArray(s).Evd(Symmetricity.Symmetric);
        var values = new double[j];
        var vectors = evd.EigenVectors.ToArray();
        double normT = 0;
        for (int i = 0; i < j; i++)
        {
            values[i] = evd.EigenValues[i].Real;
            normT = Math.Max(normT, Math.Abs(values[i]));
        }

        var residuals = new double[j];
        var converged = new bool[j];
        for (int i = 0; i < j; i++)
        {
            double sum = 0;
            for (int t = 0; t < j; t++)
            {
                sum += b[t] * vectors[t, i];
            }

            residuals[i] = Math.Abs(sum);
            converged[i] = residuals[i] <= options.Tolerance * Math.Max(Math.Abs(values[i]), normT * Orthogonalization.MachineEpsilon);
        }

        var order = RitzSelection.RankReal(values, options.Which);
        return new RitzPairs(values, vectors, residuals, converged, order, normT);
    }

    private static SymmetricEigenResult Finish<TVec>(
        KrylovSchurFactorization<TVec> factorization,
        RitzPairs ritz,
        LanczosOptions options,
        IBasis<TVec>? eigenvectors,
        ConvergenceStatus status,
        int restarts,
        string reason)
        where TVec : class
    {
        int reported = Math.Min(options.Count, ritz.Values.Length);
        var picked = ritz.Order.AsSpan(0, reported).ToArray();
        if (options.Which == EigenvalueSelection.BothEnds)
        {
            Array.Sort(picked, (a, b) => ritz.Values[b].CompareTo(ritz.Values[a]));
        }

        var values = new double[reported];
        var residuals = new double[reported];
        int convergedCount = 0;
        for (int i = 0; i < reported; i++)
        {
            values[i] = ritz.Values[picked[i]];
            residuals[i] = ritz.Residuals[picked[i]];
            convergedCount += ritz.Converged[picked[i]] ? 1 : 0;
        }

        if (eigenvectors is not null)
        {
            eigenvectors.Truncate(0);
            FillEigenvectors(factorization, ritz, picked, eigenvectors);
        }

        var info = new ConvergenceInfo(status, reason, convergedCount, residuals, restarts, factorization.OperatorApplications);
        return new SymmetricEigenResult(values, info);
    }

    private static void FillEigenvectors<TVec>(KrylovSchurFactorization<TVec> factorization, RitzPairs ritz, int[] picked, IBasis<TVec> eigenvectors)
        where TVec : class
    {
        int j = factorization.Size;
        if (picked.Length == 0)
        {
            return;
        }

        var space = factorization.Space;
        var x = space.CreateVector();
        try
        {
            var y = new double[j];
            foreach (int index in picked)
            {
                for (int t = 0; t < j; t++)
                {
                    y[t] = ritz.Vectors[t, index];
                }

                factorization.CombineBasis(y, x);
                double norm = space.Norm(x);
                if (norm > 0)
                {
                    space.Scale(x, 1 / norm);
                }

                eigenvectors.Append(x);
            }
        }
        finally
        {
            space.Release(x);
        }
    }

    private static SymmetricEigenResult Empty(ConvergenceStatus status, string reason) =>
        new([], new ConvergenceInfo(status, reason, 0, [], 0, 0));

    private sealed record RitzPairs(double[] Values, double[,] Vectors, double[] Residuals, bool[] Converged, int[] Order, double Norm)
    {
        public int ConvergedAmongWanted(int k)
        {
            int count = 0;
            for (int i = 0; i < Math.Min(k, Order.Length); i++)
            {
                count += Converged[Order[i]] ? 1 : 0;
            }

            return count;
        }
    }
}
