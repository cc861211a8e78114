using System.Diagnostics;
using System.Diagnostics.Metrics;
using SpectralMonitor.Rules;

namespace SpectralMonitor.Telemetry;

/// <summary>
/// Every instrument of one monitor, created once: the step gauges, one gauge per <see cref="ProbeMetrics"/> definition,
/// the counters and the probe-duration histogram. Gauges are observed at collection time from the latest immutable
/// <see cref="ProbeResult"/> (swapped atomically), so a collector on another thread always reads one consistent probe;
/// each probe gauge exports the readings that the stages typed with its definition, with their own tags.
/// </summary>
internal sealed class MonitorInstruments : IDisposable
{
    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly string _runName;
    private KeyValuePair<string, object?>[] _tags;
    private volatile bool _disposed;
    private readonly Counter<long> _alerts;
    private readonly Counter<long> _backoffs;
    private readonly Counter<long> _hvps;
    private readonly Counter<long> _probeFailures;
    private readonly Counter<long> _spikeGuardTriggers;
    private readonly Histogram<double> _probeDuration;
    private readonly Func<MonitorState> _state;

    public MonitorInstruments(IMeterFactory? meterFactory, string runName, string optimizerName, Func<MonitorState> state)
    {
        _runName = runName;
        _state = state;
        if (meterFactory is not null)
        {
            _meter = meterFactory.Create(new MeterOptions(StabilityMonitor.MeterName) { Version = StabilityMonitor.Version });
        }
        else
        {
            _meter = new Meter(StabilityMonitor.MeterName, StabilityMonitor.Version);
            _ownsMeter = true;
        }

        _tags = [new("run", runName), new("optimizer", optimizerName)];

        _meter.CreateObservableGauge("training.loss", () => Step(s => s.Loss), description: "Training loss at the latest step.");
        _meter.CreateObservableGauge("training.learning_rate", ObserveLearningRates, description: "Learning rate in force per parameter group.");
        foreach (var metric in ProbeMetrics.All)
        {
            _meter.CreateObservableGauge(metric.Name, () => Observe(metric), unit: metric.Unit, description: metric.Description);
        }

        _meter.CreateObservableGauge("stability.gradient_norm_zscore", () => Step(s => s.GradientNormZScore), description: "Gradient-norm z-score against its EMA.");
        _meter.CreateObservableGauge("stability.loss_zscore", () => Step(s => s.LossZScore), description: "Loss z-score against its EMA.");
        foreach (string indicator in Indicators.StepSensor)
        {
            _meter.CreateObservableGauge("stability." + indicator, () => Sensor(indicator), unit: "1", description: $"Step sensor reading '{indicator}' (latest read: optimizer-state statistics, or forward-hook statistics of a training forward).");
        }

        _meter.CreateObservableGauge("stability.alert_level", () => Step(s => (double)s.Level), description: "Highest current alert level: 0 OK, 1 Warning, 2 Critical.");
        _meter.CreateObservableGauge("stability.backoff_factor", () => Step(s => s.BackoffFactor), unit: "1", description: "Learning-rate backoff factor in force (1 = none).");
        _meter.CreateObservableGauge("stability.monitor.overhead", () => Step(s => s.Overhead), unit: "1", description: "The monitor's time on the training thread over the training time so far, one-off time not included (what OverheadBudget bounds).");
        _meter.CreateObservableCounter("stability.step_sensor.reads", ObserveSensorReads, unit: "{read}", description: "Step-sensor reads so far (optimizer-state statistics, forward hooks, batch curvature).");

        _alerts = _meter.CreateCounter<long>("stability.alerts", unit: "{alert}", description: "Alerts raised, by rule and level.");
        _backoffs = _meter.CreateCounter<long>("stability.backoffs", unit: "{backoff}", description: "Learning-rate reductions applied by the backoff policy.");
        _hvps = _meter.CreateCounter<long>("stability.probe.hvp_count", unit: "{hvp}", description: "Hessian-vector products spent by probes.");
        _probeFailures = _meter.CreateCounter<long>("stability.probe.failures", unit: "{probe}", description: "Probes that failed and were skipped.");
        _spikeGuardTriggers = _meter.CreateCounter<long>("stability.spike_guard.triggers", unit: "{step}", description: "Steps the spike guard judged a spike onset, by what it told the loop to do with the step's update (decision: skipped or applied).");
        _probeDuration = _meter.CreateHistogram<double>("stability.probe.duration", unit: "s", description: "Wall time of a probe.");
    }

    /// <summary>
    /// The run names of every live monitor in this process: what the <c>run</c> tag of their
    /// <c>stability.backoff_factor</c> gauge reports (a disposed monitor reports nothing). The process's published
    /// instruments are the registry that exporters read, so no registry of our own (no static state) is kept.
    /// </summary>
    public static HashSet<string> LiveRunNames()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == StabilityMonitor.MeterName && instrument.Name == "stability.backoff_factor")
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
                    lock (names)
                    {
                        names.Add(name);
                    }
                }
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return names;
    }

    /// <summary>Tags every series with <paramref name="optimizerName"/> from now on (a rebound monitor).</summary>
    public void SetOptimizer(string optimizerName) => Volatile.Write(ref _tags, [new("run", _runName), new("optimizer", optimizerName)]);

    public void RecordProbe(ProbeResult probe)
    {
        var tags = Tags;
        _probeDuration.Record(probe.Duration.TotalSeconds, tags);
        _hvps.Add(probe.HvpCount, tags);
        if (probe.Status == ProbeStatus.Failed)
        {
            _probeFailures.Add(1, tags);
        }
    }

    /// <summary>Tags a probe's span with its step, status, path, HVP count and every indicator (<c>stability.&lt;indicator&gt;</c>).</summary>
    public static void TagSpan(Activity? activity, ProbeResult probe)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetTag("stability.step", probe.Step);
        activity.SetTag("stability.status", probe.Status.ToString());
        activity.SetTag("stability.path", probe.Path.ToTagValue());
        activity.SetTag("stability.hvp_count", probe.HvpCount);
        foreach (var (name, value) in probe.Indicators)
        {
            activity.SetTag("stability." + name, value);
        }

        if (probe.Status == ProbeStatus.Failed)
        {
            activity.SetStatus(ActivityStatusCode.Error, probe.FailureReason);
        }
    }

    public void RecordAlert(StabilityAlert alert)
    {
        var own = Tags;
        var tags = new TagList { own[0], own[1], { "rule", alert.Rule }, { "level", alert.Level.ToString().ToLowerInvariant() } };
        _alerts.Add(1, tags);
    }

    /// <summary>Counts a step the spike guard triggered on, tagged with its decision (<c>skipped</c> or <c>applied</c>).</summary>
    public void RecordSpikeGuardTrigger(bool skipped)
    {
        var own = Tags;
        var tags = new TagList { own[0], own[1], { "decision", skipped ? "skipped" : "applied" } };
        _spikeGuardTriggers.Add(1, tags);
    }

    public void RecordBackoff(int group)
    {
        var own = Tags;
        var tags = new TagList { own[0], own[1], { "param_group", group } };
        _backoffs.Add(1, tags);
    }

    /// <summary>Stops every gauge (also on a shared meter from a meter factory, which outlives the monitor).</summary>
    public void Dispose()
    {
        _disposed = true;
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private KeyValuePair<string, object?>[] Tags => Volatile.Read(ref _tags);

    private IEnumerable<Measurement<double>> Step(Func<MonitorState, double> read)
    {
        if (_disposed)
        {
            return [];
        }

        var state = _state();
        double value = read(state);
        return double.IsNaN(value) && state.Step < 0 ? [] : [new Measurement<double>(value, Tags)];
    }

    /// <summary>The latest successful probe's readings exported as <paramref name="metric"/>, with their own tags.</summary>
    private IEnumerable<Measurement<double>> Observe(MetricDefinition metric)
    {
        var probe = _state().Probe;
        if (probe is null || _disposed)
        {
            yield break;
        }

        var own = Tags;
        foreach (var reading in probe.Readings)
        {
            if (ReferenceEquals(reading.Metric, metric))
            {
                yield return new Measurement<double>(reading.Value, [own[0], own[1], .. reading.Tags]);
            }
        }
    }

    private IEnumerable<Measurement<long>> ObserveSensorReads()
    {
        var state = _state();
        return _disposed || state.SensorReads == 0 ? [] : [new Measurement<long>(state.SensorReads, Tags)];
    }

    private IEnumerable<Measurement<double>> Sensor(string indicator) =>
        _state().SensorReadings.TryGetValue(indicator, out double value) ? [new Measurement<double>(value, _tags)] : [];

    private IEnumerable<Measurement<double>> ObserveLearningRates()
    {
        if (_disposed)
        {
            yield break;
        }

        var rates = _state().LearningRates;
        var own = Tags;
        for (int g = 0; g < rates.Count; g++)
        {
            yield return new Measurement<double>(rates[g], [own[0], own[1], new("param_group", g)]);
        }
    }
}

/// <summary>An immutable view of the monitor for collectors on other threads.</summary>
/// <param name="Step">The latest step (−1 before the first).</param>
/// <param name="Loss">The latest loss.</param>
/// <param name="LossZScore">The latest loss z-score.</param>
/// <param name="GradientNormZScore">The latest gradient-norm z-score.</param>
/// <param name="Level">The highest current alert level.</param>
/// <param name="BackoffFactor">The backoff factor in force.</param>
/// <param name="LearningRates">The learning rate of each group.</param>
/// <param name="Probe">The latest successful probe, or null.</param>
/// <param name="SensorReadings">The latest step-sensor readings by indicator (empty before the first read).</param>
/// <param name="Overhead">The ledger's monitor time over training time (<see cref="MonitorCost.Overhead"/>; NaN before training time).</param>
/// <param name="SensorReads">Step-sensor reads so far.</param>
internal sealed record MonitorState(
    long Step,
    double Loss,
    double LossZScore,
    double GradientNormZScore,
    AlertLevel Level,
    double BackoffFactor,
    IReadOnlyList<double> LearningRates,
    ProbeResult? Probe,
    IReadOnlyDictionary<string, double> SensorReadings,
    double Overhead,
    long SensorReads)
{
    public static MonitorState Initial { get; } = new(-1, double.NaN, double.NaN, double.NaN, AlertLevel.Ok, 1, [], null, new Dictionary<string, double>(), double.NaN, 0);
}
