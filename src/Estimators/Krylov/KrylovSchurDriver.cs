namespace SpectralMonitor.Estimators.Krylov;

/// <summary>What a driver's analysis of the projected problem tells the restart loop.</summary>
internal interface IRitzAnalysis
{
    /// <summary>How many of the wanted Ritz pairs met the solver's tolerance.</summary>
    int ConvergedCount { get; }

    /// <summary>Why the projected problem could not be analysed (for example a QR iteration that did not converge), else null.</summary>
    string? Failure { get; }
}

/// <summary>When the restart loop stops: the wanted count, the caps and the seed of fresh directions.</summary>
/// <param name="Count">The wanted number <c>k</c> of Ritz pairs.</param>
/// <param name="Tolerance">The relative tolerance (for the reason text only: the analysis applies it).</param>
/// <param name="MaxRestarts">Restart cap.</param>
/// <param name="MaxApplications">Operator-application cap (0: none).</param>
/// <param name="Seed">Seed of the random directions added after an invariant subspace.</param>
internal sealed record KrylovSchurLimits(int Count, double Tolerance, int MaxRestarts, long MaxApplications, int Seed)
{
    internal static KrylovSchurLimits From(KrylovEigenOptions options) =>
        new(options.Count, options.Tolerance, options.MaxRestarts, options.MaxApplications, options.Seed);
}

/// <summary>How a Krylov–Schur run ended, with the last analysis of its projected problem.</summary>
/// <typeparam name="TRitz">The driver's analysis type.</typeparam>
/// <param name="Status">Why the loop stopped.</param>
/// <param name="Reason">A sentence saying why.</param>
/// <param name="Restarts">Restarts made.</param>
/// <param name="Ritz">The analysis of the final factorization.</param>
internal sealed record KrylovSchurOutcome<TRitz>(ConvergenceStatus Status, string Reason, int Restarts, TRitz Ritz);

/// <summary>
/// The one restart loop of the Krylov–Schur eigensolvers (Stewart 2001), shared by <see cref="Lanczos"/> and
/// <see cref="Arnoldi"/>: expand the factorization, let the solver analyse the projected matrix, stop on convergence,
/// a cap, cancellation, a non-finite operator output or a failed analysis, continue past an invariant subspace with a
/// random direction, and otherwise shrink to the subspace the solver chooses to keep. The solvers differ only in the
/// two callbacks: <c>analyse</c> (symmetric eigendecomposition or complex Schur form, and the convergence test) and
/// <c>keep</c> (the orthonormal basis of the kept Ritz space).
/// </summary>
/// <remarks>
/// The factorization grows to <c>k</c> at once, then one vector at a time, so that convergence is noticed after the
/// application that achieves it (the dense analysis of an <c>m × m</c> matrix costs far less than one operator
/// application). The loop touches vectors only through the factorization: it never reads a vector to the host.
/// </remarks>
internal static class KrylovSchurDriver
{
    /// <summary>The result of a failed start (zero or non-finite start vector), or null when the factorization started.</summary>
    /// <param name="initial">What <see cref="KrylovSchurFactorization{TVec}.Initialize"/> returned.</param>
    /// <param name="zeroStart">The reason given for a zero start vector.</param>
    /// <param name="nonFiniteStart">The reason given for a non-finite start vector.</param>
    internal static ConvergenceInfo? StartFailure(FactorizationStatus initial, string zeroStart, string nonFiniteStart) => initial switch
    {
        FactorizationStatus.Completed => null,
        FactorizationStatus.ZeroStartVector => new ConvergenceInfo(ConvergenceStatus.Breakdown, zeroStart, 0, [], 0, 0),
        _ => new ConvergenceInfo(ConvergenceStatus.NonFiniteOperatorOutput, nonFiniteStart, 0, [], 0, 0),
    };

    /// <summary>Runs the restart loop on an initialized factorization.</summary>
    /// <typeparam name="TVec">The backend's vector type.</typeparam>
    /// <typeparam name="TRitz">The solver's analysis of the projected problem.</typeparam>
    /// <param name="factorization">An initialized factorization (its maximum dimension is the Krylov dimension <c>m</c>).</param>
    /// <param name="limits">Wanted count, caps and seed.</param>
    /// <param name="analyse">Analyses the current projected problem (Ritz values, residuals, convergence).</param>
    /// <param name="keep">
    /// Given the analysis of a full (<c>m</c>-dimensional) factorization, the <c>m × p</c> orthonormal basis of the
    /// invariant subspace of the projected matrix to restart with (<c>p &lt; m</c>).
    /// </param>
    /// <param name="cancellationToken">Checked before every operator application.</param>
    internal static KrylovSchurOutcome<TRitz> Run<TVec, TRitz>(
        KrylovSchurFactorization<TVec> factorization,
        KrylovSchurLimits limits,
        Func<KrylovSchurFactorization<TVec>, TRitz> analyse,
        Func<TRitz, double[,]> keep,
        CancellationToken cancellationToken)
        where TVec : class
        where TRitz : IRitzAnalysis
    {
        int m = factorization.MaxDimension;
        int k = limits.Count;
        int restarts = 0;
        int randomDirections = 0;
        while (true)
        {
            int target = Math.Min(m, Math.Max(factorization.Size + 1, k));
            var status = factorization.IsInvariant
                ? FactorizationStatus.InvariantSubspace
                : factorization.Expand(target, limits.MaxApplications, cancellationToken);
            var ritz = analyse(factorization);
            var stop = Decide(factorization, limits, status, ritz, restarts);
            if (stop is { } s)
            {
                return new KrylovSchurOutcome<TRitz>(s.Status, s.Reason, restarts, ritz);
            }

            if (status == FactorizationStatus.InvariantSubspace)
            {
                // Fewer than k directions: the start vector lies in a small invariant subspace. Continue in its complement.
                if (!factorization.AddRandomDirection(unchecked(limits.Seed + 1 + randomDirections++)))
                {
                    return new KrylovSchurOutcome<TRitz>(ConvergenceStatus.Converged, $"The Krylov space spans the whole space (dimension {factorization.Size}): its eigenvalues are exact.", restarts, ritz);
                }
            }
            else if (factorization.Size == m)
            {
                factorization.Restart(keep(ritz));
                restarts++;
            }
        }
    }

    /// <summary>Whether (and why) the loop stops after an expansion that ended with <paramref name="status"/>.</summary>
    private static (ConvergenceStatus Status, string Reason)? Decide<TVec>(
        KrylovSchurFactorization<TVec> factorization, KrylovSchurLimits limits, FactorizationStatus status, IRitzAnalysis ritz, int restarts)
        where TVec : class
    {
        int k = limits.Count;
        if (ritz.Failure is { } failure)
        {
            return (ConvergenceStatus.Breakdown, failure);
        }

        if (status == FactorizationStatus.NonFiniteOperatorOutput)
        {
            return (ConvergenceStatus.NonFiniteOperatorOutput, $"The operator returned a non-finite value at application {factorization.OperatorApplications}; results are from the Krylov space built before it.");
        }

        if (factorization.Size >= k && ritz.ConvergedCount == k)
        {
            return (ConvergenceStatus.Converged, factorization.IsInvariant
                ? $"Invariant subspace of dimension {factorization.Size} found: its eigenvalues are exact."
                : $"All {k} wanted eigenvalues met the tolerance {limits.Tolerance:G3}.");
        }

        if (status == FactorizationStatus.InvariantSubspace)
        {
            return null;
        }

        return status switch
        {
            FactorizationStatus.Cancelled => (ConvergenceStatus.Cancelled, "Cancelled by the caller."),
            FactorizationStatus.ApplicationLimitReached => (ConvergenceStatus.MaxIterationsReached, $"Operator-application cap {limits.MaxApplications} reached with {ritz.ConvergedCount} of {k} eigenvalues converged."),
            _ when factorization.Size == factorization.MaxDimension && restarts >= limits.MaxRestarts =>
                (ConvergenceStatus.MaxIterationsReached, $"Restart limit {limits.MaxRestarts} reached with {ritz.ConvergedCount} of {k} eigenvalues converged."),
            _ => null,
        };
    }
}
