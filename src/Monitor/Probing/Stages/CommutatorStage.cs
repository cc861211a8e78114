using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Probing.Stages;

/// <summary>The normalized commutator of the curvature and the adaptive preconditioner.</summary>
/// <param name="Estimate">The Hutchinson estimate.</param>
internal sealed record CommutatorReading(PreconditionerCommutatorEstimate Estimate) : StageReading
{
    public override IEnumerable<ProbeReading> Readings() =>
        [ProbeReading.Of(Indicators.CommutatorNorm, Estimate.Value, ProbeMetrics.CommutatorNorm)];
}

/// <summary>‖[H̃, P]‖_F/(‖H̃‖_F‖P‖₂) by Hutchinson probes, for adaptive optimizers: two HVPs per probe vector.</summary>
internal sealed class CommutatorStage<TVec> : ProbeStage<TVec>
    where TVec : class
{
    public override string Name => "commutator";

    public override bool Applies(ProbeFrame<TVec> frame) =>
        frame.Options.Estimators.HasFlag(ProbeEstimators.Commutator) && frame.IsAdaptive && frame.Preconditioned is not null;

    public override long MinimumHvps(ProbeFrame<TVec> frame) => 2L * frame.Options.CommutatorProbes;

    public override string? Run(ProbeFrame<TVec> frame, StageBudget budget, CancellationToken cancellationToken)
    {
        int probes = frame.Options.CommutatorProbes;
        var estimate = PreconditionerCommutator.Estimate(frame.Preconditioned!, probes, seed: 1 + (frame.ProbeIndex * probes), cancellationToken);
        frame.Add(new CommutatorReading(estimate));
        return null;
    }
}
