using System.Diagnostics;
using System.Globalization;
using SpectralMonitor.Examples.Workloads;
using TorchSharp;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>
/// Monitor overhead at the default options on the detection benchmark's TorchSharp workloads
/// (<c>dotnet run -c Release --project benchmarks -- overhead [--reps N] [--setups mlp-sgdm,…] [--gpt-steps N] [--smoke] [--sensor-off] [--batch-curvature] [--cold]</c>;
/// run it with <c>DOTNET_TieredCompilation=0</c> so that no background re-JIT lands in a timed pass). Per setup, in this
/// process with one torch thread: an untimed warm-up that runs every monitor code path, then interleaved repetitions
/// (order alternating) of the same run unmonitored and monitored at <c>new StabilityMonitorOptions()</c>; the table
/// gives medians of the process CPU time and wall time and their ratios, and from the monitored passes the monitor's
/// own ledger (<see cref="StabilityMonitor.Cost"/>), probes, the first probe's step and the step-sensor cadence. Every
/// monitored pass must train bit-identically to its unmonitored pass (checked, reported). <c>--batch-curvature</c>
/// monitors with the opt-in <c>TorchSharpProbeOptions.BatchLoss</c> as well (still the default budget) and times the
/// batch-curvature read's parts side by side at the last step. <c>--cold</c> (one setup per process) trains one
/// monitored pass first, before anything has run in the process, as a user's first run does, and reports what the
/// monitor read in it: the JIT compilation of the monitor's code paths is charged to the budget there.
/// </summary>
internal static class OverheadBenchmark
{
    /// <summary>The setups: the detection plan's stable rates, held-out seed 2, its run lengths and probe batches.</summary>
    private static readonly (string Key, Setting Setting)[] Setups =
    [
        ("mlp-sgdm", new Setting(WorkloadKind.DigitsMlp, OptimizerKind.SgdMomentum, 0, 0.1, DetectionPlan.DigitsSteps, 64)),
        ("mlp-adam", new Setting(WorkloadKind.DigitsMlp, OptimizerKind.Adam, 0, 3e-3, DetectionPlan.DigitsSteps, 64)),
        ("cnn-sgdm", new Setting(WorkloadKind.DigitsCnn, OptimizerKind.SgdMomentum, 0, 0.03, DetectionPlan.DigitsSteps, 64)),
        ("cnn-adam", new Setting(WorkloadKind.DigitsCnn, OptimizerKind.Adam, 0, 3e-3, DetectionPlan.DigitsSteps, 64)),
        ("gpt-adam", new Setting(WorkloadKind.CharGpt, OptimizerKind.Adam, 0, 3e-3, DetectionPlan.GptSteps, 32)),
        ("gpt-sgdm", new Setting(WorkloadKind.CharGpt, OptimizerKind.SgdMomentum, 0, 0.1, DetectionPlan.GptSteps, 32)),

        // Four times the plan's length: long enough for probes at the default budget on the smallest model.
        ("mlp-adam-6000", new Setting(WorkloadKind.DigitsMlp, OptimizerKind.Adam, 0, 3e-3, 4 * DetectionPlan.DigitsSteps, 64)),
    ];

    private const int Seed = 2;

    public static int Run(string[] args)
    {
        int reps = 3, gptSteps = DetectionPlan.GptSteps;
        bool smoke = false, sensorOff = false, curvature = false, cold = false;
        string[] keys = [.. Setups.Select(s => s.Key)];
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--reps" when i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out int r) && r >= 1:
                    reps = r;
                    i++;
                    break;
                case "--gpt-steps" when i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out int g) && g >= 20:
                    gptSteps = g;
                    i++;
                    break;
                case "--setups" when i + 1 < args.Length:
                    keys = args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    break;
                case "--smoke":
                    smoke = true;
                    break;
                case "--sensor-off":
                    sensorOff = true;
                    break;
                case "--batch-curvature":
                    curvature = true;
                    break;
                case "--cold":
                    cold = true;
                    break;
                default:
                    Console.Error.WriteLine($"overhead: unknown or invalid argument '{args[i]}' (usage: overhead [--reps N ≥ 1] [--setups {string.Join(',', Setups.Select(s => s.Key))}] [--gpt-steps N ≥ 20] [--smoke] [--sensor-off] [--batch-curvature] [--cold])");
                    return 2;
            }
        }

        string? unknown = keys.FirstOrDefault(k => Setups.All(s => s.Key != k));
        if (unknown is not null)
        {
            Console.Error.WriteLine($"overhead: unknown setup '{unknown}' (known: {string.Join(", ", Setups.Select(s => s.Key))})");
            return 2;
        }

        if (cold && keys.Length != 1)
        {
            Console.Error.WriteLine($"overhead: --cold measures the first run of a process, so it takes exactly one setup (--setups KEY); {keys.Length} were given");
            return 2;
        }

        var data = new WorkloadData();
        if (cold)
        {
            var setting = Setups.First(s => s.Key == keys[0]).Setting;
            int steps = smoke ? 60 : setting.Workload == WorkloadKind.CharGpt ? gptSteps : setting.Steps;
            Console.WriteLine(ColdPass(keys[0], (setting with { Steps = steps, ProbeBatchSize = smoke ? 8 : setting.ProbeBatchSize }).Spec(Seed), data, curvature));
            return 0;
        }

        string jit = Environment.GetEnvironmentVariable("DOTNET_TieredCompilation") ?? "default";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"overhead: {reps} interleaved repetitions per setup, seed {Seed}, batch 32, one torch thread, DOTNET_TieredCompilation={jit}, load average at start {LoadAverage()}"));
        Console.WriteLine("| setup | steps | unmonitored CPU s | monitored CPU s | CPU ratio (median of the repetitions' ratios) | training-thread CPU ratio | wall ratio | ledger: monitor / training | per step: statistics µs, step ms | probes / run | first probe at step | first probe ms (in steps) | probe ms, median (in steps) | sensor reads / run | sensor read ms | optimizer-state statistics ms: tensor by tensor → batched → managed pass | max steps between sensor reads | statistics read every | identical |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (string key in keys)
        {
            var setting = Setups.First(s => s.Key == key).Setting;
            int steps = smoke ? 60 : setting.Workload == WorkloadKind.CharGpt ? gptSteps : setting.Steps;
            var spec = (setting with { Steps = steps, ProbeBatchSize = smoke ? 8 : setting.ProbeBatchSize }).Spec(Seed);
            Console.WriteLine(Measure(key, spec, smoke ? 1 : reps, data, sensorOff, curvature));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"load average at end {LoadAverage()}"));
        return 0;
    }

    private static string Measure(string key, RunSpec spec, int reps, WorkloadData data, bool sensorOff, bool curvature)
    {
        // Warm-up, untimed: every code path of training and of the monitor (probes and sensor on a nominal schedule).
        var warmUp = spec with { Name = "warm-up", Steps = 12, WarmupSteps = 0 };
        WorkloadRunner.Run(warmUp, null, data: data);
        WorkloadRunner.Run(warmUp, new StabilityMonitorOptions { RunName = "warm-up", ProbeInterval = 5, FirstProbeStep = 0, OverheadBudget = 1, StepSensorInterval = 1 }, data: data, batchLoss: curvature);

        var plain = new List<(double Cpu, double Wall, double Thread, double Gc)>();
        var monitored = new List<(double Cpu, double Wall, double Thread, double Gc)>();
        var passes = new List<(RunTrace Trace, MonitorCost Cost)>();
        bool identical = true;
        for (int rep = 0; rep < reps; rep++)
        {
            double[]? reference = null, other = null;
            foreach (bool monitor in rep % 2 == 0 ? new[] { false, true } : [true, false])
            {
                MonitorCost? cost = null;
                var options = monitor ? new StabilityMonitorOptions { RunName = "overhead-" + key, StepSensorInterval = sensorOff ? 0 : 5 } : null;
                var (trace, cpu, wall, thread, gc) = Timed(() => WorkloadRunner.Run(spec, options, onStep: r => cost = r.Monitor?.Cost ?? cost, data: data, batchLoss: curvature && monitor));
                if (monitor)
                {
                    monitored.Add((cpu, wall, thread, gc));
                    passes.Add((trace, cost!));
                    other = [.. trace.Losses];
                }
                else
                {
                    plain.Add((cpu, wall, thread, gc));
                    reference = [.. trace.Losses];
                }
            }

            identical &= reference!.AsSpan().SequenceEqual(other);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {key} repetition {rep + 1}: unmonitored {plain[^1].Cpu:F3} CPU s, monitored {monitored[^1].Cpu:F3} CPU s (thread {plain[^1].Thread:F3} / {monitored[^1].Thread:F3}, GC pauses {1e3 * plain[^1].Gc:F1} / {1e3 * monitored[^1].Gc:F1} ms) (ledger {passes[^1].Cost.Overhead:P1}, {passes[^1].Trace.Probes.Count} probes), load {LoadAverage()}"));
        }

        var (perTensor, batched, managed) = StateReadSideBySide(spec, data);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {key} optimizer-state read at the last step (median of 50 each, in rotation): tensor by tensor {perTensor:F3} ms, batched {batched:F3} ms, managed pass over CPU memory {managed:F3} ms"));
        if (curvature)
        {
            var (forward, hostRead, tensorRead) = CurvatureReadSideBySide(spec, data);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {key} batch-curvature read at the last step (median of 50 each, in rotation): the batch's forward pass alone {forward:F3} ms; prepare + read with the managed pass {hostRead:F3} ms, with tensor operations {tensorRead:F3} ms; a training step {Median(passes.Select(p => 1e3 * p.Cost.TrainingSeconds / p.Cost.Steps)):F3} ms"));
        }
        // Ratios are medians over the repetitions of each one's monitored pass over its own unmonitored pass (the two ran
        // next to each other), not the ratio of two medians, which can pair a slow pass with a fast one.
        double plainCpu = Median(plain.Select(p => p.Cpu)), monitoredCpu = Median(monitored.Select(p => p.Cpu));
        double cpuRatio = Median(monitored.Zip(plain, (m, p) => m.Cpu / p.Cpu));
        double wallRatio = Median(monitored.Zip(plain, (m, p) => m.Wall / p.Wall));
        double threadRatio = Median(monitored.Zip(plain, (m, p) => m.Thread / p.Thread));
        var costs = passes.Select(p => p.Cost).ToArray();
        double ledger = Median(costs.Select(c => c.Overhead));
        double stepMs = Median(costs.Select(c => 1e3 * c.TrainingSeconds / c.Steps));
        double statisticsUs = Median(costs.Select(c => 1e6 * (c.MonitorSeconds - c.ProbeSeconds - c.SensorSeconds) / c.Steps));
        double probes = passes.Average(p => (double)p.Trace.Probes.Count);
        var firstProbes = passes.Where(p => p.Trace.Probes.Count > 0).Select(p => (double)p.Trace.Probes[0].Step).ToArray();
        var firstMs = passes.Where(p => p.Trace.Probes.Count > 0).Select(p => p.Trace.Probes[0].Duration.TotalMilliseconds).ToArray();
        var probeMs = passes.SelectMany(p => p.Trace.Probes.Select(q => q.Duration.TotalMilliseconds)).ToArray();
        double sensorReads = costs.Average(c => (double)c.SensorReads);
        var readMs = costs.Where(c => c.SensorReads > 0).Select(c => 1e3 * c.SensorSeconds / c.SensorReads).ToArray();
        long maxGap = costs.Max(c => c.MaxSensorGap);
        string first = firstProbes.Length == 0 ? "none" : string.Join(", ", firstProbes.Distinct().Order().Select(s => s.ToString(CultureInfo.InvariantCulture)));
        string probeCost = probeMs.Length == 0 ? "–" : string.Create(CultureInfo.InvariantCulture, $"{Median(probeMs):F1} ({Median(probeMs) / stepMs:F0})");
        string firstCost = firstMs.Length == 0 ? "–" : string.Create(CultureInfo.InvariantCulture, $"{Median(firstMs):F1} ({Median(firstMs) / stepMs:F0})");
        string read = readMs.Length == 0 ? "–" : string.Create(CultureInfo.InvariantCulture, $"{Median(readMs):F2}");
        return string.Create(
            CultureInfo.InvariantCulture,
            $"| {key} | {spec.Steps} | {plainCpu:F2} | {monitoredCpu:F2} | {cpuRatio:F3} | {threadRatio:F3} | {wallRatio:F3} | {ledger:P1} | {statisticsUs:F0}, {stepMs:F2} | {probes:F1} | {first} | {firstCost} | {probeCost} | {sensorReads:F0} | {read} | {perTensor:F2} → {batched:F2} → {managed:F3} | {(maxGap == 0 ? "–" : maxGap.ToString(CultureInfo.InvariantCulture))} | 1 step | {(identical ? "yes" : "NO")} |");
    }

    /// <summary>
    /// The optimizer-state statistics read (<see cref="SpectralMonitor.Torch.OptimizerStepStatisticsReader"/>) at the
    /// last step of an unmonitored run three ways, 50 times each in rotation: by tensor operations tensor by tensor (as
    /// before the reader batched small tensors), by tensor operations with small tensors batched (the read on a GPU),
    /// and by the managed pass over CPU memory (the read on the CPU); median milliseconds of each.
    /// </summary>
    private static (double PerTensor, double Batched, double Managed) StateReadSideBySide(RunSpec spec, WorkloadData data)
    {
        torch.optim.Optimizer? optimizer = null;
        var times = new[] { new List<double>(), new List<double>(), new List<double>() };
        WorkloadRunner.Run(spec, null, onStep: report =>
        {
            if (report.Step != spec.Steps - 1 || optimizer is null)
            {
                return;
            }

            for (int i = 0; i < 150; i++)
            {
                int way = i % 3;
                var clock = Stopwatch.StartNew();
                _ = way switch
                {
                    0 => SpectralMonitor.Torch.OptimizerStepStatisticsReader.TryRead(optimizer, smallTensor: 0, batchElements: 0, onHost: false, out _),
                    1 => SpectralMonitor.Torch.OptimizerStepStatisticsReader.TryRead(
                        optimizer, SpectralMonitor.Torch.OptimizerStepStatisticsReader.SmallTensor, SpectralMonitor.Torch.OptimizerStepStatisticsReader.BatchElements, onHost: false, out _),
                    _ => SpectralMonitor.Torch.OptimizerStepStatisticsReader.TryRead(optimizer, out _),
                };
                times[way].Add(clock.Elapsed.TotalMilliseconds);
            }
        }, data: data, onStart: (_, o) => optimizer = o);
        return (Median(times[0]), Median(times[1]), Median(times[2]));
    }

    /// <summary>
    /// One monitored pass at the default options (with the batch curvature when asked) as the first thing the process
    /// trains: a markdown row of the ledger (warm-up apart, then with it), the step-sensor reads (how many, the first two,
    /// the longest stretch without one) and the first read's time (warm-up).
    /// </summary>
    private static string ColdPass(string key, RunSpec spec, WorkloadData data, bool curvature)
    {
        var reads = new List<int>();
        long seen = 0;
        double firstReadMs = double.NaN;
        MonitorCost? cost = null;
        WorkloadRunner.Run(spec, new StabilityMonitorOptions { RunName = "cold-" + key }, onStep: r =>
        {
            double oneOffBefore = cost?.OneOffSeconds ?? 0;
            cost = r.Monitor?.Cost ?? cost;
            if (cost is { } c && c.SensorReads > seen)
            {
                seen = c.SensorReads;
                reads.Add(r.Step);
                firstReadMs = reads.Count == 1 ? 1e3 * (c.OneOffSeconds - oneOffBefore) : firstReadMs; // the first read is warm-up (one-off)
            }
        }, data: data, batchLoss: curvature);
        // The largest stretch without a read: before the first, between two, or after the last.
        int gap = reads.Count == 0 ? spec.Steps : new[] { reads[0], spec.Steps - 1 - reads[^1] }.Concat(reads.Zip(reads.Skip(1), (a, b) => b - a)).Max();
        return string.Create(
            CultureInfo.InvariantCulture,
            $"| {key} | {(curvature ? "yes" : "no")} | {spec.Steps} | {cost?.Overhead:P1} | {1e3 * cost?.OneOffSeconds:F1} | {(cost is { } t && t.TrainingSeconds > 0 ? (t.MonitorSeconds + t.OneOffSeconds) / t.TrainingSeconds : double.NaN):P1} | {reads.Count} | {string.Join(", ", reads.Take(2))} | {firstReadMs:F1} | {gap} |");
    }

    /// <summary>
    /// The batch-curvature read (<see cref="SpectralMonitor.Torch.BatchCurvatureReader"/>) at the last step of an
    /// unmonitored run, 50 times each in rotation: the training batch's forward pass without autograd alone (the least a
    /// read can cost), and prepare + read with the managed pass and with tensor operations. Each read is of an update
    /// taken with the last step's gradients between its prepare and its read (not timed); median milliseconds of each.
    /// </summary>
    private static (double Forward, double Host, double Tensors) CurvatureReadSideBySide(RunSpec spec, WorkloadData data)
    {
        torch.optim.Optimizer? optimizer = null;
        Func<double>? batchLoss = null;
        var times = new[] { new List<double>(), new List<double>(), new List<double>() };
        WorkloadRunner.Run(spec, null, onStep: _ => { }, data: data, onStart: (_, o) => optimizer = o, afterUpdate: update =>
        {
            if (update.Step != spec.Steps - 1 || optimizer is null)
            {
                return;
            }

            batchLoss = update.BatchLossAfter;
            var readers = new[]
            {
                new SpectralMonitor.Torch.BatchCurvatureReader(() => torch.tensor(batchLoss(), torch.ScalarType.Float64)),
                new SpectralMonitor.Torch.BatchCurvatureReader(() => torch.tensor(batchLoss(), torch.ScalarType.Float64), onHost: false),
            };
            var readings = new Dictionary<string, double>();
            for (int i = 0; i < 150; i++)
            {
                int way = i % 3;
                using var scope = torch.NewDisposeScope();
                var clock = Stopwatch.StartNew();
                if (way == 0)
                {
                    _ = batchLoss();
                }
                else
                {
                    var reader = readers[way - 1];
                    reader.Prepare(optimizer);
                    clock.Stop();
                    optimizer.step();
                    clock.Start();
                    if (!reader.TryRead(optimizer, update.Loss, readings))
                    {
                        throw new InvalidOperationException($"overhead: the batch-curvature read of {spec.Name} failed at its last step.");
                    }
                }

                times[way].Add(clock.Elapsed.TotalMilliseconds);
            }
        });
        return (Median(times[0]), Median(times[1]), Median(times[2]));
    }

    /// <summary>Runs <paramref name="run"/>; its result, the process CPU time, the wall time, the calling thread's CPU time and the GC pause time over it (seconds).</summary>
    private static (RunTrace Trace, double Cpu, double Wall, double Thread, double Gc) Timed(Func<RunTrace> run)
    {
        var gcBefore = GC.GetTotalPauseDuration();
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        double threadBefore = ThreadCpuTime.Seconds();
        var wall = Stopwatch.StartNew();
        var trace = run();
        wall.Stop();
        double thread = ThreadCpuTime.Seconds() - threadBefore;
        process.Refresh();
        return (trace, (process.TotalProcessorTime - cpuBefore).TotalSeconds, wall.Elapsed.TotalSeconds, thread, (GC.GetTotalPauseDuration() - gcBefore).TotalSeconds);
    }

    private static double Median(IEnumerable<double> values) => DetectionScoring.Median([.. values]);

    private static string LoadAverage()
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
}
