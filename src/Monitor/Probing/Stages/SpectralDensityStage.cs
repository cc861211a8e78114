using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Krylov;

namespace SpectralMonitor.Probing.Stages;

/// <summary>Quadrature nodes and weights of the curvature spectrum (they extend the mode analysis to the bulk).</summary>
/// <param name="Nodes">The pooled nodes.</param>
/// <param name="Convergence">The estimate's quality.</param>
internal sealed record SpectralDensityReading(IReadOnlyList<double> Nodes, ConvergenceInfo Convergence) : StageReading
{
    // Not exported on its own: the nodes feed the mode analysis (κ over all modes).
    public override IEnumerable<ProbeReading> Readings() => [];
}

/// <summary>Stochastic Lanczos quadrature of the curvature operator: <see cref="StabilityMonitorOptions.DensityProbes"/> × <see cref="StabilityMonitorOptions.DensitySteps"/> HVPs.</summary>
internal sealed class SpectralDensityStage<TVec> : ProbeStage<TVec>
    where TVec : class
{
    public override string Name => "spectral_density";

    public override bool Applies(ProbeFrame<TVec> frame) => frame.Options.Estimators.HasFlag(ProbeEstimators.SpectralDensity);

    public override long MinimumHvps(ProbeFrame<TVec> frame) => (long)frame.Options.DensitySteps * frame.Options.DensityProbes;

    public override string? Run(ProbeFrame<TVec> frame, StageBudget budget, CancellationToken cancellationToken)
    {
        var op = frame.Curvature;
        var options = new SlqOptions { Probes = frame.Options.DensityProbes, Steps = Math.Min(frame.Options.DensitySteps, op.Dimension), Seed = frame.ProbeIndex };
        var density = StochasticLanczosQuadrature.Estimate(op, options, cancellationToken);
        if (density.Convergence.Status == ConvergenceStatus.Cancelled)
        {
            // A partial estimate would be kept silently; the probe is past its limit, so it ends here.
            cancellationToken.ThrowIfCancellationRequested();
        }

        if (density.Convergence.Status == ConvergenceStatus.NonFiniteOperatorOutput)
        {
            return "the spectral density estimate saw a non-finite Hessian-vector product";
        }

        frame.Add(new SpectralDensityReading(density.Nodes, density.Convergence));
        return null;
    }
}
