using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using SpectralMonitor.Backoff;
using SpectralMonitor.Rules;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch.Tests;

/// <summary>
/// Fault injection through the public API of the TorchSharp adapter (issue 14, items 1–7): step numbers that restart
/// or overflow, handlers that call back into the monitor, slow probe losses with a timeout and disposal from another
/// thread, a disposed or replaced optimizer and a model moved to another dtype, a probe loss that does not depend on
/// the monitored parameters, two monitors with one run name, a NaN probe loss. Each case is one clear failed probe or
/// log line, never an exception into the loop, a stall or a wrong "successful" reading. Serial: two cases time a
/// cross-thread Dispose.
/// </summary>
[Collection(SerialTorchTests.Name)]
public class FaultInjectionTests
{
    private static StabilityMonitorOptions Options(string run) => new()
    {
        RunName = run,
        ProbeInterval = 25,
        FirstProbeStep = 10,
        OverheadBudget = 1,
        BringForwardOnTrend = false,
    };

    // Item 1: OnStep(step) with epoch-numbered steps probed only in the first epoch ([5, 0, 0, 0] over 4 epochs).
    [Fact]
    public void EpochNumberedStepsAreProbedInEveryEpoch()
    {
        using var run = new RegressionRun(seed: 21, hidden: 8);
        using var optimizer = torch.optim.SGD(run.Model.parameters(), 0.05, momentum: 0.9);
        var log = new RecordingLogger();
        using var monitor = optimizer.AttachSpectralMonitor(run.Model, run.Loss, new() { Monitor = Options("fault-epochs"), LoggerFactory = log });
        var perEpoch = new int[3];
        int epoch = 0;
        monitor.ProbeCompleted += (_, _) => perEpoch[epoch]++;
        for (epoch = 0; epoch < 3; epoch++)
        {
            for (int step = 0; step < 100; step++)
            {
                monitor.OnStep(step, run.Step(optimizer));
            }
        }

        // One timeline of 300 steps: probes 10, 35, 60, 85 steps into each epoch.
        Assert.Equal([4, 4, 4], perEpoch);
        Assert.Equal(0, monitor.FailedProbeCount);
        Assert.Single(log.Entries, e => e.Id.Id == 1010 && e.Level == LogLevel.Information);
    }

    // Item 1: OnStep(long.MaxValue − 3) overflowed the next-probe step (then every step probed).
    [Fact]
    public void StepNumbersAtTheEndOfTheRangeKeepTheCadence()
    {
        using var run = new RegressionRun(seed: 22, hidden: 8);
        using var optimizer = torch.optim.SGD(run.Model.parameters(), 0.05);
        using var monitor = optimizer.AttachSpectralMonitor(run.Model, run.Loss, new() { Monitor = Options("fault-overflow") });
        for (long step = long.MaxValue - 3; ; step++)
        {
            monitor.OnStep(step, run.Step(optimizer));
            if (step == long.MaxValue)
            {
                break;
            }
        }

        for (int step = 0; step < 30; step++)
        {
            monitor.OnStep(step, run.Step(optimizer));
        }

        // Timeline positions 0 and 25 (step 21 of the restarted numbering): two probes in 34 steps, not 34.
        Assert.Equal(2, monitor.ProbeCount);
        Assert.Equal(21, monitor.LatestProbe!.Step);
        Assert.Equal(46, monitor.NextProbeStep);
    }

    // Item 2: ProbeNow inside ProbeCompleted recursed until the stack overflowed (exit 134, the test host died).
    [Fact]
    public void AHandlerThatProbesAgainIsRefusedNotRecursed()
    {
        using var run = new RegressionRun(seed: 23, hidden: 8);
        using var optimizer = torch.optim.SGD(run.Model.parameters(), 0.05);
        var log = new RecordingLogger();
        using var monitored = optimizer.WithSpectralMonitor(run.Model, run.Loss, new() { Monitor = Options("fault-reentrant") with { FirstProbeStep = 0 }, LoggerFactory = log });
        var nested = new List<ProbeResult?>();
        monitored.Monitor.ProbeCompleted += (_, p) =>
        {
            nested.Add(monitored.Monitor.ProbeNow(p.Step));
            monitored.Monitor.OnStep(p.Step, double.NaN);
        };
        for (int step = 0; step < 30; step++)
        {
            using var scope = torch.NewDisposeScope();
            optimizer.zero_grad();
            var loss = run.Loss();
            loss.backward();
            monitored.Step(loss);
        }

        Assert.Equal(2, monitored.Monitor.ProbeCount); // steps 0 and 25
        Assert.Equal([null, null], nested);
        Assert.Equal(AlertLevel.Ok, monitored.Monitor.Level);
        Assert.Single(log.Entries, e => e.Id.Id == 1011 && e.Level == LogLevel.Warning);
        Assert.DoesNotContain(log.Entries, e => e.Id.Id == 1009);
    }

    // Item 3: with a 200 ms timeout and a 4 s probe loss, Dispose() from another thread blocked 2.8 s.
    [Fact]
    public async Task DisposeFromAnotherThreadDuringASlowProbeLossReturnsPromptly()
    {
        using var run = new RegressionRun(seed: 24, hidden: 8);
        using var optimizer = torch.optim.SGD(run.Model.parameters(), 0.05);
        using var entered = new ManualResetEventSlim();
        Tensor SlowLoss()
        {
            entered.Set();
            Thread.Sleep(3000); // one call the monitor cannot interrupt
            return run.Loss();
        }

        var monitor = optimizer.AttachSpectralMonitor(run.Model, SlowLoss, new() { Monitor = Options("fault-dispose") with { FirstProbeStep = 0, ProbeTimeout = TimeSpan.FromMilliseconds(200) } });
        int events = 0;
        monitor.ProbeCompleted += (_, _) => events++;
        double loss = run.Step(optimizer);
        var training = Task.Factory.StartNew(() => monitor.OnStep(0, loss), TestContext.Current.CancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Assert.True(entered.Wait(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken));

        var stopwatch = Stopwatch.StartNew();
        monitor.Dispose();
        stopwatch.Stop();
        TestContext.Current.TestOutputHelper?.WriteLine($"Dispose returned after {stopwatch.Elapsed.TotalSeconds:F3} s");

        // Dispose waits at most about 0.1 s, then leaves the release to the training thread. The bound is generous
        // for a loaded machine; before the fix Dispose blocked until the 3 s closure returned.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1.5), $"Dispose blocked {stopwatch.Elapsed.TotalSeconds:F2} s");
        await training.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        Assert.Equal(0, events);
        monitor.OnStep(1, loss);
        Assert.Null(monitor.ProbeNow(2));
    }

    // Item 3: the timeout ends the probe at the first check after the slow closure returns, and says what it bounds.
    [Fact]
    public void AProbeLossSlowerThanTheTimeoutFailsTheProbeWithoutAnyHvp()
    {
        using var run = new RegressionRun(seed: 25, hidden: 8);
        using var optimizer = torch.optim.SGD(run.Model.parameters(), 0.05);
        Tensor SlowLoss()
        {
            Thread.Sleep(600);
            return run.Loss();
        }

        using var monitor = optimizer.AttachSpectralMonitor(run.Model, SlowLoss, new() { Monitor = Options("fault-timeout") with { FirstProbeStep = 0, ProbeTimeout = TimeSpan.FromMilliseconds(200) } });
        double loss = run.Step(optimizer);
        var stopwatch = Stopwatch.StartNew();
        monitor.OnStep(0, loss);
        stopwatch.Stop();
        TestContext.Current.TestOutputHelper?.WriteLine($"OnStep with a 0.6 s probe loss took {stopwatch.Elapsed.TotalSeconds:F3} s");

        var probe = monitor.LatestProbe!;
        Assert.Equal(ProbeStatus.Failed, probe.Status);
        Assert.Contains("ProbeTimeout (200 ms)", probe.FailureReason, StringComparison.Ordinal);
        Assert.Equal(0, probe.HvpCount);

        // The closure itself (0.6 s) cannot be interrupted; nothing after it ran. Generous bound for a loaded machine.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(3), $"OnStep took {stopwatch.Elapsed.TotalSeconds:F2} s");
    }

    // Item 4: a disposed optimizer made every probe fail with KeyNotFoundException on a parameter handle.
    [Fact]
    public void ADisposedOptimizerIsReportedClearlyOnce()
    {
        using var run = new RegressionRun(seed: 26, hidden: 8);
        var optimizer = torch.optim.SGD(run.Model.parameters(), 0.05, momentum: 0.9);
        var log = new RecordingLogger();
        using var monitor = optimizer.AttachSpectralMonitor(run.Model, run.Loss, new() { Monitor = Options("fault-disposed-optimizer"), LoggerFactory = log });
        run.Step(optimizer);
        Assert.Equal(ProbeStatus.Succeeded, monitor.ProbeNow(0)!.Status);

        optimizer.Dispose();
        var first = monitor.ProbeNow(1)!;
        var second = monitor.ProbeNow(2)!;

        Assert.Equal(ProbeStatus.Failed, first.Status);
        Assert.DoesNotContain("KeyNotFoundException", first.FailureReason, StringComparison.Ordinal);
        Assert.Contains("optimizer", first.FailureReason, StringComparison.Ordinal);
        Assert.Contains("Rebind", first.FailureReason, StringComparison.Ordinal);
        Assert.Equal(first.FailureReason, second.FailureReason);

        // Said once at Warning; the repeats of the same reason only at Debug.
        Assert.Single(log.Entries, e => e.Id.Id == 1001 && e.Level == LogLevel.Warning);
        Assert.Single(log.Entries, e => e.Id.Id == 1001 && e.Level == LogLevel.Debug);
    }

    // Item 4: moving the model to another dtype replaces its parameters; the old optimizer holds the disposed ones.
    [Fact]
    public void AModelMovedToAnotherDtypeUnderTheOldOptimizerIsReported()
    {
        using var run = new RegressionRun(seed: 27, hidden: 8);
        using var optimizer = torch.optim.Adam(run.Model.parameters(), 0.01);
        // A probe loss that follows the model's dtype (as one that reads it from the model would).
        Tensor Loss()
        {
            var dtype = run.Model.parameters().First().dtype;
            using var inputs = run.Inputs.to(dtype);
            using var targets = run.Targets.to(dtype);
            using var prediction = run.Model.forward(inputs);
            using var error = prediction - targets;
            using var squared = error.square();
            return squared.mean();
        }

        using var monitor = optimizer.AttachSpectralMonitor(run.Model, Loss, new() { Monitor = Options("fault-dtype") });
        run.Step(optimizer);
        Assert.Equal(ProbeStatus.Succeeded, monitor.ProbeNow(0)!.Status);

        run.Model.to(ScalarType.Float32);
        var probe = monitor.ProbeNow(1)!;
        Assert.Equal(ProbeStatus.Failed, probe.Status);
        Assert.DoesNotContain("KeyNotFoundException", probe.FailureReason, StringComparison.Ordinal);
        Assert.Contains("disposed", probe.FailureReason, StringComparison.Ordinal);

        // Rebound to an optimizer over the moved parameters, the monitor probes again (in float32).
        using var moved = torch.optim.Adam(run.Model.parameters(), 0.01);
        moved.RebindSpectralMonitor(monitor, run.Model, Loss);
        Assert.Equal(ProbeStatus.Succeeded, monitor.ProbeNow(2)!.Status);
    }

    // Item 4: after replacing SGD by Adam the monitor kept SGD's edge and a backoff would act on the dead optimizer.
    [Fact]
    public void RebindingToAReplacementOptimizerMovesTheEdgeTheBackoffAndTheTags()
    {
        using var run = new RegressionRun(seed: 35, hidden: 8);
        using var sgd = torch.optim.SGD(run.Model.parameters(), 0.05, momentum: 0.9);
        using var monitored = sgd.WithSpectralMonitor(run.Model, run.Loss, new() { Monitor = Options("fault-rebind"), BackoffPolicy = new HalvingPolicy() });
        TrainSteps(monitored, run, 3);
        var before = monitored.Monitor.ProbeNow(3)!;
        Assert.Equal(ProbeStatus.Succeeded, before.Status);

        // The policy halves at every step: SGD's rate is 0.025; the edge reads the rate in force, 2(1 + μ)/η = 152.
        Assert.Equal(0.025, sgd.ParamGroups.Single().LearningRate, 15);
        Assert.Equal(2 * 1.9 / 0.025, before.Indicators[Indicators.SharpnessEdge], 1e-9);

        using var adam = torch.optim.Adam(run.Model.parameters(), 0.01);
        monitored.Rebind(adam, run.Model, run.Loss);
        TrainSteps(monitored, run, 3);
        var after = monitored.Monitor.ProbeNow(6)!;

        // The backoff now acts on Adam (0.01 × 0.5); SGD keeps the rate it had when it was replaced.
        Assert.Same(adam, monitored.Optimizer);
        Assert.Equal(0.005, adam.ParamGroups.Single().LearningRate, 15);
        Assert.Equal(0.025, sgd.ParamGroups.Single().LearningRate, 15);

        // The edge is Adam's: exactly what a monitor attached to Adam from the start reads at these parameters.
        using var fresh = adam.AttachSpectralMonitor(run.Model, run.Loss, new() { Monitor = Options("fault-rebind-fresh") });
        var reference = fresh.ProbeNow(6)!;
        Assert.Equal(ProbeStatus.Succeeded, after.Status);
        Assert.Equal(reference.Indicators[Indicators.SharpnessEdge], after.Indicators[Indicators.SharpnessEdge], 1e-12);
        Assert.NotEqual(before.Indicators[Indicators.SharpnessEdge], after.Indicators[Indicators.SharpnessEdge], 1e-3);
        Assert.Contains(after.Readings, r => r.Metric == ProbeMetrics.PreconditionedSharpness);
    }

    // Item 5: a probe loss computed on a teacher copy "succeeded" with sharpness 0 and ρ = 1, so nothing could fire.
    [Fact]
    public void AProbeLossOnATeacherCopyFailsTheProbe()
    {
        using var student = new RegressionRun(seed: 28, hidden: 8);
        using var teacher = new RegressionRun(seed: 29, hidden: 8);
        using var optimizer = torch.optim.SGD(student.Model.parameters(), 0.05, momentum: 0.9);
        using var monitor = optimizer.AttachSpectralMonitor(student.Model, teacher.Loss, new() { Monitor = Options("fault-teacher") });
        student.Step(optimizer);
        var probe = monitor.ProbeNow(0)!;

        Assert.Equal(ProbeStatus.Failed, probe.Status);
        Assert.Contains("does not depend on the monitored parameters", probe.FailureReason, StringComparison.Ordinal);
        Assert.False(probe.Indicators.ContainsKey(Indicators.Sharpness));
    }

    // Item 5: a loss that touches the parameters only through a zero factor has a zero gradient (and Hessian).
    [Fact]
    public void AProbeLossWithAZeroGradientFailsTheProbe()
    {
        using var student = new RegressionRun(seed: 30, hidden: 8);
        using var teacher = new RegressionRun(seed: 31, hidden: 8);
        using var optimizer = torch.optim.SGD(student.Model.parameters(), 0.05);
        Tensor Loss()
        {
            var touch = student.Model.parameters().Select(p => p.sum()).Aggregate((a, b) => a + b);
            return teacher.Loss() + (0.0 * touch);
        }

        using var monitor = optimizer.AttachSpectralMonitor(student.Model, Loss, new() { Monitor = Options("fault-zero-gradient") });
        student.Step(optimizer);
        var probe = monitor.ProbeNow(0)!;

        Assert.Equal(ProbeStatus.Failed, probe.Status);
        Assert.Contains("gradient is zero", probe.FailureReason, StringComparison.Ordinal);
    }

    // Item 6: two monitors with one RunName exported one set of series and hid each other.
    [Fact]
    public void TwoMonitorsWithOneRunNameExportTwoSeries()
    {
        using var a = new RegressionRun(seed: 32, hidden: 8);
        using var b = new RegressionRun(seed: 33, hidden: 8);
        using var optimizerA = torch.optim.SGD(a.Model.parameters(), 0.05);
        using var optimizerB = torch.optim.SGD(b.Model.parameters(), 0.05);
        var log = new RecordingLogger();
        using var first = optimizerA.AttachSpectralMonitor(a.Model, a.Loss, new() { Monitor = Options("fault-twin"), LoggerFactory = log });
        using var second = optimizerB.AttachSpectralMonitor(b.Model, b.Loss, new() { Monitor = Options("fault-twin"), LoggerFactory = log });
        first.OnStep(0, a.Step(optimizerA));
        second.OnStep(0, b.Step(optimizerB));

        Assert.Equal("fault-twin", first.Options.RunName);
        Assert.Equal("fault-twin-2", second.Options.RunName);
        Assert.Single(log.Entries, e => e.Id.Id == 1012 && e.Level == LogLevel.Warning);
        var runs = LossSeries();
        Assert.Contains("fault-twin", runs);
        Assert.Contains("fault-twin-2", runs);
    }

    // Item 7: a NaN probe loss was reported as "the eigensolver ended with NonFiniteOperatorOutput".
    [Fact]
    public void ANaNProbeLossSaysTheProbeLossWasNotFinite()
    {
        using var run = new RegressionRun(seed: 34, hidden: 8);
        using var optimizer = torch.optim.SGD(run.Model.parameters(), 0.05);
        Tensor NaNLoss() => run.Loss() * double.NaN;
        using var monitor = optimizer.AttachSpectralMonitor(run.Model, NaNLoss, new() { Monitor = Options("fault-nan") });
        run.Step(optimizer);
        var probe = monitor.ProbeNow(0)!;

        Assert.Equal(ProbeStatus.Failed, probe.Status);
        Assert.StartsWith("the probe loss is not finite (NaN)", probe.FailureReason, StringComparison.Ordinal);
        Assert.Equal(0, probe.HvpCount);
    }

    private static void TrainSteps(MonitoredOptimizer monitored, RegressionRun run, int steps)
    {
        for (int i = 0; i < steps; i++)
        {
            using var scope = torch.NewDisposeScope();
            monitored.Optimizer.zero_grad();
            var loss = run.Loss();
            loss.backward();
            monitored.Step(loss);
        }
    }

    /// <summary>Halves the learning rate at every step (a policy that makes the backoff's target visible at once).</summary>
    private sealed class HalvingPolicy : IBackoffPolicy
    {
        public double NextFactor(in BackoffContext context) => 0.5;
    }

    /// <summary>The run tags of every live <c>training.loss</c> series.</summary>
    private static List<string> LossSeries()
    {
        var runs = new List<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == StabilityMonitor.MeterName && instrument.Name == "training.loss")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "run" && tag.Value is string name)
                {
                    lock (runs)
                    {
                        runs.Add(name);
                    }
                }
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return runs;
    }
}
