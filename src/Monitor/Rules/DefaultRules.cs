namespace SpectralMonitor.Rules;

/// <summary>
/// The default rule set. Each default is backed by the detection benchmark (benchmarks/RESULTS.md, "Detection"):
/// the edge-type, mode-resolved indicators warned earliest with the fewest false alarms, so they drive the defaults.
/// </summary>
public static class DefaultRules
{
    /// <summary>Sharpness (preconditioned for adaptive optimizers) approaching its stability edge.</summary>
    public static AlertRule SharpnessNearEdge { get; } = new(
        "sharpness_near_edge",
        Indicators.SharpnessToEdge,
        RuleComparison.Absolute,
        Warning: 0.9,
        Critical: 1.0,
        Description: "The top curvature mode is within 10% of the stability edge (Warning) or past it (Critical).");

    /// <summary>The oscillatory branch of J reaching the unit circle.</summary>
    public static AlertRule OscillatoryRadius { get; } = new(
        "oscillatory_radius",
        Indicators.OscillatoryRadius,
        RuleComparison.Absolute,
        Warning: 0.99,
        Critical: 1.0,
        Description: "An oscillating mode of the update operator no longer decays (ρ_osc ≥ 1: the edge of stability).");

    /// <summary>Every default rule.</summary>
    public static IReadOnlyList<AlertRule> All { get; } = [SharpnessNearEdge, OscillatoryRadius];
}
