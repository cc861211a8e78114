using System.Diagnostics;
using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Torch;
using TorchSharp;
using static TorchSharp.torch;
using static SpectralMonitor.Benchmarks.Torch.Training;

namespace SpectralMonitor.Benchmarks.Torch;

/// <summary>
/// probe-cost: what a monitor probe costs on TorchSharp models of about 10⁶ parameters on the CPU (one torch thread),
/// measured side by side in one run. Per model: warm probes at the monitor's defaults (HVPs, top eigenvalue against a
/// tight reference, time split, host reads per HVP), the old residual stopping rule on the same warm chain, Lanczos
/// against PyHessian-style power iteration to the same true accuracy, the finite-difference HVP in float32 against a
/// float64 double backward, a probe on a quarter of the probe batch, and the probe's peak memory in parameter-sized
/// vectors.
/// </summary>
internal static class ProbeCostBenchmark
{
    private const double Accuracy = 1e-3;

    /// <summary>A tolerance a decision-sized stopping rule could use far from every rule threshold.</summary>
    private const double LooseTolerance = 1e-2;

    public static int Run(string[] args)
    {
        var size = args.Contains("--tiny") ? ModelSize.Tiny : ModelSize.Million;
        int probes = Option(args, "--probes", size == ModelSize.Tiny ? 3 : 6);
        int interval = Option(args, "--interval", size == ModelSize.Tiny ? 3 : 25);
        int warmup = Option(args, "--warmup", size == ModelSize.Tiny ? 0 : 100);
        bool memoryOnly = args.Contains("--memory-only");
        string only = args.SkipWhile(a => a != "--model").Skip(1).FirstOrDefault() ?? "all";
        if (only != "all" && ProbeCostCase.Named(only) is null)
        {
            Console.Error.WriteLine($"probe-cost: unknown model '{only}' (mlp, gpt or all)");
            return 2;
        }

        torch.set_num_threads(1);
        torch.manual_seed(0);
        Console.WriteLine($"probe-cost: {size} models, {warmup} training steps, then {probes} warm probes every {interval} steps, torch threads {torch.get_num_threads()}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, load average {LoadAverage()}");

        foreach (var probeCase in ProbeCostCase.All.Where(c => only == "all" || c.Name == only))
        {
            if (memoryOnly)
            {
                // Only the peak-memory pass, after the warm-up (PROBE_COST_MEMORY_TRACE=1 shows when the peak is reached). The
                // meter is made first: its malloc settings must hold from the model's first allocation, or the warm-up leaves
                // large free chunks in malloc's arenas (glibc's dynamic mmap threshold) that later tensors reuse unseen.
                using var memory = PeakMemory.Create(torch.CPU);
                using var model = probeCase.Model(size);
                using var optimizer = probeCase.CreateOptimizer(model);
                for (long step = 1; step <= warmup; step++)
                {
                    Step(model, optimizer, step);
                }

                var target = new TorchSharpProbeTarget(model.Module, optimizer, ProbeLossOf(model));
                using var monitor = StabilityMonitor.Create(target, new StabilityMonitorOptions { RunName = "probe-cost", Rules = [] });
                Console.WriteLine($"### {model.Name}, {model.ParameterCount:N0} parameters, {probeCase.Optimizer}");
                PeakMemoryInVectors(monitor, target, model.ParameterCount, memory);
                continue;
            }

            RunCase(probeCase, size, probes, interval, warmup, args.Contains("--warm-only"));
        }

        return 0;
    }

    private static void RunCase(ProbeCostCase probeCase, ModelSize size, int probes, int interval, int warmup, bool warmOnly)
    {
        using var model = probeCase.Model(size);
        using var optimizer = probeCase.CreateOptimizer(model);
        var target = new TorchSharpProbeTarget(model.Module, optimizer, ProbeLossOf(model));
        var instrumented = new InstrumentedTarget(target, memory: null);
        var options = new StabilityMonitorOptions { RunName = "probe-cost", ProbeInterval = interval, FirstProbeStep = warmup + interval, OverheadBudget = 1, BringForwardOnTrend = false, Rules = [] };
        using var monitor = StabilityMonitor.Create(instrumented, options);
        long n = model.ParameterCount;
        Console.WriteLine();
        Console.WriteLine($"### {model.Name}, {n:N0} parameters, {probeCase.Optimizer} (lr {probeCase.LearningRate}), probe batch {model.ProbeBatch.Inputs.shape[0]} rows");

        // The old rule (relative residual 1e-3) on its own warm-start chain, at the same parameters as every probe.
        var space0 = target.Parameters.CreateVectorSpace();
        using var oldChain = space0.CreateBasis(1);
        using var referenceVector = space0.CreateBasis(1);
        var rows = new List<string>();
        var warm = new List<(long Hvps, double Error, double Seconds, double Outside, double OutsideWithBuild, double ReadsPerHvp, long OldHvps, double OldError, double UploadsPerHvp, double OutsideSolve)>();
        using var selectiveChain = space0.CreateBasis(1);
        using var fullChain = space0.CreateBasis(1);
        var chains = new List<string>();
        using var previousReference = space0.CreateBasis(1);
        var reach = new List<string>();
        var reachStats = new List<(double Overlap, long Rule, int Oracle, long Loose, double LooseError)>();
        var chainShares = new List<(double Selective, double Full, double Speedup)>();
        using var weightSpectra = new WeightSpectraComparison(model.Module, new StabilityMonitorOptions());
        int seen = 0;
        double trainingSeconds = 0;
        int trainingSteps = 0;
        for (long step = 1; seen <= probes; step++)
        {
            var clock = Stopwatch.StartNew();
            double loss = Step(model, optimizer, step);
            trainingSeconds += clock.Elapsed.TotalSeconds;
            trainingSteps++;
            monitor.OnStep(step, loss);
            if (monitor.ProbeCount == seen)
            {
                continue;
            }

            seen = monitor.ProbeCount;
            var probe = monitor.LatestProbe!;
            var cost = instrumented.Last!;
            var reference = Reference(target, referenceVector, oldChain.Count > 0 ? oldChain[0] : null);
            double lambda = probe.Indicators.TryGetValue(Indicators.Sharpness, out double s) ? s : double.NaN;
            double error = Math.Abs(lambda - reference.Value) / Math.Abs(reference.Value);
            var old = OldRule(target, oldChain, reference.Value);
            // What any stopping rule could do from the monitor's warm start (the selective chain is the monitor's solve).
            double overlap = previousReference.Count > 0 ? Math.Pow(space0.Dot(previousReference[0], referenceVector[0]), 2) : double.NaN;
            previousReference.Truncate(0);
            previousReference.Append(referenceVector[0]);
            var bound = Reach(target, selectiveChain, reference.Value, seen);
            double total = probe.Duration.TotalSeconds;
            double outside = (total - cost.HvpSeconds - cost.BuildSeconds) / total;
            double outsideWithBuild = (total - cost.HvpSeconds) / total;
            double solve = probe.StageDurations.TryGetValue("sharpness", out var sharpnessStage) ? sharpnessStage.TotalSeconds : double.NaN;
            double outsideSolve = (solve - cost.HvpSeconds) / solve;
            string stages = string.Join(", ", probe.StageDurations.Select(d => $"{d.Key} {d.Value.TotalMilliseconds:F0}"));
            rows.Add($"| {probe.Step} | {(seen == 1 ? "cold" : "warm")} | {probe.Status} | {probe.HvpCount} | {F(lambda, "G6")} | {F(reference.Value, "G6")} ({reference.Hvps}) | {F(error, "0.0E+0")} | {old.Hvps} | {F(old.Error, "0.0E+0")} | {F(total * 1000, "F0")} | {F(cost.BuildSeconds * 1000, "F0")} | {F(cost.HvpSeconds * 1000 / Math.Max(1, cost.Hvps), "F1")} | {F(100 * outside, "F1")}% | {F(100 * outsideWithBuild, "F1")}% | {F(cost.HostReads / (double)Math.Max(1, cost.Hvps), "F2")} | {F(cost.HostUploads / (double)Math.Max(1, cost.Hvps), "F2")} | {F(100 * outsideSolve, "F1")}% | {stages} |");
            // Selective against full reorthogonalization on the same parameters, alternating which goes first.
            var order = seen % 2 == 0 ? new[] { false, true } : new[] { true, false };
            var timed = new Dictionary<bool, (double Seconds, double HvpSeconds, long Hvps, double Value)>();
            foreach (bool full in order)
            {
                timed[full] = Chain(instrumented, full ? fullChain : selectiveChain, full, seen);
            }

            var (sel, ful) = (timed[false], timed[true]);
            double selOutside = (sel.Seconds - sel.HvpSeconds) / sel.Seconds;
            double fulOutside = (ful.Seconds - ful.HvpSeconds) / ful.Seconds;
            chains.Add($"| {probe.Step} | {sel.Hvps} | {ful.Hvps} | {F(Math.Abs(sel.Value - reference.Value) / Math.Abs(reference.Value), "0.0E+0")} | {F(Math.Abs(ful.Value - reference.Value) / Math.Abs(reference.Value), "0.0E+0")} | {F(1000 * (sel.Seconds - sel.HvpSeconds) / sel.Hvps, "F1")} | {F(1000 * (ful.Seconds - ful.HvpSeconds) / ful.Hvps, "F1")} | {F(100 * selOutside, "F1")}% | {F(100 * fulOutside, "F1")}% |");
            if (seen > 1)
            {
                chainShares.Add((selOutside, fulOutside, (ful.Seconds - ful.HvpSeconds) / ful.Hvps / ((sel.Seconds - sel.HvpSeconds) / sel.Hvps)));
            }

            weightSpectra.Measure((int)probe.Step);
            reach.Add($"| {probe.Step} | {(seen == 1 ? "cold" : "warm")} | {F(overlap, "F3")} | {sel.Hvps} | {bound.Oracle} | {bound.Loose} | {F(bound.LooseError, "0.0E+0")} |");
            if (seen > 1)
            {
                reachStats.Add((overlap, sel.Hvps, bound.Oracle, bound.Loose, bound.LooseError));
                warm.Add((probe.HvpCount, error, total, outside, outsideWithBuild, cost.HostReads / (double)Math.Max(1, cost.Hvps), old.Hvps, old.Error, cost.HostUploads / (double)Math.Max(1, cost.Hvps), outsideSolve));
            }
        }

        Console.WriteLine();
        Console.WriteLine("| step | probe | status | HVPs | λ probe | λ reference (HVPs) | rel. error | HVPs, residual rule | its rel. error | probe ms | graph build ms | ms per HVP | outside HVPs and build | outside HVPs | host reads per HVP | uploads per HVP | outside HVPs, sharpness stage | stage ms |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        rows.ForEach(Console.WriteLine);
        Console.WriteLine();
        Console.WriteLine($"Warm probes: median HVPs {F(Median(warm.Select(w => (double)w.Hvps)))} (residual rule {F(Median(warm.Select(w => (double)w.OldHvps)))}), max rel. error {F(warm.Max(w => w.Error), "0.0E+0")} (residual rule {F(warm.Max(w => w.OldError), "0.0E+0")}), median outside share {F(100 * Median(warm.Select(w => w.Outside)), "F1")}% (of the sharpness stage's solve {F(100 * Median(warm.Select(w => w.OutsideSolve)), "F1")}%; with graph build {F(100 * Median(warm.Select(w => w.OutsideWithBuild)), "F1")}%), median host reads per HVP {F(Median(warm.Select(w => w.ReadsPerHvp)), "F2")}, uploads per HVP {F(Median(warm.Select(w => w.UploadsPerHvp)), "F2")}; training step {F(1000 * trainingSeconds / trainingSteps, "F0")} ms.");

        Console.WriteLine();
        Console.WriteLine("Orthogonalization, side by side: the monitor's solve (eigenvalue rule 1e-3, dimension 16, each warm-started from its own chain) with selective and with full reorthogonalization at the parameters of every probe, alternating which runs first; time outside the HVPs per HVP and as a share of the solve (no graph build).");
        Console.WriteLine();
        Console.WriteLine("| step | HVPs, selective | HVPs, full | rel. error, selective | rel. error, full | ms outside HVPs per HVP, selective | full | outside share, selective | full |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        chains.ForEach(Console.WriteLine);
        Console.WriteLine();
        Console.WriteLine($"Warm solves: median outside share selective {F(100 * Median(chainShares.Select(c => c.Selective)), "F1")}%, full {F(100 * Median(chainShares.Select(c => c.Full)), "F1")}%; median ratio of the time outside the HVPs per HVP, full over selective, {F(Median(chainShares.Select(c => c.Speedup)), "F2")}.");
        Console.WriteLine();
        Console.WriteLine($"What any stopping rule could do from the monitor's warm start: overlap² of the top eigenvector (reference) with the previous probe's; HVPs of the monitor's solve (eigenvalue rule {Accuracy:0E+0}); the oracle: the fewest HVPs after which the same Lanczos (same start and seed, stopped early) is within {Accuracy:0E+0} of the reference; the same rule at a looser tolerance {LooseTolerance:0E+0} (what a decision-sized rule would spend far from every threshold) and its true error.");
        Console.WriteLine();
        Console.WriteLine($"| step | probe | overlap² with the previous top eigenvector | HVPs, rule {Accuracy:0E+0} | oracle HVPs to {Accuracy:0E+0} | HVPs, rule {LooseTolerance:0E+0} | its rel. error |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        reach.ForEach(Console.WriteLine);
        Console.WriteLine();
        Console.WriteLine($"Warm probes: median overlap² {F(Median(reachStats.Select(r => r.Overlap)), "F3")}, median HVPs: rule {F(Median(reachStats.Select(r => (double)r.Rule)))}, oracle {F(Median(reachStats.Select(r => (double)r.Oracle)))}, rule at {LooseTolerance:0E+0} {F(Median(reachStats.Select(r => (double)r.Loose)))} (max error {F(reachStats.Max(r => r.LooseError), "0.0E+0")}).");
        weightSpectra.Print();
        RandomDraws(space0);
        if (warmOnly)
        {
            return;
        }

        // The parameters have not moved since the last probe: its reference is the final one.
        double finalReference = Reference(target, null, referenceVector[0]).Value;
        PowerVersusLanczos(target, finalReference);
        FiniteDifferences(target, model, referenceVector, finalReference);
        SubBatch(model, optimizer, target);
        Console.WriteLine();
        Console.WriteLine("Peak probe memory: measured by `probe-cost --memory-only` (its meter must exist before the model is built).");
    }

    /// <summary>
    /// The monitor's solve (eigenvalue-error rule 1e-3, Krylov dimension 16, warm-started from its own chain) with
    /// selective or full reorthogonalization, timed: probe seconds, HVP seconds and HVPs (no graph build: the context's
    /// first-order graph is built before the clock starts).
    /// </summary>
    private static (double Seconds, double HvpSeconds, long Hvps, double Value) Chain(InstrumentedTarget target, TensorBasis chain, bool full, int seed)
    {
        var clock = new Stopwatch();
        (double, double, long, double) result;
        using (var context = target.BeginProbe(CancellationToken.None))
        {
            var op = Curvature(context.Hessian, context.Optimizer, out var owned);
            using (owned)
            {
                var start = chain.Count > 0 ? new[] { chain[0] } : null;
                var options = new LanczosOptions { Count = 1, KrylovDimension = 16, Tolerance = Accuracy, StoppingRule = LanczosStoppingRule.EigenvalueError, MaxApplications = 120, Seed = seed, FullReorthogonalization = full };
                clock.Start();
                var solved = Lanczos.Solve(op, options, start, chain);
                clock.Stop();
                result = (clock.Elapsed.TotalSeconds, 0, solved.Convergence.OperatorApplications, solved.Eigenvalues.Count > 0 ? solved.Eigenvalues[0] : double.NaN);
            }
        }

        var cost = target.Last!;
        return (result.Item1, cost.HvpSeconds, result.Item3, result.Item4);
    }

    /// <summary>
    /// From the chain's current start vector (not updating it): the fewest HVPs after which Lanczos is within
    /// <see cref="Accuracy"/> of the reference (Lanczos stopped after j products is a prefix of the same Krylov sequence,
    /// so the scan is exact), and what the eigenvalue rule spends at <see cref="LooseTolerance"/>, with its true error.
    /// </summary>
    private static (int Oracle, long Loose, double LooseError) Reach(TorchSharpProbeTarget target, TensorBasis chain, double reference, int seed)
    {
        using var context = target.BeginProbe(CancellationToken.None);
        var op = Curvature(context.Hessian, context.Optimizer, out var owned);
        using (owned)
        {
            var start = chain.Count > 0 ? new[] { chain[0] } : null;
            var options = new LanczosOptions { Count = 1, KrylovDimension = 16, StoppingRule = LanczosStoppingRule.EigenvalueError, Seed = seed };
            double ErrorOf(SymmetricEigenResult r) => r.Eigenvalues.Count > 0 ? Math.Abs(r.Eigenvalues[0] - reference) / Math.Abs(reference) : double.NaN;
            int oracle = -1;
            for (int j = 1; j <= 60 && oracle < 0; j++)
            {
                if (ErrorOf(Lanczos.Solve(op, options with { Tolerance = 1e-12, MaxApplications = j }, start)) <= Accuracy)
                {
                    oracle = j;
                }
            }

            var loose = Lanczos.Solve(op, options with { Tolerance = LooseTolerance, MaxApplications = 120 }, start);
            return (oracle, loose.Convergence.OperatorApplications, ErrorOf(loose));
        }
    }

    /// <summary>Lanczos with the old rule (relative residual 1e-3) and full reorthogonalization, warm-started from its own previous Ritz vector.</summary>
    private static (long Hvps, double Value, double Error) OldRule(TorchSharpProbeTarget target, TensorBasis chain, double reference)
    {
        using var context = target.BeginProbe(CancellationToken.None);
        var op = Curvature(context.Hessian, context.Optimizer, out var owned);
        using (owned)
        {
            var start = chain.Count > 0 ? new[] { chain[0] } : null;
            var result = Lanczos.Solve(op, new LanczosOptions { Count = 1, KrylovDimension = 16, Tolerance = Accuracy, MaxApplications = 120, FullReorthogonalization = true }, start, chain);
            double value = result.Eigenvalues.Count > 0 ? result.Eigenvalues[0] : double.NaN;
            return (result.Convergence.OperatorApplications, value, Math.Abs(value - reference) / Math.Abs(reference));
        }
    }

    private static void PowerVersusLanczos(TorchSharpProbeTarget target, double referenceValue)
    {
        var reference = (Value: referenceValue, Hvps: 0L);
        Console.WriteLine();
        Console.WriteLine($"Lanczos against power iteration at the final parameters (cold: random start, seeds 1 and 2), λ_ref = {F(reference.Value, "G8")}; true accuracy target {Accuracy:0E+0}:");
        Console.WriteLine();
        Console.WriteLine("| method | HVPs (mean of 2) | wall ms (mean) | max rel. error | within 1e-3 |");
        Console.WriteLine("|---|---|---|---|---|");
        var methods = new (string Name, Func<LinearOperator<Tensor>, int, (double Value, long Hvps)> Solve)[]
        {
            ("Lanczos, eigenvalue-error rule 1e-3 (monitor default)", (op, seed) => Solve(op, seed, eigenvalueRule: true)),
            ("Lanczos, residual rule 1e-3 (before)", (op, seed) => Solve(op, seed, eigenvalueRule: false)),
            ("power iteration, PyHessian rule |Δθ| < 1e-3·|θ|", (op, seed) => Power(op, seed, oracle: null)),
            ("power iteration, stopped by the oracle at true error 1e-3", (op, seed) => Power(op, seed, oracle: reference.Value)),
        };
        foreach (var (name, solve) in methods)
        {
            var hvps = new List<double>();
            var times = new List<double>();
            var errors = new List<double>();
            for (int seed = 1; seed <= 2; seed++)
            {
                using var context = target.BeginProbe(CancellationToken.None);
                var op = Curvature(context.Hessian, context.Optimizer, out var owned);
                using (owned)
                {
                    var clock = Stopwatch.StartNew();
                    var (value, count) = solve(op, seed);
                    times.Add(clock.Elapsed.TotalMilliseconds);
                    hvps.Add(count);
                    errors.Add(Math.Abs(value - reference.Value) / Math.Abs(reference.Value));
                }
            }

            Console.WriteLine($"| {name} | {F(hvps.Average(), "F1")} | {F(times.Average(), "F0")} | {F(errors.Max(), "0.0E+0")} | {errors.Count(e => e <= Accuracy)}/2 |");
        }

    }

    private static (double Value, long Hvps) Solve(LinearOperator<Tensor> op, int seed, bool eigenvalueRule)
    {
        var options = new LanczosOptions
        {
            Count = 1,
            KrylovDimension = 16,
            Tolerance = Accuracy,
            MaxApplications = 300,
            Seed = seed,
            StoppingRule = eigenvalueRule ? LanczosStoppingRule.EigenvalueError : LanczosStoppingRule.Residual,
        };
        var result = Lanczos.Solve(op, options);
        return (result.Eigenvalues.Count > 0 ? result.Eigenvalues[0] : double.NaN, result.Convergence.OperatorApplications);
    }

    private static (double Value, long Hvps) Power(LinearOperator<Tensor> op, int seed, double? oracle)
    {
        var result = PowerIteration.Run(op, Accuracy, 300, seed, oracle);
        return (result.Value, result.Applications);
    }

    /// <summary>Finite-difference HVPs in float32 against double backward in float64 (the model copied to float64).</summary>
    /// <remarks>
    /// A finite-difference product moves the parameters in place, which invalidates every autograd graph that saved them
    /// (differentiating such a graph afterwards ends the process), so each operator here is built, used and disposed
    /// before the next: double-backward products first.
    /// </remarks>
    private static void FiniteDifferences(TorchSharpProbeTarget target, IBenchModel model, TensorBasis topVector, double referenceValue)
    {
        using var scope = torch.NewDisposeScope();
        var view = target.Parameters;
        var space = view.CreateVectorSpace();
        var probeLoss = ProbeLossOf(model);

        // Float64 copy of the model and the probe batch: the reference products.
        using var model64 = CopyToFloat64(model, out var loss64);
        var view64 = FlatParameterView.FromModule(model64.Module);
        var random = space.CreateVector();
        space.FillRandom(random, RandomKind.Gaussian, 99);
        space.Scale(random, 1 / space.Norm(random));
        var directions = new[] { ("top eigenvector (reference probe)", topVector.Count > 0 ? topVector[0] : random), ("random Gaussian", random) };
        var expected = new double[directions.Length][];
        using (var reference = new HessianVectorProductOperator(view64, loss64, model64.Module))
        {
            var space64 = (TensorVectorSpace)reference.Space;
            for (int d = 0; d < directions.Length; d++)
            {
                var y64 = space64.CreateVector();
                reference.Apply(directions[d].Item2.to(ScalarType.Float64), y64);
                expected[d] = ToHost(y64);
            }
        }

        var methods = new[] { HessianVectorProductMethod.DoubleBackward, HessianVectorProductMethod.ForwardDifference, HessianVectorProductMethod.CentralDifference };
        var actual = new double[methods.Length][][];
        var steps = new double[methods.Length];
        for (int m = 0; m < methods.Length; m++)
        {
            using var op = new HessianVectorProductOperator(view, probeLoss, model.Module, new HessianVectorProductOptions { Method = methods[m] }, space);
            steps[m] = op.FiniteDifferenceStep;
            actual[m] = new double[directions.Length][];
            for (int d = 0; d < directions.Length; d++)
            {
                var y = space.CreateVector();
                op.Apply(directions[d].Item2, y);
                actual[m][d] = ToHost(y);
            }
        }

        Console.WriteLine();
        Console.WriteLine($"Finite-difference HVPs in float32 (steps h: forward {F(steps[1], "G3")}, central {F(steps[2], "G3")}) against double backward in float64; relative error ‖Hv − Hv_ref‖/‖Hv_ref‖ and of the Rayleigh quotient vᵀHv:");
        Console.WriteLine();
        Console.WriteLine("| direction v | double backward f32 | forward difference f32 | central difference f32 | vᵀHv rel. error: double backward / forward / central |");
        Console.WriteLine("|---|---|---|---|---|");
        for (int d = 0; d < directions.Length; d++)
        {
            double[] vHost = ToHost(directions[d].Item2);
            double rayleigh = Dot(vHost, expected[d]);
            var cells = actual.Select(a => F(RelativeError(a[d], expected[d]), "0.0E+0"));
            var quotients = actual.Select(a => F(Math.Abs(Dot(vHost, a[d]) - rayleigh) / Math.Abs(rayleigh), "0.0E+0"));
            Console.WriteLine($"| {directions[d].Item1} | {string.Join(" | ", cells)} | {string.Join(" / ", quotients)} |");
        }

        // The step h, around the defaults √ε (forward, 3.5e-4) and ∛ε (central, 4.9e-3).
        Console.WriteLine();
        Console.WriteLine("Relative error of the float32 finite-difference products against the float64 reference, by step h along the unit direction; top eigenvector / random direction:");
        Console.WriteLine();
        Console.WriteLine("| h | forward difference | central difference |");
        Console.WriteLine("|---|---|---|");
        foreach (double step in new[] { 1e-5, 1e-4, 3.45e-4, 1e-3, 4.9e-3, 1e-2, 3e-2 })
        {
            var cells = new List<string>();
            foreach (var method in new[] { HessianVectorProductMethod.ForwardDifference, HessianVectorProductMethod.CentralDifference })
            {
                using var op = new HessianVectorProductOperator(view, probeLoss, model.Module, new HessianVectorProductOptions { Method = method, FiniteDifferenceStep = step }, space);
                var errors = new List<string>();
                for (int d = 0; d < directions.Length; d++)
                {
                    var y = space.CreateVector();
                    op.Apply(directions[d].Item2, y);
                    errors.Add(F(RelativeError(ToHost(y), expected[d]), "0.0E+0"));
                }

                cells.Add(string.Join(" / ", errors));
            }

            Console.WriteLine($"| {F(step, "G3")} | {string.Join(" | ", cells)} |");
        }

        // A whole cold Lanczos on the monitor's operator with each method, at the default rule.
        var summary = new List<string>();
        foreach (var method in new[] { HessianVectorProductMethod.ForwardDifference, HessianVectorProductMethod.DoubleBackward })
        {
            using var context = target.BeginProbe(CancellationToken.None);
            using var hvp = new HessianVectorProductOperator(view, probeLoss, model.Module, new HessianVectorProductOptions { Method = method }, space);
            var timed = new TimedOperator(hvp);
            var op = Curvature(timed, context.Optimizer, out var owned);
            using (owned)
            {
                var (value, hvps) = Solve(op, 1, eigenvalueRule: true);
                summary.Add($"{method}: {hvps} HVPs, {F(1000 * timed.Seconds / hvps, "F1")} ms per HVP, rel. error {F(Math.Abs(value - referenceValue) / Math.Abs(referenceValue), "0.0E+0")}");
            }
        }

        Console.WriteLine();
        Console.WriteLine($"Cold Lanczos at the default rule on the monitor's operator: {string.Join("; ", summary)}.");
    }

    private static double Dot(double[] a, double[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }

    /// <summary>A float64 model of the same architecture holding <paramref name="model"/>'s parameters, and its loss on the same probe batch.</summary>
    private static IBenchModel CopyToFloat64(IBenchModel model, out Func<Tensor> loss)
    {
        var copy = model switch
        {
            MlpModel => BenchModels.Mlp(SizeOf(model), torch.CPU, ScalarType.Float64),
            _ => BenchModels.Gpt(SizeOf(model), torch.CPU, ScalarType.Float64),
        };
        using (torch.no_grad())
        {
            var source = model.Module.parameters().ToArray();
            var destination = copy.Module.parameters().ToArray();
            for (int i = 0; i < source.Length; i++)
            {
                destination[i].copy_(source[i]);
            }
        }

        var (inputs, targets) = model.ProbeBatch;
        var inputs64 = inputs.is_floating_point() ? inputs.to(ScalarType.Float64).DetachFromDisposeScope() : inputs;
        var module = copy.Module;
        loss = () => copy.Loss(module.forward(inputs64), targets);
        return copy;
    }

    private static ModelSize SizeOf(IBenchModel model) => model.ParameterCount switch
    {
        < 100_000 => ModelSize.Tiny,
        < 5_000_000 => ModelSize.Million,
        _ => ModelSize.TenMillion,
    };

    private static void SubBatch(IBenchModel model, optim.Optimizer optimizer, TorchSharpProbeTarget full)
    {
        long rows = Math.Max(1, model.ProbeBatch.Inputs.shape[0] / 4);
        var quarter = new TorchSharpProbeTarget(model.Module, optimizer, ProbeLossOf(model, rows));
        var fullReference = Reference(full);
        var quarterReference = Reference(quarter);
        double fullPerHvp = TimePerHvp(full);
        double quarterPerHvp = TimePerHvp(quarter);
        Console.WriteLine();
        Console.WriteLine($"Probe on the first quarter of the probe batch ({rows} rows, ProbeLoss.OnFirstRows): {F(1000 * quarterPerHvp, "F1")} ms per HVP against {F(1000 * fullPerHvp, "F1")} ms ({F(quarterPerHvp / fullPerHvp, "F2")}×); its top eigenvalue {F(quarterReference.Value, "G5")} against {F(fullReference.Value, "G5")} on the whole batch (ratio {F(quarterReference.Value / fullReference.Value, "F3")}).");
    }

    /// <summary>
    /// The random part of a warm start, side by side: a Gaussian vector (what Lanczos drew before) against a Gaussian
    /// product (what it draws now), 20 draws each, alternating, on the model's vector space.
    /// </summary>
    private static void RandomDraws(TensorVectorSpace space)
    {
        var v = space.CreateVector();
        var seconds = new Dictionary<RandomKind, double> { [RandomKind.Gaussian] = 0, [RandomKind.GaussianProduct] = 0 };
        space.FillRandom(v, RandomKind.Gaussian, 0);
        space.FillRandom(v, RandomKind.GaussianProduct, 0);
        for (int i = 0; i < 20; i++)
        {
            foreach (var kind in i % 2 == 0 ? new[] { RandomKind.Gaussian, RandomKind.GaussianProduct } : new[] { RandomKind.GaussianProduct, RandomKind.Gaussian })
            {
                var clock = Stopwatch.StartNew();
                space.FillRandom(v, kind, i);
                seconds[kind] += clock.Elapsed.TotalSeconds;
            }
        }

        space.Release(v);
        Console.WriteLine();
        Console.WriteLine($"The random part of a warm start (20 draws each, alternating): a Gaussian vector {F(1000 * seconds[RandomKind.Gaussian] / 20, "F2")} ms, a Gaussian product {F(1000 * seconds[RandomKind.GaussianProduct] / 20, "F2")} ms.");
    }

    private static double TimePerHvp(TorchSharpProbeTarget target)
    {
        using var context = target.BeginProbe(CancellationToken.None);
        var timed = new TimedOperator(context.Hessian);
        var space = timed.Space;
        var v = space.CreateVector();
        var y = space.CreateVector();
        space.FillRandom(v, RandomKind.Gaussian, 5);
        for (int i = 0; i < 5; i++)
        {
            timed.Apply(v, y);
        }

        return timed.Seconds / 5;
    }

    private static void PeakMemoryInVectors(StabilityMonitor monitor, TorchSharpProbeTarget target, long n, PeakMemory? memory)
    {
        if (memory is null)
        {
            Console.WriteLine("Peak memory: not measurable here (needs Linux /proc/self/clear_refs).");
            return;
        }

        memory.Tracing = Environment.GetEnvironmentVariable("PROBE_COST_MEMORY_TRACE") == "1";
        var metered = new InstrumentedTarget(target, memory);
        var options = monitor.Options with { RunName = "probe-cost-memory" };
        using var second = StabilityMonitor.Create(metered, options);
        var peaks = new List<double>();
        var outside = new List<double>();
        for (int i = 0; i < 3; i++)
        {
            second.ProbeNow(i);
            var cost = metered.Last!;
            peaks.Add(cost.PeakBytes / (4.0 * n));
            outside.Add(memory.OutsideAtPeak / (4.0 * n));
            if (memory.Tracing)
            {
                Console.WriteLine($"probe {i}: " + string.Join(", ", memory.Trace.Select(t => $"{t.Label} {F(t.Bytes / (4.0 * n), "F1")}")));
                memory.Trace.Clear();
            }
        }

        int k = options.KrylovDimension + 1;
        bool adaptive = target.OptimizerName is "adam" or "adamw" or "rmsprop";
        int bound = k + (adaptive ? 4 : 2);
        Console.WriteLine();
        Console.WriteLine($"Peak probe memory beyond the first-order graph ({memory.Description}), in parameter-sized float32 vectors: cold {F(peaks[0], "F1")}, warm {F(peaks[1], "F1")}, {F(peaks[2], "F1")}; documented bound {(adaptive ? "k + 4" : "k + 2")} = {bound} with k = KrylovDimension + 1 = {k} (the second backward's activation-sized temporaries come on top). Resident growth outside live malloc allocations at the peak, subtracted: {string.Join(", ", outside.Select(o => F(o, "F1")))}.");
    }

    private static int Option(string[] args, string name, int fallback)
    {
        int index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length && int.TryParse(args[index + 1], System.Globalization.NumberStyles.Integer, Invariant, out int value) ? value : fallback;
    }

    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "n/a";
        }
    }
}
