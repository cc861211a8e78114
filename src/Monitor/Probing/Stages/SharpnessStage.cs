using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Krylov;

namespace SpectralMonitor.Probing.Stages;

/// <summary>The top eigenvalues of the curvature operator and the stability edge of the top one.</summary>
/// <param name="Eigenvalues">λ₁ ≥ λ₂ ≥ … (the top <see cref="StabilityMonitorOptions.TopModes"/>).</param>
/// <param name="Edge">The curvature at which the top mode's eigenvalue reaches −1, or null without a snapshot.</param>
/// <param name="Preconditioned">Whether the operator is P^½H̃P^½ (exported as the preconditioned sharpness).</param>
/// <param name="Convergence">The eigensolver's quality.</param>
internal sealed record SharpnessReading(IReadOnlyList<double> Eigenvalues, double? Edge, bool Preconditioned, ConvergenceInfo Convergence) : StageReading
{
    public double Sharpness => Eigenvalues[0];

    public override IEnumerable<ProbeReading> Readings()
    {
        yield return ProbeReading.Of(Indicators.Sharpness, Sharpness, Preconditioned ? ProbeMetrics.PreconditionedSharpness : ProbeMetrics.Sharpness);
        if (Edge is double edge)
        {
            yield return ProbeReading.Of(Indicators.SharpnessEdge, edge, ProbeMetrics.SharpnessThreshold);
            yield return ProbeReading.Of(Indicators.SharpnessToEdge, Sharpness / edge, ProbeMetrics.SharpnessToEdge);
        }
    }
}

/// <summary>
/// Warm-started Lanczos on the curvature operator (H̃, or P^½H̃P^½ for adaptive optimizers): the sharpness against its
/// edge. Keeps the top Ritz vectors across probes (device memory: <see cref="StabilityMonitorOptions.TopModes"/>
/// vectors) and restarts from them. Lanczos frees them once the start vector is built and writes the new ones into the
/// same storage, so they add nothing to the probe's peak; a probe that throws in the middle of the solve leaves the
/// next one a cold start.
/// </summary>
internal sealed class SharpnessStage<TVec> : ProbeStage<TVec>
    where TVec : class
{
    public override string Name => "sharpness";

    private IBasis<TVec>? _warmStart;

    public override bool Applies(ProbeFrame<TVec> frame) => frame.Options.Estimators.HasFlag(ProbeEstimators.Sharpness);

    public override string? Run(ProbeFrame<TVec> frame, StageBudget budget, CancellationToken cancellationToken)
    {
        var eigen = TopEigenvalues(frame.Curvature, frame.Options, frame.ProbeIndex, budget, cancellationToken);
        frame.Convergence = eigen.Convergence;
        if (Unusable(eigen.Convergence, eigen.Eigenvalues.Count, "the eigensolver", cancellationToken) is string reason)
        {
            return reason;
        }

        frame.TopEigenvector = _warmStart is { Count: > 0 } ritz ? ritz[0] : null;
        frame.Add(new SharpnessReading(eigen.Eigenvalues, frame.Block?.StabilityEdge, frame.IsAdaptive, eigen.Convergence));
        return null;
    }

    protected override void Dispose(bool disposing)
    {
        _warmStart?.Dispose();
        _warmStart = null;
        base.Dispose(disposing);
    }

    private SymmetricEigenResult TopEigenvalues(LinearOperator<TVec> op, StabilityMonitorOptions options, int seed, StageBudget budget, CancellationToken cancellationToken)
    {
        int n = op.Dimension;
        int k = Math.Min(options.TopModes, n);
        int m = Math.Min(n, Math.Max(options.KrylovDimension, k + 2));
        if (_warmStart is not null && (_warmStart.Capacity < k || (_warmStart.Count > 0 && !op.Space.IsCompatible(_warmStart[0]))))
        {
            // The model changed shape, device or dtype (or TopModes grew): the old Ritz vectors no longer apply.
            _warmStart.Dispose();
            _warmStart = null;
        }

        _warmStart ??= op.Space.CreateBasis(k);
        var start = Enumerable.Range(0, _warmStart.Count).Select(i => _warmStart[i]).ToArray();
        var lanczos = new LanczosOptions
        {
            Count = k,
            Which = EigenvalueSelection.LargestAlgebraic,
            KrylovDimension = m,
            Tolerance = options.Tolerance,
            StoppingRule = LanczosStoppingRule.EigenvalueError,
            MaxApplications = Math.Max(1, budget.Hvps),
            Seed = seed,
        };
        return Lanczos.Solve(op, lanczos, start.Length > 0 ? start : null, _warmStart, cancellationToken);
    }
}
