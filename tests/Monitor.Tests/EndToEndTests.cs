using SpectralMonitor.Backoff;
using SpectralMonitor.Estimators.Optimizers;
using SpectralMonitor.Reference;
using SpectralMonitor.Reference.Monitoring;
using SpectralMonitor.Rules;

namespace SpectralMonitor.Tests;

/// <summary>
/// The monitor on real training: a 4→16→1 tanh MLP, full-batch heavy-ball SGD (μ = 0.9). At η = 0.5 the sharpness
/// rises to its edge 2(1 + μ)/η and the loss spikes (step 399); at η = 0.3 it stays below 0.6 of the edge.
/// Full batch makes every run deterministic, so these are exact regressions, not statistics.
/// </summary>
public class EndToEndTests
{
    private static readonly Batch Data = SyntheticData.Regression(64, 4, 1, seed: 3);
    private static readonly MlpArchitecture Network = new([4, 16, 1], HiddenActivation.Tanh);

    private static RunRecord Run(double learningRate, BackoffOptions? backoff) =>
        MonitoredRun.Execute(
            new RunSpec("e2e", Network, LossKind.MeanSquaredError, Data, new SgdHyperparameters(learningRate, 0.9), Steps: 500, BatchSize: 64, Seed: 1),
            new StabilityMonitorOptions { ProbeInterval = 10, FirstProbeStep = 0, OverheadBudget = 1, Backoff = backoff },
            cancellationToken: TestContext.Current.CancellationToken);

    [Fact]
    public void UnstableLearningRateWarnsBeforeTheFirstSpike()
    {
        var run = Run(0.5, backoff: null);
        Assert.False(run.Diverged);
        Assert.NotNull(run.FirstSpike);
        var first = run.Alerts[0];
        Assert.Equal(AlertLevel.Warning, first.Level);
        Assert.Equal(DefaultRules.SharpnessNearEdge.Name, first.Rule);
        Assert.True(first.Step < run.FirstSpike, $"first alert at {first.Step}, first spike at {run.FirstSpike}");
        Assert.True(run.FirstSpike - first.Step >= 50, "the warning comes tens of steps ahead");
        Assert.All(run.Probes, p => Assert.Equal(ProbeStatus.Succeeded, p.Status));
    }

    [Fact]
    public void BackoffReducesSpikes()
    {
        var without = Run(0.5, backoff: null);
        var with = Run(0.5, new BackoffOptions());
        Assert.True(with.SpikeOnsets.Count < without.SpikeOnsets.Count, $"{with.SpikeOnsets.Count} spikes with backoff, {without.SpikeOnsets.Count} without");
        Assert.True(with.LearningRates.Min() < 0.5, "the learning rate was backed off");
    }

    [Fact]
    public void StableLearningRateRaisesNoAlert()
    {
        var run = Run(0.3, backoff: null);
        Assert.Empty(run.SpikeOnsets);
        Assert.Empty(run.Alerts);
        Assert.True(run.Probes.Count >= 50);
        Assert.All(run.Probes, p => Assert.True(p.Indicators[Indicators.SharpnessToEdge] < 0.9));
    }
}
