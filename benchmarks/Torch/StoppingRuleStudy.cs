using System.Globalization;
using System.Text.Json;
using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Estimators.Optimizers;
using SpectralMonitor.Torch;
using TorchSharp;
using static SpectralMonitor.Benchmarks.Torch.Training;
using static TorchSharp.torch;

namespace SpectralMonitor.Benchmarks.Torch;

/// <summary>
/// stopping-rules: the Ritz history of the monitor's warm probes, for judging stopping rules offline. On probe-cost's
/// models and schedule (the first probe after 125 training steps, then one every 25), at the parameters of every probe: a tight reference
/// eigenvalue, the monitor's own solve (eigenvalue rule 1e-3, dimension 16, warm-started from its previous Ritz vector,
/// as the monitor chains them), and from the same start vector every prefix of the same Lanczos run (stopped after
/// j = 1…<see cref="Prefixes"/> HVPs: a prefix of one Krylov sequence, so each row is exactly what a rule would see after
/// j products) with all its Ritz values and residual norms; for Adam/AdamW also the rule's HVPs and the oracle from the
/// previous Ritz vector carried through the change of preconditioner. Writes one JSON object per probe (JSON lines) to --out;
/// benchmarks/Torch/screens/stopping_rules.py scores rules on them.
/// </summary>
internal static class StoppingRuleStudy
{
    /// <summary>Longest prefix recorded (the monitor's warm probes take 5–15 HVPs).</summary>
    private const int Prefixes = 20;

    public static int Run(string[] args)
    {
        string model = Option(args, "--model") ?? "mlp";
        string? output = Option(args, "--out");
        string? probesText = Option(args, "--probes");
        int probes = 6;
        if (ProbeCostCase.Named(model) is not { } probeCostCase || output is null || (probesText is not null && !(int.TryParse(probesText, NumberStyles.None, CultureInfo.InvariantCulture, out probes) && probes is > 0 and <= 200)))
        {
            Console.Error.WriteLine("stopping-rules: usage: stopping-rules --model mlp|gpt --out FILE.jsonl [--probes N (warm probes, 1–200; default 6)]");
            return 2;
        }

        const int interval = 25, warmup = 100;
        torch.set_num_threads(1);
        torch.manual_seed(0);
        Console.WriteLine($"stopping-rules: {model} model (probe-cost's), a cold probe after {warmup + interval} training steps, then {probes} warm probes every {interval} steps, prefixes 1–{Prefixes}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        using var bench = probeCostCase.Model(ModelSize.Million);
        using var optimizer = probeCostCase.CreateOptimizer(bench);
        var target = new TorchSharpProbeTarget(bench.Module, optimizer, ProbeLossOf(bench));
        var space = target.Parameters.CreateVectorSpace();
        using var chain = space.CreateBasis(1);
        Tensor? previousRoot = null;
        using var writer = new StreamWriter(output);
        long step = 0;
        for (int probe = 0; probe <= probes; probe++)
        {
            // As probe-cost's monitor: the first probe after warmup + interval steps, then one every interval.
            for (int i = 0; i < (probe == 0 ? warmup + interval : interval); i++)
            {
                Step(bench, optimizer, ++step);
            }

            var reference = Reference(target, vector: null, start: chain.Count > 0 ? chain[0] : null);
            using var context = target.BeginProbe(CancellationToken.None);
            var op = Curvature(context.Hessian, context.Optimizer, out var owned);
            using (owned)
            {
                var start = chain.Count > 0 ? new[] { chain[0] } : null;
                var rows = new List<object>();
                for (int j = 1; j <= Prefixes; j++)
                {
                    var prefix = Lanczos.Solve(op, new LanczosOptions { Count = j, KrylovDimension = Prefixes + 4, Tolerance = 1e-12, StoppingRule = LanczosStoppingRule.EigenvalueError, MaxApplications = j, Seed = probe + 1 }, start);
                    rows.Add(new { hvps = prefix.Convergence.OperatorApplications, values = prefix.Eigenvalues, residuals = prefix.Convergence.ResidualNorms });
                }

                // For Adam/AdamW: the previous Ritz vector u carried through the change of preconditioner, u ⊙ √P_old / √P_new
                // (if the update map's direction w = √P·u held still, this is the new u), and what the monitor's rule and
                // the oracle spend from it.
                object? rescaled = null;
                Tensor? root = null;
                if (context.Optimizer is AdamSnapshot<Tensor> adam)
                {
                    using var preconditioner = OptimizerPreconditioners.Adam(adam, (IElementwiseVectorSpace<Tensor>)space);
                    root = preconditioner.sqrt().DetachFromDisposeScope();   // kept for the next probe, past this probe's scope
                    if (start is not null && previousRoot is not null)
                    {
                        using var carried = start[0] * previousRoot / root;
                        carried.div_(carried.norm());
                        var fromCarried = Lanczos.Solve(op, new LanczosOptions { Count = 1, KrylovDimension = 16, Tolerance = 1e-3, StoppingRule = LanczosStoppingRule.EigenvalueError, MaxApplications = 120, Seed = probe + 1 }, [carried]);
                        int oracle = -1;
                        for (int j = 1; j <= Prefixes && oracle < 0; j++)
                        {
                            var prefix = Lanczos.Solve(op, new LanczosOptions { Count = 1, KrylovDimension = Prefixes + 4, Tolerance = 1e-12, StoppingRule = LanczosStoppingRule.EigenvalueError, MaxApplications = j, Seed = probe + 1 }, [carried]);
                            oracle = Math.Abs(prefix.Eigenvalues[0] - reference.Value) <= 1e-3 * Math.Abs(reference.Value) ? j : -1;
                        }

                        rescaled = new { hvps = fromCarried.Convergence.OperatorApplications, value = fromCarried.Eigenvalues[0], oracle };
                    }
                }

                previousRoot?.Dispose();
                previousRoot = root;

                // The monitor's solve, which also moves the chain to this probe's Ritz vector (the next probe's start).
                var solved = Lanczos.Solve(op, new LanczosOptions { Count = 1, KrylovDimension = 16, Tolerance = 1e-3, StoppingRule = LanczosStoppingRule.EigenvalueError, MaxApplications = 120, Seed = probe + 1 }, start, chain);
                double value = solved.Eigenvalues.Count > 0 ? solved.Eigenvalues[0] : double.NaN;
                writer.WriteLine(JsonSerializer.Serialize(new { model, step, warm = start is not null, reference = reference.Value, rule = new { hvps = solved.Convergence.OperatorApplications, value }, rescaled, prefixes = rows }));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"step {step}: reference {reference.Value:G6}, monitor's rule {solved.Convergence.OperatorApplications} HVPs, rel. error {Math.Abs(value - reference.Value) / Math.Abs(reference.Value):0.0E+0}{(rescaled is null ? string.Empty : $"; from the start carried through the preconditioner change: {rescaled}")}"));
            }
        }

        previousRoot?.Dispose();
        return 0;
    }

    private static string? Option(string[] args, string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
}
