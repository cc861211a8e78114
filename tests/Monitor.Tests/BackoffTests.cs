using SpectralMonitor.Backoff;
using SpectralMonitor.Rules;
using SpectralMonitor.Tests.Support;

namespace SpectralMonitor.Tests;

public class BackoffTests
{
    private static StabilityAlert Alert(long step, AlertLevel level) =>
        new(step, level, AlertLevel.Ok, "r", "x", 1, 1, 1, new Dictionary<string, double>(), "test");

    [Fact]
    public void CutsOnAlertsHoldsThenRecoversGeometricallyToOne()
    {
        var policy = new MultiplicativeBackoffPolicy(new BackoffOptions { WarningFactor = 0.5, CriticalFactor = 0.25, MinimumFactor = 0.1, CooldownSteps = 3, RecoveryRate = 2 });
        double f = policy.NextFactor(new BackoffContext(1, AlertLevel.Warning, [Alert(1, AlertLevel.Warning)], 1));
        Assert.Equal(0.5, f);
        f = policy.NextFactor(new BackoffContext(2, AlertLevel.Critical, [Alert(2, AlertLevel.Critical)], f));
        Assert.Equal(0.125, f);
        f = policy.NextFactor(new BackoffContext(3, AlertLevel.Critical, [Alert(3, AlertLevel.Critical)], f));
        Assert.Equal(0.1, f); // floor MinimumFactor
        Assert.Equal(0.1, policy.NextFactor(new BackoffContext(4, AlertLevel.Ok, [], f))); // holding (cooldown 3 from step 3)
        Assert.Equal(0.1, policy.NextFactor(new BackoffContext(6, AlertLevel.Warning, [], f))); // not OK: no recovery
        f = policy.NextFactor(new BackoffContext(6, AlertLevel.Ok, [], f));
        Assert.Equal(0.2, f, 15);
        f = policy.NextFactor(new BackoffContext(7, AlertLevel.Ok, [], f));
        f = policy.NextFactor(new BackoffContext(8, AlertLevel.Ok, [], f));
        f = policy.NextFactor(new BackoffContext(9, AlertLevel.Ok, [], f));
        Assert.Equal(1, f); // capped at 1
    }

    [Fact]
    public void GovernorMultipliesWhateverTheSchedulerSetsAndRespectsTheFloor()
    {
        var rates = new FakeLearningRates(1.0, 0.1);
        var governor = new LearningRateGovernor(rates, floor: 0.05);
        governor.Apply(0.5);
        Assert.Equal([0.5, 0.05], rates.Rates); // group 1: 0.1 · 0.5 = 0.05 = floor

        // A scheduler halves group 0 behind the monitor's back: the factor applies to the new schedule.
        rates.Rates[0] = 0.25;
        governor.Apply(0.5);
        Assert.Equal(0.125, rates.Rates[0]);

        // Recovery restores the scheduled rate exactly, not the pre-scheduler one.
        governor.Apply(1);
        Assert.Equal([0.25, 0.1], rates.Rates);
    }

    [Fact]
    public void GovernorDoesNotWriteWhenNothingChanges()
    {
        var rates = new CountingRates(0.3);
        var governor = new LearningRateGovernor(rates, floor: null);
        Assert.Empty(governor.Apply(1));
        Assert.Equal(0, rates.Writes);
    }

    private sealed class CountingRates(double rate) : ILearningRateController
    {
        public int Writes { get; private set; }

        public int GroupCount => 1;

        public double GetLearningRate(int group) => rate;

        public void SetLearningRate(int group, double value)
        {
            Writes++;
            rate = value;
        }
    }
}
