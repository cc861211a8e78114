using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SpectralMonitor.Backoff;
using SpectralMonitor.Probing;
using SpectralMonitor.Rules;
using SpectralMonitor.Telemetry;

namespace SpectralMonitor;

/// <summary>
/// Watches a training run from the inside: call <see cref="OnStep"/> once per step; every so often it probes the
/// optimizer's linearized update operator, evaluates alert rules, reports through metrics, logs and events, and (when
/// enabled) backs the learning rate off. It never throws into, stalls or corrupts the training loop: a failing probe is
/// recorded and skipped, and every internal error is logged and swallowed.
/// </summary>
/// <remarks>
/// <see cref="OnStep"/> must be called from one thread (the training loop's). Probes run synchronously inside it, on
/// that thread, between optimizer steps, bounded by <see cref="StabilityMonitorOptions.MaxHvpsPerProbe"/> and
/// <see cref="StabilityMonitorOptions.ProbeTimeout"/>. Metrics may be collected from any thread.
/// </remarks>
public sealed class StabilityMonitor : IDisposable
{
    /// <summary>The name of the Meter (the assembly's name).</summary>
    public const string MeterName = "SpectralMonitor";

    /// <summary>The name of the ActivitySource of probe spans.</summary>
    public const string ActivitySourceName = "SpectralMonitor";

    private readonly IProbeRunner _runner;
    private readonly StabilityMonitorOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly RuleEngine _rules;
    private readonly ProbeScheduler _scheduler;
    private readonly ProbeTimeoutPolicy _timeouts;
    private readonly EmaZScore _lossZ;
    private readonly EmaZScore _gradientZ;
    private readonly LearningRateGovernor? _governor;
    private readonly IBackoffPolicy? _backoff;
    private readonly MonitorInstruments _instruments;
    private readonly ActivitySource _activitySource;
    private readonly object _gate = new();
    private readonly CancellationTokenSource _disposal = new();
    private MonitorState _state = MonitorState.Initial;
    private long _lastStepTimestamp;
    private double _lastProbeSeconds;
    private double _backoffFactor = 1;
    private long _nonFiniteStep = long.MinValue / 2;
    private bool _disposed;

    private StabilityMonitor(IProbeRunner runner, StabilityMonitorOptions options, ILoggerFactory? loggerFactory, IMeterFactory? meterFactory, TimeProvider? timeProvider, IBackoffPolicy? backoffPolicy)
    {
        _runner = runner;
        _options = options;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<StabilityMonitor>();
        _time = timeProvider ?? TimeProvider.System;
        _rules = new RuleEngine(options.Rules, options.BaselineKind, options.BaselineProbes, options.BaselineEwmaAlpha);
        _scheduler = new ProbeScheduler(options);
        _timeouts = new ProbeTimeoutPolicy(options);
        _lossZ = new EmaZScore(options.StatisticsEwmaAlpha, options.StatisticsWarmupSteps);
        _gradientZ = new EmaZScore(options.StatisticsEwmaAlpha, options.StatisticsWarmupSteps);
        if (options.Backoff is not null || backoffPolicy is not null)
        {
            if (runner.LearningRates is null)
            {
                throw new ArgumentException("Backoff is enabled but the probe target has no learning-rate controller.", nameof(options));
            }

            _governor = new LearningRateGovernor(runner.LearningRates, options.Backoff?.MinimumLearningRate);
            _backoff = backoffPolicy ?? new MultiplicativeBackoffPolicy(options.Backoff!);
        }

        _activitySource = new ActivitySource(ActivitySourceName, Version);
        _instruments = new MonitorInstruments(meterFactory, options.RunName, () => runner.OptimizerName, () => Volatile.Read(ref _state));
    }

    /// <summary>The version of this library (the Meter's and ActivitySource's version).</summary>
    public static string Version { get; } = typeof(StabilityMonitor).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    /// <summary>Raised on the training thread when a rule's level goes up. Handler exceptions are logged and ignored.</summary>
    public event EventHandler<StabilityAlert>? AlertRaised;

    /// <summary>Raised on the training thread when a rule's level goes down.</summary>
    public event EventHandler<StabilityAlert>? AlertLowered;

    /// <summary>Raised on the training thread after every probe, successful or not.</summary>
    public event EventHandler<ProbeResult>? ProbeCompleted;

    /// <summary>The options in force.</summary>
    public StabilityMonitorOptions Options => _options;

    /// <summary>The latest probe (successful or failed), or null before the first.</summary>
    public ProbeResult? LatestProbe { get; private set; }

    /// <summary>The highest current alert level.</summary>
    public AlertLevel Level => _rules.Level;

    /// <summary>The learning-rate backoff factor in force (1 = none).</summary>
    public double BackoffFactor => _backoffFactor;

    /// <summary>Probes run so far.</summary>
    public int ProbeCount { get; private set; }

    /// <summary>Probes that failed so far.</summary>
    public int FailedProbeCount { get; private set; }

    /// <summary>The step at or after which the next probe runs.</summary>
    public long NextProbeStep => _scheduler.NextProbeStep;

    /// <summary>Creates a monitor of <paramref name="target"/>.</summary>
    /// <param name="target">The model and optimizer, seen through the probe contracts.</param>
    /// <param name="options">Options (validated here); null for the defaults.</param>
    /// <param name="loggerFactory">Where log lines go; null for none.</param>
    /// <param name="meterFactory">Creates the Meter (dependency injection); null to create it directly.</param>
    /// <param name="timeProvider">The clock; null for the system clock.</param>
    /// <param name="backoffPolicy">A custom backoff policy; null for the default one when <see cref="StabilityMonitorOptions.Backoff"/> is set.</param>
    /// <exception cref="ArgumentException">An option is invalid; the message names it and its allowed range.</exception>
    public static StabilityMonitor Create<TVec>(
        IProbeTarget<TVec> target,
        StabilityMonitorOptions? options = null,
        ILoggerFactory? loggerFactory = null,
        IMeterFactory? meterFactory = null,
        TimeProvider? timeProvider = null,
        IBackoffPolicy? backoffPolicy = null)
        where TVec : class
    {
        ArgumentNullException.ThrowIfNull(target);
        options ??= new StabilityMonitorOptions();
        options.Validate();
        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<StabilityMonitor>();
        return new StabilityMonitor(new ProbeRunner<TVec>(target, options, logger), options, loggerFactory, meterFactory, timeProvider, backoffPolicy);
    }

    /// <summary>
    /// Reports one training step. Cheap when no probe is due; runs a probe when one is. Never throws.
    /// </summary>
    /// <param name="step">The step number (increasing).</param>
    /// <param name="loss">The step's training loss.</param>
    /// <param name="gradientNorm">The step's gradient norm, when the loop has it (enables the gradient-norm z-score).</param>
    public void OnStep(long step, double loss, double? gradientNorm = null)
    {
        if (_disposed)
        {
            return;
        }

        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            try
            {
                Step(step, loss, gradientNorm, forceProbe: false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Log.InternalError(_logger, step, ex);
            }
        }
    }

    /// <summary>Runs a probe now (outside the schedule) and returns it; null when disposed. Never throws.</summary>
    /// <param name="step">The current step.</param>
    public ProbeResult? ProbeNow(long step)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return null;
            }

            try
            {
                var outcome = RunProbe(step, new Dictionary<string, double>(StringComparer.Ordinal));
                if (outcome is not { } o)
                {
                    return null;
                }

                var changes = o.Changes.ToList();
                Publish(step, changes);
                ApplyBackoff(step, changes);
                if (o.Probe.Status == ProbeStatus.Succeeded)
                {
                    Volatile.Write(ref _state, _state with { Probe = o.Probe, Level = _rules.Level, Adaptive = _runner.IsAdaptive });
                }

                return o.Probe;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Log.InternalError(_logger, step, ex);
                return null;
            }
        }
    }

    /// <summary>Stops the monitor: cancels a probe in progress, waits for it, releases every resource. Idempotent.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposal.Cancel();
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _runner.Dispose();
            _instruments.Dispose();
            _activitySource.Dispose();
            _disposal.Dispose();
        }
    }

    private void Step(long step, double loss, double? gradientNorm, bool forceProbe)
    {
        long now = _time.GetTimestamp();
        if (_lastStepTimestamp != 0)
        {
            _scheduler.RecordStep(_time.GetElapsedTime(_lastStepTimestamp, now).TotalSeconds - _lastProbeSeconds);
        }

        _lastStepTimestamp = now;
        _lastProbeSeconds = 0;

        double lossZ = _lossZ.Update(loss);
        double gradientZ = gradientNorm is double g ? _gradientZ.Update(g) : double.NaN;
        var readings = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            [Indicators.Loss] = loss,
            [Indicators.LossZScore] = lossZ,
        };
        if (gradientNorm is double gn)
        {
            readings[Indicators.GradientNorm] = gn;
            readings[Indicators.GradientNormZScore] = gradientZ;
        }

        var changes = new List<StabilityAlert>();
        if (!double.IsFinite(loss) || (gradientNorm is double gg && !double.IsFinite(gg)))
        {
            changes.Add(NonFinite(step, loss, gradientNorm ?? double.NaN, readings));
        }

        ProbeResult? probe = null;
        if (forceProbe || _scheduler.IsDue(step))
        {
            var outcome = RunProbe(step, readings);
            probe = outcome?.Probe;
            changes.AddRange(outcome?.Changes ?? []);
        }
        else
        {
            changes.AddRange(_rules.Evaluate(step, readings));
        }

        Publish(step, changes);
        ApplyBackoff(step, changes);
        Volatile.Write(ref _state, _state with
        {
            Step = step,
            Loss = loss,
            LossZScore = lossZ,
            GradientNormZScore = gradientZ,
            Level = _rules.Level,
            BackoffFactor = _backoffFactor,
            LearningRates = ReadLearningRates(),
            Probe = probe is { Status: ProbeStatus.Succeeded } ? probe : _state.Probe,
            Adaptive = _runner.IsAdaptive,
        });
    }

    private (ProbeResult Probe, IReadOnlyList<StabilityAlert> Changes)? RunProbe(long step, Dictionary<string, double> stepReadings)
    {
        using var activity = _activitySource.StartActivity("stability.probe");
        long started = _time.GetTimestamp();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_disposal.Token);
        timeout.CancelAfter(_timeouts.Next(_scheduler.StepSeconds));
        var probe = _runner.Run(step, _time, started, timeout.Token);
        _timeouts.Record(probe);
        double seconds = probe.Duration.TotalSeconds;
        _lastProbeSeconds += seconds;
        ProbeCount++;
        LatestProbe = probe;
        _instruments.RecordProbe(probe);

        var readings = new Dictionary<string, double>(stepReadings, StringComparer.Ordinal);
        bool trendingUp = false;
        if (probe.Status == ProbeStatus.Succeeded)
        {
            trendingUp = IsTrendingUp(_state.Probe, probe);
            foreach (var (name, value) in probe.Indicators)
            {
                readings[name] = value;
            }

            if (_logger.IsEnabled(LogLevel.Debug))
            {
#pragma warning disable CA1873 // Guarded by IsEnabled just above; the analyzer does not see through the guard.
                Log.ProbeCompleted(_logger, step, probe.Path, probe.Duration.TotalMilliseconds, probe.HvpCount, Read(probe, Indicators.SharpnessToEdge), Read(probe, Indicators.SpectralRadius), Read(probe, Indicators.EigenvectorCondition));
#pragma warning restore CA1873
            }
        }
        else
        {
            FailedProbeCount++;
            Log.ProbeFailed(_logger, step, probe.FailureReason ?? "unknown");
        }

        if (_scheduler.Completed(step, seconds, probe.Status == ProbeStatus.Succeeded, trendingUp))
        {
            Log.CadenceWidened(_logger, FailedProbeCount, _scheduler.Interval);
        }

        if (activity is not null)
        {
            activity.SetTag("stability.step", step);
            activity.SetTag("stability.status", probe.Status.ToString());
            activity.SetTag("stability.path", probe.Path);
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

        Raise(ProbeCompleted, probe);
        return (probe, _rules.Evaluate(step, readings));
    }

    private StabilityAlert NonFinite(long step, double loss, double gradientNorm, IReadOnlyDictionary<string, double> readings)
    {
        var previous = step - _nonFiniteStep <= 1 ? AlertLevel.Critical : AlertLevel.Ok;
        if (previous == AlertLevel.Ok)
        {
            // Once per episode of consecutive non-finite steps, not once per step.
            Log.NonFinite(_logger, step, loss, gradientNorm);
        }

        _nonFiniteStep = step;
        return new StabilityAlert(step, AlertLevel.Critical, previous, "non_finite", Indicators.Loss, loss, loss, double.NaN, readings, $"Non-finite training signal at step {step}: loss {loss}, gradient norm {gradientNorm}.");
    }

    private void Publish(long step, List<StabilityAlert> changes)
    {
        foreach (var change in changes)
        {
            if (change.IsRaised)
            {
                var logLevel = change.Level == AlertLevel.Critical ? LogLevel.Error : LogLevel.Warning;
                Log.AlertRaised(_logger, logLevel, change.Level, step, change.Rule, change.Indicator, change.Value, change.ComparedValue, change.Threshold);
                _instruments.RecordAlert(change);
                Raise(AlertRaised, change);
            }
            else if (change.Level < change.PreviousLevel)
            {
                Log.AlertLowered(_logger, change.Rule, change.Level, step, change.Indicator, change.Value);
                Raise(AlertLowered, change);
            }
        }
    }

    private void ApplyBackoff(long step, List<StabilityAlert> changes)
    {
        if (_governor is null || _backoff is null)
        {
            return;
        }

        var raised = changes.Where(c => c.IsRaised).ToArray();
        var level = raised.Length > 0 ? (AlertLevel)Math.Max((int)_rules.Level, (int)raised.Max(r => r.Level)) : _rules.Level;
        double factor = _backoff.NextFactor(new BackoffContext(step, level, raised, _backoffFactor));
        factor = double.IsFinite(factor) ? Math.Clamp(factor, 1e-12, 1) : _backoffFactor;
        bool reduced = factor < _backoffFactor;
        _backoffFactor = factor;
        foreach (var (group, from, to) in _governor.Apply(factor))
        {
            Log.LearningRateChanged(_logger, to < from ? LogLevel.Information : LogLevel.Debug, group, from, to, step, factor);
            if (reduced && to < from)
            {
                _instruments.RecordBackoff(group);
            }
        }
    }

    private double[] ReadLearningRates()
    {
        if (_governor is not null)
        {
            return [.. Enumerable.Range(0, _governor.GroupCount).Select(_governor.Current)];
        }

        var controller = _runner.LearningRates;
        return controller is null ? [] : [.. Enumerable.Range(0, controller.GroupCount).Select(controller.GetLearningRate)];
    }

    private static bool IsTrendingUp(ProbeResult? previous, ProbeResult current)
    {
        if (previous is null)
        {
            return false;
        }

        foreach (var name in new[] { Indicators.SharpnessToEdge, Indicators.OscillatoryRadius, Indicators.TopEigenvectorCondition })
        {
            if (previous.Indicators.TryGetValue(name, out double before) && current.Indicators.TryGetValue(name, out double now) && before > 0 && now > before * 1.05)
            {
                return true;
            }
        }

        return false;
    }

    private static double Read(ProbeResult probe, string indicator) => probe.Indicators.TryGetValue(indicator, out double v) ? v : double.NaN;

    private void Raise<T>(EventHandler<T>? handler, T args)
    {
        if (handler is null)
        {
            return;
        }

        try
        {
            handler(this, args);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.HandlerFailed(_logger, ex);
        }
    }
}
