using Microsoft.Extensions.Logging;
using SpectralMonitor.Rules;

namespace SpectralMonitor.Telemetry;

/// <summary>The monitor's structured log lines. Event ids 1000–1099 belong to the monitor.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Debug, Message = "Probe at step {Step} ({Path}) took {DurationMs:F1} ms and {HvpCount} HVPs; sharpness/edge {SharpnessToEdge:G4}, ρ {SpectralRadius:G4}, κ {EigenvectorCondition:G4}")]
    public static partial void ProbeCompleted(ILogger logger, long step, string path, double durationMs, long hvpCount, double sharpnessToEdge, double spectralRadius, double eigenvectorCondition);

    /// <summary>Warning; Debug when the previous probe failed for the same reason (said once, not once per probe).</summary>
    [LoggerMessage(EventId = 1001, Message = "Probe at step {Step} failed and was skipped: {Reason}")]
    public static partial void ProbeFailed(ILogger logger, LogLevel level, long step, string reason);

    [LoggerMessage(EventId = 1002, Message = "{Level} at step {Step}: rule {Rule} on {Indicator} = {Value:G4} (compared {Compared:G4} vs {Threshold:G4})")]
    public static partial void AlertRaised(ILogger logger, LogLevel logLevel, AlertLevel level, long step, string rule, string indicator, double value, double compared, double threshold);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Rule {Rule} back to {Level} at step {Step} ({Indicator} = {Value:G4})")]
    public static partial void AlertLowered(ILogger logger, string rule, AlertLevel level, long step, string indicator, double value);

    /// <summary>A backoff cut is Information; each step of the gradual recovery is Debug (one per step while recovering).</summary>
    [LoggerMessage(EventId = 1004, Message = "Learning rate of group {Group} changed from {From:G4} to {To:G4} at step {Step} (backoff factor {Factor:G4})")]
    public static partial void LearningRateChanged(ILogger logger, LogLevel level, int group, double from, double to, long step, double factor);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Operator measures are off for this optimizer ({Reason}); sharpness, spectral density and weight singular values are still reported")]
    public static partial void OptimizerUnsupported(ILogger logger, string reason);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Error, Message = "Non-finite training signal at step {Step}: loss {Loss}, gradient norm {GradientNorm}")]
    public static partial void NonFinite(ILogger logger, long step, double loss, double gradientNorm);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "{Failures} consecutive probe failures: next probe in {Interval} steps")]
    public static partial void CadenceWidened(ILogger logger, int failures, int interval);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Warning, Message = "An alert or probe event handler threw; the monitor ignored it")]
    public static partial void HandlerFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Error, Message = "The monitor hit an internal error at step {Step} and skipped its work for that step")]
    public static partial void InternalError(ILogger logger, long step, Exception exception);

    /// <summary>Information the first time; Debug for later restarts (epoch-numbered loops restart every epoch).</summary>
    [LoggerMessage(EventId = 1010, Message = "Step number {Step} follows {PreviousStep}: the numbering restarted, went back or repeated. The monitor treats it as the next step of a new segment; the probe schedule and cooldowns continue (next probe at step {NextProbeStep})")]
    public static partial void StepsRestarted(ILogger logger, LogLevel level, long step, long previousStep, long nextProbeStep);

    /// <summary>Warning the first time; Debug afterwards.</summary>
    [LoggerMessage(EventId = 1011, Message = "{Call} was called from inside a monitor event handler (or from the monitor's own thread while it was busy) and was ignored: handlers must not call back into the monitor")]
    public static partial void ReentrantCallRefused(ILogger logger, LogLevel level, string call);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Warning, Message = "RunName '{Requested}' is already used by a live monitor in this process (the two would export the same series and hide each other); this monitor exports as run '{RunName}'")]
    public static partial void RunNameInUse(ILogger logger, string requested, string runName);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Information, Message = "Rebound to a new probe target (optimizer {Optimizer}): the next probe reads it, the backoff acts on its learning rates, warm starts restart")]
    public static partial void Rebound(ILogger logger, string optimizer);

    /// <summary>Warning for the first trigger of an episode of consecutive triggered steps; Debug for the rest.</summary>
    [LoggerMessage(EventId = 1014, Message = "Spike guard at step {Step}: {Decision} the update (loss {Loss:G4}, z {LossZScore:G3}; gradient norm {GradientNorm:G4}, z {GradientNormZScore:G3}); learning-rate factor {Factor:G4}")]
    public static partial void SpikeGuardTriggered(ILogger logger, LogLevel level, long step, string decision, double loss, double lossZScore, double gradientNorm, double gradientNormZScore, double factor);
}
