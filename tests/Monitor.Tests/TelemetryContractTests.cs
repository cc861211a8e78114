using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;

using SpectralMonitor.Backoff;
using SpectralMonitor.Rules;
using SpectralMonitor.Tests.Support;

namespace SpectralMonitor.Tests;

/// <summary>Tests that register a process-wide ActivityListener: they see every monitor's spans, so they run alone.</summary>
[CollectionDefinition(nameof(SpanListeners), DisableParallelization = true)]
public sealed class SpanListeners;

/// <summary>
/// The exported telemetry is a contract: dashboards, alerting rules and the Prometheus names derived from it depend
/// on every instrument name, unit and tag. These tests pin the full set, so that a change of the pipeline behind the
/// instruments cannot rename, drop or re-tag one silently.
/// </summary>
[Collection(nameof(SpanListeners))]
public class TelemetryContractTests
{
    private static readonly double[] StableCurvatures = [10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05];

    // Heavy ball η = 0.1, μ = 0.9 (edge 38): 36 raises the sharpness_near_edge warning, so the alert counter fires too.
    private static readonly double[] Curvatures = [36, 4, 2, 1, 0.5, -0.5, -1, -2];

    private static StabilityMonitorOptions Everything(string run) => new()
    {
        RunName = run,
        ProbeInterval = 5,
        FirstProbeStep = 0,
        OverheadBudget = 1,
        TopModes = 2,
        KrylovDimension = 8,
        MaxHvpsPerProbe = 400,
        Tolerance = 1e-8,
        Estimators = ProbeEstimators.All,
        Backoff = new BackoffOptions(),
    };

    [Fact]
    public void EveryInstrumentKeepsItsNameUnitAndTagsForTheSgdFamily()
    {
        var seen = Collect("contract-sgd", adaptive: false, AlertLevel.Warning);
        string[] expected =
        [
            "counter stability.alerts [{alert}] {level=warning, optimizer=sgd, rule=sharpness_near_edge, run=contract-sgd}",
            "counter stability.backoffs [{backoff}] {optimizer=sgd, param_group=0, run=contract-sgd}",
            "counter stability.probe.hvp_count [{hvp}] {optimizer=sgd, run=contract-sgd}",
            "gauge stability.alert_level [] {optimizer=sgd, run=contract-sgd}",
            "gauge stability.backoff_factor [1] {optimizer=sgd, run=contract-sgd}",
            "gauge stability.edge_distance [1] {optimizer=sgd, run=contract-sgd}",
            "gauge stability.eigenvector_condition [] {optimizer=sgd, run=contract-sgd, scope=all}",
            "gauge stability.eigenvector_condition [] {optimizer=sgd, run=contract-sgd, scope=top}",
            "gauge stability.exceptional_point_distance [1] {optimizer=sgd, run=contract-sgd}",
            "gauge stability.gradient_norm_zscore [] {optimizer=sgd, run=contract-sgd}",
            "gauge stability.kreiss_constant [] {optimizer=sgd, run=contract-sgd}",
            "gauge stability.loss_zscore [] {optimizer=sgd, run=contract-sgd}",
            "gauge stability.monitor.overhead [1] {optimizer=sgd, run=contract-sgd}",
            "gauge stability.sharpness [] {optimizer=sgd, run=contract-sgd}",
            "gauge stability.sharpness_threshold [] {optimizer=sgd, run=contract-sgd}",
            "gauge stability.sharpness_to_edge [1] {optimizer=sgd, run=contract-sgd}",
            "gauge stability.spectral_radius [] {branch=all, optimizer=sgd, run=contract-sgd}",
            "gauge stability.spectral_radius [] {branch=monotone, optimizer=sgd, run=contract-sgd}",
            "gauge stability.spectral_radius [] {branch=oscillatory, optimizer=sgd, run=contract-sgd}",
            "gauge stability.transient_growth [] {optimizer=sgd, run=contract-sgd}",
            "gauge stability.weight_stable_rank [] {optimizer=sgd, run=contract-sgd, weight=layer.weight}",
            "gauge stability.weight_top_singular_value [] {optimizer=sgd, run=contract-sgd, weight=layer.weight}",
            "gauge training.learning_rate [] {optimizer=sgd, param_group=0, run=contract-sgd}",
            "gauge training.loss [] {optimizer=sgd, run=contract-sgd}",
            "histogram stability.probe.duration [s] {optimizer=sgd, run=contract-sgd}",
        ];
        Assert.Equal(expected, seen);
    }

    [Fact]
    public void EveryInstrumentKeepsItsNameUnitAndTagsForAnAdaptiveOptimizer()
    {
        var seen = Collect("contract-adam", adaptive: true, AlertLevel.Critical);
        string[] expected =
        [
            "counter stability.alerts [{alert}] {level=critical, optimizer=sgd, rule=oscillatory_radius, run=contract-adam}",
            "counter stability.alerts [{alert}] {level=critical, optimizer=sgd, rule=sharpness_near_edge, run=contract-adam}",
            "counter stability.backoffs [{backoff}] {optimizer=sgd, param_group=0, run=contract-adam}",
            "counter stability.probe.hvp_count [{hvp}] {optimizer=sgd, run=contract-adam}",
            "gauge stability.alert_level [] {optimizer=sgd, run=contract-adam}",
            "gauge stability.backoff_factor [1] {optimizer=sgd, run=contract-adam}",
            "gauge stability.capped_sharpness_to_edge [1] {factor=10, optimizer=sgd, run=contract-adam}",
            "gauge stability.capped_sharpness_to_edge [1] {factor=100, optimizer=sgd, run=contract-adam}",
            "gauge stability.commutator_norm [1] {optimizer=sgd, run=contract-adam}",
            "gauge stability.edge_distance [1] {optimizer=sgd, run=contract-adam}",
            "gauge stability.eigenvector_condition [] {optimizer=sgd, run=contract-adam, scope=all}",
            "gauge stability.eigenvector_condition [] {optimizer=sgd, run=contract-adam, scope=oscillatory}",
            "gauge stability.eigenvector_condition [] {optimizer=sgd, run=contract-adam, scope=top}",
            "gauge stability.epsilon_coordinate_share [1] {factor=1, optimizer=sgd, run=contract-adam}",
            "gauge stability.epsilon_coordinate_share [1] {factor=10, optimizer=sgd, run=contract-adam}",
            "gauge stability.epsilon_coordinate_share [1] {factor=100, optimizer=sgd, run=contract-adam}",
            "gauge stability.epsilon_mass [1] {factor=1, optimizer=sgd, run=contract-adam, vector=curvature}",
            "gauge stability.epsilon_mass [1] {factor=1, optimizer=sgd, run=contract-adam, vector=update}",
            "gauge stability.epsilon_mass [1] {factor=10, optimizer=sgd, run=contract-adam, vector=curvature}",
            "gauge stability.epsilon_mass [1] {factor=10, optimizer=sgd, run=contract-adam, vector=update}",
            "gauge stability.epsilon_mass [1] {factor=100, optimizer=sgd, run=contract-adam, vector=curvature}",
            "gauge stability.epsilon_mass [1] {factor=100, optimizer=sgd, run=contract-adam, vector=update}",
            "gauge stability.exceptional_point_distance [1] {optimizer=sgd, run=contract-adam}",
            "gauge stability.gradient_norm_zscore [] {optimizer=sgd, run=contract-adam}",
            "gauge stability.kreiss_constant [] {optimizer=sgd, run=contract-adam}",
            "gauge stability.loss_zscore [] {optimizer=sgd, run=contract-adam}",
            "gauge stability.monitor.overhead [1] {optimizer=sgd, run=contract-adam}",
            "gauge stability.preconditioned_sharpness [] {optimizer=sgd, run=contract-adam}",
            "gauge stability.sharpness_threshold [] {optimizer=sgd, run=contract-adam}",
            "gauge stability.sharpness_to_edge [1] {optimizer=sgd, run=contract-adam}",
            "gauge stability.spectral_radius [] {branch=all, optimizer=sgd, run=contract-adam}",
            "gauge stability.spectral_radius [] {branch=monotone, optimizer=sgd, run=contract-adam}",
            "gauge stability.spectral_radius [] {branch=oscillatory, optimizer=sgd, run=contract-adam}",
            "gauge stability.transient_growth [] {optimizer=sgd, run=contract-adam}",
            "gauge stability.weight_stable_rank [] {optimizer=sgd, run=contract-adam, weight=layer.weight}",
            "gauge stability.weight_top_singular_value [] {optimizer=sgd, run=contract-adam, weight=layer.weight}",
            "gauge training.learning_rate [] {optimizer=sgd, param_group=0, run=contract-adam}",
            "gauge training.loss [] {optimizer=sgd, run=contract-adam}",
            "histogram stability.probe.duration [s] {optimizer=sgd, run=contract-adam}",
        ];
        Assert.Equal(expected, seen);
    }

    [Fact]
    public void TheMonitorsOwnCostIsExportedAsItsLedgerReportsIt()
    {
        // 1 ms steps and 0.05 ms sensor reads on a manual clock: the overhead gauge is the ledger's ratio and the reads
        // counter its count, both tagged like every other series.
        var time = new ManualTime();
        var target = new SensingTarget(new FakeTarget([4, 3, 2, 1]), () => time.Advance(TimeSpan.FromMilliseconds(0.05)));
        var options = new StabilityMonitorOptions { RunName = "contract-cost", FirstProbeStep = 1_000_000 };
        using var monitor = StabilityMonitor.Create(target, options, timeProvider: time);
        for (long step = 0; step < 100; step++)
        {
            time.Advance(TimeSpan.FromMilliseconds(1));
            monitor.OnStep(step, 1.0);
        }

        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == StabilityMonitor.MeterName && instrument.Name is "stability.monitor.overhead" or "stability.step_sensor.reads")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.ToArray().Any(t => t.Key == "run" && (string?)t.Value == "contract-cost"))
            {
                values[$"{Kind(instrument)} {instrument.Name} [{instrument.Unit}]"] = value;
            }
        }

        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.Start();
        listener.RecordObservableInstruments();

        var cost = monitor.Cost;
        Assert.Equal(20, cost.SensorReads); // step 1 (warm-up), then every 5th step
        Assert.Equal(cost.SensorReads, values["counter stability.step_sensor.reads [{read}]"]);
        Assert.Equal(cost.Overhead, values["gauge stability.monitor.overhead [1]"], 12);
        Assert.Equal(19 * 0.05 / 99, cost.Overhead, 12); // 19 charged reads of 0.05 ms over 99 ms of training (step 0's is not seen)
    }

    [Fact]
    public void AFailedProbeIsCountedWithTheSameTags()
    {
        var seen = Collect("contract-fail", adaptive: false, AlertLevel.Ok, failing: true);
        Assert.Contains("counter stability.probe.failures [{probe}] {optimizer=sgd, run=contract-fail}", seen);
        Assert.Contains("counter stability.probe.hvp_count [{hvp}] {optimizer=sgd, run=contract-fail}", seen);
        Assert.Contains("histogram stability.probe.duration [s] {optimizer=sgd, run=contract-fail}", seen);
        Assert.DoesNotContain(seen, s => s.Contains(" stability.sharpness ", StringComparison.Ordinal));
    }

    [Fact]
    public void TheSpikeGuardCountsItsTriggersByDecision()
    {
        const string Run = "contract-guard";
        var counts = new SortedDictionary<string, long>(StringComparer.Ordinal);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == StabilityMonitor.MeterName && instrument.Name == "stability.spike_guard.triggers")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var pairs = tags.ToArray();
            if (!pairs.Any(t => t.Key == "run" && (string?)t.Value == Run))
            {
                return;
            }

            string key = $"{instrument.Name} [{instrument.Unit}] {{{string.Join(", ", pairs.Select(t => $"{t.Key}={t.Value}").Order(StringComparer.Ordinal))}}}";
            lock (counts)
            {
                counts[key] = counts.GetValueOrDefault(key) + value;
            }
        });
        listener.Start();

        // A loss alternating 1.0, 1.2, then a lasting jump to 3.0: with MaxConsecutiveSkips = 1 the guard skips the
        // first triggered step and applies the second (the SpikeGuardTests pin the decisions themselves).
        var options = new StabilityMonitorOptions { RunName = Run, Rules = [], FirstProbeStep = 1_000_000, SpikeGuard = new SpikeGuardOptions { MaxConsecutiveSkips = 1 } };
        using var monitor = StabilityMonitor.Create(new FakeTarget([1.0]), options);
        var decisions = new List<UpdateDecision>();
        for (int step = 0; step < 42; step++)
        {
            decisions.Add(monitor.BeforeUpdate(step, step >= 40 ? 3.0 : step % 2 == 0 ? 1.0 : 1.2));
        }

        Assert.Equal([UpdateDecision.Skip, UpdateDecision.Apply], decisions.Skip(40));
        Assert.Equal(1, monitor.SkippedUpdates);
        Assert.Equal(2, monitor.SpikeGuardTriggers);
        string[] expected =
        [
            "stability.spike_guard.triggers [{step}] {decision=applied, optimizer=sgd, run=contract-guard}=1",
            "stability.spike_guard.triggers [{step}] {decision=skipped, optimizer=sgd, run=contract-guard}=1",
        ];
        lock (counts)
        {
            Assert.Equal(expected, counts.Select(c => $"{c.Key}={c.Value}"));
        }
    }

    [Fact]
    public void ProbeSpanCarriesTheIndicators()
    {
        var spans = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == StabilityMonitor.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);
        using var monitor = StabilityMonitor.Create(new FakeTarget(StableCurvatures), StabilityMonitorTests.Dense());
        monitor.OnStep(0, 1);

        var span = Assert.Single(spans);
        Assert.Equal("stability.probe", span.OperationName);
        Assert.Equal(0L, span.GetTagItem("stability.step"));
        Assert.Equal(10, (double)span.GetTagItem("stability.sharpness")!, 1e-8);
        Assert.NotNull(span.GetTagItem("stability.oscillatory_radius"));
    }

    [Fact]
    public void TheProbeSpanKeepsItsNameAndAttributes()
    {
        var spans = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == StabilityMonitor.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                lock (spans)
                {
                    spans.Add(a);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        using var monitor = StabilityMonitor.Create(new FakeTarget(Curvatures), Everything("contract-span") with { Backoff = null });
        var probe = monitor.ProbeNow(0)!;

        Activity span;
        lock (spans)
        {
            span = Assert.Single(spans, s => (long?)s.GetTagItem("stability.step") == 0 && s.TagObjects.Any(t => t.Key == "stability.kreiss_constant" && Equals(t.Value, probe.Indicators[Indicators.KreissConstant])));
        }

        Assert.Equal("stability.probe", span.OperationName);
        Assert.Equal("structured+generic", span.GetTagItem("stability.path"));
        Assert.Equal("Succeeded", span.GetTagItem("stability.status"));
        Assert.Equal(probe.HvpCount, span.GetTagItem("stability.hvp_count"));
        string[] keys = [.. span.TagObjects.Select(t => t.Key).Order(StringComparer.Ordinal)];
        string[] expected =
        [
            "stability.edge_distance",
            "stability.eigenvector_condition",
            "stability.exceptional_point_distance",
            "stability.hvp_count",
            "stability.kreiss_constant",
            "stability.monotone_radius",
            "stability.oscillatory_radius",
            "stability.path",
            "stability.sharpness",
            "stability.sharpness_edge",
            "stability.sharpness_to_edge",
            "stability.spectral_radius",
            "stability.status",
            "stability.step",
            "stability.top_eigenvector_condition",
            "stability.transient_growth",
            "stability.weight_stable_rank",
            "stability.weight_top_singular_value",
        ];
        Assert.Equal(expected, keys);
        foreach (var (name, value) in probe.Indicators)
        {
            Assert.Equal(value, (double)span.GetTagItem("stability." + name)!);
        }
    }

    private static string Kind(Instrument instrument) => instrument switch
    {
        ObservableGauge<double> => "gauge",
        Counter<long> or ObservableCounter<long> => "counter",
        Histogram<double> => "histogram",
        _ => instrument.GetType().Name,
    };

    private static string[] Collect(string run, bool adaptive, AlertLevel expectedLevel, bool failing = false)
    {
        var seen = new SortedSet<string>(StringComparer.Ordinal);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == StabilityMonitor.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };

        void Record<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var pairs = tags.ToArray();
            if (!pairs.Any(t => t.Key == "run" && (string?)t.Value == run))
            {
                return;
            }

            string tagText = string.Join(", ", pairs.Select(t => $"{t.Key}={Convert.ToString(t.Value, CultureInfo.InvariantCulture)}").Order(StringComparer.Ordinal));
            lock (seen)
            {
                seen.Add($"{Kind(instrument)} {instrument.Name} [{instrument.Unit}] {{{tagText}}}");
            }
        }

        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.Start();

        var target = new FakeTarget(Curvatures) { Adaptive = adaptive, ReturnNaN = failing };
        using (var monitor = StabilityMonitor.Create(target, Everything(run)))
        {
            for (int step = 0; step < 3; step++)
            {
                monitor.OnStep(step, 1.0 / (step + 1), gradientNorm: 1);
            }

            Assert.Equal(failing ? ProbeStatus.Failed : ProbeStatus.Succeeded, monitor.LatestProbe!.Status);
            Assert.Equal(expectedLevel, monitor.Level);
            listener.RecordObservableInstruments();
        }

        lock (seen)
        {
            return [.. seen];
        }
    }
}
