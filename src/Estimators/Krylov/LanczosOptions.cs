namespace SpectralMonitor.Estimators.Krylov;

/// <summary>What <see cref="KrylovEigenOptions.Tolerance"/> bounds in <see cref="Lanczos.Solve"/>.</summary>
public enum LanczosStoppingRule
{
    /// <summary>
    /// The residual: a Ritz pair <c>(θ, x)</c> is converged when <c>‖A·x − θ·x‖ ≤ Tolerance·max(|θ|, ‖S‖·ε)</c>. The
    /// eigenvalue is then accurate to about <c>residual²/gap</c>, far below the tolerance (ARPACK's and SciPy's rule).
    /// </summary>
    Residual,

    /// <summary>
    /// The eigenvalue error: a Ritz value <c>θ</c> with residual <c>r</c> is converged when
    /// <c>min(r, r²/δ) ≤ Tolerance·max(|θ|, ‖S‖·ε)</c>, where <c>δ</c> is the gap from <c>θ</c> to the other Ritz values
    /// less their own residuals (<c>δ = minⱼ |θ − θⱼ| − rⱼ</c>; when it is not positive, or there is no other Ritz
    /// value, the error estimate is <c>r</c>). <c>r</c> bounds the distance from <c>θ</c> to the nearest eigenvalue and
    /// <c>r²/δ</c> is the Kato–Temple bound with the gap estimated from the Krylov space, so this stops when the
    /// eigenvalue, not the eigenvector, has the requested relative accuracy: about the square root of the residual the
    /// <see cref="Residual"/> rule would ask for. Accuracy delivered (tests on exact spectra with separated, close, many
    /// and gapless top eigenvalues): within the tolerance, with one stated exception: when a second eigenvalue lies
    /// closer to <c>θ</c> than <c>r</c> and the Krylov space has not resolved it yet, the gap estimate is far too large and
    /// <c>θ</c>, a mixture of the two eigenvectors, can be off by up to their distance (at most <c>r</c>).
    /// </summary>
    EigenvalueError,
}

/// <summary>Options of <see cref="Lanczos.Solve"/>: every selection is accepted (<see cref="EigenvalueSelection.LargestRealPart"/>
/// means <see cref="EigenvalueSelection.LargestAlgebraic"/> here); the default is <see cref="EigenvalueSelection.LargestAlgebraic"/>.</summary>
public sealed record LanczosOptions : KrylovEigenOptions
{
    /// <summary>Creates the default options.</summary>
    public LanczosOptions() => Which = EigenvalueSelection.LargestAlgebraic;

    /// <summary>What <see cref="KrylovEigenOptions.Tolerance"/> bounds. Default <see cref="LanczosStoppingRule.Residual"/>.</summary>
    public LanczosStoppingRule StoppingRule { get; init; } = LanczosStoppingRule.Residual;

    /// <summary>
    /// Orthogonalize every step against the whole basis (two classical Gram–Schmidt passes when needed) instead of
    /// selectively. Default false: while no Ritz pair is near convergence (every residual above √ε_single·‖S‖) a step
    /// orthogonalizes only against the last two basis vectors, twice, which reads 2 vectors instead of 2–4 times the
    /// basis; the basis then stays orthogonal to about √ε of single precision, enough for Ritz values exact to rounding
    /// level. True restores full reorthogonalization on every step (for comparison). Operators whose products are far
    /// less accurate than that (<see cref="LinearOperator{TVec}.IsInexact"/>, for example finite-difference
    /// Hessian-vector products) are always orthogonalized fully.
    /// </summary>
    public bool FullReorthogonalization { get; init; }

    /// <summary>Validates the options against an operator of dimension <paramref name="n"/>; returns the Krylov dimension to use.</summary>
    internal override int Resolve(int n, string parameterName)
    {
        if (!Enum.IsDefined(Which))
        {
            throw new ArgumentException($"LanczosOptions.Which is {(int)Which}; it must be one of {string.Join(", ", Enum.GetNames<EigenvalueSelection>())}.", parameterName);
        }

        if (!Enum.IsDefined(StoppingRule))
        {
            throw new ArgumentException($"LanczosOptions.StoppingRule is {(int)StoppingRule}; it must be one of {string.Join(", ", Enum.GetNames<LanczosStoppingRule>())}.", parameterName);
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
