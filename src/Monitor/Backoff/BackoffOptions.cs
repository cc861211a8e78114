namespace SpectralMonitor.Backoff;

/// <summary>Options of the default multiplicative learning-rate backoff (<see cref="MultiplicativeBackoffPolicy"/>).</summary>
public sealed record BackoffOptions
{
    /// <summary>Factor applied to the learning rate on a Warning. Range (0, 1).</summary>
    public double WarningFactor { get; init; } = 0.5;

    /// <summary>Factor applied to the learning rate on a Critical. Range (0, <see cref="WarningFactor"/>].</summary>
    public double CriticalFactor { get; init; } = 0.25;

    /// <summary>The total backoff factor never goes below this. Range (0, 1].</summary>
    public double MinimumFactor { get; init; } = 0.01;

    /// <summary>
    /// Absolute learning-rate floor, or null for none. Must not exceed any group's base learning rate (checked when
    /// the monitor is created).
    /// </summary>
    public double? MinimumLearningRate { get; init; }

    /// <summary>Steps to hold a backoff before recovery may start. Range [0, 1 000 000].</summary>
    public int CooldownSteps { get; init; } = 100;

    /// <summary>Per-step multiplicative recovery of the factor towards 1 while every rule is OK. Range (1, 2].</summary>
    public double RecoveryRate { get; init; } = 1.02;

    /// <summary>
    /// While a Critical alert stays raised, cut again by <see cref="CriticalFactor"/> every this many steps after the
    /// previous cut, down to <see cref="MinimumFactor"/>; null (the default) cuts once per raised alert. Range null or
    /// [1, 1 000 000]. A rule that stays Critical after a cut says the cut was not enough: on the detection benchmark a
    /// GPT run held at 0.25× of its rate blew up 800 steps after the alert (benchmarks/Detection/BACKOFF.md).
    /// </summary>
    public int? EscalationSteps { get; init; }

    /// <summary>Checks every option; the message names the option, its value and the allowed range.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public void Validate()
    {
        Require(WarningFactor > 0 && WarningFactor < 1, nameof(WarningFactor), WarningFactor, "(0, 1)");
        Require(CriticalFactor > 0 && CriticalFactor <= WarningFactor, nameof(CriticalFactor), CriticalFactor, $"(0, WarningFactor = {WarningFactor}]");
        Require(MinimumFactor > 0 && MinimumFactor <= 1, nameof(MinimumFactor), MinimumFactor, "(0, 1]");
        Require(MinimumLearningRate is null || (MinimumLearningRate > 0 && double.IsFinite(MinimumLearningRate.Value)), nameof(MinimumLearningRate), MinimumLearningRate, "null or a positive finite rate");
        Require(CooldownSteps is >= 0 and <= 1_000_000, nameof(CooldownSteps), CooldownSteps, "[0, 1000000]");
        Require(RecoveryRate > 1 && RecoveryRate <= 2, nameof(RecoveryRate), RecoveryRate, "(1, 2]");
        Require(EscalationSteps is null or (>= 1 and <= 1_000_000), nameof(EscalationSteps), EscalationSteps, "null or [1, 1000000]");
    }

    private static void Require(bool condition, string option, object? value, string allowed)
    {
        if (!condition)
        {
            throw new ArgumentException($"BackoffOptions.{option} is {value?.ToString() ?? "null"}; allowed: {allowed}.", option);
        }
    }
}
