using System.Globalization;

namespace SpectralMonitor.Benchmarks.Load;

/// <summary>
/// Where the time of one training phase went: the training thread's own CPU time and its wait for a core (Linux
/// <c>/proc/thread-self/schedstat</c>; the monitor probes on the training thread, so this covers training and
/// probes), the rest of the process's CPU time (scrape clients and endpoint, GC, timers), and the garbage collector.
/// On a shared machine the wall-clock step rate mostly measures how much CPU the phase got; the CPU time per step
/// does not depend on the other tenants.
/// </summary>
/// <param name="TrainingCpuSeconds">CPU time of the training thread (NaN when schedstat is unavailable).</param>
/// <param name="TrainingRunQueueWaitSeconds">Time the training thread was runnable but waited for a core (NaN when unavailable).</param>
/// <param name="ProcessCpuSeconds">CPU time of the whole process.</param>
/// <param name="Gen0Collections">Garbage collections of generation 0 (and above).</param>
/// <param name="GcPause">Total time the runtime was paused for garbage collection.</param>
/// <param name="AllocatedBytes">Bytes allocated by all threads.</param>
internal sealed record PhaseCost(double TrainingCpuSeconds, double TrainingRunQueueWaitSeconds, double ProcessCpuSeconds, int Gen0Collections, TimeSpan GcPause, long AllocatedBytes)
{
    /// <summary>CPU time of the process other than the training thread.</summary>
    public double OtherCpuSeconds => this.ProcessCpuSeconds - this.TrainingCpuSeconds;

    /// <summary>Measures <paramref name="phase"/>, which must run on the calling thread (the training thread).</summary>
    public static (T Result, PhaseCost Cost) Measure<T>(Func<T> phase)
    {
        ArgumentNullException.ThrowIfNull(phase);
        var (cpu0, wait0) = ThreadSchedule();
        double process0 = Environment.CpuUsage.TotalTime.TotalSeconds;
        int gc0 = GC.CollectionCount(0);
        var pause0 = GC.GetTotalPauseDuration();
        long allocated0 = GC.GetTotalAllocatedBytes(precise: false);
        var result = phase();
        var (cpu1, wait1) = ThreadSchedule();
        var cost = new PhaseCost(
            cpu1 - cpu0,
            wait1 - wait0,
            Environment.CpuUsage.TotalTime.TotalSeconds - process0,
            GC.CollectionCount(0) - gc0,
            GC.GetTotalPauseDuration() - pause0,
            GC.GetTotalAllocatedBytes(precise: false) - allocated0);
        return (result, cost);
    }

    /// <summary>The calling thread's CPU time and run-queue wait so far, from <c>/proc/thread-self/schedstat</c> (seconds).</summary>
    private static (double CpuSeconds, double WaitSeconds) ThreadSchedule()
    {
        try
        {
            var fields = File.ReadAllText("/proc/thread-self/schedstat").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 2
                && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out long cpuNs)
                && long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out long waitNs))
            {
                return (cpuNs * 1e-9, waitNs * 1e-9);
            }
        }
        catch (IOException)
        {
            // Not Linux or no scheduler statistics: reported as n/a.
        }
        catch (UnauthorizedAccessException)
        {
            // As above.
        }

        return (double.NaN, double.NaN);
    }
}
