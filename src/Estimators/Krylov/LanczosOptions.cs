namespace SpectralMonitor.Estimators.Krylov;

/// <summary>Options of <see cref="Lanczos.Solve"/> (SciPy <c>eigsh</c> vocabulary: <c>k</c>, <c>which</c>, <c>ncv</c>, <c>tol</c>).</summary>
public sealed record LanczosOptions
{
    /// <summary>How many eigenvalues <c>k</c> to compute, in <c>[1, n]</c>. Default 1.</summary>
    public int Count { get; init; } = 1;

    /// <summary>Which eigenvalues (<see cref="EigenvalueSelection.LargestRealPart"/> means <see cref="EigenvalueSelection.LargestAlgebraic"/> here). Default <see cref="EigenvalueSelection.LargestAlgebraic"/>.</summary>
    public EigenvalueSelection Which { get; init; } = EigenvalueSelection.LargestAlgebraic;

    /// <summary>
    /// Largest Krylov dimension <c>m</c> (basis vectors kept in memory, plus one), with <c>k &lt; m ≤ n</c> or <c>m = n</c>;
    /// 0 (default) chooses <c>min(n, max(2k + 1, 20))</c>.
    /// </summary>
    public int KrylovDimension { get; init; }

    /// <summary>
    /// Relative residual tolerance in (0, 1): a Ritz pair <c>(θ, x)</c> is converged when
    /// <c>‖A·x − θ·x‖ ≤ Tolerance · max(|θ|, ‖T‖·ε)</c>, <c>‖T‖</c> the largest Ritz value in modulus. Default 1e-8.
    /// </summary>
    public double Tolerance { get; init; } = 1e-8;

    /// <summary>Maximum number of thick restarts (≥ 0). Default 100.</summary>
    public int MaxRestarts { get; init; } = 100;

    /// <summary>Cap on operator applications (≥ 0; 0 means no cap). Default 0.</summary>
    public long MaxApplications { get; init; }

    /// <summary>Seed of the random start vector (and of the random component of a warm start). Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>Validates the options against an operator of dimension <paramref name="n"/>; returns the Krylov dimension to use.</summary>
    internal int Resolve(int n, string parameterName)
    {
        if (!Enum.IsDefined(Which))
        {
            throw new ArgumentException($"LanczosOptions.Which is {(int)Which}; it must be one of {string.Join(", ", Enum.GetNames<EigenvalueSelection>())}.", parameterName);
        }

        return KrylovOptionChecks.ResolveKrylovDimension(nameof(LanczosOptions), parameterName, n, Count, KrylovDimension, Tolerance, MaxRestarts, MaxApplications);
    }
}

/// <summary>Eigenvalues of a symmetric operator with their convergence record.</summary>
/// <param name="Eigenvalues">
/// The wanted Ritz values in the order of <see cref="LanczosOptions.Which"/> (largest first for
/// <see cref="EigenvalueSelection.LargestAlgebraic"/>, <see cref="EigenvalueSelection.LargestMagnitude"/> and
/// <see cref="EigenvalueSelection.BothEnds"/>; smallest first for <see cref="EigenvalueSelection.SmallestAlgebraic"/>;
/// smallest modulus first for <see cref="EigenvalueSelection.SmallestMagnitude"/>). Fewer than requested when the
/// method stopped before the Krylov space was that large.
/// </param>
/// <param name="Convergence">Status, residual norms (same order), restarts and operator applications.</param>
public sealed record SymmetricEigenResult(IReadOnlyList<double> Eigenvalues, ConvergenceInfo Convergence);
