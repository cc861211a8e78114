using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>Parsed command line of the detection benchmark.</summary>
/// <param name="Mode">"full", "smoke", "sweep", "rescore" or "worker".</param>
/// <param name="Workers">Parallel worker processes.</param>
/// <param name="Output">Output folder.</param>
/// <param name="JobPath">The job file of a worker.</param>
/// <param name="Resume">Reuse the traces already in the output folder (the sweep always does).</param>
/// <param name="Filter">Train only the planned runs whose name contains this text (null: all).</param>
/// <param name="DenseEstimators">The dense pass's probe estimators (null: the default set).</param>
internal sealed record DetectionCommand(string Mode, int Workers, string Output, string? JobPath, bool Resume = false, string? Filter = null, ProbeEstimators? DenseEstimators = null);

/// <summary>
/// The detection benchmark. <c>dotnet run -c Release --project benchmarks -- detection [--smoke | sweep | --rescore]
/// [--workers N] [--out DIR]</c>: trains every planned run in worker processes (unmonitored, at the monitor's default
/// options and with dense probing, see <see cref="MonitorConfigurations"/>), writes one trace per run, scores every
/// detector on them and writes results.json, report.md and the SVG charts.
/// </summary>
internal static class DetectionBenchmark
{
    public static readonly string Usage = $"usage: detection [--smoke | --rescore | sweep | warnings | {string.Join(" | ", ReactiveStudy.Treatments.Select(t => t.Study))} | logits] [--resume] [--filter TEXT] [--dense-estimators FLAGS] [--workers N] [--out DIR]   (internal: detection worker JOB.json)";

    public static int Run(string[] args)
    {
        if (args.Length > 0 && args[0] == "warnings")
        {
            return WarningStudy.Run(args[1..]);
        }

        if (args.Length > 0 && ReactiveStudy.Treatments.FirstOrDefault(t => t.Study == args[0]) is { } treatment)
        {
            return ReactiveStudy.Run(args[1..], treatment);
        }

        if (args.Length > 0 && args[0] == "logits")
        {
            return LogitStudy.Run(args[1..]);
        }

        if (!TryParse(args, out var command, out string? error))
        {
            Console.Error.WriteLine($"detection: {error}. {Usage}");
            return 2;
        }

        return command.Mode switch
        {
            "worker" => Worker.Run(command.JobPath!),
            "sweep" => Sweep(command),
            _ => Benchmark(command),
        };
    }

    /// <summary>Parses the arguments after "detection"; false with a one-line reason on bad input.</summary>
    public static bool TryParse(IReadOnlyList<string> args, out DetectionCommand command, out string? error)
    {
        string mode = "full";
        int workers = Math.Clamp(Environment.ProcessorCount, 1, 2);
        string? output = null, job = null, filter = null;
        bool resume = false;
        ProbeEstimators? denseEstimators = null;
        command = new DetectionCommand(mode, workers, "", null);
        error = null;
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            switch (arg)
            {
                case "worker" when i == 0 && args.Count == 2:
                    mode = "worker";
                    job = args[++i];
                    if (!File.Exists(job))
                    {
                        error = $"no job file '{job}'";
                        return false;
                    }

                    break;
                case "sweep" when i == 0:
                    mode = "sweep";
                    break;
                case "--smoke" or "--rescore" when mode == "full":
                    mode = arg[2..];
                    break;
                case "--resume" when mode != "worker":
                    resume = true;
                    break;
                case "--workers":
                    if (i + 1 >= args.Count || !int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out workers) || workers is < 1 or > 64)
                    {
                        error = "--workers needs a whole number from 1 to 64";
                        return false;
                    }

                    i++;
                    break;
                case "--filter" when mode != "worker":
                    if (i + 1 >= args.Count || string.IsNullOrWhiteSpace(args[i + 1]))
                    {
                        error = "--filter needs a text that run names contain";
                        return false;
                    }

                    filter = args[++i];
                    break;
                case "--dense-estimators" when mode != "worker":
                    if (i + 1 >= args.Count || !Enum.TryParse(args[i + 1], ignoreCase: true, out ProbeEstimators flags) || (flags & ~ProbeEstimators.All) != 0 || !flags.HasFlag(ProbeEstimators.Sharpness))
                    {
                        error = "--dense-estimators needs ProbeEstimators flags that include Sharpness, e.g. Default,EpsilonModes";
                        return false;
                    }

                    denseEstimators = flags;
                    i++;
                    break;
                case "--out":
                    if (i + 1 >= args.Count || string.IsNullOrWhiteSpace(args[i + 1]))
                    {
                        error = "--out needs a folder";
                        return false;
                    }

                    output = args[++i];
                    break;
                default:
                    error = $"unexpected argument '{arg}'";
                    return false;
            }
        }

        output ??= Path.Combine(RepositoryRoot(), "benchmarks", "Detection", mode == "smoke" ? "smoke" : "results");
        command = new DetectionCommand(mode, workers, Path.GetFullPath(output), job, resume, filter, denseEstimators);
        return true;
    }

    private static int Benchmark(DetectionCommand command)
    {
        var total = Stopwatch.StartNew();
        var plan = command.Mode == "smoke" ? DetectionPlan.Smoke() : DetectionPlan.Full();
        if (command.Filter is { } filter)
        {
            plan = [.. plan.Where(r => r.Name.Contains(filter, StringComparison.Ordinal))];
        }

        string traces = Path.Combine(command.Output, "traces");
        RecordedRun[] runs;
        if (command.Mode == "rescore")
        {
            // Every trace in the folder, whichever plan wrote it (detectors and scoring may have changed since).
            runs = Directory.Exists(traces) ? [.. Directory.GetFiles(traces, "*.json").Order(StringComparer.Ordinal).Select(RecordedRun.Read)] : [];
            if (runs.Length == 0)
            {
                Console.Error.WriteLine($"detection: no traces in {traces}");
                return 2;
            }

            Console.Error.WriteLine($"detection: rescoring the {runs.Length} traces in {traces}");
        }
        else
        {
            Console.Error.WriteLine($"detection: {plan.Count} runs ({plan.Count(r => r.Role == SeedRole.Tune)} tune, {plan.Count(r => r.Role == SeedRole.Report)} report), {command.Workers} worker process(es), configurations {string.Join(", ", MonitorConfigurations.All)} on report runs, {MonitorConfigurations.Dense} on tune runs; load average at start {LoadAverage()}");
            var jobs = plan.Select(r => new WorkerJob(r, r.Configurations, Path.Combine(traces, r.FileName), Sensors: true, command.DenseEstimators)).ToArray();
            runs = WorkerPool.Run(jobs, command.Workers, Path.Combine(command.Output, "jobs"), Console.Error, command.Resume);
        }

        var context = new RunContext(command.Mode, command.Workers, LoadAverage(), total.Elapsed);
        var results = DetectionReport.Build(runs, context);
        DetectionReport.Write(results, runs, command.Output, total);
        return 0;
    }

    private static int Sweep(DetectionCommand command)
    {
        var total = Stopwatch.StartNew();
        var plan = DetectionPlan.Sweep();
        Console.Error.WriteLine($"detection sweep: {plan.Count} unmonitored runs, {command.Workers} worker process(es); load average at start {LoadAverage()}");
        string traces = Path.Combine(command.Output, "sweep-traces");
        var jobs = plan.Select(r => new WorkerJob(r, [MonitorConfigurations.Unmonitored], Path.Combine(traces, r.FileName), Sensors: false)).ToArray();
        var runs = WorkerPool.Run(jobs, command.Workers, Path.Combine(command.Output, "jobs"), Console.Error, reuse: true);
        var table = new StringBuilder();
        table.AppendLine("| setup | lr | material spikes | library spikes | diverged at step | loss at start | final loss (mean of last 50) |");
        table.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var run in runs)
        {
            var losses = run.Losses;
            double final = losses.TakeLast(50).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average();
            table.AppendLine(CultureInfo.InvariantCulture, $"| {run.Setting.Setup} | {run.Setting.LearningRate:G3} | {SpikeDefinitions.Material(losses).Count} | {SpikeDefinitions.Library(losses).Count} | {(run.Diverged ? (run.StepsRun - 1).ToString(CultureInfo.InvariantCulture) : "–")} | {losses[0]:G3} | {final:G3} |");
        }

        table.AppendLine(CultureInfo.InvariantCulture, $"\nsweep: {runs.Length} runs, seed 1, {command.Workers} workers, wall time {total.Elapsed.TotalMinutes:F1} min, load average at end {LoadAverage()}");
        Directory.CreateDirectory(command.Output);
        File.WriteAllText(Path.Combine(command.Output, "sweep.md"), table.ToString());
        Console.Write(table.ToString());
        return 0;
    }

    /// <summary>The 1-, 5- and 15-minute load averages (Linux), or "n/a".</summary>
    public static string LoadAverage()
    {
        try
        {
            return File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
        }
        catch (IOException)
        {
            return "n/a";
        }
    }

    /// <summary>The repository root (the folder with Monitor.sln above the working directory or this assembly).</summary>
    public static string RepositoryRoot()
    {
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Monitor.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        return Environment.CurrentDirectory;
    }
}
