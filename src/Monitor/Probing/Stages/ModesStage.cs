using SpectralMonitor.Estimators.Modes;

namespace SpectralMonitor.Probing.Stages;

/// <summary>The closed-form, mode-by-mode analysis of J on the measured curvatures.</summary>
/// <param name="Analysis">The analysis.</param>
internal sealed record ModeReading(ModeAnalysisResult Analysis) : StageReading
{
    public override IEnumerable<ProbeReading> Readings()
    {
        var a = Analysis;
        yield return ProbeReading.Of(Indicators.SpectralRadius, a.SpectralRadius, ProbeMetrics.SpectralRadius, ("branch", "all"));
        yield return ProbeReading.Of(Indicators.OscillatoryRadius, a.OscillatoryRadius, ProbeMetrics.SpectralRadius, ("branch", "oscillatory"));
        yield return ProbeReading.Of(Indicators.MonotoneRadius, a.MonotoneRadius, ProbeMetrics.SpectralRadius, ("branch", "monotone"));
        yield return ProbeReading.Of(Indicators.EigenvectorCondition, a.EigenvectorCondition, ProbeMetrics.EigenvectorCondition, ("scope", "all"));
        yield return ProbeReading.Of(Indicators.TopEigenvectorCondition, a.TopEigenvectorCondition, ProbeMetrics.EigenvectorCondition, ("scope", "top"));
        yield return ProbeReading.Of(Indicators.TransientGrowth, a.TransientGrowth, ProbeMetrics.TransientGrowth);
        yield return ProbeReading.Of(Indicators.EdgeDistance, a.EdgeDistance, ProbeMetrics.EdgeDistance);
        if (double.IsFinite(a.ExceptionalPointDistance))
        {
            yield return ProbeReading.Of(Indicators.ExceptionalPointDistance, a.ExceptionalPointDistance, ProbeMetrics.ExceptionalPointDistance);
        }
    }
}

/// <summary>
/// ρ(J) and its branches, κ per mode and over the top modes, exceptional points and transient growth, in closed form
/// from the sharpness stage's eigenvalues and the density stage's nodes (no HVP).
/// </summary>
internal sealed class ModesStage<TVec> : ProbeStage<TVec>
    where TVec : class
{
    public override string Name => "modes";

    public override bool Applies(ProbeFrame<TVec> frame) =>
        frame.Options.Estimators.HasFlag(ProbeEstimators.Modes) && frame.Block is not null && Curvatures(frame).Count > 0;

    public override string? Run(ProbeFrame<TVec> frame, StageBudget budget, CancellationToken cancellationToken)
    {
        var curvatures = Curvatures(frame);
        var analysis = ModeAnalysis.Analyze(frame.Block!, curvatures, Math.Min(frame.Options.TopModes, curvatures.Count), frame.Options.Horizon);
        frame.Add(new ModeReading(analysis));
        return null;
    }

    private static List<double> Curvatures(ProbeFrame<TVec> frame)
    {
        var curvatures = new List<double>();
        curvatures.AddRange(frame.Get<SharpnessReading>()?.Eigenvalues ?? []);
        curvatures.AddRange(frame.Get<SpectralDensityReading>()?.Nodes ?? []);
        return curvatures;
    }
}
