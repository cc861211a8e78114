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
    public void A_persisting_Critical_cuts_again_every_EscalationSteps_down_to_the_floor_and_only_then()
    {
        var options = new BackoffOptions { CriticalFactor = 0.25, MinimumFactor = 0.01, CooldownSteps = 5, RecoveryRate = 2, EscalationSteps = 10 };
        var policy = new MultiplicativeBackoffPolicy(options);
        double f = policy.NextFactor(new BackoffContext(0, AlertLevel.Critical, [Alert(0, AlertLevel.Critical)], 1));
        var cuts = new List<(long Step, double Factor)> { (0, f) };
        for (long step = 1; step <= 45; step++)
        {
            double next = policy.NextFactor(new BackoffContext(step, AlertLevel.Critical, [], f));
            if (next != f)
            {
                cuts.Add((step, next));
            }

            f = next;
        }

        // 0.25 at the alert, then 0.25² and 0.25³ = 0.015625 ten and twenty steps on, then the floor 0.01 and no more.
        Assert.Equal([(0, 0.25), (10, 0.0625), (20, 0.015625), (30, 0.01)], cuts);

        // The level drops to Warning: no escalation (only a persisting Critical escalates), no recovery (not OK).
        Assert.Equal(0.01, policy.NextFactor(new BackoffContext(60, AlertLevel.Warning, [], 0.01)));

        // OK: the cooldown counts from the last cut (step 30), so recovery starts at once.
        Assert.Equal(0.02, policy.NextFactor(new BackoffContext(61, AlertLevel.Ok, [], 0.01)), 15);
    }

    [Fact]
    public void Without_EscalationSteps_a_persisting_Critical_cuts_once()
    {
        var policy = new MultiplicativeBackoffPolicy(new BackoffOptions());
        double f = policy.NextFactor(new BackoffContext(0, AlertLevel.Critical, [Alert(0, AlertLevel.Critical)], 1));
        for (long step = 1; step <= 1000; step++)
        {
            f = policy.NextFactor(new BackoffContext(step, AlertLevel.Critical, [], f));
        }

        Assert.Equal(0.25, f);
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
