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
    private readonly StepClock _clock;
    private readonly StepStatistics _statistics;
    private readonly BackoffController? _backoff;
    private readonly IStepSensor? _sensor;
    private readonly MonitorInstruments _instruments;
    private readonly ActivitySource _activitySource;
    private readonly object _gate = new();
    private readonly CancellationTokenSource _disposal = new();
    private MonitorState _state = MonitorState.Initial;
    private bool _disposed;

    private StabilityMonitor(IProbeRunner runner, StabilityMonitorOptions options, ILoggerFactory? loggerFactory, IMeterFactory? meterFactory, TimeProvider? timeProvider, IBackoffPolicy? backoffPolicy, IStepSensor? sensor)
    {
        _runner = runner;
        _sensor = options.StepSensorInterval > 0 ? sensor : null;
        _options = options;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<StabilityMonitor>();
        _time = timeProvider ?? TimeProvider.System;
        _rules = new RuleEngine(options.Rules, options.BaselineKind, options.BaselineProbes, options.BaselineEwmaAlpha);
        _scheduler = new ProbeScheduler(options);
        _timeouts = new ProbeTimeoutPolicy(options);
        _clock = new StepClock(_time);
        _statistics = new StepStatistics(options);
        _instruments = new MonitorInstruments(meterFactory, options.RunName, () => runner.OptimizerName, () => Volatile.Read(ref _state));
        try
        {
            _backoff = BackoffController.Create(options, backoffPolicy, runner.LearningRates, _logger, _instruments);
        }
        catch
        {
            _instruments.Dispose();
            throw;
        }

        _activitySource = new ActivitySource(ActivitySourceName, Version);
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
    public double BackoffFactor => _backoff?.Factor ?? 1;

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
        return new StabilityMonitor(new ProbeRunner<TVec>(target, options, logger), options, loggerFactory, meterFactory, timeProvider, backoffPolicy, target as IStepSensor);
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
                Step(step, loss, gradientNorm);
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
                var probe = RunProbe(step);
                Conclude(step, [.. _rules.Evaluate(step, probe.Indicators)], probe, observation: null);
                return probe;
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

    private void Step(long step, double loss, double? gradientNorm)
    {
        if (_clock.Tick() is double trainingSeconds)
        {
            _scheduler.RecordStep(trainingSeconds);
        }

        var observation = _statistics.Observe(step, loss, gradientNorm);
        var sensorReadings = ReadSensor(step, observation.Indicators);
        var changes = new List<StabilityAlert>();
        if (observation.NonFinite is { } nonFinite)
        {
            if (observation.NewEpisode)
            {
                // Once per episode of consecutive non-finite steps, not once per step.
                Log.NonFinite(_logger, step, loss, gradientNorm ?? double.NaN);
            }

            changes.Add(nonFinite);
        }

        ProbeResult? probe = null;
        var readings = observation.Indicators;
        if (_scheduler.IsDue(step))
        {
            probe = RunProbe(step);
            readings = new Dictionary<string, double>(readings, StringComparer.Ordinal);
            foreach (var (name, value) in probe.Indicators)
            {
                readings[name] = value;
            }
        }

        changes.AddRange(_rules.Evaluate(step, readings));
        Conclude(step, changes, probe, observation);
        if (sensorReadings is not null)
        {
            Volatile.Write(ref _state, _state with { SensorReadings = sensorReadings });
        }
    }

    /// <summary>Reads the step sensor when it is due into <paramref name="readings"/>; its readings alone, or null when not read. A failing sensor is logged and skipped.</summary>
    private Dictionary<string, double>? ReadSensor(long step, Dictionary<string, double> readings)
    {
        if (_sensor is null || step % _options.StepSensorInterval != 0)
        {
            return null;
        }

        var own = new Dictionary<string, double>(StringComparer.Ordinal);
        try
        {
            if (!_sensor.TryReadStep(step, own))
            {
                return null;
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.InternalError(_logger, step, ex);
            return null;
        }

        foreach (var (name, value) in own)
        {
            readings[name] = value;
        }

        return own;
    }

    /// <summary>
    /// The one publish path of a step or an unscheduled probe: logs, counts and raises the alert changes, applies the
    /// backoff, then publishes the new state to the collectors.
    /// </summary>
    private void Conclude(long step, IReadOnlyList<StabilityAlert> changes, ProbeResult? probe, StepObservation? observation)
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

        _backoff?.Apply(step, changes, _rules.Level);
        var state = _state with
        {
            Level = _rules.Level,
            BackoffFactor = BackoffFactor,
            LearningRates = ReadLearningRates(),
            Probe = probe is { Status: ProbeStatus.Succeeded } ? probe : _state.Probe,
        };
        if (observation is not null)
        {
            state = state with { Step = step, Loss = observation.Loss, LossZScore = observation.LossZScore, GradientNormZScore = observation.GradientNormZScore };
        }

        Volatile.Write(ref _state, state);
    }

    private ProbeResult RunProbe(long step)
    {
        using var activity = _activitySource.StartActivity("stability.probe");
        long started = _time.GetTimestamp();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_disposal.Token);
        timeout.CancelAfter(_timeouts.Next(_scheduler.StepSeconds));
        var probe = _runner.Run(step, _time, started, timeout.Token);
        _timeouts.Record(probe);
        double seconds = probe.Duration.TotalSeconds;
        _clock.AddProbeTime(seconds);
        ProbeCount++;
        LatestProbe = probe;
        _instruments.RecordProbe(probe);
        bool trendingUp = false;
        if (probe.Status == ProbeStatus.Succeeded)
        {
            trendingUp = ProbeScheduler.IsTrendingUp(_state.Probe, probe);
            if (_logger.IsEnabled(LogLevel.Debug))
            {
#pragma warning disable CA1873 // Guarded by IsEnabled just above; the analyzer does not see through the guard.
                Log.ProbeCompleted(_logger, step, probe.Path.ToTagValue(), probe.Duration.TotalMilliseconds, probe.HvpCount, Read(probe, Indicators.SharpnessToEdge), Read(probe, Indicators.SpectralRadius), Read(probe, Indicators.EigenvectorCondition));
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

        MonitorInstruments.TagSpan(activity, probe);
        Raise(ProbeCompleted, probe);
        return probe;
    }

    private double[] ReadLearningRates()
    {
        if (_backoff is not null)
        {
            return _backoff.LearningRates;
        }

        var controller = _runner.LearningRates;
        return controller is null ? [] : [.. Enumerable.Range(0, controller.GroupCount).Select(controller.GetLearningRate)];
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
