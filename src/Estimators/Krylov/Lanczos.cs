namespace SpectralMonitor.Estimators.Krylov;

/// <summary>
/// Thick-restart Lanczos for symmetric operators: a Krylov–Schur factorization restarted with the symmetric
/// eigendecomposition of the projected matrix. Steps orthogonalize locally (three-term recurrence) while no Ritz pair is
/// near convergence and against the whole basis (CGS2) afterwards, after a restart and after a random direction
/// (selective orthogonalization; the basis stays orthogonal to about the square root of the working precision).
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
    /// random vector (<see cref="RandomKind.GaussianProduct"/>) from <see cref="KrylovEigenOptions.Seed"/>, so that no
    /// eigenvector is exactly absent. When null or empty, the start vector is Gaussian. If every given vector is zero the result is
    /// <see cref="ConvergenceStatus.Breakdown"/>; if one has a non-finite entry, <see cref="ConvergenceStatus.NonFiniteOperatorOutput"/>.
    /// </param>
    /// <param name="eigenvectors">
    /// When given, cleared and filled with the unit-norm Ritz vectors of the reported eigenvalues, in the same order
    /// (its capacity must be at least <see cref="KrylovEigenOptions.Count"/>). It is cleared as soon as the start vector
    /// is built, so it may hold the warm start itself (<paramref name="startVectors"/> may be its vectors) and its memory
    /// is free while the Krylov basis grows; if an operator application throws, it is left empty. Ritz vectors are
    /// written straight into it when it appends in place (<see cref="IInPlaceAppendBasis{TVec}"/>).
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
        int m = KrylovOptionChecks.Resolve(op, options);
        if (eigenvectors is not null && eigenvectors.Capacity < options.Count)
        {
            throw new ArgumentException($"The eigenvector basis has capacity {eigenvectors.Capacity}; at least Count = {options.Count} is needed.", nameof(eigenvectors));
        }

        var space = op.Space;
        if (startVectors is not null)
        {
            for (int i = 0; i < startVectors.Count; i++)
            {
                if (startVectors[i] is null || !space.IsCompatible(startVectors[i]))
                {
                    throw new ArgumentException($"startVectors[{i}] is not a vector of the operator's space (dimension {op.Dimension}).", nameof(startVectors));
                }
            }
        }

        using var factorization = new KrylovSchurFactorization<TVec>(op, m, symmetric: true);
        var failure = Start(factorization, startVectors, options.Seed, eigenvectors);
        if (failure is not null)
        {
            eigenvectors?.Truncate(0);
            return new SymmetricEigenResult([], failure);
        }

        var outcome = KrylovSchurDriver.Run(
            factorization,
            KrylovSchurLimits.From(options),
            f =>
            {
                var ritz = SymmetricRitz.Analyze(f, options.Which, options.Count, options.Tolerance, stoppingRule: options.StoppingRule);
                f.AllowLocalOrthogonalization = !options.FullReorthogonalization && !op.IsInexact && ritz.AllowsLocalOrthogonalization;
                return ritz;
            },
            ritz => ritz.KeptVectors(KrylovOptionChecks.KeepCount(options.Count, m)),
            cancellationToken);
        return Finish(factorization, outcome, options, eigenvectors);
    }

    /// <summary>
    /// Builds the start vector, clears <paramref name="eigenvectors"/> (the warm start is no longer needed: its memory
    /// is free before the basis grows) and initializes the factorization; returns the failure, or null.
    /// </summary>
    private static ConvergenceInfo? Start<TVec>(KrylovSchurFactorization<TVec> factorization, IReadOnlyList<TVec>? startVectors, int seed, IBasis<TVec>? eigenvectors)
        where TVec : class
    {
        var space = factorization.Space;
        var start = space.CreateVector();
        try
        {
            string? startProblem = BuildStartVector(space, startVectors, seed, start);
            eigenvectors?.Truncate(0);
            var initial = startProblem is null ? factorization.Initialize(start) : FactorizationStatus.NonFiniteOperatorOutput;
            return KrylovSchurDriver.StartFailure(
                initial,
                "The warm-start vectors are all zero: there is no start vector to build a Krylov space from.",
                startProblem ?? "The start vector has non-finite entries.");
        }
        finally
        {
            space.Release(start);
        }
    }

    private static string? BuildStartVector<TVec>(IVectorSpace<TVec> space, IReadOnlyList<TVec>? startVectors, int seed, TVec start)
        where TVec : class
    {
        if (startVectors is null || startVectors.Count == 0)
        {
            space.FillRandom(start, RandomKind.Gaussian, seed);
            return null;
        }

        // The random part of a warm start only has to leave no eigenvector out: a Gaussian product does that from about
        // 2√n random numbers (a full Gaussian vector took 4 ms of a probe at 10⁶ parameters on the CPU; on a GPU its
        // host draw and upload would be the probe's largest transfer).
        space.FillRandom(start, RandomKind.GaussianProduct, seed);

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

    private static SymmetricEigenResult Finish<TVec>(
        KrylovSchurFactorization<TVec> factorization,
        KrylovSchurOutcome<SymmetricRitz> outcome,
        LanczosOptions options,
        IBasis<TVec>? eigenvectors)
        where TVec : class
    {
        var ritz = outcome.Ritz;
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

        var info = new ConvergenceInfo(outcome.Status, outcome.Reason, convergedCount, residuals, outcome.Restarts, factorization.OperatorApplications);
        return new SymmetricEigenResult(values, info);
    }

    private static void FillEigenvectors<TVec>(KrylovSchurFactorization<TVec> factorization, SymmetricRitz ritz, int[] picked, IBasis<TVec> eigenvectors)
        where TVec : class
    {
        if (picked.Length == 0)
        {
            return;
        }

        var space = factorization.Space;
        if (eigenvectors is IInPlaceAppendBasis<TVec> inPlace)
        {
            // Each Ritz vector is combined straight into the eigenvector basis's next slot: no extraction vector.
            foreach (int index in picked)
            {
                var slot = inPlace.NextSlot();
                factorization.CombineBasis(ritz.Coordinates(index), slot);
                Normalize(space, slot);
                inPlace.CommitNext();
            }

            return;
        }

        var x = space.CreateVector();
        try
        {
            foreach (int index in picked)
            {
                factorization.CombineBasis(ritz.Coordinates(index), x);
                Normalize(space, x);
                eigenvectors.Append(x);
            }
        }
        finally
        {
            space.Release(x);
        }
    }

    private static void Normalize<TVec>(IVectorSpace<TVec> space, TVec x)
        where TVec : class
    {
        double norm = space.Norm(x);
        if (norm > 0)
        {
            space.Scale(x, 1 / norm);
        }
    }
}
