using System.Globalization;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>
/// The command line shared by the studies that train <see cref="DetectionPlan.Settings"/> over a list of seeds
/// (<c>detection reactive</c>, <c>detection logits</c>): <c>[--filter TEXT] [--workers N] [--out DIR] [--seeds 1,2,3]</c>.
/// </summary>
/// <param name="Workers">Worker processes (default 1).</param>
/// <param name="Output">Output folder.</param>
/// <param name="Plan">The planned runs: every setting with every seed (seed 1 tunes, the others report), filtered.</param>
internal sealed record StudyArguments(int Workers, string Output, IReadOnlyList<PlannedRun> Plan)
{
    /// <summary>
    /// Parses the arguments after the study's name; on bad input (or a filter that matches nothing) writes one line to
    /// standard error and returns null (the study then exits 2).
    /// </summary>
    /// <param name="study">The study's name, e.g. "reactive".</param>
    /// <param name="defaultFolder">The default output folder under benchmarks/Detection.</param>
    /// <param name="args">The arguments.</param>
    public static StudyArguments? Parse(string study, string defaultFolder, IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        string usage = $"usage: detection {study} [--filter TEXT] [--workers N] [--out DIR] [--seeds 1,2,3]";
        int workers = 1;
        string output = Path.Combine(DetectionBenchmark.RepositoryRoot(), "benchmarks", "Detection", defaultFolder);
        string? filter = null;
        int[] seeds = [1, 2, 3];
        for (int i = 0; i < args.Count; i++)
        {
            bool hasValue = i + 1 < args.Count && !string.IsNullOrWhiteSpace(args[i + 1]);
            switch (args[i])
            {
                case "--workers" when hasValue && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out workers) && workers is >= 1 and <= 64:
                    i++;
                    break;
                case "--out" when hasValue:
                    output = Path.GetFullPath(args[++i]);
                    break;
                case "--filter" when hasValue:
                    filter = args[++i];
                    break;
                case "--seeds" when hasValue && TryParseSeeds(args[i + 1], out seeds):
                    i++;
                    break;
                default:
                    Console.Error.WriteLine($"detection {study}: unexpected or incomplete argument '{args[i]}'. {usage}");
                    return null;
            }
        }

        var plan = seeds.SelectMany(seed => DetectionPlan.Settings.Select(s => new PlannedRun(s, seed, seed == 1 ? SeedRole.Tune : SeedRole.Report)))
            .Where(r => filter is null || r.Name.Contains(filter, StringComparison.Ordinal)).ToArray();
        if (plan.Length == 0)
        {
            Console.Error.WriteLine($"detection {study}: no planned run matches --filter '{filter}'");
            return null;
        }

        return new StudyArguments(workers, output, plan);
    }

    /// <summary>
    /// Trains the plan (each run under <paramref name="configurations"/> in one worker process; a run whose trace
    /// exists is read, not trained again), then writes the study's report (and its chart, when it has one) into the
    /// output folder and to standard output.
    /// </summary>
    /// <param name="study">The study's name, e.g. "reactive" (progress lines).</param>
    /// <param name="configurations">The passes of each run.</param>
    /// <param name="sensors">Attach the step sensors to the last pass.</param>
    /// <param name="report">The report, from the runs, the elapsed time and the workers; written to <paramref name="reportFile"/>.</param>
    /// <param name="reportFile">The report's file name in the output folder.</param>
    /// <param name="chart">The chart as SVG text, or null for none; written to <paramref name="chartFile"/>.</param>
    /// <param name="chartFile">The chart's file name in the output folder.</param>
    /// <returns>0.</returns>
    public int TrainAndReport(string study, IReadOnlyList<string> configurations, bool sensors, Func<RecordedRun[], TimeSpan, int, string> report, string reportFile, Func<RecordedRun[], string?> chart, string chartFile)
    {
        ArgumentNullException.ThrowIfNull(configurations);
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(chart);
        var total = System.Diagnostics.Stopwatch.StartNew();
        var jobs = Plan.Select(r => new WorkerJob(r, configurations, Path.Combine(Output, "traces", r.FileName), sensors)).ToArray();
        Console.Error.WriteLine($"detection {study}: {jobs.Length} runs × {configurations.Count} passes{(sensors ? " (step sensors on the last)" : "")}, {Workers} worker(s); load average {DetectionBenchmark.LoadAverage()}");
        var runs = WorkerPool.Run(jobs, Workers, Path.Combine(Output, "jobs"), Console.Error, reuse: true);
        Directory.CreateDirectory(Output);
        string text = report(runs, total.Elapsed, Workers);
        File.WriteAllText(Path.Combine(Output, reportFile), text);
        if (chart(runs) is { } svg)
        {
            File.WriteAllText(Path.Combine(Output, chartFile), svg);
        }

        Console.Write(text);
        return 0;
    }

    /// <summary>Parses "1,2,3" (positive whole numbers); false on anything else.</summary>
    internal static bool TryParseSeeds(string text, out int[] seeds)
    {
        var parts = text.Split(',');
        seeds = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out seeds[i]) || seeds[i] < 1)
            {
                return false;
            }
        }

        return seeds.Length > 0;
    }
}
