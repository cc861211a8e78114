using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using SpectralMonitor.Backoff;
using SpectralMonitor.Rules;
using SpectralMonitor.Tests.Support;

namespace SpectralMonitor.Tests;

/// <summary>
/// The monitor under misuse (issue 14): step numbers that restart, go backwards, repeat or overflow; handlers that call
/// back into the monitor; disposal from another thread while a call that cannot be interrupted runs; probe timeouts;
/// a replaced optimizer; two monitors with one run name. The TorchSharp-level reproductions are in
/// tests/Torch.Tests/FaultInjectionTests.cs.
/// </summary>
public class MonitorMisuseTests
{
    // Heavy ball with η = 0.1, μ = 0.9: edge 2(1 + μ)/η = 38.
    private static readonly double[] StableCurvatures = [10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05];
    private static readonly double[] EdgeCurvatures = [36, 5, 2, 1, 0.5, 0.2, 0.1, 0.05];

    private static StabilityMonitorOptions Scheduled(string run) => new()
    {
        RunName = run,
        ProbeInterval = 25,
        FirstProbeStep = 10,
        OverheadBudget = 1,
        BringForwardOnTrend = false,
        TopModes = 2,
        KrylovDimension = 6,
        Tolerance = 1e-10,
    };

    [Fact]
    public void EpochNumberedStepsKeepTheScheduleInEveryEpoch()
    {
        var log = new ListLogger();
        using var monitor = StabilityMonitor.Create(new FakeTarget(StableCurvatures), Scheduled("epochs"), log);
        var perEpoch = new int[4];
        int epoch = 0;
        monitor.ProbeCompleted += (_, _) => perEpoch[epoch]++;
        for (epoch = 0; epoch < 4; epoch++)
        {
            for (int step = 0; step < 100; step++)
            {
                monitor.OnStep(step, 1);
            }
        }

        // One timeline of 400 steps: probes at 10, 35, 60, 85, 110, …: four in every epoch.
        Assert.Equal([4, 4, 4, 4], perEpoch);
        Assert.Equal(0, monitor.FailedProbeCount);

        // Each restart starts a new segment: the first is logged at Information, the later ones only at Debug.
        var restarts = log.Entries.Where(e => e.Id.Id == 1010).ToArray();
        Assert.Equal(3, restarts.Length);
        Assert.Equal(LogLevel.Information, restarts[0].Level);
        Assert.All(restarts.Skip(1), e => Assert.Equal(LogLevel.Debug, e.Level));
    }

    [Fact]
    public void AResumedRunThatRestartsItsNumberingKeepsProbing()
    {
        using var monitor = StabilityMonitor.Create(new FakeTarget(StableCurvatures), Scheduled("resumed"));
        for (int step = 0; step < 1000; step++)
        {
            monitor.OnStep(step, 1);
        }

        Assert.Equal(40, monitor.ProbeCount); // 10, 35, …, 985; the next is due 25 steps after 985
        monitor.OnStep(0, 1);

        // The restart counts as the step after 999: the next probe is 10 steps on, in the new numbering.
        Assert.Equal(10, monitor.NextProbeStep);
        for (int step = 1; step < 100; step++)
        {
            monitor.OnStep(step, 1);
        }

        Assert.Equal(44, monitor.ProbeCount); // steps 10, 35, 60, 85 of the resumed run
        Assert.Equal(85, monitor.LatestProbe!.Step);
    }

    [Fact]
    public void StepNumbersNearLongMaxValueNeitherOverflowNorProbeEveryStep()
    {
        using var monitor = StabilityMonitor.Create(new FakeTarget(StableCurvatures), Scheduled("overflow"));
        for (long step = long.MaxValue - 3; ; step++)
        {
            monitor.OnStep(step, 1);
            Assert.True(monitor.NextProbeStep >= step, $"next probe {monitor.NextProbeStep} before step {step}");
            if (step == long.MaxValue)
            {
                break;
            }
        }

        // The first step is past FirstProbeStep, so it probes; the next probe is 25 steps on (saturated at long.MaxValue).
        Assert.Equal(1, monitor.ProbeCount);
        Assert.Equal(long.MaxValue, monitor.NextProbeStep);

        // Numbering restarts (it can only go back from long.MaxValue): the schedule carries on 25 steps apart.
        for (int step = 0; step < 100; step++)
        {
            monitor.OnStep(step, 1);
        }

        Assert.Equal(5, monitor.ProbeCount); // timeline positions 0, 25, 50, 75, 100 = steps MaxValue − 3, 21, 46, 71, 96
        Assert.Equal(96, monitor.LatestProbe!.Step);
    }

    [Fact]
    public void RepeatedStepNumbersAdvanceTheScheduleOneStepEach()
    {
        using var monitor = StabilityMonitor.Create(new FakeTarget(StableCurvatures), Scheduled("repeated"));
        for (int call = 0; call < 100; call++)
        {
            monitor.OnStep(7, 1); // a loop that never advances its counter
        }

        // Step 7 is 3 steps short of FirstProbeStep = 10: the first probe is 3 calls on, then one every 25 calls.
        Assert.Equal(4, monitor.ProbeCount); // positions 3, 28, 53, 78
    }

    [Fact]
    public void BackoffRecoversAfterARestartOfTheNumbering()
    {
        var target = new FakeTarget(EdgeCurvatures, learningRate: 0.1);
        var options = Scheduled("backoff-restart") with { Backoff = new BackoffOptions { WarningFactor = 0.5, CooldownSteps = 50, RecoveryRate = 2 } };
        using var monitor = StabilityMonitor.Create(target, options);
        for (int step = 0; step < 40; step++)
        {
            monitor.OnStep(step, 1);
            if (step == 10)
            {
                // Warning at step 10 (36/38 of the edge), backoff 0.5; calm from then on (the probe at 35 lowers the rule).
                Assert.Equal(0.5, monitor.BackoffFactor);
                target.Curvatures = StableCurvatures;
            }
        }

        Assert.Equal(0.5, monitor.BackoffFactor); // 29 steps after the cut: still holding (cooldown 50)
        for (int step = 0; step < 40; step++)
        {
            monitor.OnStep(step, 1);
        }

        // 50 steps after the cut (step 20 of the second segment) the hold ends and the factor recovers (×2: back to 1).
        Assert.Equal(1, monitor.BackoffFactor);
        Assert.Equal(0.1, target.LearningRates.Rates[0], 15);
    }

    [Fact]
    public void ReentrantCallsFromAHandlerAreRefusedAndLoggedOnce()
    {
        var log = new ListLogger();
        using var monitor = StabilityMonitor.Create(new FakeTarget(StableCurvatures), Scheduled("reentrant") with { FirstProbeStep = 0, ProbeInterval = 5 }, log);
        var nested = new List<ProbeResult?>();
        monitor.ProbeCompleted += (_, p) =>
        {
            nested.Add(monitor.ProbeNow(p.Step));
            monitor.OnStep(p.Step + 1000, double.NaN);
        };
        for (int step = 0; step < 10; step++)
        {
            monitor.OnStep(step, 1);
        }

        // Before: ProbeNow inside ProbeCompleted recursed until the stack overflowed (the process died, exit 134).
        Assert.Equal(2, monitor.ProbeCount); // steps 0 and 5 only
        Assert.Equal([null, null], nested);
        Assert.Equal(AlertLevel.Ok, monitor.Level); // the nested OnStep's NaN loss never reached the rules
        var refused = log.Entries.Where(e => e.Id.Id == 1011).ToArray();
        Assert.Equal(4, refused.Length);
        Assert.Equal(LogLevel.Warning, refused[0].Level);
        Assert.All(refused.Skip(1), e => Assert.Equal(LogLevel.Debug, e.Level));
        Assert.DoesNotContain(log.Entries, e => e.Id.Id == 1009);
    }

    [Fact]
    public void DisposeFromAHandlerTakesEffectWhenTheStepEnds()
    {
        var log = new ListLogger();
        var target = new FakeTarget(EdgeCurvatures);
        var monitor = StabilityMonitor.Create(target, Scheduled("dispose-in-handler") with { FirstProbeStep = 0 }, log);
        int alerts = 0;
        monitor.ProbeCompleted += (_, _) => monitor.Dispose();
        monitor.AlertRaised += (_, _) => alerts++;
        monitor.OnStep(0, 1);

        Assert.Equal(1, monitor.ProbeCount);
        Assert.Equal(0, alerts); // nothing is raised once Dispose was called
        Assert.Equal(target.ContextsOpened, target.ContextsDisposed);
        Assert.DoesNotContain(log.Entries, e => e.Id.Id == 1009);
        monitor.OnStep(1, 1);
        Assert.Null(monitor.ProbeNow(2));
        Assert.Equal(1, monitor.ProbeCount);
    }

    [Fact]
    public async Task DisposeFromAnotherThreadDoesNotWaitForACallThatCannotBeInterrupted()
    {
        using var entered = new ManualResetEventSlim();
        var target = new FakeTarget(StableCurvatures)
        {
            OnBeginProbe = () =>
            {
                entered.Set();
                Thread.Sleep(3000); // a slow probe-loss closure: one call the monitor cannot interrupt
            },
        };
        var monitor = StabilityMonitor.Create(target, Scheduled("dispose-cross-thread") with { FirstProbeStep = 0 });
        int events = 0;
        monitor.ProbeCompleted += (_, _) => events++;
        var training = Task.Factory.StartNew(() => monitor.OnStep(0, 1), TestContext.Current.CancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Assert.True(entered.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));

        var stopwatch = Stopwatch.StartNew();
        monitor.Dispose();
        stopwatch.Stop();
        TestContext.Current.TestOutputHelper?.WriteLine($"Dispose returned after {stopwatch.Elapsed.TotalSeconds:F3} s");

        // Dispose waits at most about 0.1 s for the probe, then leaves the release to the training thread. Before, it
        // blocked until the 3 s call returned. The bound is generous for a loaded machine (this is not a benchmark).
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1.5), $"Dispose blocked {stopwatch.Elapsed.TotalSeconds:F2} s");
        await training.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.Equal(0, events); // the abandoned probe raised nothing after Dispose
        Assert.Equal(target.ContextsOpened, target.ContextsDisposed); // the training thread released what it opened
        Assert.Equal(0, target.HvpCalls);
        monitor.OnStep(1, 1);
        Assert.Null(monitor.ProbeNow(2));
    }

    [Fact]
    public void ATimedOutProbeSaysWhatTimedOutAndSpendsNothingAfterIt()
    {
        var target = new FakeTarget(StableCurvatures) { OnBeginProbe = () => Thread.Sleep(300) };
        var log = new ListLogger();
        using var monitor = StabilityMonitor.Create(target, Scheduled("timeout") with { FirstProbeStep = 0, ProbeTimeout = TimeSpan.FromMilliseconds(50) }, log);
        monitor.OnStep(0, 1);

        var probe = monitor.LatestProbe!;
        Assert.Equal(ProbeStatus.Failed, probe.Status);
        Assert.Contains("ProbeTimeout (50 ms)", probe.FailureReason, StringComparison.Ordinal);
        Assert.Equal(0, target.HvpCalls); // the timeout was seen at the first check after the slow call
        Assert.Equal(target.ContextsOpened, target.ContextsDisposed);
    }

    [Fact]
    public void RebindingMovesProbesBackoffAndTagsToTheNewTarget()
    {
        var sgd = new FakeTarget(EdgeCurvatures, learningRate: 0.1);
        var options = Scheduled("rebind") with { FirstProbeStep = 0, Backoff = new BackoffOptions { WarningFactor = 0.5, CooldownSteps = 1000 } };
        using var monitor = StabilityMonitor.Create(sgd, options);
        monitor.OnStep(0, 1);
        Assert.Equal(0.5, monitor.BackoffFactor);
        Assert.Equal(0.05, sgd.LearningRates.Rates[0], 15);

        // The loop replaces its optimizer: same model, new learning rate (edge 2(1 + 0.9)/0.2 = 19).
        var replacement = new FakeTarget(EdgeCurvatures, learningRate: 0.2) { OptimizerName = "adam" };
        monitor.Rebind(replacement);
        monitor.OnStep(1, 1);

        // The backoff in force carries over to the new optimizer; the old one is no longer touched.
        Assert.Equal(0.1, replacement.LearningRates.Rates[0], 15);
        Assert.Equal(0.05, sgd.LearningRates.Rates[0], 15);
        var probe = monitor.ProbeNow(2)!;
        Assert.Equal(ProbeStatus.Succeeded, probe.Status);
        Assert.Equal(1, replacement.ContextsOpened);

        // The edge is the new optimizer's, at the learning rate in force (0.1 after the carried backoff): 2(1.9)/0.1.
        Assert.Equal(38, probe.Indicators[Indicators.SharpnessEdge], 1e-12);
        var tags = Observe(monitor.Options.RunName, "stability.backoff_factor");
        Assert.Equal("adam", Assert.Single(tags)["optimizer"]);
    }

    [Fact]
    public void ASecondMonitorWithTheSameRunNameGetsAUniqueOneAndOneWarning()
    {
        var log = new ListLogger();
        using var first = StabilityMonitor.Create(new FakeTarget(StableCurvatures), Scheduled("twin"), log);
        using var second = StabilityMonitor.Create(new FakeTarget(StableCurvatures), Scheduled("twin"), log);
        using var third = StabilityMonitor.Create(new FakeTarget(StableCurvatures), Scheduled("twin"), log);

        // Before: both exported run="twin" and each hid the other's series.
        Assert.Equal("twin", first.Options.RunName);
        Assert.Equal("twin-2", second.Options.RunName);
        Assert.Equal("twin-3", third.Options.RunName);
        var warnings = log.Entries.Where(e => e.Id.Id == 1012).ToArray();
        Assert.Equal(2, warnings.Length);
        Assert.All(warnings, e => Assert.Equal(LogLevel.Warning, e.Level));
        Assert.Contains("'twin-2'", warnings[0].Message, StringComparison.Ordinal);
        Assert.Single(Observe("twin", "stability.backoff_factor"));
        Assert.Single(Observe("twin-2", "stability.backoff_factor"));

        // A disposed monitor exports nothing more, and its name is free again.
        first.Dispose();
        Assert.Empty(Observe("twin", "stability.backoff_factor"));
        using var fourth = StabilityMonitor.Create(new FakeTarget(StableCurvatures), Scheduled("twin"), log);
        Assert.Equal("twin", fourth.Options.RunName);
    }

    /// <summary>The tags of every measurement of <paramref name="instrument"/> with run = <paramref name="run"/>.</summary>
    private static List<Dictionary<string, object?>> Observe(string run, string instrument)
    {
        var seen = new List<Dictionary<string, object?>>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == StabilityMonitor.MeterName && i.Name == instrument)
            {
                l.EnableMeasurementEvents(i);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            var map = tags.ToArray().ToDictionary(t => t.Key, t => t.Value);
            if (map.TryGetValue("run", out var r) && (string?)r == run)
            {
                lock (seen)
                {
                    seen.Add(map);
                }
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return seen;
    }
}
