using System.Diagnostics;
using System.Text.Json;
using SpectralMonitor.Examples.Workloads;
using SpectralMonitor.Rules;
using TorchSharp;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>
/// The worker process (<c>detection worker JOB.json</c>): trains one planned run under each requested monitor
/// configuration, one after the other in this process with one torch thread, and writes its <see cref="RecordedRun"/>.
/// Before the timed passes a short monitored warm-up run compiles every code path, so that no pass pays the JIT.
/// </summary>
internal static class Worker
{
    private const int WarmupSteps = 12;

    public static int Run(string jobPath)
    {
        var job = JsonSerializer.Deserialize<WorkerJob>(File.ReadAllText(jobPath), TraceJson.Options)
            ?? throw new InvalidDataException($"{jobPath}: not a worker job.");
        var trace = Execute(job);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(job.TracePath))!);
        trace.Write(job.TracePath);
        return 0;
    }

    /// <summary>Trains the job's passes and returns the trace.</summary>
    public static RecordedRun Execute(WorkerJob job)
    {
        var spec = job.Run.Spec;
        var data = new WorkloadData();
        _ = spec.Workload == WorkloadKind.CharGpt ? (object)data.Corpus : data.Digits;
        WorkloadRunner.Run(
            spec with { Name = "warm-up", Steps = WarmupSteps, WarmupSteps = 0 },
            new StabilityMonitorOptions { RunName = "warm-up", ProbeInterval = 5, FirstProbeStep = 0, OverheadBudget = 1, Rules = [.. DefaultRules.All, DefaultRules.BatchCurvatureRise] },
            data: data,
            batchLoss: true);

        var passes = new List<PassRecord>();
        var signals = new Dictionary<string, double[]>(StringComparer.Ordinal);
        double[]? reference = null;
        double[]? referenceRates = null;
        long parameterCount = 0;
        bool diverged = false;
        for (int k = 0; k < job.Configurations.Count; k++)
        {
            string configuration = job.Configurations[k];
            var sensors = job.Sensors && k == job.Configurations.Count - 1 ? StepSensors.Create() : [];
            try
            {
                var (pass, trace, sensorValues) = Train(spec, configuration, job.DenseEstimators, sensors, data);
                double[] losses = [.. trace.Losses];
                reference ??= losses;
                referenceRates ??= [.. trace.LearningRates];
                int reduced = trace.LearningRates.Take(referenceRates.Length).Where((rate, t) => rate < referenceRates[t] * (1 - 1e-9)).Count();
                passes.Add(pass with { SameLosses = losses.AsSpan().SequenceEqual(reference), Losses = MonitorConfigurations.Intervenes(configuration) ? losses : null, SkippedUpdates = trace.SkippedUpdates, ReducedRateSteps = reduced, Diverged = trace.Diverged });
                if (k == 0)
                {
                    parameterCount = trace.ParameterCount;
                    diverged = trace.Diverged;
                    signals[StepSignalNames.Loss] = losses;
                    signals[StepSignalNames.GradientNorm] = [.. trace.GradientNorms];
                    signals[StepSignalNames.LearningRate] = [.. trace.LearningRates];
                }

                foreach (var (name, values) in sensorValues)
                {
                    // A sensor's series is as long as the reference pass (NaN past the end of a shorter pass).
                    var padded = Enumerable.Repeat(double.NaN, reference.Length).ToArray();
                    values.AsSpan(0, Math.Min(values.Length, padded.Length)).CopyTo(padded);
                    signals[name] = padded;
                }
            }
            finally
            {
                foreach (var sensor in sensors)
                {
                    sensor.Dispose();
                }
            }
        }

        return new RecordedRun(job.Run.Name, job.Run.Setting, job.Run.Seed, job.Run.Role, parameterCount, reference?.Length ?? 0, diverged, signals, passes);
    }

    private static (PassRecord Pass, Examples.Workloads.RunTrace Trace, Dictionary<string, double[]> Sensors) Train(
        RunSpec spec, string configuration, ProbeEstimators? denseEstimators, IReadOnlyList<IStepSensor> sensors, WorkloadData data)
    {
        var options = MonitorConfigurations.Options(configuration, spec.Name, denseEstimators);
        var names = sensors.SelectMany(s => s.Signals).ToArray();
        var columns = names.Select(_ => new List<double>(spec.Steps)).ToArray();
        var buffer = new double[names.Length];
        var levels = new List<long[]>();
        int lastLevel = 0;
        double sensorSeconds = 0;

        void OnStart(TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor> model, torch.optim.Optimizer optimizer)
        {
            foreach (var sensor in sensors)
            {
                sensor.Attach(model, optimizer);
            }
        }

        void OnStep(StepReport report)
        {
            if (report.Monitor is { } monitor && (int)monitor.Level != lastLevel)
            {
                lastLevel = (int)monitor.Level;
                levels.Add([report.Step, lastLevel]);
            }

            if (sensors.Count > 0)
            {
                double before = ThreadCpuTime.Seconds();
                Array.Fill(buffer, double.NaN);
                int offset = 0;
                foreach (var sensor in sensors)
                {
                    sensor.Read(report.Step, report.LearningRate, buffer.AsSpan(offset, sensor.Signals.Count));
                    offset += sensor.Signals.Count;
                }

                sensorSeconds += ThreadCpuTime.Seconds() - before;
                for (int i = 0; i < buffer.Length; i++)
                {
                    columns[i].Add(buffer[i]);
                }
            }
        }

        void AfterUpdate(AppliedUpdate update)
        {
            double before = ThreadCpuTime.Seconds();
            foreach (var sensor in sensors)
            {
                sensor.AfterUpdate(update);
            }

            sensorSeconds += ThreadCpuTime.Seconds() - before;
        }

        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        var clip = configuration == MonitorConfigurations.ZClipped ? new ZClip() : null;
        var trace = WorkloadRunner.Run(spec, options, OnStep, data, torchThreads: 1, onStart: OnStart, gradientScale: clip is null ? null : clip.Scale, afterUpdate: sensors.Count > 0 ? AfterUpdate : null, batchLoss: MonitorConfigurations.ReadsBatchLoss(configuration));
        wall.Stop();
        sensorSeconds += sensors.Sum(s => s.OutsideReadSeconds);
        process.Refresh();
        double cpu = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
        var probes = trace.Probes.Select(p => new ProbeRecord(
            p.Step,
            p.Status == ProbeStatus.Succeeded,
            p.Duration.TotalMilliseconds,
            p.HvpCount,
            new SortedDictionary<string, double>(p.Indicators.ToDictionary(kv => kv.Key, kv => kv.Value), StringComparer.Ordinal))).ToArray();
        var pass = new PassRecord(configuration, cpu, wall.Elapsed.TotalSeconds, trace.ProbeTime.TotalSeconds, sensorSeconds, SameLosses: true, probes, levels);
        var sensorValues = names.Select((n, i) => (n, columns[i].ToArray())).ToDictionary(p => p.n, p => p.Item2, StringComparer.Ordinal);
        return (pass, trace, sensorValues);
    }
}

/// <summary>
/// CPU time of the calling thread (Linux <c>clock_gettime(CLOCK_THREAD_CPUTIME_ID)</c>), so that the cost of the step
/// sensors does not count the time their thread waited for a processor on a loaded machine; elsewhere the process CPU
/// time (an over-estimate when other threads run).
/// </summary>
internal static partial class ThreadCpuTime
{
    private const int ClockThreadCpuTimeId = 3;

    public static double Seconds()
    {
        if (OperatingSystem.IsLinux() && ClockGetTime(ClockThreadCpuTimeId, out var time) == 0)
        {
            return time.Seconds + (time.Nanoseconds * 1e-9);
        }

        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime.TotalSeconds;
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
