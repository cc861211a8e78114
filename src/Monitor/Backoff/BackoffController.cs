using Microsoft.Extensions.Logging;
using SpectralMonitor.Rules;
using SpectralMonitor.Telemetry;

namespace SpectralMonitor.Backoff;

/// <summary>
/// The learning-rate side of the monitor: asks the policy (when there is one) for its factor after each step's alerts,
/// multiplies it by the spike guard's factor, applies the product through the governor, logs the changes and counts
/// the reductions.
/// </summary>
internal sealed class BackoffController(LearningRateGovernor governor, IBackoffPolicy? policy, ILogger logger, MonitorInstruments instruments)
{
    private LearningRateGovernor _governor = governor;
    private double _policyFactor = 1;
    private double _guardFactor = 1;

    /// <summary>The factor in force (1 = none): the policy's times the spike guard's.</summary>
    public double Factor => Math.Max(1e-12, _policyFactor * _guardFactor);

    /// <summary>The learning rate in force per group.</summary>
    public double[] LearningRates => [.. Enumerable.Range(0, _governor.GroupCount).Select(_governor.Current)];

    /// <summary>
    /// Creates the controller when backoff is enabled (options or a custom policy) or the spike guard may cut the
    /// learning rate, else null.
    /// </summary>
    /// <exception cref="ArgumentException">Backoff is enabled but the target has no learning-rate controller, or the floor is above a base rate.</exception>
    public static BackoffController? Create(StabilityMonitorOptions options, IBackoffPolicy? policy, ILearningRateController? learningRates, ILogger logger, MonitorInstruments instruments)
    {
        bool guardCuts = options.SpikeGuard is { BackoffFactor: < 1 };
        if (options.Backoff is null && policy is null && !guardCuts)
        {
            return null;
        }

        if (learningRates is null)
        {
            throw new ArgumentException("Backoff (or the spike guard's learning-rate cut, SpikeGuardOptions.BackoffFactor < 1) is enabled but the probe target has no learning-rate controller.", nameof(options));
        }

        var governor = new LearningRateGovernor(learningRates, options.Backoff?.MinimumLearningRate);
        policy ??= options.Backoff is null ? null : new MultiplicativeBackoffPolicy(options.Backoff);
        return new BackoffController(governor, policy, logger, instruments);
    }

    /// <summary>
    /// Acts on <paramref name="learningRates"/> from now on (a replaced optimizer): its current rates become the
    /// scheduled ones, and the factor in force applies to them from the next step. The old controller is not touched again.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="learningRates"/> is null, or the floor is above one of its rates.</exception>
    public void Rebind(ILearningRateController? learningRates, StabilityMonitorOptions options)
    {
        if (learningRates is null)
        {
            throw new ArgumentException("Backoff is enabled but the new probe target has no learning-rate controller.", nameof(learningRates));
        }

        _governor = new LearningRateGovernor(learningRates, options.Backoff?.MinimumLearningRate);
    }

    /// <summary>Applies the policy's factor after the alert changes of <paramref name="step"/> (at timeline position <paramref name="position"/>).</summary>
    public void Apply(long step, long position, IReadOnlyList<StabilityAlert> changes, AlertLevel level)
    {
        var raised = changes.Where(c => c.IsRaised).ToArray();
        if (raised.Length > 0)
        {
            level = (AlertLevel)Math.Max((int)level, (int)raised.Max(r => r.Level));
        }

        double factor = policy?.NextFactor(new BackoffContext(step, level, raised, _policyFactor) { Position = position }) ?? _policyFactor;
        factor = double.IsFinite(factor) ? Math.Clamp(factor, 1e-12, 1) : _policyFactor;
        bool reduced = factor < _policyFactor;
        _policyFactor = factor;
        Write(step, reduced);
    }

    /// <summary>Applies the spike guard's factor <paramref name="guardFactor"/> at <paramref name="step"/>, before the step's update.</summary>
    public void ApplyGuard(long step, double guardFactor)
    {
        bool reduced = guardFactor < _guardFactor;
        _guardFactor = guardFactor;
        Write(step, reduced);
    }

    private void Write(long step, bool reduced)
    {
        double factor = Factor;
        foreach (var (group, from, to) in _governor.Apply(factor))
        {
            Log.LearningRateChanged(logger, to < from ? LogLevel.Information : LogLevel.Debug, group, from, to, step, factor);
            if (reduced && to < from)
            {
                instruments.RecordBackoff(group);
            }
        }
    }
}
