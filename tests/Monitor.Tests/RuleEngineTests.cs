using SpectralMonitor.Rules;

namespace SpectralMonitor.Tests;

public class RuleEngineTests
{
    private static Dictionary<string, double> Reading(string name, double value, params (string, double)[] more)
    {
        var d = new Dictionary<string, double>(StringComparer.Ordinal) { [name] = value };
        foreach (var (n, v) in more)
        {
            d[n] = v;
        }

        return d;
    }

    [Fact]
    public void AbsoluteRuleRaisesAtThresholdsAndClearsWithHysteresis()
    {
        var rule = new AlertRule("edge", "x", RuleComparison.Absolute, Warning: 0.9, Critical: 1.0, Hysteresis: 0.1, CooldownSteps: 0);
        var engine = new RuleEngine([rule], BaselineKind.Median, 3, 0.9, "sgd");

        Assert.Empty(engine.Evaluate(1, Reading("x", 0.5)));
        var raised = Assert.Single(engine.Evaluate(2, Reading("x", 0.95)));
        Assert.Equal(AlertLevel.Warning, raised.Level);
        Assert.True(raised.IsRaised);
        Assert.Equal(AlertLevel.Critical, Assert.Single(engine.Evaluate(3, Reading("x", 1.2))).Level);

        // 0.95 is below Critical (1.0) but within its 10% hysteresis band (0.9): stays Critical.
        Assert.Empty(engine.Evaluate(4, Reading("x", 0.95)));
        // 0.85 is outside Critical's band but within Warning's (0.81): steps down to Warning.
        Assert.Equal(AlertLevel.Warning, Assert.Single(engine.Evaluate(5, Reading("x", 0.85))).Level);
        // 0.7 is outside Warning's band: OK again.
        var cleared = Assert.Single(engine.Evaluate(6, Reading("x", 0.7)));
        Assert.Equal(AlertLevel.Ok, cleared.Level);
        Assert.False(cleared.IsRaised);
    }

    [Fact]
    public void ARuleInItsWarmupRaisesNothingButItsReadingsStillCount()
    {
        // A trend rule (value over the value 2 readings back) with a 3-step warm-up: the readings at steps 0–2 raise
        // nothing, even at 10× the threshold, yet they are the history the trend at steps 3–4 is taken against.
        var rule = new AlertRule("rise", "x", RuleComparison.Trend, Warning: 2, Critical: 4, TrendWindow: 2, CooldownSteps: 0, WarmupSteps: 3);
        var engine = new RuleEngine([rule], BaselineKind.Median, 3, 0.9, "sgd");
        Assert.Empty(engine.Evaluate(0, Reading("x", 1)));
        Assert.Empty(engine.Evaluate(1, Reading("x", 2)));
        Assert.Empty(engine.Evaluate(2, Reading("x", 40)));   // 40 / 1 = 40: past Critical, inside the warm-up
        Assert.Equal(AlertLevel.Critical, Assert.Single(engine.Evaluate(3, Reading("x", 10))).Level); // 10 / 2 = 5

        // The monitor's timeline, not the loop's numbering, counts the warm-up when it is given.
        var positioned = new RuleEngine([rule with { Comparison = RuleComparison.Absolute }], BaselineKind.Median, 3, 0.9, "sgd");
        Assert.Empty(positioned.Evaluate(5_000, Reading("x", 10), position: 2));
        Assert.Equal(AlertLevel.Critical, Assert.Single(positioned.Evaluate(5_001, Reading("x", 10), position: 3)).Level);
        Assert.Throws<ArgumentException>(() => (rule with { WarmupSteps = -1 }).Validate());
    }

    [Theory]
    [InlineData(0.9, 3.0)]
    [InlineData(0.95, 3.5)]
    public void OscillatoryRuleClearsWhenTheModeFallsBackToTheMomentumCircle(double momentum, double rateTimesCurvature)
    {
        // Heavy ball's 2×2 block for curvature λ: z² − (1 + μ − ηλ)z + μ = 0. With (1 + μ − ηλ)² < 4μ the roots are a
        // conjugate pair, |z|² = μ, and with ηλ > 1 + μ their real part is negative: the oscillatory radius is √μ.
        double b = 1 + momentum - rateTimesCurvature;
        Assert.True(b < 0 && (b * b) < 4 * momentum);
        var pair = new System.Numerics.Complex(b / 2, Math.Sqrt((4 * momentum) - (b * b)) / 2);
        double radius = pair.Magnitude;
        Assert.Equal(Math.Sqrt(momentum), radius, 1e-12);

        var engine = new RuleEngine([DefaultRules.OscillatoryRadius], BaselineKind.Median, 3, 0.9, "sgd");
        Assert.Equal(AlertLevel.Warning, Assert.Single(engine.Evaluate(1, Reading(Indicators.OscillatoryRadius, 0.995))).Level);
        var cleared = Assert.Single(engine.Evaluate(2, Reading(Indicators.OscillatoryRadius, radius)));
        Assert.Equal(AlertLevel.Ok, cleared.Level);
    }

    [Fact]
    public void CooldownSuppressesRepeatedAlertsButNotEscalation()
    {
        var rule = new AlertRule("r", "x", RuleComparison.Absolute, 1, 2, Hysteresis: 0, CooldownSteps: 10);
        var engine = new RuleEngine([rule], BaselineKind.Median, 3, 0.9, "sgd");
        Assert.Single(engine.Evaluate(1, Reading("x", 1.5)));
        Assert.Single(engine.Evaluate(2, Reading("x", 0.5)));
        Assert.Empty(engine.Evaluate(3, Reading("x", 1.5))); // same level again within 10 steps: suppressed
        Assert.Equal(AlertLevel.Warning, engine.Level);
        Assert.Equal(AlertLevel.Critical, Assert.Single(engine.Evaluate(4, Reading("x", 2.5))).Level); // escalation
        Assert.Single(engine.Evaluate(5, Reading("x", 0.5)));
        Assert.Single(engine.Evaluate(20, Reading("x", 1.5))); // after the cooldown
    }

    [Fact]
    public void RatioToBaselineUsesTheMedianOfTheFirstObservations()
    {
        var rule = new AlertRule("growth", "k", RuleComparison.RatioToBaseline, 10, 100, CooldownSteps: 0);
        var engine = new RuleEngine([rule], BaselineKind.Median, 3, 0.9, "sgd");
        Assert.Empty(engine.Evaluate(1, Reading("k", 2)));
        Assert.Empty(engine.Evaluate(2, Reading("k", 100))); // baseline not formed yet: no verdict
        Assert.Empty(engine.Evaluate(3, Reading("k", 4)));
        // Median of {2, 100, 4} = 4: 39 is a ratio of 9.75 (OK), 40 is 10 (Warning), 400 is 100 (Critical).
        Assert.Empty(engine.Evaluate(4, Reading("k", 39)));
        Assert.Equal(AlertLevel.Warning, Assert.Single(engine.Evaluate(5, Reading("k", 40))).Level);
        var critical = Assert.Single(engine.Evaluate(6, Reading("k", 400)));
        Assert.Equal(100, critical.ComparedValue, 12);
    }

    [Fact]
    public void RatioToIndicatorAndBelowDirection()
    {
        var ratio = new AlertRule("edge", "s", RuleComparison.RatioToIndicator, 0.9, 1, Reference: "e", CooldownSteps: 0);
        var below = new AlertRule("ep", "d", RuleComparison.Absolute, Warning: 0.05, Critical: 0, Above: false, CooldownSteps: 0);
        var engine = new RuleEngine([ratio, below], BaselineKind.Median, 3, 0.9, "sgd");
        var alerts = engine.Evaluate(1, Reading("s", 19, ("e", 20.0), ("d", 0.02)));
        Assert.Equal(2, alerts.Count);
        Assert.Contains(alerts, a => a.Rule == "edge" && a.Level == AlertLevel.Warning && Math.Abs(a.ComparedValue - 0.95) < 1e-15);
        Assert.Contains(alerts, a => a.Rule == "ep" && a.Level == AlertLevel.Warning);
        Assert.Equal(AlertLevel.Critical, Assert.Single(engine.Evaluate(2, Reading("d", -0.01))).Level);
    }

    [Fact]
    public void TrendComparesWithTheValueSomeObservationsBack()
    {
        var rule = new AlertRule("trend", "x", RuleComparison.Trend, 2, 4, TrendWindow: 2, CooldownSteps: 0);
        var engine = new RuleEngine([rule], BaselineKind.Median, 3, 0.9, "sgd");
        Assert.Empty(engine.Evaluate(1, Reading("x", 1)));
        Assert.Empty(engine.Evaluate(2, Reading("x", 1.5)));
        Assert.Equal(AlertLevel.Warning, Assert.Single(engine.Evaluate(3, Reading("x", 2))).Level); // 2 / 1
        Assert.Equal(AlertLevel.Critical, Assert.Single(engine.Evaluate(4, Reading("x", 6))).Level); // 6 / 1.5
    }

    [Fact]
    public void MissingOrNaNIndicatorsAreNotEvaluated()
    {
        var rule = new AlertRule("r", "x", RuleComparison.Absolute, 1, 2, CooldownSteps: 0);
        var engine = new RuleEngine([rule], BaselineKind.Median, 3, 0.9, "sgd");
        Assert.Empty(engine.Evaluate(1, Reading("y", 5)));
        Assert.Empty(engine.Evaluate(2, Reading("x", double.NaN)));
        Assert.Equal(AlertLevel.Critical, Assert.Single(engine.Evaluate(3, Reading("x", double.PositiveInfinity))).Level);
    }
}
