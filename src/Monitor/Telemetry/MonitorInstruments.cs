using System.Diagnostics;
using System.Diagnostics.Metrics;
using SpectralMonitor.Rules;

namespace SpectralMonitor.Telemetry;

/// <summary>
/// Every instrument of one monitor, created once. Gauges are observed at collection time from the latest
/// immutable <see cref="ProbeResult"/> (swapped atomically), so a collector on another thread always reads one
/// consistent probe.
/// </summary>
internal sealed class MonitorInstruments : IDisposable
{
    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly KeyValuePair<string, object?>[] _tags;
    private readonly Counter<long> _alerts;
    private readonly Counter<long> _backoffs;
    private readonly Counter<long> _hvps;
    private readonly Counter<long> _probeFailures;
    private readonly Histogram<double> _probeDuration;
    private readonly Func<MonitorState> _state;

    public MonitorInstruments(IMeterFactory? meterFactory, string runName, Func<string> optimizerName, Func<MonitorState> state)
    {
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

        _tags = [new("run", runName), new("optimizer", optimizerName())];

        _meter.CreateObservableGauge("training.loss", () => Step(s => s.Loss), description: "Training loss at the latest step.");
        _meter.CreateObservableGauge("training.learning_rate", ObserveLearningRates, description: "Learning rate in force per parameter group.");
        _meter.CreateObservableGauge("stability.spectral_radius", ObserveSpectralRadius, description: "Spectral radius of the update operator J, whole and split into oscillatory (Re z < 0) and monotone branches.");
        _meter.CreateObservableGauge("stability.eigenvector_condition", ObserveCondition, description: "Eigenvector condition number κ(V) of J over all analysed modes, over the top curvature modes, and over the oscillatory Ritz vectors.");
        Gauge("stability.transient_growth", Indicators.TransientGrowth, "Transient growth max over k ≤ horizon of ‖Jᵏ‖₂.");
        Gauge("stability.kreiss_constant", Indicators.KreissConstant, "Kreiss constant of the projected update operator.");
        _meter.CreateObservableGauge("stability.sharpness", () => Probe(Indicators.Sharpness, adaptive: false), description: "Top Hessian eigenvalue λ_max(H̃) (SGD family).");
        _meter.CreateObservableGauge("stability.preconditioned_sharpness", () => Probe(Indicators.Sharpness, adaptive: true), description: "Top eigenvalue of P^½H̃P^½ (Adam, RMSprop).");
        Gauge("stability.sharpness_threshold", Indicators.SharpnessEdge, "Stability edge of the sharpness: where the top mode's eigenvalue reaches −1.");
        Gauge("stability.sharpness_to_edge", Indicators.SharpnessToEdge, "Sharpness divided by its stability edge.", unit: "1");
        Gauge("stability.commutator_norm", Indicators.CommutatorNorm, "Normalized commutator ‖[H̃, P]‖_F / (‖H̃‖_F ‖P‖₂).", unit: "1");
        Gauge("stability.exceptional_point_distance", Indicators.ExceptionalPointDistance, "Relative distance of the top curvature mode below the upper exceptional point.", unit: "1");
        Gauge("stability.edge_distance", Indicators.EdgeDistance, "Relative distance of the top curvature mode below the stability edge.", unit: "1");
        _meter.CreateObservableGauge("stability.weight_top_singular_value", () => Weights(w => w.TopSingularValue), description: "Top singular value of each weight matrix.");
        _meter.CreateObservableGauge("stability.weight_stable_rank", () => Weights(w => w.StableRank), description: "Stable rank ‖W‖²_F/‖W‖²₂ of each weight matrix.");
        _meter.CreateObservableGauge("stability.gradient_norm_zscore", () => Step(s => s.GradientNormZScore), description: "Gradient-norm z-score against its EMA.");
        _meter.CreateObservableGauge("stability.loss_zscore", () => Step(s => s.LossZScore), description: "Loss z-score against its EMA.");
        _meter.CreateObservableGauge("stability.alert_level", () => Step(s => (double)s.Level), description: "Highest current alert level: 0 OK, 1 Warning, 2 Critical.");
        _meter.CreateObservableGauge("stability.backoff_factor", () => Step(s => s.BackoffFactor), unit: "1", description: "Learning-rate backoff factor in force (1 = none).");

        _alerts = _meter.CreateCounter<long>("stability.alerts", unit: "{alert}", description: "Alerts raised, by rule and level.");
        _backoffs = _meter.CreateCounter<long>("stability.backoffs", unit: "{backoff}", description: "Learning-rate reductions applied by the backoff policy.");
        _hvps = _meter.CreateCounter<long>("stability.probe.hvp_count", unit: "{hvp}", description: "Hessian-vector products spent by probes.");
        _probeFailures = _meter.CreateCounter<long>("stability.probe.failures", unit: "{probe}", description: "Probes that failed and were skipped.");
        _probeDuration = _meter.CreateHistogram<double>("stability.probe.duration", unit: "s", description: "Wall time of a probe.");
    }

    public void RecordProbe(ProbeResult probe)
    {
        _probeDuration.Record(probe.Duration.TotalSeconds, _tags);
        _hvps.Add(probe.HvpCount, _tags);
        if (probe.Status == ProbeStatus.Failed)
        {
            _probeFailures.Add(1, _tags);
        }
    }

    public void RecordAlert(StabilityAlert alert)
    {
        var tags = new TagList { _tags[0], _tags[1], { "rule", alert.Rule }, { "level", alert.Level.ToString().ToLowerInvariant() } };
        _alerts.Add(1, tags);
    }

    public void RecordBackoff(int group)
    {
        var tags = new TagList { _tags[0], _tags[1], { "param_group", group } };
        _backoffs.Add(1, tags);
    }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private void Gauge(string name, string indicator, string description, string? unit = null) =>
        _meter.CreateObservableGauge(name, () => Probe(indicator, adaptive: null), unit: unit, description: description);

    private IEnumerable<Measurement<double>> Step(Func<MonitorState, double> read)
    {
        var state = _state();
        double value = read(state);
        return double.IsNaN(value) && state.Step < 0 ? [] : [new Measurement<double>(value, _tags)];
    }

    private IEnumerable<Measurement<double>> Probe(string indicator, bool? adaptive)
    {
        var state = _state();
        if (state.Probe is not { } probe || (adaptive is bool a && a != state.Adaptive) || !probe.Indicators.TryGetValue(indicator, out double value))
        {
            return [];
        }

        return [new Measurement<double>(value, _tags)];
    }

    private IEnumerable<Measurement<double>> ObserveSpectralRadius()
    {
        var probe = _state().Probe;
        if (probe is null)
        {
            yield break;
        }

        foreach (var (branch, indicator) in new[] { ("all", Indicators.SpectralRadius), ("oscillatory", Indicators.OscillatoryRadius), ("monotone", Indicators.MonotoneRadius) })
        {
            if (probe.Indicators.TryGetValue(indicator, out double value))
            {
                yield return new Measurement<double>(value, [_tags[0], _tags[1], new("branch", branch)]);
            }
        }
    }

    private IEnumerable<Measurement<double>> ObserveCondition()
    {
        var probe = _state().Probe;
        if (probe is null)
        {
            yield break;
        }

        foreach (var (scope, indicator) in new[] { ("all", Indicators.EigenvectorCondition), ("top", Indicators.TopEigenvectorCondition), ("oscillatory", Indicators.OscillatoryEigenvectorCondition) })
        {
            if (probe.Indicators.TryGetValue(indicator, out double value))
            {
                yield return new Measurement<double>(value, [_tags[0], _tags[1], new("scope", scope)]);
            }
        }
    }

    private IEnumerable<Measurement<double>> Weights(Func<WeightReading, double> read)
    {
        var probe = _state().Probe;
        if (probe is null)
        {
            yield break;
        }

        foreach (var weight in probe.Weights)
        {
            yield return new Measurement<double>(read(weight), [_tags[0], _tags[1], new("weight", weight.Name)]);
        }
    }

    private IEnumerable<Measurement<double>> ObserveLearningRates()
    {
        var rates = _state().LearningRates;
        for (int g = 0; g < rates.Count; g++)
        {
            yield return new Measurement<double>(rates[g], [_tags[0], _tags[1], new("param_group", g)]);
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
/// <param name="Adaptive">Whether the curvature operator is preconditioned (Adam/RMSprop).</param>
internal sealed record MonitorState(
    long Step,
    double Loss,
    double LossZScore,
    double GradientNormZScore,
    AlertLevel Level,
    double BackoffFactor,
    IReadOnlyList<double> LearningRates,
    ProbeResult? Probe,
    bool Adaptive)
{
    public static MonitorState Initial { get; } = new(-1, double.NaN, double.NaN, double.NaN, AlertLevel.Ok, 1, [], null, false);
}
