namespace SpectralMonitor.Estimators.Krylov;

/// <summary>
/// What Lanczos and Arnoldi share (SciPy <c>eigsh</c>/<c>eigs</c> vocabulary: <c>k</c>, <c>which</c>, <c>ncv</c>,
/// <c>tol</c>); each solver's record says which selections it accepts and its default.
/// </summary>
public abstract record KrylovEigenOptions
{
    /// <summary>How many eigenvalues <c>k</c> to compute, in <c>[1, n]</c>. Default 1.</summary>
    public int Count { get; init; } = 1;

    /// <summary>Which eigenvalues (the solver's record documents the accepted values and the default).</summary>
    public EigenvalueSelection Which { get; init; }

    /// <summary>
    /// Largest Krylov dimension <c>m</c> (basis vectors kept in memory, plus one), with <c>k &lt; m ≤ n</c> or <c>m = n</c>
    /// (Arnoldi: <c>k + 2 ≤ m</c>, room to keep a complex-conjugate pair whole); 0 (default) chooses
    /// <c>min(n, max(2k + 1, 20))</c>.
    /// </summary>
    public int KrylovDimension { get; init; }

    /// <summary>
    /// Relative residual tolerance in (0, 1): a Ritz pair <c>(θ, x)</c> is converged when
    /// <c>‖A·x − θ·x‖ ≤ Tolerance · max(|θ|, ‖S‖·ε)</c>, <c>S</c> the projected matrix. Default 1e-8.
    /// </summary>
    public double Tolerance { get; init; } = 1e-8;

    /// <summary>Maximum number of restarts (≥ 0). Default 100.</summary>
    public int MaxRestarts { get; init; } = 100;

    /// <summary>Cap on operator applications (≥ 0; 0 means no cap). Default 0.</summary>
    public long MaxApplications { get; init; }

    /// <summary>Seed of the random start vector (and of the random component of a warm start). Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>Validates the options against an operator of dimension <paramref name="n"/>; returns the Krylov dimension to use.</summary>
    internal abstract int Resolve(int n, string parameterName);
}
