using SpectralMonitor.Estimators;
using SpectralMonitor.Rules;
using SpectralMonitor.Torch;
using TorchSharp;
using static TorchSharp.torch;
using static SpectralMonitor.Benchmarks.Torch.Training;

namespace SpectralMonitor.Benchmarks.Torch;

/// <summary>
/// gpu-check: the monitor on a CUDA device, end to end. Checks (each PASS or FAIL, exit code 1 on any FAIL):
/// random vectors identical to the CPU's; Hessian-vector products against central finite differences of gradients
/// (float64) and against the same model on the CPU; monitored training of a ≥ 10⁷-parameter MLP (SGD-momentum) at a
/// stable and an unstable learning rate with no failed probe, the unstable run reading its top mode past the edge; and
/// it reports, per probe, the time split (HVPs / graph build / everything else), host reads per HVP and device memory,
/// also for a ≥ 10⁷-parameter transformer (AdamW). <c>--device cpu --size small</c> runs the same code on the CPU with
/// tiny models (that is how the tests run it).
/// </summary>
internal static class GpuCheck
{
    public static int Run(string[] args, TextWriter output)
    {
        string deviceName = Value(args, "--device") ?? "cuda";
        string sizeName = Value(args, "--size") ?? (deviceName == "cpu" ? "small" : "full");
        if (deviceName is not ("cuda" or "cpu") || sizeName is not ("small" or "full"))
        {
            Console.Error.WriteLine("gpu-check: usage: gpu-check [--device cuda|cpu] [--size small|full] [--steps N]");
            return 2;
        }

        int steps = int.TryParse(Value(args, "--steps"), System.Globalization.NumberStyles.Integer, Invariant, out int s) && s > 0 ? s : sizeName == "small" ? 12 : 60;
        Device device;
        try
        {
            if (deviceName == "cuda")
            {
                torch.InitializeDeviceType(DeviceType.CUDA);
                if (!torch.cuda.is_available())
                {
                    Console.Error.WriteLine("gpu-check: CUDA is not available to libtorch on this machine (see benchmarks/Torch/README.md for LD_LIBRARY_PATH).");
                    return 2;
                }
            }

            device = torch.device(deviceName);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Console.Error.WriteLine($"gpu-check: could not initialise {deviceName}: {ex.Message.Split('\n')[0]}");
            return 2;
        }

        var size = sizeName == "small" ? ModelSize.Tiny : ModelSize.TenMillion;
        var checks = new List<(string Name, bool Passed, string Detail)>();
        output.WriteLine($"gpu-check on {device} ({(deviceName == "cuda" ? $"{torch.cuda.device_count()} CUDA device(s)" : "CPU")}), size {sizeName}, libtorch {torch.__version__}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");

        checks.Add(RandomVectors(device));
        checks.AddRange(HessianVectorProducts(device, size, output));
        checks.AddRange(MonitoredTraining(device, size, steps, output));
        ProbeSplit(device, size, output);

        output.WriteLine();
        foreach (var (name, passed, detail) in checks)
        {
            output.WriteLine($"{(passed ? "PASS" : "FAIL")}  {name}: {detail}");
        }

        bool all = checks.All(c => c.Passed);
        output.WriteLine(all ? "gpu-check: all checks passed." : $"gpu-check: {checks.Count(c => !c.Passed)} check(s) FAILED.");
        return all ? 0 : 1;
    }

    /// <summary>FillRandom on the device gives, bit for bit, the vector it gives on the CPU (both dtypes, every kind).</summary>
    private static (string, bool, string) RandomVectors(Device device)
    {
        using var scope = torch.NewDisposeScope();
        var failures = new List<string>();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
        {
            var onDevice = new TensorVectorSpace(1000, dtype, device);
            var onCpu = new TensorVectorSpace(1000, dtype, torch.CPU);
            foreach (var kind in new[] { RandomKind.Gaussian, RandomKind.Rademacher, RandomKind.GaussianProduct })
            {
                var a = onDevice.CreateVector();
                var b = onCpu.CreateVector();
                onDevice.FillRandom(a, kind, 17);
                onCpu.FillRandom(b, kind, 17);
                if (!ToHost(a).SequenceEqual(ToHost(b)))
                {
                    failures.Add($"{dtype} {kind}");
                }
            }
        }

        return ("random vectors", failures.Count == 0, failures.Count == 0 ? "FillRandom on the device equals the CPU draw bit for bit (float32/float64, Gaussian/Rademacher/Gaussian product)" : "differ from the CPU draw: " + string.Join(", ", failures));
    }

    /// <summary>HVPs on the device: float64 against central differences of gradients and against the CPU; float32 against float64.</summary>
    private static IEnumerable<(string, bool, string)> HessianVectorProducts(Device device, ModelSize size, TextWriter output)
    {
        using var scope = torch.NewDisposeScope();
        var hvpSize = size == ModelSize.Tiny ? ModelSize.Tiny : ModelSize.Million;
        using var model64 = BenchModels.Mlp(hvpSize, device, ScalarType.Float64, probeRows: 64);
        using var cpu64 = BenchModels.Mlp(hvpSize, torch.CPU, ScalarType.Float64, probeRows: 64);
        using var model32 = BenchModels.Mlp(hvpSize, device, ScalarType.Float32, probeRows: 64);
        CopyParameters(model64, cpu64);
        CopyParameters(model64, model32);

        using var hvp64 = new HessianVectorProductOperator(FlatParameterView.FromModule(model64.Module), ProbeLossOf(model64), model64.Module);
        using var fd64 = new HessianVectorProductOperator(FlatParameterView.FromModule(model64.Module), ProbeLossOf(model64), model64.Module, new HessianVectorProductOptions { Method = HessianVectorProductMethod.CentralDifference });
        using var hvpCpu = new HessianVectorProductOperator(FlatParameterView.FromModule(cpu64.Module), ProbeLossOf(cpu64), cpu64.Module);
        // The float32 model on the float64 model's probe batch (its own batch was drawn in float32: other numbers).
        var (inputs64, targets64) = model64.ProbeBatch;
        var inputs32 = inputs64.to(ScalarType.Float32);
        Tensor Loss32() => model32.Loss(model32.Module.forward(inputs32), targets64);
        using var hvp32 = new HessianVectorProductOperator(FlatParameterView.FromModule(model32.Module), Loss32, model32.Module);
        using var fd32 = new HessianVectorProductOperator(FlatParameterView.FromModule(model32.Module), Loss32, model32.Module, new HessianVectorProductOptions { Method = HessianVectorProductMethod.ForwardDifference });

        var space64 = (TensorVectorSpace)hvp64.Space;
        var v = space64.CreateVector();
        space64.FillRandom(v, RandomKind.Gaussian, 3);
        space64.Scale(v, 1 / space64.Norm(v));
        double[] reference = Apply(hvp64, v);
        double fd = RelativeError(Apply(fd64, v), reference);
        double cpu = RelativeError(Apply(hvpCpu, v.cpu()), reference);
        double single = RelativeError(Apply(hvp32, v.to(ScalarType.Float32)), reference);
        double forward32 = RelativeError(Apply(fd32, v.to(ScalarType.Float32)), reference);
        output.WriteLine();
        output.WriteLine($"HVP on {model64.Name} ({model64.ParameterCount:N0} parameters), random unit v, relative error against double backward float64 on {device}: central differences float64 {F(fd, "0.0E+0")}, CPU float64 {F(cpu, "0.0E+0")}, double backward float32 {F(single, "0.0E+0")}, forward differences float32 {F(forward32, "0.0E+0")}.");

        // Tolerances: central differences with h = ∛ε have truncation and rounding errors near ε^(2/3) ≈ 4e-11 relative
        // times the curvature's variation, so 1e-6 leaves a wide margin; CPU and device differ only by summation order
        // (≈ 1e-15); float32 accumulates ≈ 1e-7 per operation over a few thousand terms, so 1e-3.
        yield return ("HVP vs central differences (float64)", fd < 1e-6, $"relative error {F(fd, "0.0E+0")} (bound 1e-6)");
        yield return ("HVP device vs CPU (float64)", cpu < 1e-10, $"relative error {F(cpu, "0.0E+0")} (bound 1e-10)");
        yield return ("HVP float32 vs float64", single < 1e-3, $"relative error {F(single, "0.0E+0")} (bound 1e-3)");
    }

    private static double[] Apply(HessianVectorProductOperator op, Tensor v)
    {
        var space = (TensorVectorSpace)op.Space;
        var y = space.CreateVector();
        op.Apply(v, y);
        return ToHost(y);
    }

    private static void CopyParameters(IBenchModel from, IBenchModel to)
    {
        using var noGrad = torch.no_grad();
        var source = from.Module.parameters().ToArray();
        var destination = to.Module.parameters().ToArray();
        for (int i = 0; i < source.Length; i++)
        {
            destination[i].copy_(source[i]);
        }
    }

    /// <summary>
    /// Two monitored SGD-momentum runs of the MLP: at a stable rate, and at 1.5× the rate that puts the first probe's
    /// sharpness at the momentum edge 2(1 + μ)/η. Every probe must succeed; the unstable run must read its top mode past
    /// the edge (sharpness_to_edge ≥ 1) more than the stable one does.
    /// </summary>
    private static IEnumerable<(string, bool, string)> MonitoredTraining(Device device, ModelSize size, int steps, TextWriter output)
    {
        var stable = Monitored(device, size, steps, learningRate: 0.01, output, "stable");
        double lambda = stable.FirstSharpness;
        double unstableRate = double.IsFinite(lambda) && lambda > 0 ? 1.5 * 2 * (1 + 0.9) / lambda : 1.0;
        var unstable = Monitored(device, size, steps, unstableRate, output, "unstable");
        yield return ("monitored training, stable rate", stable.Failed == 0 && stable.Probes > 0, $"{stable.Probes} probes, {stable.Failed} failed at a finite loss, max sharpness/edge {F(stable.MaxToEdge, "G3")}, highest level {stable.Level}");
        yield return ("monitored training, unstable rate", unstable.Failed == 0 && unstable.Probes > 0 && unstable.MaxToEdge >= 1 && unstable.MaxToEdge > stable.MaxToEdge, $"lr {F(unstableRate, "G3")}: {unstable.Probes} probes, {unstable.Failed} failed at a finite loss, max sharpness/edge {F(unstable.MaxToEdge, "G3")} (must be ≥ 1 and above the stable run's), highest level {unstable.Level}, alerts raised {unstable.Alerts}");
    }

    /// <summary>What a monitored run showed; <paramref name="Failed"/> counts failed probes at a finite training loss.</summary>
    /// <summary>What a monitored run showed.</summary>
    /// <param name="Probes">Probes run.</param>
    /// <param name="Failed">Probes that failed while the training loss was finite.</param>
    /// <param name="FirstSharpness">The first probe's sharpness.</param>
    /// <param name="MaxToEdge">The largest sharpness/edge read.</param>
    /// <param name="Level">The highest alert level raised.</param>
    /// <param name="Alerts">Alerts raised.</param>
    private sealed record RunSummary(int Probes, int Failed, double FirstSharpness, double MaxToEdge, AlertLevel Level, int Alerts);

    private static RunSummary Monitored(Device device, ModelSize size, int steps, double learningRate, TextWriter output, string label)
    {
        using var memory = PeakMemory.Create(device); // before the model: on the CPU its malloc settings must hold from the first tensor
        using var model = BenchModels.Mlp(size, device, probeRows: size == ModelSize.Tiny ? 64 : 256);
        using var optimizer = Optimizer(model, "sgd", learningRate);
        var target = new TorchSharpProbeTarget(model.Module, optimizer, ProbeLossOf(model));
        var instrumented = new InstrumentedTarget(target, memory);
        var options = new StabilityMonitorOptions { RunName = "gpu-check-" + label, ProbeInterval = Math.Max(2, steps / 6), FirstProbeStep = 2, OverheadBudget = 1 };
        using var monitor = StabilityMonitor.Create(instrumented, options);
        int alerts = 0;
        var highest = AlertLevel.Ok;
        monitor.AlertRaised += (_, alert) =>
        {
            alerts++;
            highest = (AlertLevel)Math.Max((int)highest, (int)alert.Level);
        };
        double first = double.NaN, maxToEdge = double.NaN;
        int seen = 0, failed = 0;
        output.WriteLine();
        output.WriteLine($"Monitored training, {label}: {model.Name} ({model.ParameterCount:N0} parameters), SGD momentum 0.9, lr {F(learningRate, "G3")}, {steps} steps");
        output.WriteLine("| step | loss | status | HVPs | sharpness | sharpness/edge | probe ms | HVPs ms | graph build ms | other ms | host reads per HVP | peak memory (vectors) |");
        output.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        for (long step = 1; step <= steps; step++)
        {
            double loss = Step(model, optimizer, step);
            monitor.OnStep(step, loss);
            if (monitor.ProbeCount == seen)
            {
                continue;
            }

            seen = monitor.ProbeCount;
            var probe = monitor.LatestProbe!;
            var cost = instrumented.Last;

            // A probe of a diverged run (non-finite loss) may fail legitimately; every other failure counts.
            failed += probe.Status == ProbeStatus.Failed && double.IsFinite(loss) ? 1 : 0;
            double sharpness = probe.Indicators.TryGetValue(Indicators.Sharpness, out double sv) ? sv : double.NaN;
            double toEdge = probe.Indicators.TryGetValue(Indicators.SharpnessToEdge, out double ev) ? ev : double.NaN;
            first = double.IsNaN(first) ? sharpness : first;
            maxToEdge = double.IsNaN(maxToEdge) ? toEdge : Math.Max(maxToEdge, double.IsNaN(toEdge) ? maxToEdge : toEdge);
            output.WriteLine(Row(step, loss, probe, cost, sharpness, toEdge, model.ParameterCount));
        }

        return new RunSummary(monitor.ProbeCount, failed, first, maxToEdge, highest, alerts);
    }

    private static string Row(long step, double loss, ProbeResult probe, ProbeCost? cost, double sharpness, double toEdge, long n)
    {
        double total = probe.Duration.TotalMilliseconds;
        double hvp = (cost?.HvpSeconds ?? double.NaN) * 1000;
        double build = (cost?.BuildSeconds ?? double.NaN) * 1000;
        // Below about a megabyte per vector, allocator and runtime noise swamps the measurement.
        string memory = cost is { PeakBytes: >= 0 } && n >= 250_000 ? F(cost.PeakBytes / (4.0 * n), "F1") : "n/a";
        string reads = cost is null ? "n/a" : F(cost.HostReads / (double)Math.Max(1, cost.Hvps), "F2");
        return $"| {step} | {F(loss, "G4")} | {probe.Status}{(probe.FailureReason is null ? string.Empty : ": " + probe.FailureReason)} | {probe.HvpCount} | {F(sharpness, "G5")} | {F(toEdge, "G3")} | {F(total, "F1")} | {F(hvp, "F1")} | {F(build, "F1")} | {F(total - hvp - build, "F1")} | {reads} | {memory} |";
    }

    /// <summary>Probes of the transformer (AdamW): the same time split and counters.</summary>
    private static void ProbeSplit(Device device, ModelSize size, TextWriter output)
    {
        using var memory = PeakMemory.Create(device); // before the model: on the CPU its malloc settings must hold from the first tensor
        using var model = BenchModels.Gpt(size, device, probeSequences: size == ModelSize.Tiny ? 2 : 8);
        using var optimizer = Optimizer(model, "adamw", 1e-3);
        var target = new TorchSharpProbeTarget(model.Module, optimizer, ProbeLossOf(model));
        var instrumented = new InstrumentedTarget(target, memory);
        using var monitor = StabilityMonitor.Create(instrumented, new StabilityMonitorOptions { RunName = "gpu-check-gpt", ProbeInterval = 3, FirstProbeStep = 2, OverheadBudget = 1 });
        output.WriteLine();
        output.WriteLine($"Probes of {model.Name} ({model.ParameterCount:N0} parameters), AdamW 1e-3");
        output.WriteLine("| step | loss | status | HVPs | sharpness | sharpness/edge | probe ms | HVPs ms | graph build ms | other ms | host reads per HVP | peak memory (vectors) |");
        output.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        int seen = 0;
        for (long step = 1; step <= 12; step++)
        {
            double loss = Step(model, optimizer, step);
            monitor.OnStep(step, loss);
            if (monitor.ProbeCount != seen)
            {
                seen = monitor.ProbeCount;
                var probe = monitor.LatestProbe!;
                double sharpness = probe.Indicators.TryGetValue(Indicators.Sharpness, out double sv) ? sv : double.NaN;
                double toEdge = probe.Indicators.TryGetValue(Indicators.SharpnessToEdge, out double ev) ? ev : double.NaN;
                output.WriteLine(Row(step, loss, probe, instrumented.Last, sharpness, toEdge, model.ParameterCount));
            }
        }
    }

    private static string? Value(string[] args, string name)
    {
        int index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }
}
