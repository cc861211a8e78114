namespace SpectralMonitor.Rules;

/// <summary>Severity of a rule's current state.</summary>
public enum AlertLevel
{
    /// <summary>Nothing wrong.</summary>
    Ok = 0,

    /// <summary>An early warning.</summary>
    Warning = 1,

    /// <summary>Instability is imminent or under way.</summary>
    Critical = 2,
}

/// <summary>What a rule compares against its thresholds.</summary>
public enum RuleComparison
{
    /// <summary>The indicator's value itself.</summary>
    Absolute,

    /// <summary>The value divided by its baseline (median of the first probes, or an EWMA).</summary>
    RatioToBaseline,

    /// <summary>The value divided by another indicator (for example sharpness over its stability edge).</summary>
    RatioToIndicator,

    /// <summary>The value divided by its value <see cref="AlertRule.TrendWindow"/> observations earlier.</summary>
    Trend,
}

/// <summary>
/// One alert rule, as data: which indicator, compared how, against which thresholds. A rule with
/// <see cref="Above"/> false fires when the compared value falls to or below the thresholds instead.
/// </summary>
/// <param name="Name">Unique, lowercase rule name (a metric tag).</param>
/// <param name="Indicator">The indicator read (see <see cref="Indicators"/>).</param>
/// <param name="Comparison">How the value is formed.</param>
/// <param name="Warning">Threshold for <see cref="AlertLevel.Warning"/>.</param>
/// <param name="Critical">Threshold for <see cref="AlertLevel.Critical"/> (beyond <paramref name="Warning"/> in the rule's direction).</param>
/// <param name="Above">True: fire when the value is at or above a threshold; false: at or below.</param>
/// <param name="Reference">The denominator indicator for <see cref="RuleComparison.RatioToIndicator"/>.</param>
/// <param name="TrendWindow">Observations back for <see cref="RuleComparison.Trend"/>.</param>
/// <param name="Hysteresis">A level clears only once the value is this fraction back inside its threshold (0 ≤ h &lt; 1).</param>
/// <param name="CooldownSteps">After raising, the rule does not raise the same or a lower level again for this many steps.</param>
/// <param name="Description">What the rule means, for logs and docs.</param>
/// <param name="Optimizers">
/// The optimizers the rule applies to, by <see cref="Probing.IProbeTarget{TVec}.OptimizerName"/> (compared ignoring
/// case); null: every optimizer. A rule that does not apply is not evaluated, and a
/// <see cref="StabilityMonitor.Rebind{TVec}"/> to an optimizer it does not apply to clears its level (without an
/// <see cref="StabilityMonitor.AlertLowered"/> event). Record equality compares this list by reference.
/// </param>
/// <param name="WarmupSteps">
/// The rule raises nothing during the first this many steps the monitor watches (positions 0 to
/// <c>WarmupSteps − 1</c> on its timeline; a rule engine used alone counts the step numbers it is given): the first
/// readings of a run, taken while the loss falls fast and Adam's bias corrections are far from 1, can sit high on
/// healthy runs. Readings in the warm-up still count for <see cref="RuleComparison.Trend"/> and baselines. Range
/// [0, 10 000 000]; 0 (the default) evaluates from the first step.
/// </param>
public sealed record AlertRule(
    string Name,
    string Indicator,
    RuleComparison Comparison,
    double Warning,
    double Critical,
    bool Above = true,
    string? Reference = null,
    int TrendWindow = 3,
    double Hysteresis = 0.05,
    int CooldownSteps = 50,
    string? Description = null,
    IReadOnlyList<string>? Optimizers = null,
    int WarmupSteps = 0)
{
    /// <summary>Whether the rule applies to the optimizer named <paramref name="optimizerName"/> (see <see cref="Optimizers"/>).</summary>
    /// <param name="optimizerName">The probe target's optimizer name.</param>
    /// <returns>True when <see cref="Optimizers"/> is null or names it (ignoring case).</returns>
    public bool AppliesTo(string optimizerName)
    {
        if (Optimizers is null)
        {
            return true;
        }

        foreach (string name in Optimizers)
        {
            if (string.Equals(name, optimizerName, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Checks the rule's own consistency; the message names the rule and the field.</summary>
    /// <exception cref="ArgumentException">A field is out of range.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ArgumentException("AlertRule.Name must be a non-empty name.", nameof(Name));
        }

        if (string.IsNullOrWhiteSpace(Indicator))
        {
            throw new ArgumentException($"Rule '{Name}': Indicator must name an indicator.", nameof(Indicator));
        }

        if (!double.IsFinite(Warning) || !double.IsFinite(Critical))
        {
            throw new ArgumentException($"Rule '{Name}': thresholds must be finite (Warning {Warning}, Critical {Critical}).", nameof(Warning));
        }

        if (Above ? Critical < Warning : Critical > Warning)
        {
            throw new ArgumentException($"Rule '{Name}': Critical ({Critical}) must lie beyond Warning ({Warning}) in the rule's direction ({(Above ? "above" : "below")}).", nameof(Critical));
        }

        if (Comparison == RuleComparison.RatioToIndicator && string.IsNullOrWhiteSpace(Reference))
        {
            throw new ArgumentException($"Rule '{Name}': RatioToIndicator needs a Reference indicator.", nameof(Reference));
        }

        if (TrendWindow < 1 || TrendWindow > 1000)
        {
            throw new ArgumentException($"Rule '{Name}': TrendWindow must be in [1, 1000]; it is {TrendWindow}.", nameof(TrendWindow));
        }

        if (!(Hysteresis >= 0 && Hysteresis < 1))
        {
            throw new ArgumentException($"Rule '{Name}': Hysteresis must be in [0, 1); it is {Hysteresis}.", nameof(Hysteresis));
        }

        if (CooldownSteps < 0)
        {
            throw new ArgumentException($"Rule '{Name}': CooldownSteps must be ≥ 0; it is {CooldownSteps}.", nameof(CooldownSteps));
        }

        if (WarmupSteps < 0 || WarmupSteps > 10_000_000)
        {
            throw new ArgumentException($"Rule '{Name}': WarmupSteps must be in [0, 10 000 000]; it is {WarmupSteps}.", nameof(WarmupSteps));
        }

        if (Optimizers is not null && (Optimizers.Count == 0 || Optimizers.Any(string.IsNullOrWhiteSpace)))
        {
            throw new ArgumentException($"Rule '{Name}': Optimizers must be null (every optimizer) or a non-empty list of optimizer names without blanks; it is [{string.Join(", ", Optimizers.Select(o => o is null ? "null" : $"'{o}'"))}].", nameof(Optimizers));
        }
    }
}
