namespace SpectralMonitor.Examples.AspNetCoreHost;

/// <summary>The training loop's settings, bound from the <c>Training</c> configuration section (e.g. <c>--Training:Steps=2000</c>).</summary>
public sealed class TrainingOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Training";

    /// <summary>The <c>run</c> label of the monitor's series.</summary>
    public string RunName { get; set; } = "aspnetcore";

    /// <summary>Steps to train; 0 trains until the host stops.</summary>
    public long Steps { get; set; }

    /// <summary>
    /// SGD learning rate. The default 0.5 (with momentum 0.9) is unstable for this model: alerts fire, the backoff
    /// lowers the rate, the rate recovers after the cooldown and the cycle repeats, so the series keep moving.
    /// </summary>
    public double LearningRate { get; set; } = 0.5;

    /// <summary>SGD momentum.</summary>
    public double Momentum { get; set; } = 0.9;

    /// <summary>Steps between probes.</summary>
    public int ProbeInterval { get; set; } = 10;

    /// <summary>Pause after each step, so that the example trains at a watchable pace and leaves the CPU to the rest of the machine.</summary>
    public int StepDelayMilliseconds { get; set; } = 5;
}
