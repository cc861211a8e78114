using SpectralMonitor.Rules;
using SpectralMonitor.Tests.Support;

namespace SpectralMonitor.Tests;

/// <summary>Rules scoped to optimizers (<see cref="AlertRule.Optimizers"/>), and the default edge rules' scope.</summary>
public class RuleScopeTests
{
    // Far past the edge for both fakes: heavy-ball SGD at lr 0.1, μ 0.9 has edge 2(1 + μ)/η = 38; the Adam fake's
    // preconditioner is about 10 on every coordinate (√v̂ ≈ 0.1), so its preconditioned sharpness is about 500.
    private static readonly double[] PastTheEdge = [50, 1, 0.5, 0.2];

    private static Dictionary<string, double> Reading(double value) => new(StringComparer.Ordinal) { ["x"] = value };

    [Fact]
    public void AScopedRuleIsEvaluatedOnlyForTheOptimizersItNames()
    {
        var rule = new AlertRule("edge", "x", RuleComparison.Absolute, Warning: 0.9, Critical: 1.0, Optimizers: ["sgd"]);

        var adam = new RuleEngine([rule], BaselineKind.Median, 3, 0.9, "adam");
        Assert.Empty(adam.Evaluate(1, Reading(2)));
        Assert.Equal(AlertLevel.Ok, adam.Level);

        // Names compare ignoring case.
        var sgd = new RuleEngine([rule], BaselineKind.Median, 3, 0.9, "SGD");
        Assert.Equal(AlertLevel.Critical, Assert.Single(sgd.Evaluate(1, Reading(2))).Level);
    }

    [Fact]
    public void ChangingTheOptimizerClearsTheRulesThatNoLongerApplyAndOnlyThose()
    {
        var scoped = new AlertRule("scoped", "x", RuleComparison.Absolute, Warning: 0.9, Critical: 1.0, CooldownSteps: 0, Optimizers: ["sgd"]);
        var everywhere = new AlertRule("everywhere", "x", RuleComparison.Absolute, Warning: 0.9, Critical: 1.0, CooldownSteps: 0);
        var engine = new RuleEngine([scoped, everywhere], BaselineKind.Median, 3, 0.9, "sgd");
        Assert.Equal(2, engine.Evaluate(1, Reading(2)).Count);

        engine.SetOptimizer("adamw");
        Assert.Equal(AlertLevel.Ok, engine.Levels["scoped"]);
        Assert.Equal(AlertLevel.Critical, engine.Levels["everywhere"]);
        Assert.Empty(engine.Evaluate(2, Reading(2)));
        Assert.Equal(AlertLevel.Ok, engine.Levels["scoped"]);

        // Back to SGD: the scoped rule is evaluated again and raises anew.
        engine.SetOptimizer("sgd");
        var raised = Assert.Single(engine.Evaluate(3, Reading(2)));
        Assert.Equal("scoped", raised.Rule);
        Assert.Equal(AlertLevel.Critical, raised.Level);
    }

    [Fact]
    public void TheDefaultEdgeRulesApplyToSgdOnlyAndTheAttentionRuleToEveryOptimizer()
    {
        foreach (var rule in new[] { DefaultRules.SharpnessNearEdge, DefaultRules.OscillatoryRadius })
        {
            Assert.True(rule.AppliesTo("sgd"), rule.Name);
            Assert.False(rule.AppliesTo("adam"), rule.Name);
            Assert.False(rule.AppliesTo("adamw"), rule.Name);
            Assert.False(rule.AppliesTo("rmsprop"), rule.Name);
        }

        Assert.Null(DefaultRules.AttentionEntropyCollapse.Optimizers);
        Assert.True(DefaultRules.AttentionEntropyCollapse.AppliesTo("adamw"));
        Assert.Throws<NotSupportedException>(() => ((IList<string>)DefaultRules.SgdOnly)[0] = "adam");
    }

    [Theory]
    [InlineData(new string[0], "non-empty")]
    [InlineData(new[] { "sgd", " " }, "without blanks")]
    public void AnEmptyOrBlankOptimizerListIsRejectedByName(string[] optimizers, string expected)
    {
        var rule = new AlertRule("edge", "x", RuleComparison.Absolute, Warning: 0.9, Critical: 1.0, Optimizers: optimizers);
        var error = Assert.Throws<ArgumentException>(rule.Validate);
        Assert.Equal("Optimizers", error.ParamName);
        Assert.Contains("Rule 'edge'", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new StabilityMonitorOptions { Rules = [rule] }.Validate());
    }

    [Fact]
    public void AnAdamRunPastItsPreconditionedEdgeRaisesNoDefaultAlertButAnUnscopedRuleDoes()
    {
        var adam = new FakeTarget(PastTheEdge) { Adaptive = true, OptimizerName = "adam" };
        using (var monitor = StabilityMonitor.Create(adam, new StabilityMonitorOptions { RunName = "scope-adam-defaults" }))
        {
            int alerts = 0;
            monitor.AlertRaised += (_, _) => alerts++;
            var probe = monitor.ProbeNow(1)!;
            Assert.Equal(ProbeStatus.Succeeded, probe.Status);
            Assert.True(probe.Indicators[Indicators.SharpnessToEdge] > 1, $"λ/edge = {probe.Indicators[Indicators.SharpnessToEdge]}: the fake must sit past its edge");
            Assert.Equal(0, alerts);
            Assert.Equal(AlertLevel.Ok, monitor.Level);
        }

        var unscoped = DefaultRules.SharpnessNearEdge with { Optimizers = null };
        using (var monitor = StabilityMonitor.Create(adam, new StabilityMonitorOptions { RunName = "scope-adam-unscoped", Rules = [unscoped] }))
        {
            Assert.Equal(ProbeStatus.Succeeded, monitor.ProbeNow(1)!.Status);
            Assert.Equal(AlertLevel.Critical, monitor.Level);
        }
    }

    [Fact]
    public void RebindingFromSgdToAdamClearsTheEdgeAlarm()
    {
        var sgd = new FakeTarget(PastTheEdge);
        using var monitor = StabilityMonitor.Create(sgd, new StabilityMonitorOptions { RunName = "scope-rebind" });
        Assert.Equal(ProbeStatus.Succeeded, monitor.ProbeNow(1)!.Status);
        Assert.Equal(AlertLevel.Critical, monitor.Level);

        monitor.Rebind(new FakeTarget(PastTheEdge) { Adaptive = true, OptimizerName = "adam" });
        Assert.Equal(AlertLevel.Ok, monitor.Level);
        Assert.Equal(ProbeStatus.Succeeded, monitor.ProbeNow(2)!.Status);
        Assert.Equal(AlertLevel.Ok, monitor.Level);
    }

    [Fact]
    public void TheTopModeConditionRuleIsOnExactlyWhileKappaIsAtLeastThreeTimesTheMedianOfItsFirstFiveProbes()
    {
        // The detection benchmark's offline detector "top_eigenvector_condition / baseline ≥ 3": on from a probe whose κ
        // is at least 3× the median of the first five probes' κ, off from one below. The rule must give the same
        // on/off sequence (no hysteresis, no cooldown), here on a random series with excursions to 2–20× the baseline.
        var rule = DefaultRules.TopModeConditionRise;
        Assert.Null(Record.Exception(rule.Validate));
        Assert.DoesNotContain(rule, DefaultRules.All);
        Assert.False(rule.AppliesTo("sgd"));
        var engine = new RuleEngine([rule], BaselineKind.Median, 5, 0.9, "adamw");
        var random = new Random(7);
        var first = new List<double>();
        int onsets = 0, transitions = 0;
        for (int probe = 0; probe < 400; probe++)
        {
            double kappa = random.NextDouble() < 0.2 ? 2 + (18 * random.NextDouble()) : 0.5 + random.NextDouble();
            var changes = engine.Evaluate(probe, new Dictionary<string, double> { [Indicators.TopEigenvectorCondition] = kappa });
            transitions += changes.Count;
            onsets += changes.Count(c => c.IsRaised && c.PreviousLevel == AlertLevel.Ok);
            bool expectedOn = first.Count == 5 && kappa >= 3 * Median(first);
            Assert.Equal(expectedOn, engine.Level != AlertLevel.Ok);
            if (first.Count == 5)
            {
                Assert.Equal(kappa >= 10 * Median(first), engine.Level == AlertLevel.Critical);
            }

            if (first.Count < 5)
            {
                first.Add(kappa);
            }
        }

        Assert.InRange(onsets, 20, 200);
        Assert.True(transitions > onsets);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
