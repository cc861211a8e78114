using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace SpectralMonitor.Cli.Tests;

/// <summary>One run of the CLI as a child process.</summary>
/// <param name="ExitCode">The exit code.</param>
/// <param name="Output">Everything written to stdout.</param>
/// <param name="Error">Everything written to stderr.</param>
/// <param name="Wall">Wall time from start to exit, including the runtime's start-up.</param>
/// <param name="Cpu">Linux: the child's user + system CPU time (utime + stime of /proc/PID/stat, read every few
/// milliseconds while it runs: exact to a clock tick, 10 ms, plus the last poll interval); null elsewhere.</param>
/// <param name="PeakChildBytes">
/// Linux: the largest peak resident set size of any child this test process has waited for so far (RUSAGE_CHILDREN
/// ru_maxrss): an upper bound on this run's peak. It is conservative: the kernel counts a child's image from before its
/// exec, which is a copy of this test process (about 100 MB), so it never reads below that. -1 elsewhere.
/// </param>
/// <param name="PolledPeakBytes">Linux: the child's own high-water mark (VmHWM in /proc/PID/status, after its exec), read
/// every few milliseconds while it runs: a lower bound on its peak, close to it. -1 elsewhere.</param>
internal sealed record CliRun(int ExitCode, string Output, string Error, TimeSpan Wall, TimeSpan? Cpu, long PeakChildBytes, long PolledPeakBytes);

/// <summary>
/// The tests that start child processes run alone (not beside the in-process tests), so that a child's wall time holds
/// as little of this test run's other work as possible.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ChildProcesses
{
    public const string Name = "child processes";
}

/// <summary>
/// Runs <c>spectral-monitor</c> as a separate process, so that its time and memory are its own: the kernel's
/// ru_maxrss is exact and includes everything (runtime, GC heap, native MathNet buffers), which in-process GC figures
/// would not. Every child of this test process is a CLI run (or a short <c>mkfifo</c>), so the running maximum over
/// children bounds each run's peak.
/// </summary>
internal static partial class CliProcess
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Time bound of one run, start-up included, on the child's CPU time (user + system): the work the CLI does. Its wall
    /// time is recorded but bounded only by <see cref="HangWall"/>: on a shared 2-core machine at load average 25, runs of
    /// 0.2–0.3 s CPU took 2–2.9 s wall, which measures the neighbours, not the CLI.
    /// </summary>
    public static readonly TimeSpan MaxTime = TimeSpan.FromSeconds(2);

    /// <summary>Wall-time bound of one run: a hang, not a slow run.</summary>
    public static readonly TimeSpan HangWall = TimeSpan.FromSeconds(30);

    /// <summary>Peak resident memory bound of one run.</summary>
    public const long MaxPeakBytes = 500L * 1024 * 1024;

    /// <summary>
    /// The run is within the bounds: CPU time (wall time where CPU time is not reported) at most <see cref="MaxTime"/>,
    /// wall time at most <see cref="HangWall"/>, and the conservative peak-memory bound at most <see cref="MaxPeakBytes"/>.
    /// </summary>
    internal static void AssertWithinBounds(CliRun run, string what)
    {
        var time = run.Cpu ?? run.Wall;
        Assert.True(time <= MaxTime, $"{what}: {time.TotalSeconds:F2} s {(run.Cpu is null ? "wall" : "CPU")} > {MaxTime.TotalSeconds} s");
        Assert.True(run.Wall <= HangWall, $"{what}: {run.Wall.TotalSeconds:F2} s wall > {HangWall.TotalSeconds} s");
        Assert.True(run.PeakChildBytes <= MaxPeakBytes, $"{what}: peak resident memory up to {run.PeakChildBytes / 1048576.0:F0} MiB > {MaxPeakBytes / 1048576} MiB");
    }


    public static CliRun Run(params string[] args)
    {
        string directory = AppContext.BaseDirectory;
        string apphost = Path.Combine(directory, OperatingSystem.IsWindows() ? "spectral-monitor.exe" : "spectral-monitor");
        var start = File.Exists(apphost)
            ? new ProcessStartInfo(apphost)
            : new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet") { ArgumentList = { "exec", Path.Combine(directory, "spectral-monitor.dll") } };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        start.UseShellExecute = false;
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("the CLI did not start");
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        // A dedicated thread: pool threads may all be blocked in WaitForExit (Parallel.ForEach), which would delay sampling.
        (long PeakBytes, TimeSpan? Cpu) polled = (-1, null);
        var poller = new Thread(() => polled = OperatingSystem.IsLinux() ? Poll(process) : (-1, null)) { IsBackground = true };
        poller.Start();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"spectral-monitor {string.Join(' ', args)} did not finish in {Timeout.TotalSeconds} s");
        }

        process.WaitForExit();
        var wall = clock.Elapsed;
        poller.Join();
        return new CliRun(process.ExitCode, output.Result, error.Result, wall, polled.Cpu, PeakChildResidentBytes(), polled.PeakBytes);
    }

    /// <summary>Reads the child's VmHWM and utime + stime until it exits.</summary>
    private static (long PeakBytes, TimeSpan? Cpu) Poll(Process process)
    {
        const double TicksPerSecond = 100; // USER_HZ, 100 on every Linux ABI .NET runs on.
        long peak = -1;
        long ticks = -1;
        string directory = $"/proc/{process.Id}";
        while (!process.HasExited)
        {
            try
            {
                foreach (string line in File.ReadLines(directory + "/status"))
                {
                    if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    {
                        peak = Math.Max(peak, 1024 * long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture));
                    }
                }

                // Fields after the command name (which may hold spaces): state is the first, utime the 12th, stime the 13th.
                string stat = File.ReadAllText(directory + "/stat");
                string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                ticks = Math.Max(ticks, long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture));
            }
            catch (IOException)
            {
                // The process exited between the check and the read.
            }

            Thread.Sleep(2);
        }

        return (peak, ticks < 0 ? null : TimeSpan.FromSeconds(ticks / TicksPerSecond));
    }

    /// <summary>Linux: the largest ru_maxrss (bytes) over the children waited for so far; -1 elsewhere.</summary>
    private static long PeakChildResidentBytes()
    {
        if (!OperatingSystem.IsLinux())
        {
            return -1;
        }

        if (GetResourceUsage(-1, out var usage) != 0)
        {
            throw new Win32Exception(Marshal.GetLastPInvokeError());
        }

        return usage.MaxResidentKilobytes * 1024;
    }

    /// <summary>Creates a named pipe (Linux and macOS: <c>mkfifo</c>).</summary>
    public static void MakeFifo(string path)
    {
        using var process = Process.Start(new ProcessStartInfo("mkfifo") { ArgumentList = { path }, UseShellExecute = false })
            ?? throw new InvalidOperationException("mkfifo did not start");
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }

    /// <summary>
    /// Feeds a named pipe from a background task: a prefix once, then a chunk for ever,
    /// until the reader closes its end (EPIPE, an <see cref="IOException"/>: .NET ignores SIGPIPE). Disposing unblocks a
    /// writer whose reader never opened the pipe, by opening it for reading.
    /// </summary>
    public sealed class EndlessWriter : IDisposable
    {
        private readonly string _path;
        private readonly Task _task;
        private volatile bool _stop;

        public EndlessWriter(string path, byte[] prefix, byte[] chunk)
        {
            _path = path;
            _task = Task.Run(() =>
            {
                try
                {
                    using var pipe = new FileStream(path, FileMode.Open, FileAccess.Write);
                    pipe.Write(prefix);
                    while (!_stop)
                    {
                        pipe.Write(chunk);
                    }
                }
                catch (IOException)
                {
                    // The reader closed the pipe: the endless input was refused.
                }
            });
        }

        public void Dispose()
        {
            _stop = true;
            if (!_task.Wait(TimeSpan.FromSeconds(2)))
            {
                // Still blocked in open: become its reader and hang up at once, so that its next write fails.
                new FileStream(_path, FileMode.Open, FileAccess.Read).Dispose();
                _task.Wait(TimeSpan.FromSeconds(10));
            }
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct ResourceUsage
    {
        public long UserSeconds;
        public long UserMicroseconds;
        public long SystemSeconds;
        public long SystemMicroseconds;
        public long MaxResidentKilobytes;
        public long SharedMemory;
        public long UnsharedData;
        public long UnsharedStack;
        public long MinorFaults;
        public long MajorFaults;
        public long Swaps;
        public long BlocksIn;
        public long BlocksOut;
        public long MessagesSent;
        public long MessagesReceived;
        public long Signals;
        public long VoluntarySwitches;
        public long InvoluntarySwitches;
    }

    [LibraryImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static partial int GetResourceUsage(int who, out ResourceUsage usage);
}
