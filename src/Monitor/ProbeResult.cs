using SpectralMonitor.Estimators;

namespace SpectralMonitor;

/// <summary>How a probe ended.</summary>
public enum ProbeStatus
{
    /// <summary>Every estimator ran (some may report non-convergence in their quality fields).</summary>
    Succeeded,

    /// <summary>The probe failed and was skipped; <see cref="ProbeResult.FailureReason"/> says why.</summary>
    Failed,
}

/// <summary>The top singular value and stable rank of one weight matrix.</summary>
/// <param name="Name">The parameter's name.</param>
/// <param name="TopSingularValue">‖W‖₂ (Lanczos on WᵀW, within about half <see cref="StabilityMonitorOptions.SingularValueTolerance"/> of a singular value; a lower bound).</param>
/// <param name="StableRank">‖W‖²_F / ‖W‖²₂.</param>
public sealed record WeightReading(string Name, double TopSingularValue, double StableRank);

/// <summary>What one probe measured. Immutable: metric collection on other threads reads it whole.</summary>
/// <param name="Step">The training step the probe ran after.</param>
/// <param name="Status">Success or failure.</param>
/// <param name="FailureReason">Why the probe failed, or null.</param>
/// <param name="Path">Which path produced the operator measures.</param>
/// <param name="Duration">Wall time of the probe.</param>
/// <param name="HvpCount">Hessian-vector products spent.</param>
/// <param name="Indicators">Indicator values by name (<see cref="SpectralMonitor.Indicators"/>), the rules' view of <see cref="Readings"/>; absent when not measured.</param>
/// <param name="Weights">Per-weight-matrix readings.</param>
/// <param name="Convergence">Quality of the main eigensolve, or null when none ran.</param>
public sealed record ProbeResult(
    long Step,
    ProbeStatus Status,
    string? FailureReason,
    ProbePath Path,
    TimeSpan Duration,
    long HvpCount,
    IReadOnlyDictionary<string, double> Indicators,
    IReadOnlyList<WeightReading> Weights,
    ConvergenceInfo? Convergence)
{
    /// <summary>Every number the probe measured, with the indicator, metric and tags it is known by (empty for a failed probe).</summary>
    public IReadOnlyList<ProbeReading> Readings { get; init; } = [];

    /// <summary>
    /// Wall time of each part of the probe that ran, in order: <c>open</c> (the target's probe context, for TorchSharp
    /// the probe batch's forward and first-order graph, and the operator set-up), then each stage by name
    /// (<c>sharpness</c>, <c>modes</c>, <c>weight_spectra</c>, …). Where the probe's time goes. A failed probe lists the
    /// parts that finished before it failed.
    /// </summary>
    public IReadOnlyDictionary<string, TimeSpan> StageDurations { get; init; } = new Dictionary<string, TimeSpan>();
}
