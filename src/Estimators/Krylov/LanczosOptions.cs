namespace SpectralMonitor.Estimators.Krylov;

/// <summary>Options of <see cref="Lanczos.Solve"/>: every selection is accepted (<see cref="EigenvalueSelection.LargestRealPart"/>
/// means <see cref="EigenvalueSelection.LargestAlgebraic"/> here); the default is <see cref="EigenvalueSelection.LargestAlgebraic"/>.</summary>
public sealed record LanczosOptions : KrylovEigenOptions
{
    /// <summary>Creates the default options.</summary>
    public LanczosOptions() => Which = EigenvalueSelection.LargestAlgebraic;

    /// <summary>Validates the options against an operator of dimension <paramref name="n"/>; returns the Krylov dimension to use.</summary>
    internal override int Resolve(int n, string parameterName)
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
/// The wanted Ritz values in the order of <see cref="KrylovEigenOptions.Which"/> (largest first for
/// <see cref="EigenvalueSelection.LargestAlgebraic"/>, <see cref="EigenvalueSelection.LargestMagnitude"/> and
/// <see cref="EigenvalueSelection.BothEnds"/>; smallest first for <see cref="EigenvalueSelection.SmallestAlgebraic"/>;
/// smallest modulus first for <see cref="EigenvalueSelection.SmallestMagnitude"/>). Fewer than requested when the
/// method stopped before the Krylov space was that large.
/// </param>
/// <param name="Convergence">Status, residual norms (same order), restarts and operator applications.</param>
public sealed record SymmetricEigenResult(IReadOnlyList<double> Eigenvalues, ConvergenceInfo Convergence);
