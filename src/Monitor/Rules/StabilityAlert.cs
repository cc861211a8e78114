namespace SpectralMonitor.Rules;

/// <summary>A change of a rule's level (raised or cleared), with the readings that caused it.</summary>
/// <param name="Step">The training step at which the rule was evaluated.</param>
/// <param name="Level">The new level.</param>
/// <param name="PreviousLevel">The level before.</param>
/// <param name="Rule">The rule's name.</param>
/// <param name="Indicator">The indicator the rule reads.</param>
/// <param name="Value">The indicator's raw value.</param>
/// <param name="ComparedValue">The value the thresholds were applied to (raw, ratio or trend).</param>
/// <param name="Threshold">The threshold crossed (for a cleared alert, the clearing threshold).</param>
/// <param name="Indicators">Every indicator known at that evaluation.</param>
/// <param name="Message">One human-readable sentence.</param>
public sealed record StabilityAlert(
    long Step,
    AlertLevel Level,
    AlertLevel PreviousLevel,
    string Rule,
    string Indicator,
    double Value,
    double ComparedValue,
    double Threshold,
    IReadOnlyDictionary<string, double> Indicators,
    string Message)
{
    /// <summary>Whether the level went up (an alert) rather than down (a recovery).</summary>
    public bool IsRaised => Level > PreviousLevel;
}
