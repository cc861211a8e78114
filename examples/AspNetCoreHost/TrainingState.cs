using SpectralMonitor.Rules;

namespace SpectralMonitor.Examples.AspNetCoreHost;

/// <summary>Where the training loop is.</summary>
public enum TrainingPhase
{
    /// <summary>The host has started; the loop has not taken its first step.</summary>
    Starting,

    /// <summary>Training.</summary>
    Training,

    /// <summary>Every step is done (only when <see cref="TrainingOptions.Steps"/> is set).</summary>
    Completed,

    /// <summary>The host stopped the loop; the monitor is disposed.</summary>
    Stopped,

    /// <summary>The loop failed; <see cref="TrainingStatus.Error"/> says why.</summary>
    Faulted,
}

/// <summary>What /healthz reports.</summary>
/// <param name="Phase">Where the loop is.</param>
/// <param name="Run">The run name.</param>
/// <param name="Step">The last step taken (−1 before the first).</param>
/// <param name="Loss">The last step's loss.</param>
/// <param name="LearningRate">The learning rate in force (the backoff may have lowered it).</param>
/// <param name="AlertLevel">The monitor's current alert level.</param>
/// <param name="Probes">Probes completed in this process.</param>
/// <param name="MonitorDisposed">Whether the monitor has been disposed (true before the loop starts and once it has ended).</param>
/// <param name="Error">Why the loop failed, when <paramref name="Phase"/> is <see cref="TrainingPhase.Faulted"/>.</param>
public sealed record TrainingStatus(
    TrainingPhase Phase,
    string Run,
    long Step,
    double Loss,
    double LearningRate,
    AlertLevel AlertLevel,
    long Probes,
    bool MonitorDisposed,
    string? Error);

/// <summary>The training loop's state, written by the loop and read by /healthz on other threads.</summary>
public sealed class TrainingState
{
    private TrainingStatus status = new(TrainingPhase.Starting, string.Empty, -1, double.NaN, double.NaN, AlertLevel.Ok, 0, MonitorDisposed: true, Error: null);

    /// <summary>The latest status (an immutable snapshot).</summary>
    public TrainingStatus Current => Volatile.Read(ref this.status);

    /// <summary>Replaces the status with <paramref name="update"/> applied to it.</summary>
    internal void Update(Func<TrainingStatus, TrainingStatus> update)
    {
        TrainingStatus seen, next;
        do
        {
            seen = Volatile.Read(ref this.status);
            next = update(seen);
        }
        while (!ReferenceEquals(Interlocked.CompareExchange(ref this.status, next, seen), seen));
    }
}
