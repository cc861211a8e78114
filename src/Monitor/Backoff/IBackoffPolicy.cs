using SpectralMonitor.Rules;

namespace SpectralMonitor.Backoff;

/// <summary>What a backoff policy sees at each step.</summary>
/// <param name="Step">The training step, as the loop numbers it (it may restart, for example at each epoch).</param>
/// <param name="Level">The highest current level over all rules.</param>
/// <param name="Raised">The alerts raised at this step (empty on most steps).</param>
/// <param name="CurrentFactor">The factor in force (1 = no backoff).</param>
public readonly record struct BackoffContext(long Step, AlertLevel Level, IReadOnlyList<StabilityAlert> Raised, double CurrentFactor)
{
    private readonly long? _position;

    /// <summary>
    /// The step's position on the monitor's timeline, which only increases: steps since the first one reported, gaps in
    /// the numbering included, each restart, backward jump or repeat of the numbering counted as one step. Count
    /// cooldowns in it, not in <see cref="Step"/>. Defaults to <see cref="Step"/> when not set.
    /// </summary>
    public long Position
    {
        get => _position ?? Step;
        init => _position = value;
    }
}

/// <summary>
/// Decides the learning-rate factor from alerts. The monitor multiplies every parameter group's scheduled
/// learning rate by the factor, so a backoff composes with any learning-rate scheduler.
/// </summary>
public interface IBackoffPolicy
{
    /// <summary>Returns the factor to apply from this step on (in (0, 1]).</summary>
    double NextFactor(in BackoffContext context);
}

/// <summary>
/// The default policy: on a raised Warning multiply the factor by <see cref="BackoffOptions.WarningFactor"/>, on a
/// raised Critical by <see cref="BackoffOptions.CriticalFactor"/>, never below <see cref="BackoffOptions.MinimumFactor"/>;
/// with <see cref="BackoffOptions.EscalationSteps"/>, again by the Critical factor each time that many steps pass after
/// a cut with the level still Critical; hold for <see cref="BackoffOptions.CooldownSteps"/> after the last cut; then,
/// while every rule is OK, recover by <see cref="BackoffOptions.RecoveryRate"/> per step back to 1.
/// </summary>
public sealed class MultiplicativeBackoffPolicy : IBackoffPolicy
{
    private readonly BackoffOptions _options;
    private long? _lastBackoffPosition;

    /// <summary>Creates the policy.</summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public MultiplicativeBackoffPolicy(BackoffOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    /// <inheritdoc/>
    public double NextFactor(in BackoffContext context)
    {
        var worst = context.Raised.Count == 0 ? AlertLevel.Ok : context.Raised.Max(a => a.Level);
        if (worst > AlertLevel.Ok)
        {
            _lastBackoffPosition = context.Position;
            double cut = worst == AlertLevel.Critical ? _options.CriticalFactor : _options.WarningFactor;
            return Math.Max(_options.MinimumFactor, context.CurrentFactor * cut);
        }

        if (_options.EscalationSteps is int every && context.Level == AlertLevel.Critical
            && _lastBackoffPosition is long lastCut && context.Position - lastCut >= every && context.CurrentFactor > _options.MinimumFactor)
        {
            // Still Critical after a cut: the cut was not enough.
            _lastBackoffPosition = context.Position;
            return Math.Max(_options.MinimumFactor, context.CurrentFactor * _options.CriticalFactor);
        }

        bool holding = _lastBackoffPosition is long last && context.Position - last < _options.CooldownSteps;
        if (holding || context.Level != AlertLevel.Ok || context.CurrentFactor >= 1)
        {
            return context.CurrentFactor;
        }

        return Math.Min(1, context.CurrentFactor * _options.RecoveryRate);
    }
}
