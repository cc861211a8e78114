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
/// <para><see cref="OnStep"/> must be called from one thread (the training loop's). Probes run synchronously inside it,
/// on that thread, between optimizer steps, bounded by <see cref="StabilityMonitorOptions.MaxHvpsPerProbe"/> and
/// <see cref="StabilityMonitorOptions.ProbeTimeout"/>. Metrics may be collected from any thread.</para>
/// <para>Step numbers may restart (epoch-numbered loops), go back (a run resumed from an earlier checkpoint), repeat or
/// reach <see cref="long.MaxValue"/>: such a step starts a new segment and counts as the next step, so the schedule,
/// the rules' cooldowns and the backoff carry on (logged once at Information, later restarts at Debug).</para>
/// <para>Event handlers run on the training thread inside <see cref="OnStep"/> or <see cref="ProbeNow"/>; calling
/// either from a handler is refused (logged once) instead of recursing. <see cref="Dispose"/> and
/// <see cref="Rebind{TVec}"/> may be called from a handler.</para>
/// <para>Two live monitors in one process with the same <see cref="StabilityMonitorOptions.RunName"/> would export the
/// same series and hide each other, so the later one gets a unique name (<c>name-2</c>, <c>name-3</c>, …), logged as a
/// Warning; <see cref="Options"/> holds the name in force. The name is free again once its monitor is disposed.</para>
/// </remarks>
public sealed class StabilityMonitor : IDisposable
{
    /// <summary>The name of the Meter (the assembly's name).</summary>
    public const string MeterName = "SpectralMonitor";

    /// <summary>The name of the ActivitySource of probe spans.</summary>
    public const string ActivitySourceName = "SpectralMonitor";

    /// <summary>How long <see cref="Dispose"/> waits for a probe in progress on another thread before leaving the release to it.</summary>
    private static readonly TimeSpan DisposeWait = TimeSpan.FromMilliseconds(100);

    private readonly StabilityMonitorOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly RuleEngine _rules;
    private readonly ProbeScheduler _scheduler;
    private readonly ProbeTimeoutPolicy _timeouts;
    private readonly StepTimeline _timeline = new();
    private readonly CostLedger _ledger;
    private readonly StepStatistics _statistics;
    private readonly BackoffController? _backoff;
    private readonly SpikeGuard? _guard;
    private bool _guardEpisode;
    private IStepSensor? _sensor;
    private bool _sensorDue;
    private bool _sensorPrepared;
    private bool _sensorCapturesForward;
    private long _sensorReads;
    private long _lastSensorPosition;
    private long _maxSensorGap;

    // Whether each path has run once: its first call is warm-up, reported apart and not charged (CostLedger).
    private bool _stepWarmed;
    private bool _guardWarmed;
    private bool _sensorWarmed;

    private long _steps;
    private readonly MonitorInstruments _instruments;
    private readonly ActivitySource _activitySource;
    private readonly object _gate = new();
    private readonly CancellationTokenSource _disposal = new();
    private IProbeRunner _runner;
    private MonitorState _state = MonitorState.Initial;

    // Set by Dispose (any thread); the resources go when no call is in progress (see Release).
    private int _disposeRequested;
    private bool _released;

    // True while OnStep or ProbeNow runs (only the thread holding _gate reads or writes it): a call that finds it set
    // comes from a handler on that same thread.
    private bool _busy;
    private int _refusedCalls;
    private string? _lastFailureReason;

    private StabilityMonitor(IProbeRunner runner, StabilityMonitorOptions options, ILogger logger, IMeterFactory? meterFactory, TimeProvider? timeProvider, IBackoffPolicy? backoffPolicy, IStepSensor? sensor)
    {
        _time = timeProvider ?? TimeProvider.System;
        long created = _time.GetTimestamp();
        _runner = runner;
        _logger = logger;
        _sensor = options.StepSensorInterval > 0 ? sensor : null;
        _sensorCapturesForward = _sensor?.CapturesTrainingForward ?? false;
        string runName = UniqueRunName(options.RunName);
        if (runName != options.RunName)
        {
            Log.RunNameInUse(_logger, options.RunName, runName);
            options = options with { RunName = runName };
        }

        _options = options;
        _rules = new RuleEngine(options.Rules, options.BaselineKind, options.BaselineProbes, options.BaselineEwmaAlpha, runner.OptimizerName);
        _scheduler = new ProbeScheduler(options);
        _timeouts = new ProbeTimeoutPolicy(options);
        _ledger = new CostLedger(_time, options.OverheadBudget);
        _statistics = new StepStatistics(options);
        _guard = options.SpikeGuard is { } guard ? new SpikeGuard(guard) : null;
        _instruments = new MonitorInstruments(meterFactory, options.RunName, runner.OptimizerName, () => Volatile.Read(ref _state));
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

        // The monitor's own set-up runs on the training thread too: warm-up, reported apart (MonitorCost.OneOffSeconds).
        _ledger.AddSetup(_time.GetElapsedTime(created).TotalSeconds);
    }

    /// <summary>The version of this library (the Meter's and ActivitySource's version).</summary>
    public static string Version { get; } = typeof(StabilityMonitor).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    /// <summary>Raised on the training thread when a rule's level goes up. Handler exceptions are logged and ignored.</summary>
    public event EventHandler<StabilityAlert>? AlertRaised;

    /// <summary>Raised on the training thread when a rule's level goes down.</summary>
    public event EventHandler<StabilityAlert>? AlertLowered;

    /// <summary>Raised on the training thread after every probe, successful or not.</summary>
    public event EventHandler<ProbeResult>? ProbeCompleted;

    /// <summary>
    /// The options in force: those given, with <see cref="StabilityMonitorOptions.RunName"/> made unique when another
    /// live monitor in this process already had it.
    /// </summary>
    public StabilityMonitorOptions Options => _options;

    /// <summary>The latest probe (successful or failed), or null before the first.</summary>
    public ProbeResult? LatestProbe { get; private set; }

    /// <summary>The highest current alert level.</summary>
    public AlertLevel Level => _rules.Level;

    /// <summary>The learning-rate backoff factor in force (1 = none).</summary>
    public double BackoffFactor => _backoff?.Factor ?? 1;

    /// <summary>
    /// Updates the spike guard told the loop to skip so far (0 without <see cref="StabilityMonitorOptions.SpikeGuard"/>);
    /// exported as the <c>stability.spike_guard.triggers</c> counter with <c>decision=skipped</c>.
    /// </summary>
    public long SkippedUpdates => _guard?.Skipped ?? 0;

    /// <summary>
    /// Steps the spike guard judged spike onsets so far, skipped or not (0 without <see cref="StabilityMonitorOptions.SpikeGuard"/>);
    /// exported as the <c>stability.spike_guard.triggers</c> counter, tagged <c>decision</c> = <c>skipped</c> or <c>applied</c>.
    /// </summary>
    public long SpikeGuardTriggers => _guard?.Triggers ?? 0;

    /// <summary>Probes run so far.</summary>
    public int ProbeCount { get; private set; }

    /// <summary>Probes that failed so far.</summary>
    public int FailedProbeCount { get; private set; }

    /// <summary>
    /// The step at or after which the next probe runs, in the numbering of the latest step (saturated at
    /// <see cref="long.MaxValue"/>); the probe runs at the first step from there on at which the overhead budget can pay
    /// for it (<see cref="StabilityMonitorOptions.OverheadBudget"/>).
    /// </summary>
    public long NextProbeStep => _timeline.Started ? _timeline.ToStep(_scheduler.NextProbeStep) : _scheduler.NextProbeStep;

    /// <summary>
    /// What the monitor has cost the training thread so far (the ledger <see cref="StabilityMonitorOptions.OverheadBudget"/>
    /// is held to). Read it on the training thread; elsewhere it may be a step behind.
    /// </summary>
    public MonitorCost Cost => new(_ledger.TrainingSeconds, _ledger.MonitorSeconds, _ledger.ProbeSeconds, _ledger.SensorSeconds, _steps, _sensorReads, _maxSensorGap) { OneOffSeconds = _ledger.OneOffSeconds };

    private bool DisposeRequested => Volatile.Read(ref _disposeRequested) != 0;

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
        return new StabilityMonitor(new ProbeRunner<TVec>(target, options, logger), options, logger, meterFactory, timeProvider, backoffPolicy, target as IStepSensor);
    }

    /// <summary>
    /// Reports one training step. Cheap when no probe is due; runs a probe when one is. Never throws.
    /// </summary>
    /// <param name="step">
    /// The step number, normally increasing. A number that restarts, goes back or repeats starts a new segment and
    /// counts as the next step (see the remarks on <see cref="StabilityMonitor"/>).
    /// </param>
    /// <param name="loss">The step's training loss.</param>
    /// <param name="gradientNorm">The step's gradient norm, when the loop has it (enables the gradient-norm z-score).</param>
    public void OnStep(long step, double loss, double? gradientNorm = null)
    {
        if (DisposeRequested)
        {
            return;
        }

        lock (_gate)
        {
            if (!Enter(nameof(OnStep)))
            {
                return;
            }

            _ledger.Enter();
            try
            {
                Step(step, loss, gradientNorm);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Log.InternalError(_logger, step, ex);
            }
            finally
            {
                _ledger.Exit(warmup: !_stepWarmed);
                _stepWarmed = true;
                Exit();
            }
        }
    }

    /// <summary>
    /// The reactive spike guard (<see cref="StabilityMonitorOptions.SpikeGuard"/>): call it after <c>loss.backward()</c>
    /// and before <c>optimizer.step()</c>, with the step's loss and gradient norm; call <c>optimizer.step()</c> only when
    /// it returns <see cref="UpdateDecision.Apply"/>, then <see cref="OnStep"/> as usual (whether or not the update was
    /// skipped). A step it judges a spike onset cuts the learning rate at once (this step's update already uses the cut
    /// rate when it is applied). Returns <see cref="UpdateDecision.Apply"/> without the guard, when disposed, when
    /// called from an event handler, and on any internal error. Never throws.
    /// </summary>
    /// <param name="step">The step number (for logs).</param>
    /// <param name="loss">The step's training loss (before its update).</param>
    /// <param name="gradientNorm">The step's gradient norm; without it only the loss is judged.</param>
    /// <returns>Whether the loop should apply the step's update.</returns>
    public UpdateDecision BeforeUpdate(long step, double loss, double? gradientNorm = null)
    {
        if (_guard is null || DisposeRequested)
        {
            return UpdateDecision.Apply;
        }

        lock (_gate)
        {
            if (!Enter(nameof(BeforeUpdate)))
            {
                return UpdateDecision.Apply;
            }

            _ledger.Enter();
            try
            {
                var verdict = _guard.Observe(loss, gradientNorm);
                if (verdict.Triggered)
                {
                    var level = _guardEpisode ? LogLevel.Debug : LogLevel.Warning;
                    Log.SpikeGuardTriggered(_logger, level, step, verdict.Decision == UpdateDecision.Skip ? "skipped" : "applied", loss, verdict.LossZScore, gradientNorm ?? double.NaN, verdict.GradientNormZScore, verdict.Factor);
                    _instruments.RecordSpikeGuardTrigger(verdict.Decision == UpdateDecision.Skip);
                }

                _guardEpisode = verdict.Triggered;
                _backoff?.ApplyGuard(step, verdict.Factor);
                return verdict.Decision;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Log.InternalError(_logger, step, ex);
                return UpdateDecision.Apply;
            }
            finally
            {
                _ledger.Exit(warmup: !_guardWarmed);
                _guardWarmed = true;
                Exit();
            }
        }
    }

    /// <summary>
    /// Runs a probe now (outside the schedule) and returns it; null when disposed or when called from one of the
    /// monitor's event handlers (refused, never recursive). Never throws.
    /// </summary>
    /// <param name="step">The current step (the probe's label; the schedule is not advanced).</param>
    public ProbeResult? ProbeNow(long step)
    {
        if (DisposeRequested)
        {
            return null;
        }

        lock (_gate)
        {
            if (!Enter(nameof(ProbeNow)))
            {
                return null;
            }

            _ledger.Enter();
            try
            {
                long position = _timeline.Position;
                var probe = RunProbe(step, position);
                if (probe is not null)
                {
                    Conclude(step, position, [.. _rules.Evaluate(step, probe.Indicators, position)], probe, observation: null);
                }

                return probe;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Log.InternalError(_logger, step, ex);
                return null;
            }
            finally
            {
                _ledger.Exit();
                Exit();
            }
        }
    }

    /// <summary>
    /// Points the monitor at a new target: the optimizer was replaced (a new one over the same model), or the model was
    /// moved to another device or dtype (which replaces its parameters, so the old optimizer no longer trains it).
    /// From the next probe on, the monitor reads the new target; the backoff acts on its learning rates (the factor in
    /// force carries over and applies to them from the next step; the old optimizer is not touched again); metric tags
    /// name its optimizer; the step sensor (when the target is one) reads it. Warm starts restart. The schedule, rules and
    /// statistics carry on. May be called between steps or from an event handler; from another thread it waits for a
    /// probe in progress.
    /// </summary>
    /// <typeparam name="TVec">The target's vector type.</typeparam>
    /// <param name="target">The model and optimizer now in use.</param>
    /// <exception cref="ArgumentException">Backoff is enabled but <paramref name="target"/> has no learning-rate controller, or the backoff floor is above one of its learning rates.</exception>
    /// <exception cref="ObjectDisposedException">The monitor was disposed.</exception>
    public void Rebind<TVec>(IProbeTarget<TVec> target)
        where TVec : class
    {
        ArgumentNullException.ThrowIfNull(target);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(DisposeRequested, this);

            // Handlers run outside the probe runner, so even a handler may swap it. The backoff first: it may refuse.
            _backoff?.Rebind(target.LearningRates, _options);
            var previous = _runner;
            _runner = new ProbeRunner<TVec>(target, _options, _logger);
            previous.Dispose();

            // The step sensor reads the new target too (the old one's optimizer no longer steps); a read the old
            // sensor was armed for is not taken.
            _sensor = _options.StepSensorInterval > 0 ? target as IStepSensor : null;
            _sensorCapturesForward = _sensor?.CapturesTrainingForward ?? false;
            _sensorPrepared = false;
            _instruments.SetOptimizer(target.OptimizerName);
            _rules.SetOptimizer(target.OptimizerName);
            _lastFailureReason = null;
            Log.Rebound(_logger, target.OptimizerName);
        }
    }

    /// <summary>
    /// Stops the monitor: cancels a probe in progress and releases every resource. Idempotent; never throws. Called
    /// while a probe runs on another thread, it waits at most about 0.1 s for the probe to reach its next check; if the
    /// probe is inside a call that cannot be interrupted (the probe-loss closure, one Hessian-vector product), Dispose
    /// returns anyway and the training thread releases the resources when that call returns. Called from an event
    /// handler, it takes effect when the step ends. No event is raised after Dispose was called.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposeRequested, 1) != 0)
        {
            return;
        }

        try
        {
            _disposal.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The training thread released everything in between.
        }

        bool entered = false;
        try
        {
            System.Threading.Monitor.TryEnter(_gate, DisposeWait, ref entered);
            if (entered && !_busy)
            {
                Release();
            }

            // Otherwise the call in progress (a probe on the training thread, or the step whose handler called
            // Dispose) releases everything on its way out.
        }
        finally
        {
            if (entered)
            {
                System.Threading.Monitor.Exit(_gate);
            }
        }
    }

    /// <summary>The run name itself, or <c>name-2</c>, <c>name-3</c>, … when a live monitor in this process has it.</summary>
    private static string UniqueRunName(string requested)
    {
        var taken = MonitorInstruments.LiveRunNames();
        if (!taken.Contains(requested))
        {
            return requested;
        }

        for (int i = 2; ; i++)
        {
            string candidate = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{requested}-{i}");
            if (!taken.Contains(candidate))
            {
                return candidate;
            }
        }
    }

    /// <summary>Starts a call under the gate; false when disposed or reentrant (refused, logged once at Warning).</summary>
    private bool Enter(string call)
    {
        if (_released || DisposeRequested)
        {
            return false;
        }

        if (_busy)
        {
            var level = _refusedCalls++ == 0 ? LogLevel.Warning : LogLevel.Debug;
            Log.ReentrantCallRefused(_logger, level, call);
            return false;
        }

        _busy = true;
        return true;
    }

    /// <summary>Ends a call under the gate; releases the resources when Dispose was called meanwhile.</summary>
    private void Exit()
    {
        _busy = false;
        if (DisposeRequested)
        {
            Release();
        }
    }

    /// <summary>Releases every resource, once, under the gate, when no call is in progress.</summary>
    private void Release()
    {
        if (_released)
        {
            return;
        }

        _released = true;
        _runner.Dispose();
        _instruments.Dispose();
        _activitySource.Dispose();
        _disposal.Dispose();
    }

    private void Step(long step, double loss, double? gradientNorm)
    {
        bool first = !_timeline.Started;
        long previousStep = _timeline.LastStep;
        if (_timeline.Advance(step))
        {
            var level = _timeline.Restarts == 1 ? LogLevel.Information : LogLevel.Debug;
            Log.StepsRestarted(_logger, level, step, previousStep, NextProbeStep);
        }
        else if (first)
        {
            _scheduler.Start(step);
        }

        long position = _timeline.Position;
        _steps++;
        if (_ledger.TakeStepTrainingSeconds() is double trainingSeconds)
        {
            _scheduler.RecordStep(trainingSeconds);
        }

        var observation = _statistics.Observe(step, loss, gradientNorm);
        var sensorReadings = ReadSensor(step, loss, position, observation.Indicators);
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
        if (_scheduler.IsDue(position, _ledger))
        {
            probe = RunProbe(step, position);
            if (probe is null)
            {
                return; // disposed during the probe
            }

            readings = new Dictionary<string, double>(readings, StringComparer.Ordinal);
            foreach (var (name, value) in probe.Indicators)
            {
                readings[name] = value;
            }
        }

        changes.AddRange(_rules.Evaluate(step, readings, position));
        Conclude(step, position, changes, probe, observation);
        if (sensorReadings is not null && !DisposeRequested)
        {
            Volatile.Write(ref _state, _state with { SensorReadings = sensorReadings, SensorReads = _sensorReads });
        }
    }

    /// <summary>
    /// Reads the step sensor into <paramref name="readings"/> when a read is due (at steps divisible by
    /// <see cref="StabilityMonitorOptions.StepSensorInterval"/>, or later while the budget defers it) and the cost ledger
    /// can pay for it. A sensor that captures from the training forward (<see cref="IStepSensor.CapturesTrainingForward"/>)
    /// is read only where the previous step prepared the read (<see cref="PrepareSensor"/>). Its readings alone, or null
    /// when not read. A failing sensor is logged and skipped.
    /// </summary>
    private Dictionary<string, double>? ReadSensor(long step, double loss, long position, Dictionary<string, double> readings)
    {
        if (_sensor is null)
        {
            return null;
        }

        _sensorDue |= step % _options.StepSensorInterval == 0;
        bool ready = _sensorPrepared
            || (!_sensorCapturesForward && _sensorDue && _ledger.AffordsSensor(_ledger.SensorEstimate(_scheduler.StepSeconds)));
        if (!ready)
        {
            PrepareSensor(step);
            return null;
        }

        _sensorDue = false;
        _sensorPrepared = false;
        var own = new Dictionary<string, double>(StringComparer.Ordinal);
        long started = _time.GetTimestamp();
        bool read = false;
        try
        {
            read = _sensor.TryReadStep(step, loss, own);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.InternalError(_logger, step, ex);
        }
        finally
        {
            _ledger.AddSensor(_time.GetElapsedTime(started).TotalSeconds, TakeSensorOutsideSeconds(step), warmup: !_sensorWarmed, _scheduler.StepSeconds);
            _sensorWarmed = true;
            PrepareSensor(step);
        }

        if (!read)
        {
            return null;
        }

        if (_sensorReads++ > 0)
        {
            _maxSensorGap = Math.Max(_maxSensorGap, position - _lastSensorPosition);
        }

        _lastSensorPosition = position;

        foreach (var (name, value) in own)
        {
            readings[name] = value;
        }

        return own;
    }

    /// <summary>
    /// Decides, after a step, whether the sensor is read after the next one: when a read is due then (or was due and
    /// deferred) and the cost ledger can pay for it (<see cref="CostLedger.SensorEstimate"/>). The sensor is told
    /// (<see cref="IStepSensor.PrepareRead"/>), so that one reading the training forward pass arms itself for that pass
    /// only; the read then happens whatever the ledger says at the next step.
    /// </summary>
    private void PrepareSensor(long step)
    {
        if (!_sensorCapturesForward)
        {
            return;
        }

        bool next = _sensorDue || (step + 1) % _options.StepSensorInterval == 0;
        if (!next || !_ledger.AffordsSensor(_ledger.SensorEstimate(_scheduler.StepSeconds)))
        {
            return;
        }

        _sensorPrepared = true;
        RearmSensor(step);
    }

    // Arms the sensor if a read is expected after the next step: also after a probe, whose forward passes a
    // forward-hook sensor armed for the training forward would otherwise have taken instead.
    private void RearmSensor(long step)
    {
        if (!_sensorPrepared)
        {
            return;
        }

        long started = _time.GetTimestamp();
        try
        {
            _sensor!.PrepareRead();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.InternalError(_logger, step, ex);
        }
        finally
        {
            _ledger.AddSensorPreparation(_time.GetElapsedTime(started).TotalSeconds, _scheduler.StepSeconds, warmup: !_sensorWarmed);
        }
    }

    private double TakeSensorOutsideSeconds(long step)
    {
        try
        {
            return _sensor!.TakeOutsideSeconds();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.InternalError(_logger, step, ex);
            return 0;
        }
    }

    /// <summary>
    /// The one publish path of a step or an unscheduled probe: logs, counts and raises the alert changes, applies the
    /// backoff, then publishes the new state to the collectors.
    /// </summary>
    private void Conclude(long step, long position, IReadOnlyList<StabilityAlert> changes, ProbeResult? probe, StepObservation? observation)
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

        if (DisposeRequested)
        {
            return; // a handler disposed the monitor: leave the learning rates alone
        }

        _backoff?.Apply(step, position, changes, _rules.Level);
        var state = _state with
        {
            Level = _rules.Level,
            BackoffFactor = BackoffFactor,
            LearningRates = ReadLearningRates(),
            Probe = probe is { Status: ProbeStatus.Succeeded } ? probe : _state.Probe,
            Overhead = _ledger.TrainingSeconds > 0 ? _ledger.Spent / _ledger.TrainingSeconds : double.NaN,
        };
        if (observation is not null)
        {
            state = state with { Step = step, Loss = observation.Loss, LossZScore = observation.LossZScore, GradientNormZScore = observation.GradientNormZScore };
        }

        Volatile.Write(ref _state, state);
    }

    /// <summary>Runs a probe at <paramref name="step"/> (timeline <paramref name="position"/>); null when the monitor was disposed meanwhile.</summary>
    private ProbeResult? RunProbe(long step, long position)
    {
        using var activity = _activitySource.StartActivity("stability.probe");
        long started = _time.GetTimestamp();
        TimeSpan limit = _timeouts.Next(_scheduler.StepSeconds);

        // The limit runs on the monitor's clock (a test clock included); disposal cancels as well.
        using var timeout = new CancellationTokenSource(limit, _time);
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(_disposal.Token, timeout.Token);
        var probe = _runner.Run(step, _time, started, () => DescribeCancellation(limit, started), cancellation.Token);
        RearmSensor(step);
        _timeouts.Record(probe);
        ProbeCount++;
        LatestProbe = probe;
        if (DisposeRequested)
        {
            // Counted and kept as the latest, but neither logged, exported nor raised: the monitor is going away.
            FailedProbeCount += probe.Status == ProbeStatus.Failed ? 1 : 0;
            return null;
        }

        double seconds = probe.Duration.TotalSeconds;
        _ledger.AddProbe(seconds);
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
            string reason = probe.FailureReason ?? "unknown";
            var level = reason == _lastFailureReason ? LogLevel.Debug : LogLevel.Warning;
            Log.ProbeFailed(_logger, level, step, reason);
        }

        _lastFailureReason = probe.FailureReason;
        if (_scheduler.Completed(position, seconds, probe.Status == ProbeStatus.Succeeded, trendingUp))
        {
            Log.CadenceWidened(_logger, FailedProbeCount, _scheduler.Interval);
        }

        MonitorInstruments.TagSpan(activity, probe);
        Raise(ProbeCompleted, probe);
        return probe;
    }

    private string DescribeCancellation(TimeSpan limit, long started)
    {
        if (_disposal.IsCancellationRequested)
        {
            return "cancelled: the monitor was disposed during the probe";
        }

        return string.Create(
            System.Globalization.CultureInfo.InvariantCulture,
            $"cancelled: the probe ran past ProbeTimeout ({Format(limit)}) and stopped at its first check after it, {Format(_time.GetElapsedTime(started))} after it began (checks come between stages and before every Hessian-vector product; a call already running, such as the probe-loss closure or one Hessian-vector product, is never interrupted)");

        static string Format(TimeSpan t) => t < TimeSpan.FromSeconds(1)
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{t.TotalMilliseconds:0.#} ms")
            : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.###} s");
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
        if (handler is null || DisposeRequested)
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
