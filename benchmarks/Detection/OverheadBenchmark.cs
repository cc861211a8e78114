using System.Diagnostics;
using System.Globalization;
using SpectralMonitor.Estimators.Optimizers;
using SpectralMonitor.Reference;
using SpectralMonitor.Reference.Monitoring;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>
/// Monitor overhead (<c>dotnet run -c Release --project benchmarks -- overhead</c>): wall time of a reference training
/// run with the monitor at its default settings against the same run unmonitored, measured side by side, interleaved
/// (order alternating per repetition), median of the repetitions; plus dense probing for contrast.
/// </summary>
internal static class OverheadBenchmark
{
    private const int Repetitions = 5;
    private const int LongSteps = 3000;

    public static int Run()
    {
        // A realistic size for the CPU reference backend: 32→64→64→10 tanh classifier (6,922 parameters), 2,048
        // samples, mini-batches of 128, Adam at 1e-3, 500 steps; probes differentiate a fixed batch of 256 rows.
        var data = SyntheticData.Classification(2048, 32, 10, seed: 17, separation: 1.0);
        var spec = new RunSpec(
            "overhead 32-64-64-10",
            new MlpArchitecture([32, 64, 64, 10], HiddenActivation.Tanh),
            LossKind.CrossEntropy,
            data,
            new AdamHyperparameters(1e-3),
            Steps: 500,
            BatchSize: 128,
            Seed: 1,
            ProbeBatchSize: 256);
        var defaults = new StabilityMonitorOptions { RunName = "overhead-default" };
        var dense = new StabilityMonitorOptions { RunName = "overhead-dense", ProbeInterval = 5, OverheadBudget = 1 };

        Console.WriteLine($"overhead: {spec.Architecture} ({spec.Architecture.ParameterCount} parameters), {data.Count} samples, batch {spec.BatchSize}, {spec.Steps} steps, probe batch {spec.ProbeBatchSize}, Adam 1e-3; interleaved repetitions (5 default, 3 dense; 3 at {LongSteps} steps), medians.");

        // Warm-up (JIT, caches), not timed.
        MonitoredRun.Execute(spec with { Steps = 50 }, null);
        MonitoredRun.Execute(spec with { Steps = 50 }, dense);

        Console.WriteLine("| settings | steps | median wall time (s) | wall ratio | median CPU time (s) | CPU ratio | probes | HVPs per probe (mean) | time per probe (median, ms) | probe steps | interval settled on |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
        Measure(spec, [("default (new StabilityMonitorOptions())", defaults, Repetitions), ("dense (ProbeInterval 5, OverheadBudget 1)", dense, 3)]);

        // The budget can only act after the first probe (FirstProbeStep 10, cold start): a longer run shows where the
        // default settings settle once that probe is amortized.
        Measure(spec with { Steps = LongSteps }, [("default (new StabilityMonitorOptions())", defaults, 3)]);
        return 0;
    }

    private static void Measure(RunSpec spec, (string Name, StabilityMonitorOptions Options, int Repetitions)[] settings)
    {
        int repetitions = settings.Max(s => s.Repetitions);
        var plain = new List<(double Wall, double Cpu)>();
        var times = settings.Select(_ => new List<(double Wall, double Cpu)>()).ToArray();
        var last = new (RunRecord Record, long NextProbe)[settings.Length];
        for (int rep = 0; rep < repetitions; rep++)
        {
            // Alternate the order so slow drifts of the shared machine's load hit every side alike.
            var order = Enumerable.Range(-1, settings.Length + 1).ToArray();
            if (rep % 2 == 1)
            {
                Array.Reverse(order);
            }

            var line = new List<string>();
            foreach (int which in order)
            {
                if (which < 0)
                {
                    var (_, wall, cpu) = Timed(() => MonitoredRun.Execute(spec, null));
                    plain.Add((wall, cpu));
                    line.Add(string.Create(CultureInfo.InvariantCulture, $"plain {wall:F3} s (cpu {cpu:F3})"));
                }
                else if (rep < settings[which].Repetitions)
                {
                    long nextProbe = 0;
                    var (record, wall, cpu) = Timed(() => MonitoredRun.Execute(spec, settings[which].Options, progress: p => nextProbe = p.Monitor!.NextProbeStep));
                    times[which].Add((wall, cpu));
                    last[which] = (record, nextProbe);
                    line.Add(string.Create(CultureInfo.InvariantCulture, $"{settings[which].Options.RunName} {wall:F3} s (cpu {cpu:F3})"));
                }
            }

            Console.Error.WriteLine($"  {spec.Steps} steps, repetition {rep + 1}: {string.Join(", ", line)}");
        }

        double plainWall = DetectionScoring.Median([.. plain.Select(t => t.Wall)]);
        double plainCpu = DetectionScoring.Median([.. plain.Select(t => t.Cpu)]);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| unmonitored | {spec.Steps} | {plainWall:F3} | 1.000 | {plainCpu:F3} | 1.000 | – | – | – | – | – |"));
        for (int i = 0; i < settings.Length; i++)
        {
            double wall = DetectionScoring.Median([.. times[i].Select(t => t.Wall)]);
            double cpu = DetectionScoring.Median([.. times[i].Select(t => t.Cpu)]);
            Report(settings[i].Name, spec.Steps, (wall, wall / plainWall), (cpu, cpu / plainCpu), last[i].Record, last[i].NextProbe);
        }
    }

    /// <summary>Runs <paramref name="run"/> and returns its wall time and the process's CPU time over it (seconds).</summary>
    private static (RunRecord Record, double Wall, double Cpu) Timed(Func<RunRecord> run)
    {
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var record = run();
        process.Refresh();
        return (record, record.Elapsed.TotalSeconds, (process.TotalProcessorTime - cpuBefore).TotalSeconds);
    }

    private static void Report(string name, int steps, (double Median, double Ratio) wall, (double Median, double Ratio) cpu, RunRecord record, long nextProbe)
    {
        var probes = record.Probes.Where(p => p.Status == ProbeStatus.Succeeded).ToArray();
        double hvps = probes.Length == 0 ? double.NaN : probes.Average(p => (double)p.HvpCount);
        double probeMs = DetectionScoring.Median([.. probes.Select(p => p.Duration.TotalMilliseconds)]);
        string probeSteps = probes.Length <= 6
            ? string.Join(", ", probes.Select(p => p.Step.ToString(CultureInfo.InvariantCulture)))
            : string.Create(CultureInfo.InvariantCulture, $"{probes[0].Step}, {probes[1].Step}, {probes[2].Step}, …, {probes[^1].Step}");
        long interval = probes.Length == 0 ? 0 : nextProbe - probes[^1].Step;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {steps} | {wall.Median:F3} | {wall.Ratio:F3} | {cpu.Median:F3} | {cpu.Ratio:F3} | {probes.Length} | {hvps:F1} | {probeMs:F1} | {probeSteps} | {interval} |"));
    }
}
