using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace SpectralMonitor.Cli.Tests;

/// <summary>
/// The corpus as a user runs it: each file in its own <c>spectral-monitor</c> process, one per core at a time, with the same
/// outcome checks as <see cref="CorpusTests"/> plus the bounds of the issue: at most 2 s (CPU time, start-up included;
/// see <see cref="CliProcess.MaxTime"/>) and 500 MB peak resident memory per run. Memory comes from the kernel, for the
/// whole process (runtime, GC heap, native buffers), which in-process GC figures cannot give: ru_maxrss as a
/// conservative upper bound for the check, VmHWM polling as the child's own figure for the record (<see cref="CliRun"/>).
/// </summary>
[Collection(ChildProcesses.Name)]
public sealed class CorpusProcessTests
{
    [Fact]
    public void EveryCorpusFileRunsAsAProcessWithinTwoSecondsAndFiveHundredMegabytes()
    {
        // As many children at once as there are cores.
        var failures = new ConcurrentBag<string>();
        var runs = new ConcurrentBag<(string File, CliRun Run)>();
        Parallel.ForEach(CorpusTests.Cases, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, item =>
        {
            string path = Path.Combine(CorpusTests.Directory, item.File);
            var run = CliProcess.Run(["analyze", path, "--json", .. item.Args]);
            runs.Add((item.File, run));
            try
            {
                CorpusTests.AssertOutcome(item, path, run.ExitCode, run.Output, run.Error);
                CliProcess.AssertWithinBounds(run, item.File);
            }
            catch (Xunit.Sdk.XunitException e)
            {
                failures.Add($"{item.File}: {e.Message.ReplaceLineEndings(" ")}");
            }
        });

        var table = new StringBuilder();
        foreach (var (file, run) in runs.OrderBy(r => r.File, StringComparer.Ordinal))
        {
            table.Append(CultureInfo.InvariantCulture, $"{file}\t{run.ExitCode}\t{run.Wall.TotalSeconds:F3}\t{run.Cpu?.TotalSeconds:F2}\t{run.PolledPeakBytes / 1048576.0:F1}\n");
        }

        // The measurements, for the record: file, exit code, wall s, CPU s, the child's own VmHWM MiB. (The checked memory
        // bound, ru_maxrss over all children, is one number: it includes the fork image of this test process.)
        File.WriteAllText(Path.Combine(AppContext.BaseDirectory, "corpus-runs.tsv"), "file\texit\twall_s\tcpu_s\tvmhwm_mib\n" + table);
        var slowest = runs.MaxBy(r => r.Run.Cpu ?? r.Run.Wall);
        var largest = runs.MaxBy(r => r.Run.PolledPeakBytes);
        TestContext.Current.SendDiagnosticMessage($"corpus: {runs.Count} runs; most CPU {slowest.File} {slowest.Run.Cpu?.TotalSeconds:F2} s ({slowest.Run.Wall.TotalSeconds:F2} s wall); largest VmHWM {largest.File} {largest.Run.PolledPeakBytes / 1048576.0:F1} MiB; ru_maxrss bound {runs.Max(r => r.Run.PeakChildBytes) / 1048576.0:F1} MiB");
        Assert.True(failures.IsEmpty, string.Join("\n", failures.Order(StringComparer.Ordinal)));
    }
}
