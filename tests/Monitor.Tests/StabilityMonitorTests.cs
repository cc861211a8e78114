using System.Diagnostics.Metrics;
using SpectralMonitor.Backoff;
using SpectralMonitor.Rules;
using SpectralMonitor.Tests.Support;

namespace SpectralMonitor.Tests;

public class StabilityMonitorTests
{
    // Heavy ball with η = 0.1, μ = 0.9: edge 2(1 + μ)/η = 38; upper exceptional point (1 + √0.9)²/η ≈ 37.97.
    private static readonly double[] StableCurvatures = [10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05];
    private static readonly double[] EdgeCurvatures = [36, 5, 2, 1, 0.5, 0.2, 0.1, 0.05];

    internal static StabilityMonitorOptions Dense(params AlertRule[] rules) => new()
    {
        ProbeInterval = 5,
        FirstProbeStep = 0,
        OverheadBudget = 1,
        TopModes = 2,
        KrylovDimension = 6,
        Tolerance = 1e-10,
        Estimators = ProbeEstimators.Sharpness | ProbeEstimators.Modes | ProbeEstimators.WeightSingularValues,
        Rules = rules.Length == 0 ? DefaultRules.All : rules,
    };

    [Fact]
    public void StableRunRaisesNothingAndProbesOnSchedule()
    {
        var target = new FakeTarget(StableCurvatures);
        using var monitor = StabilityMonitor.Create(target, Dense());
        int alerts = 0;
        monitor.AlertRaised += (_, _) => alerts++;
        for (int step = 0; step < 30; step++)
        {
            monitor.OnStep(step, 1.0 / (step + 1), gradientNorm: 1);
        }

        Assert.Equal(0, alerts);
        Assert.Equal(6, monitor.ProbeCount); // steps 0, 5, …, 25
        Assert.Equal(target.ContextsOpened, target.ContextsDisposed);
        var probe = monitor.LatestProbe!;
        Assert.Equal(ProbeStatus.Succeeded, probe.Status);

        // Exact: the curvature operator is diagonal; sharpness is its largest entry and the edge is 2(1 + μ)/η.
        Assert.Equal(10, probe.Indicators[Indicators.Sharpness], 1e-8);
        Assert.Equal(38, probe.Indicators[Indicators.SharpnessEdge], 1e-12);
        Assert.Equal(3, Assert.Single(probe.Weights).TopSingularValue, 1e-6);
        Assert.Equal(10.0 / 9, probe.Weights[0].StableRank, 1e-6);
    }

    [Fact]
    public void CurvatureNearTheEdgeRaisesAWarningWithEventLogAndCounter()
    {
        var target = new FakeTarget(EdgeCurvatures);
        var log = new ListLogger();
        using var monitor = StabilityMonitor.Create(target, Dense() with { RunName = "edge-warning" }, log);
        var raised = new List<StabilityAlert>();
        monitor.AlertRaised += (_, a) => raised.Add(a);
        var counted = new List<(long Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == StabilityMonitor.MeterName && instrument.Name == "stability.alerts")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            var map = tags.ToArray().ToDictionary(t => t.Key, t => t.Value);
            if (map.TryGetValue("run", out var run) && (string?)run == "edge-warning")
            {
                counted.Add((value, map));
            }
        });
        listener.Start();

        monitor.OnStep(0, 1.0);

        // 36/38 ≈ 0.947 ≥ 0.9: Warning on sharpness_near_edge; ρ_osc < 0.99 so the oscillatory rule stays quiet.
        var alert = Assert.Single(raised);
        Assert.Equal("sharpness_near_edge", alert.Rule);
        Assert.Equal(AlertLevel.Warning, alert.Level);
        Assert.Equal(36.0 / 38, alert.ComparedValue, 1e-8);
        Assert.Contains(log.Entries, e => e.Id.Id == 1002 && e.Level == Microsoft.Extensions.Logging.LogLevel.Warning);
        var measurement = Assert.Single(counted);
        Assert.Equal(1, measurement.Value);
        Assert.Equal("sharpness_near_edge", measurement.Tags["rule"]);
        Assert.Equal("warning", measurement.Tags["level"]);
        Assert.Equal("edge-warning", measurement.Tags["run"]);
        Assert.Equal("sgd", measurement.Tags["optimizer"]);
    }

    [Fact]
    public void GaugesReportTheLatestProbeWithNamesUnitsAndTags()
    {
        var target = new FakeTarget(StableCurvatures);
        using var monitor = StabilityMonitor.Create(target, Dense() with { RunName = "exp1" });
        monitor.OnStep(0, 0.75);
        var seen = new List<(string Name, string? Unit, double Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == StabilityMonitor.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        // Other tests' monitors publish on meters of the same name in parallel: keep this run's measurements only.
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            var map = tags.ToArray().ToDictionary(t => t.Key, t => t.Value);
            if (map.TryGetValue("run", out var run) && (string?)run == "exp1")
            {
                seen.Add((instrument.Name, instrument.Unit, value, map));
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.Equal(0.75, seen.Single(s => s.Name == "training.loss").Value);
        Assert.Equal(10, seen.Single(s => s.Name == "stability.sharpness").Value, 1e-8);
        Assert.DoesNotContain(seen, s => s.Name == "stability.preconditioned_sharpness");
        Assert.Equal(38, seen.Single(s => s.Name == "stability.sharpness_threshold").Value, 1e-12);
        var ratio = seen.Single(s => s.Name == "stability.sharpness_to_edge");
        Assert.Equal("1", ratio.Unit);
        Assert.Equal("exp1", ratio.Tags["run"]);
        Assert.Equal(3, seen.Count(s => s.Name == "stability.spectral_radius"));
        Assert.Contains(seen, s => s.Name == "stability.spectral_radius" && (string?)s.Tags["branch"] == "oscillatory");
        Assert.Contains(seen, s => s.Name == "stability.eigenvector_condition" && (string?)s.Tags["scope"] == "top");
        Assert.Equal(3, seen.Single(s => s.Name == "stability.weight_top_singular_value").Value, 1e-6);
        Assert.Equal("layer.weight", seen.Single(s => s.Name == "stability.weight_top_singular_value").Tags["weight"]);
        Assert.Equal(0.1, seen.Single(s => s.Name == "training.learning_rate").Value);
    }

    [Fact]
    public void ThrowingHvpFailsTheProbeButNotTheLoop()
    {
        var target = new FakeTarget(StableCurvatures) { ThrowOnHvp = call => call == 2 ? new InvalidOperationException("device lost") : null };
        var log = new ListLogger();
        using var monitor = StabilityMonitor.Create(target, Dense(), log);
        monitor.OnStep(0, 1);
        Assert.Equal(ProbeStatus.Failed, monitor.LatestProbe!.Status);
        Assert.Contains("InvalidOperationException: device lost", monitor.LatestProbe.FailureReason, StringComparison.Ordinal);
        Assert.Contains(log.Entries, e => e.Id.Id == 1001);
        Assert.Equal(target.ContextsOpened, target.ContextsDisposed);

        // The next probe (fresh context: the fault was on call 2 of the first) succeeds; the failure doubled the interval.
        for (int step = 1; step <= 10; step++)
        {
            monitor.OnStep(step, 1);
        }

        Assert.Equal(2, monitor.ProbeCount);
        Assert.Equal(ProbeStatus.Succeeded, monitor.LatestProbe.Status);
    }

    [Fact]
    public void NaNHvpFailsTheProbeAndRepeatedFailuresWidenTheCadence()
    {
        var target = new FakeTarget(StableCurvatures) { ReturnNaN = true };
        var log = new ListLogger();
        using var monitor = StabilityMonitor.Create(target, Dense(), log);
        for (int step = 0; step < 200; step++)
        {
            monitor.OnStep(step, 1);
        }

        Assert.Equal(monitor.ProbeCount, monitor.FailedProbeCount);
        Assert.Contains("NonFiniteOperatorOutput", monitor.LatestProbe!.FailureReason, StringComparison.Ordinal);
        // Intervals 10, 20, 40, 80, … after consecutive failures: far fewer probes than the nominal 40.
        Assert.InRange(monitor.ProbeCount, 3, 6);
        Assert.Contains(log.Entries, e => e.Id.Id == 1007);
    }

    [Fact]
    public void NonFiniteLossIsCriticalAtOnce()
    {
        using var monitor = StabilityMonitor.Create(new FakeTarget(StableCurvatures), Dense() with { ProbeInterval = 1000 });
        var raised = new List<StabilityAlert>();
        monitor.AlertRaised += (_, a) => raised.Add(a);
        monitor.OnStep(1, 1);
        monitor.OnStep(2, double.NaN);
        var alert = Assert.Single(raised);
        Assert.Equal(AlertLevel.Critical, alert.Level);
        Assert.Equal("non_finite", alert.Rule);
    }

    [Fact]
    public void ProbeTimeoutCancelsAndIsReported()
    {
        var target = new FakeTarget(StableCurvatures) { DuringHvp = () => Thread.Sleep(20) };
        using var monitor = StabilityMonitor.Create(target, Dense() with { ProbeTimeout = TimeSpan.FromMilliseconds(30) });
        monitor.OnStep(0, 1);
        Assert.Equal(ProbeStatus.Failed, monitor.LatestProbe!.Status);
        Assert.Contains("Cancelled", monitor.LatestProbe.FailureReason, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task DisposalMidProbeStopsItAndLaterStepsAreNoOps()
    {
        using var inHvp = new ManualResetEventSlim();
        var target = new FakeTarget(StableCurvatures);
        var monitor = StabilityMonitor.Create(target, Dense());
        target.DuringHvp = () =>
        {
            inHvp.Set();
            Thread.Sleep(5);
        };
        var disposer = Task.Run(
            () =>
            {
                inHvp.Wait(TestContext.Current.CancellationToken);
                monitor.Dispose();
            },
            TestContext.Current.CancellationToken);
        monitor.OnStep(0, 1);
        await disposer.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(ProbeStatus.Failed, monitor.LatestProbe!.Status);
        Assert.Equal(target.ContextsOpened, target.ContextsDisposed);
        monitor.OnStep(1, 1);
        Assert.Null(monitor.ProbeNow(2));
        Assert.Equal(1, monitor.ProbeCount);
    }

    [Fact]
    public void ThrowingEventHandlerIsIsolated()
    {
        var log = new ListLogger();
        using var monitor = StabilityMonitor.Create(new FakeTarget(EdgeCurvatures), Dense(), log);
        monitor.AlertRaised += (_, _) => throw new InvalidOperationException("user bug");
        monitor.OnStep(0, 1);
        Assert.Contains(log.Entries, e => e.Id.Id == 1008);
        Assert.Equal(AlertLevel.Warning, monitor.Level);
    }

    [Fact]
    public void BackoffCutsTheLearningRateOnAWarningAndRecoversWhenOk()
    {
        var target = new FakeTarget(EdgeCurvatures, learningRate: 0.1);
        var options = Dense() with { Backoff = new BackoffOptions { WarningFactor = 0.5, CooldownSteps = 2, RecoveryRate = 2 } };
        using var monitor = StabilityMonitor.Create(target, options);
        monitor.OnStep(0, 1);
        Assert.Equal(0.05, target.LearningRates.Rates[0], 15);
        Assert.Equal(0.5, monitor.BackoffFactor);

        // With η halved the edge doubles (76): the next probe (step 5) sees 36/76 and the rule clears; then recovery.
        for (int step = 1; step <= 7; step++)
        {
            monitor.OnStep(step, 1);
        }

        Assert.Equal(AlertLevel.Ok, monitor.Level);
        Assert.Equal(0.1, target.LearningRates.Rates[0], 15);
        Assert.Equal(1, monitor.BackoffFactor);
    }

    [Fact]
    public void GenericArnoldiPathAgreesWithTheStructuredPathAndAddsTheKreissConstant()
    {
        // Saddle modes (negative curvature) make the leading eigenvalues of J real, > 1 and distinct.
        double[] curvatures = [8, 4, 2, 1, 0.5, -0.5, -1, -2];
        var structuredOnly = Dense() with { Estimators = ProbeEstimators.Sharpness | ProbeEstimators.Modes, TopModes = 8, KrylovDimension = 10, MaxHvpsPerProbe = 400 };
        var genericOnly = structuredOnly with { Estimators = ProbeEstimators.Arnoldi, TopModes = 2, KrylovDimension = 16 };
        var both = structuredOnly with { Estimators = ProbeEstimators.All, TopModes = 8, KrylovDimension = 10 };

        using var structured = StabilityMonitor.Create(new FakeTarget(curvatures), structuredOnly);
        using var generic = StabilityMonitor.Create(new FakeTarget(curvatures), genericOnly);
        using var combined = StabilityMonitor.Create(new FakeTarget(curvatures), both);
        var s = structured.ProbeNow(0)!;
        var g = generic.ProbeNow(0)!;
        var c = combined.ProbeNow(0)!;

        Assert.Equal(ProbeStatus.Succeeded, g.Status);
        Assert.Equal(ProbePath.Generic, g.Path);
        Assert.Equal(ProbePath.StructuredAndGeneric, c.Path);
        // J is 16×16 here and Arnoldi converges to 1e-10: ρ agrees with the closed form to rounding (1e-8 relative).
        Assert.Equal(1.0, g.Indicators[Indicators.SpectralRadius] / s.Indicators[Indicators.SpectralRadius], 1e-8);
        Assert.True(g.Indicators[Indicators.SpectralRadius] > 1, "saddle modes grow");
        Assert.True(g.Indicators[Indicators.KreissConstant] >= 1, "the Kreiss constant of the stable part is at least 1");
        Assert.True(c.Indicators.ContainsKey(Indicators.KreissConstant));
        Assert.Equal(s.Indicators[Indicators.SpectralRadius], c.Indicators[Indicators.SpectralRadius], 12);
    }

    [Fact]
    public void AdaptiveOptimizerGetsTheCommutatorOfItsPreconditioner()
    {
        var target = new FakeTarget(StableCurvatures) { Adaptive = true };
        using var monitor = StabilityMonitor.Create(target, Dense() with { Estimators = ProbeEstimators.Default | ProbeEstimators.Commutator, CommutatorProbes = 4 });
        var probe = monitor.ProbeNow(0)!;
        Assert.Equal(ProbeStatus.Succeeded, probe.Status);
        // The fake Hessian is diagonal, and diagonal matrices commute: the exact commutator is 0 (to rounding).
        Assert.InRange(probe.Indicators[Indicators.CommutatorNorm], 0, 1e-14);
        Assert.True(probe.Indicators[Indicators.SharpnessEdge] > 0);
    }

    [Fact]
    public void ProbesNeverExceedTheirHvpCap()
    {
        // An unreachable tolerance keeps Lanczos iterating: only the cap stops it.
        var target = new FakeTarget(StableCurvatures);
        using var monitor = StabilityMonitor.Create(target, Dense() with { Tolerance = 1e-14, MaxHvpsPerProbe = 5, KrylovDimension = 4, TopModes = 1, Estimators = ProbeEstimators.All });
        for (int step = 0; step < 30; step++)
        {
            monitor.OnStep(step, 1);
        }

        Assert.Equal(6, monitor.ProbeCount);
        Assert.True(target.HvpCalls <= 6 * 5, $"{target.HvpCalls} HVPs over 6 probes with a cap of 5 each");
        Assert.InRange(monitor.LatestProbe!.HvpCount, 1, 5);
    }

    [Fact]
    public void NonFiniteLossIsLoggedOncePerEpisode()
    {
        var log = new ListLogger();
        using var monitor = StabilityMonitor.Create(new FakeTarget(StableCurvatures), Dense() with { ProbeInterval = 1000, FirstProbeStep = 1000 }, log);
        for (int step = 0; step < 10; step++)
        {
            monitor.OnStep(step, step is >= 3 and < 8 ? double.NaN : 1);
        }

        monitor.OnStep(10, double.PositiveInfinity);
        Assert.Equal(2, log.Entries.Count(e => e.Id.Id == 1006)); // steps 3 and 10: two episodes
    }

    [Fact]
    public void WarmStartFromThePreviousProbeSavesHvps()
    {
        // Same curvature at every probe: the kept Ritz vector is (nearly) an eigenvector, so the warm probe converges
        // in a fraction of the cold probe's HVPs.
        using var monitor = StabilityMonitor.Create(new FakeTarget([9, 7, 5, 3, 2, 1.5, 1, 0.5, 0.25, 0.1]), Dense() with { TopModes = 1, KrylovDimension = 8, Estimators = ProbeEstimators.Sharpness });
        var cold = monitor.ProbeNow(0)!;
        var warm = monitor.ProbeNow(1)!;
        Assert.Equal(9, warm.Indicators[Indicators.Sharpness], 1e-9);
        Assert.True(warm.HvpCount < cold.HvpCount, $"warm {warm.HvpCount} HVPs vs cold {cold.HvpCount}");
    }
}
