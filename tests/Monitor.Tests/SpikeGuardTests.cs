using SpectralMonitor.Backoff;
using SpectralMonitor.Tests.Support;

namespace SpectralMonitor.Tests;

/// <summary>
/// The reactive spike guard (<see cref="SpikeGuardOptions"/>, <see cref="StabilityMonitor.BeforeUpdate"/>) on
/// synthetic loss and gradient-norm sequences whose onsets are known by construction.
/// </summary>
public class SpikeGuardTests
{
    // No alert rules and no probe before step 10⁶: only the guard acts.
    private static StabilityMonitorOptions Options(SpikeGuardOptions guard) =>
        new() { Rules = [], FirstProbeStep = 1_000_000, SpikeGuard = guard };

    /// <summary>A loss that alternates 1.0, 1.2 (EMA mean → 1.1, sd → 0.1: a step of 3.0 is z ≈ 19).</summary>
    private static double Alternating(int step) => step % 2 == 0 ? 1.0 : 1.2;

    [Fact]
    public void AJumpTriggersAtItsStepOnlySkipsItCutsTheRateHoldsThenRecovers()
    {
        var target = new FakeTarget([1.0], learningRate: 0.1);
        var guard = new SpikeGuardOptions { CooldownSteps = 5, RecoveryRate = 2, BackoffFactor = 0.5 };
        using var monitor = StabilityMonitor.Create(target, Options(guard));
        var decisions = new List<UpdateDecision>();
        var rates = new List<double>();
        for (int step = 0; step < 60; step++)
        {
            double loss = step == 40 ? 3.0 : Alternating(step);
            decisions.Add(monitor.BeforeUpdate(step, loss, gradientNorm: 1.0));
            rates.Add(target.LearningRates.Rates[0]);
            monitor.OnStep(step, loss, 1.0);
        }

        // Skipped exactly at the jump, nowhere else.
        Assert.Equal([40], Enumerable.Range(0, 60).Where(s => decisions[s] == UpdateDecision.Skip));
        Assert.Equal(1, monitor.SkippedUpdates);
        Assert.Equal(1, monitor.SpikeGuardTriggers);

        // The rate is cut to 0.5 · 0.1 at step 40 (before its update), held while fewer than CooldownSteps = 5 steps
        // passed without a trigger (steps 41–45), and recovered by RecoveryRate = 2 to the full rate at step 46.
        Assert.All(rates.Take(40), r => Assert.Equal(0.1, r));
        Assert.All(rates.Skip(40).Take(6), r => Assert.Equal(0.05, r, 15));
        Assert.All(rates.Skip(46), r => Assert.Equal(0.1, r, 15));
        Assert.Equal(1, monitor.BackoffFactor);
    }

    [Theory]
    [InlineData(1.0, 0.10, 0.10, 0.10)]    // off: every episode recovers to the full rate
    [InlineData(0.5, 0.10, 0.05, 0.025)]   // the default: 1, 0.5, 0.25
    [InlineData(0.8, 0.10, 0.08, 0.064)]   // each repeat lowers the ceiling by 0.8: 1, 0.8, 0.64
    [InlineData(0.1, 0.10, 0.01, 0.005)]   // 1, 0.1, then the 0.05 floor (MinimumFactor)
    public void EachRepeatEpisodeLowersTheLevelTheRateRecoversTo(double ceilingFactor, double afterFirst, double afterSecond, double afterThird)
    {
        var target = new FakeTarget([1.0], learningRate: 0.1);
        var guard = new SpikeGuardOptions { CooldownSteps = 5, RecoveryRate = 2, BackoffFactor = 0.5, MinimumFactor = 0.05, RepeatCeilingFactor = ceilingFactor };
        using var monitor = StabilityMonitor.Create(target, Options(guard));
        var rates = new List<double>();
        for (int step = 0; step < 160; step++)
        {
            // Three single-step jumps, 40 steps apart: three episodes.
            double loss = step is 40 or 80 or 120 ? 3.0 : Alternating(step);
            monitor.BeforeUpdate(step, loss, gradientNorm: 1.0);
            rates.Add(target.LearningRates.Rates[0]);
            monitor.OnStep(step, loss, 1.0);
        }

        Assert.Equal(3, monitor.SpikeGuardTriggers);

        // Each jump cuts the factor by 0.5, capped by the episode's ceiling (never below the floor), and 20 quiet steps
        // later it has recovered as far as that ceiling allows, where it stays.
        Assert.Equal(0.05, rates[40], 15);
        Assert.Equal(afterFirst, rates[79], 15);
        Assert.Equal(afterSecond, rates[119], 15);
        Assert.Equal(afterThird, rates[159], 15);
        Assert.True(rates[80] <= afterSecond + 1e-15 && rates[120] <= afterThird + 1e-15, "a cut never leaves the factor above its ceiling");
    }

    [Fact]
    public void ANoisyDecreasingLossNeverTriggers()
    {
        // 2,000 steps of a loss decaying from 2 to 0.5 with ±10% uniform mini-batch noise: no jump, so no trigger.
        var target = new FakeTarget([1.0], learningRate: 0.1);
        using var monitor = StabilityMonitor.Create(target, Options(new SpikeGuardOptions { GradientNormZScore = 6 }));
        var random = new Random(7);
        for (int step = 0; step < 2000; step++)
        {
            double loss = (0.5 + (1.5 * Math.Exp(-step / 300.0))) * (0.9 + (0.2 * random.NextDouble()));
            double gradient = 0.5 * (0.9 + (0.2 * random.NextDouble()));
            Assert.Equal(UpdateDecision.Apply, monitor.BeforeUpdate(step, loss, gradient));
            monitor.OnStep(step, loss, gradient);
        }

        Assert.Equal(0, monitor.SpikeGuardTriggers);
        Assert.Equal(0.1, target.LearningRates.Rates[0]);
    }

    [Fact]
    public void ALargeZScoreOfASmallRiseDoesNotTrigger()
    {
        // First loss 2; 400 steps later (0.97⁴⁰⁰ ≈ 5e-6: the EMAs have forgotten it) a loss near zero (0.010/0.011)
        // jumps to 0.05: z ≈ 8.6 (the variance still remembers the first drop), but the rise (≈ 0.04) is below MinimumLossRise · first loss = 0.2 · 2 = 0.4
        // (a noisy mini-batch of a learned task, not a spike).
        using var monitor = StabilityMonitor.Create(new FakeTarget([1.0]), Options(new SpikeGuardOptions()));
        Assert.Equal(UpdateDecision.Apply, monitor.BeforeUpdate(0, 2.0));
        for (int step = 1; step < 400; step++)
        {
            Assert.Equal(UpdateDecision.Apply, monitor.BeforeUpdate(step, step % 2 == 0 ? 0.010 : 0.011));
        }

        Assert.Equal(UpdateDecision.Apply, monitor.BeforeUpdate(400, 0.05));
        Assert.Equal(0, monitor.SpikeGuardTriggers);

        // The same run, a rise of about 0.49 > 0.4: triggers.
        Assert.Equal(UpdateDecision.Skip, monitor.BeforeUpdate(401, 0.5));
    }

    [Fact]
    public void AJumpFromAPerfectlyConstantLossTriggers()
    {
        // Zero variance: the z-score of a higher loss is +∞, not 0.
        using var monitor = StabilityMonitor.Create(new FakeTarget([1.0]), Options(new SpikeGuardOptions()));
        for (int step = 0; step < 30; step++)
        {
            Assert.Equal(UpdateDecision.Apply, monitor.BeforeUpdate(step, 1.0));
        }

        Assert.Equal(UpdateDecision.Skip, monitor.BeforeUpdate(30, 1.5));
    }

    [Fact]
    public void NonFiniteStepsAreSkippedEvenDuringTheWarmUpAndAlwaysSkipped()
    {
        var target = new FakeTarget([1.0], learningRate: 0.1);
        using var monitor = StabilityMonitor.Create(target, Options(new SpikeGuardOptions { MaxConsecutiveSkips = 1, BackoffFactor = 0.5, MinimumFactor = 0.2 }));
        Assert.Equal(UpdateDecision.Apply, monitor.BeforeUpdate(0, 1.0, 1.0));
        Assert.Equal(UpdateDecision.Skip, monitor.BeforeUpdate(1, double.NaN, 1.0));
        Assert.Equal(UpdateDecision.Skip, monitor.BeforeUpdate(2, 1.0, double.PositiveInfinity));
        Assert.Equal(UpdateDecision.Skip, monitor.BeforeUpdate(3, double.PositiveInfinity, null)); // beyond MaxConsecutiveSkips: non-finite is never applied
        Assert.Equal(UpdateDecision.Apply, monitor.BeforeUpdate(4, 1.0, 1.0));
        Assert.Equal(3, monitor.SkippedUpdates);

        // Three cuts of 0.5 from 1, floored at MinimumFactor = 0.2.
        Assert.Equal(0.02, target.LearningRates.Rates[0], 15);
    }

    [Fact]
    public void ALastingLevelShiftIsSkippedAtMostMaxConsecutiveSkipsInARow()
    {
        var target = new FakeTarget([1.0], learningRate: 0.1);
        using var monitor = StabilityMonitor.Create(target, Options(new SpikeGuardOptions { MaxConsecutiveSkips = 3, BackoffFactor = 1 }));
        for (int step = 0; step < 40; step++)
        {
            Assert.Equal(UpdateDecision.Apply, monitor.BeforeUpdate(step, Alternating(step)));
        }

        // The loss moves to 3.0 and stays: skip, skip, skip, apply (taken into the averages), and again while the
        // averages still see it as a jump.
        var decisions = Enumerable.Range(40, 8).Select(step => monitor.BeforeUpdate(step, 3.0)).ToArray();
        UpdateDecision s = UpdateDecision.Skip, a = UpdateDecision.Apply;
        Assert.Equal([s, s, s, a, s, s, s, a], decisions);

        // BackoffFactor = 1: the rate is never touched.
        Assert.Equal(0.1, target.LearningRates.Rates[0]);
    }

    [Fact]
    public void SkippingOffOnlyCutsTheRate()
    {
        var target = new FakeTarget([1.0], learningRate: 0.1);
        using var monitor = StabilityMonitor.Create(target, Options(new SpikeGuardOptions { SkipUpdate = false, BackoffFactor = 0.25, CooldownSteps = 1000 }));
        for (int step = 0; step < 41; step++)
        {
            Assert.Equal(UpdateDecision.Apply, monitor.BeforeUpdate(step, step == 40 ? 3.0 : Alternating(step)));
        }

        Assert.Equal(1, monitor.SpikeGuardTriggers);
        Assert.Equal(0, monitor.SkippedUpdates);
        Assert.Equal(0.025, target.LearningRates.Rates[0], 15);
        Assert.Equal(0.25, monitor.BackoffFactor, 15);
    }

    [Fact]
    public void TheGradientNormTriggersOnlyWhenItsThresholdIsSet()
    {
        double Gradient(int step) => step == 40 ? 10.0 : (step % 2 == 0 ? 1.0 : 1.2);
        foreach (var (threshold, expected) in new (double?, UpdateDecision)[] { (null, UpdateDecision.Apply), (6, UpdateDecision.Skip) })
        {
            using var monitor = StabilityMonitor.Create(new FakeTarget([1.0]), Options(new SpikeGuardOptions { GradientNormZScore = threshold }));
            for (int step = 0; step < 40; step++)
            {
                Assert.Equal(UpdateDecision.Apply, monitor.BeforeUpdate(step, 1.0 + (0.01 * (step % 2)), Gradient(step)));
            }

            Assert.Equal(expected, monitor.BeforeUpdate(40, 1.0, Gradient(40)));
        }
    }

    [Fact]
    public void TheGuardsCutMultipliesThePolicysBackoff()
    {
        var target = new FakeTarget([1.0], learningRate: 0.1);
        var options = Options(new SpikeGuardOptions { BackoffFactor = 0.5, CooldownSteps = 1000 }) with { Backoff = new BackoffOptions() };
        using var monitor = StabilityMonitor.Create(target, options);
        for (int step = 0; step < 41; step++)
        {
            double loss = step == 40 ? 3.0 : Alternating(step);
            monitor.BeforeUpdate(step, loss);
            monitor.OnStep(step, loss);
        }

        // No rule, so the policy's factor stays 1; the guard's 0.5 survives the policy's write in OnStep.
        Assert.Equal(0.5, monitor.BackoffFactor, 15);
        Assert.Equal(0.05, target.LearningRates.Rates[0], 15);
    }

    [Fact]
    public void WithoutTheGuardOrAfterDisposeEveryUpdateIsApplied()
    {
        using var plain = StabilityMonitor.Create(new FakeTarget([1.0]), new StabilityMonitorOptions { Rules = [] });
        Assert.Equal(UpdateDecision.Apply, plain.BeforeUpdate(0, double.NaN));

        var guarded = StabilityMonitor.Create(new FakeTarget([1.0]), Options(new SpikeGuardOptions()));
        guarded.Dispose();
        Assert.Equal(UpdateDecision.Apply, guarded.BeforeUpdate(0, double.NaN));
    }

    [Theory]
    [InlineData(nameof(SpikeGuardOptions.LossZScore))]
    [InlineData(nameof(SpikeGuardOptions.MinimumLossRise))]
    [InlineData(nameof(SpikeGuardOptions.GradientNormZScore))]
    [InlineData(nameof(SpikeGuardOptions.EwmaAlpha))]
    [InlineData(nameof(SpikeGuardOptions.WarmupSteps))]
    [InlineData(nameof(SpikeGuardOptions.MaxConsecutiveSkips))]
    [InlineData(nameof(SpikeGuardOptions.BackoffFactor))]
    [InlineData(nameof(SpikeGuardOptions.MinimumFactor))]
    [InlineData(nameof(SpikeGuardOptions.CooldownSteps))]
    [InlineData(nameof(SpikeGuardOptions.RecoveryRate))]
    [InlineData(nameof(SpikeGuardOptions.RepeatCeilingFactor))]
    public void AnOutOfRangeOptionIsRefusedByName(string option)
    {
        var bad = option switch
        {
            nameof(SpikeGuardOptions.LossZScore) => new SpikeGuardOptions { LossZScore = 0 },
            nameof(SpikeGuardOptions.MinimumLossRise) => new SpikeGuardOptions { MinimumLossRise = -0.1 },
            nameof(SpikeGuardOptions.GradientNormZScore) => new SpikeGuardOptions { GradientNormZScore = double.NaN },
            nameof(SpikeGuardOptions.EwmaAlpha) => new SpikeGuardOptions { EwmaAlpha = 1 },
            nameof(SpikeGuardOptions.WarmupSteps) => new SpikeGuardOptions { WarmupSteps = 1 },
            nameof(SpikeGuardOptions.MaxConsecutiveSkips) => new SpikeGuardOptions { MaxConsecutiveSkips = 0 },
            nameof(SpikeGuardOptions.BackoffFactor) => new SpikeGuardOptions { BackoffFactor = 0 },
            nameof(SpikeGuardOptions.MinimumFactor) => new SpikeGuardOptions { MinimumFactor = 1.5 },
            nameof(SpikeGuardOptions.CooldownSteps) => new SpikeGuardOptions { CooldownSteps = -1 },
            nameof(SpikeGuardOptions.RecoveryRate) => new SpikeGuardOptions { RecoveryRate = 1 },
            _ => new SpikeGuardOptions { RepeatCeilingFactor = 0 },
        };
        var ex = Assert.Throws<ArgumentException>(() => StabilityMonitor.Create(new FakeTarget([1.0]), Options(bad)));
        Assert.Equal(option, ex.ParamName);
        Assert.Contains($"SpikeGuardOptions.{option}", ex.Message, StringComparison.Ordinal);
    }
}
