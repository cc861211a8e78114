namespace SpectralMonitor.Estimators;

/// <summary>How an iterative method ended.</summary>
public enum ConvergenceStatus
{
    /// <summary>Every requested quantity met its tolerance (an invariant subspace found early counts).</summary>
    Converged,

    /// <summary>The iteration or operator-application budget ran out first; partial results are reported.</summary>
    MaxIterationsReached,

    /// <summary>The operator returned NaN or ±∞; nothing after that point is trusted.</summary>
    NonFiniteOperatorOutput,

    /// <summary>A breakdown that is not an invariant subspace (for example a zero start vector).</summary>
    Breakdown,

    /// <summary>Cancelled through the caller's token.</summary>
    Cancelled,
}

/// <summary>The quality of an iterative result: what converged, how far, at what cost, and why it stopped.</summary>
/// <param name="Status">How the method ended.</param>
/// <param name="Reason">A human-readable sentence explaining <paramref name="Status"/>.</param>
/// <param name="ConvergedCount">How many of the requested quantities met the tolerance.</param>
/// <param name="ResidualNorms">Residual norm estimate of each reported quantity, in the order reported.</param>
/// <param name="Iterations">Outer iterations (restarts for Krylov methods, power steps for power iteration).</param>
/// <param name="OperatorApplications">Operator (and transpose) applications spent.</param>
public sealed record ConvergenceInfo(
    ConvergenceStatus Status,
    string Reason,
    int ConvergedCount,
    IReadOnlyList<double> ResidualNorms,
    int Iterations,
    long OperatorApplications)
{
    /// <summary>Whether <see cref="Status"/> is <see cref="ConvergenceStatus.Converged"/>.</summary>
    public bool IsConverged => Status == ConvergenceStatus.Converged;

    /// <summary>
    /// The record of a Monte Carlo (Hutchinson) estimate: converged when the estimate is finite, with its standard
    /// error as the one "residual" and the probes as iterations.
    /// </summary>
    internal static ConvergenceInfo ForSampleMean(double value, double standardError, int probes, long applications) =>
        double.IsFinite(value)
            ? new(ConvergenceStatus.Converged, $"Mean over {probes} random probes; the residual is its standard error.", 1, [standardError], probes, applications)
            : new(ConvergenceStatus.NonFiniteOperatorOutput, $"The estimate over {probes} probes is not finite (a non-finite operator output, or a zero denominator).", 0, [standardError], probes, applications);
}
