using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>
/// Runs worker jobs in parallel child processes (this executable with <c>detection worker JOB.json</c>), at most
/// <c>workers</c> at a time, longest first, and prints one progress line per finished run with an estimate of the
/// time left. Each child sets one torch thread, so runs neither share nor fight over libtorch's thread pool.
/// </summary>
internal static class WorkerPool
{
    /// <summary>Runs <paramref name="jobs"/> and returns their traces in job order.</summary>
    /// <param name="jobs">The jobs.</param>
    /// <param name="workers">Child processes at once.</param>
    /// <param name="jobFolder">Where the job files go.</param>
    /// <param name="progress">Where progress lines go.</param>
    /// <param name="reuse">Read the trace of a job whose trace file exists instead of training it again (resuming).</param>
    /// <exception cref="InvalidOperationException">A worker failed; the message carries its last output.</exception>
    public static RecordedRun[] Run(IReadOnlyList<WorkerJob> jobs, int workers, string jobFolder, TextWriter progress, bool reuse = false)
    {
        Directory.CreateDirectory(jobFolder);
        var traces = new RecordedRun[jobs.Count];
        var order = Enumerable.Range(0, jobs.Count).OrderByDescending(i => Weight(jobs[i])).ToArray();
        double totalWeight = jobs.Sum(Weight), doneWeight = 0;
        int done = 0;
        var clock = Stopwatch.StartNew();
        var gate = new object();
        // NoBuffering hands out one job at a time in the given order (the default partitioner would split it in ranges).
        Parallel.ForEach(Partitioner.Create(order, EnumerablePartitionerOptions.NoBuffering), new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, workers) }, i =>
        {
            var job = jobs[i];
            string jobPath = Path.Combine(jobFolder, Path.ChangeExtension(job.Run.FileName, ".job.json"));
            File.WriteAllText(jobPath, JsonSerializer.Serialize(job, TraceJson.Options));
            var watch = Stopwatch.StartNew();
            if (!(reuse && File.Exists(job.TracePath)) && !RunChild(jobPath, out string failure))
            {
                // One retry: on a machine shared with other jobs a worker has been seen to abort inside libtorch
                // once and pass when run again. A second failure stops the benchmark.
                lock (gate)
                {
                    progress.WriteLine($"  {job.Run.Name}: worker failed ({failure[Math.Max(0, failure.Length - 300)..].ReplaceLineEndings(" ")}); retrying once");
                }

                if (!RunChild(jobPath, out failure))
                {
                    throw new InvalidOperationException($"The worker for {Path.GetFileName(jobPath)} failed twice: {failure}");
                }
            }

            traces[i] = RecordedRun.Read(job.TracePath);
            lock (gate)
            {
                done++;
                doneWeight += Weight(job);
                double left = clock.Elapsed.TotalSeconds * (totalWeight - doneWeight) / doneWeight;
                progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  [{done,3}/{jobs.Count}] {job.Run.Name,-44} {Describe(traces[i]),-28} {watch.Elapsed.TotalSeconds,6:F1} s   elapsed {clock.Elapsed.TotalMinutes:F1} min, about {left / 60:F1} min left"));
            }
        });
        return traces;
    }

    /// <summary>Relative cost of a job (for ordering and the time estimate): steps × a per-step weight × passes.</summary>
    private static double Weight(WorkerJob job) =>
        job.Run.Setting.Steps * (job.Run.Setting.Workload == Examples.Workloads.WorkloadKind.CharGpt ? 4.0 : 1.0)
        * (1 + (job.Configurations.Contains(MonitorConfigurations.Dense) ? 4 : 0) + job.Configurations.Count);

    private static string Describe(RecordedRun trace)
    {
        var spikes = SpikeDefinitions.Material(trace.Losses);
        return trace.Diverged
            ? string.Create(CultureInfo.InvariantCulture, $"diverged at {trace.StepsRun - 1}")
            : string.Create(CultureInfo.InvariantCulture, $"material spikes {spikes.Count}");
    }

    private static bool RunChild(string jobPath, out string failure)
    {
        var start = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // No tiered JIT in the workers: with it, whichever pass runs first also pays for re-compiling the hot paths
        // at tier 1, which biased small overheads low (the default-options pass of a short digits run came out
        // cheaper than the unmonitored pass before it). Everything is compiled once, in the warm-up run.
        start.Environment["DOTNET_TieredCompilation"] = "0";
        var (fileName, prefix) = Self();
        start.FileName = fileName;
        foreach (string argument in prefix.Concat(["detection", "worker", jobPath]))
        {
            start.ArgumentList.Add(argument);
        }

        using var child = Process.Start(start) ?? throw new InvalidOperationException($"Could not start a worker for {jobPath}.");
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        child.WaitForExit();
        string output = (stdout.Result + stderr.Result).Trim();
        failure = child.ExitCode == 0 ? "" : $"exit code {child.ExitCode}: {output[..Math.Min(output.Length, 1000)]} … {output[Math.Max(0, output.Length - 1000)..]}";
        return child.ExitCode == 0;
    }

    /// <summary>
    /// How to start this benchmark again: its apphost when there is one next to the assembly, otherwise
    /// <c>dotnet SpectralMonitor.Benchmarks.dll</c> (also when the assembly is loaded by another host, e.g. a test).
    /// </summary>
    private static (string FileName, string[] Prefix) Self()
    {
        string assembly = typeof(WorkerPool).Assembly.Location;
        string apphost = Path.Combine(Path.GetDirectoryName(assembly)!, Path.GetFileNameWithoutExtension(assembly) + (OperatingSystem.IsWindows() ? ".exe" : ""));
        return File.Exists(apphost) ? (apphost, []) : ("dotnet", [assembly]);
    }
}
