using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Torch;
using TorchSharp;
using static TorchSharp.torch;
using static SpectralMonitor.Benchmarks.Torch.Training;

namespace SpectralMonitor.Benchmarks.Torch;

/// <summary>
/// warm-subspace: on probe-cost's models and schedule (100 training steps, then a probe every 25), does the previous
/// probe's top-l eigen-subspace contain the new top eigenvector, and would a Rayleigh–Ritz start from it (l HVPs, then
/// Lanczos from its best vector), or a start from the probe batch's gradient (alone or with the previous top eigenvector),
/// reach a true 1e-3 in fewer HVPs than today's start from the previous top eigenvector?
/// Tight reference eigenpairs stand in for the previous probe's Ritz vectors, so this bounds what any subspace warm
/// start could gain; the oracle is the fewest HVPs after which Lanczos is within 1e-3 of the reference.
/// </summary>
internal static class WarmSubspaceStudy
{
    public static int Run(string[] args)
    {
        const int L = 4;
        int probes = 6, interval = 25, warmup = 100;
        string only = args.SkipWhile(a => a != "--model").Skip(1).FirstOrDefault() ?? "mlp";
        if (ProbeCostCase.Named(only) is not { } bench)
        {
            Console.Error.WriteLine($"warm-subspace: unknown model '{only}' (mlp or gpt)");
            return 2;
        }

        torch.set_num_threads(1);
        torch.manual_seed(0);
        Console.WriteLine($"warm-subspace: {only} model (probe-cost's), {warmup} training steps, then {probes} probes every {interval} steps; reference eigenpairs (top {L}, relative residual 1e-6); oracle: fewest HVPs to a true {1e-3:0E+0}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        using var model = bench.Model(ModelSize.Million);
        using var optimizer = bench.CreateOptimizer(model);
        var target = new TorchSharpProbeTarget(model.Module, optimizer, ProbeLossOf(model));
        var space = target.Parameters.CreateVectorSpace();
        using var previous = space.CreateBasis(L);
        using var current = space.CreateBasis(L);
        using var chain = space.CreateBasis(1);
        long step = 0;
        var spans = new List<double>();
        var fromTop = new List<double>();
        var fromSubspace = new Dictionary<int, List<double>>();
        var fromGradient = new List<double>();
        var fromMixed = new List<double>();
        var gradientOverlaps = new List<double>();
        for (int probe = 0; probe <= probes; probe++)
        {
            int steps = probe == 0 ? warmup : interval;
            for (int i = 0; i < steps; i++)
            {
                Step(model, optimizer, ++step);
            }

            // The probe batch's gradient, as a probe's first-order graph holds it (no HVP).
            using var gradient = space.CreateVector();
            using (var first = new HessianVectorProductOperator(target.Parameters, ProbeLossOf(model), model.Module, space: space))
            {
                first.CopyGradientTo(gradient);
            }

            using var context = target.BeginProbe(CancellationToken.None);
            var op = Curvature(context.Hessian, context.Optimizer, out var owned);
            using (owned)
            {
                var starts = Enumerable.Range(0, previous.Count).Select(i => previous[i]).ToArray();
                var reference = Lanczos.Solve(op, new LanczosOptions { Count = L, KrylovDimension = 40, Tolerance = 1e-6, MaxApplications = 600, Seed = 4242 }, null, current);
                double lambda = reference.Eigenvalues[0];
                string values = string.Join(", ", reference.Eigenvalues.Select(v => F(v, "G5")));
                if (previous.Count == 0)
                {
                    Console.WriteLine($"step {step}: λ {values} (reference {reference.Convergence.OperatorApplications} HVPs)");
                }
                else
                {
                    var overlaps = Enumerable.Range(0, previous.Count).Select(i => Math.Pow(space.Dot(previous[i], current[0]), 2)).ToArray();
                    var cumulative = new double[overlaps.Length];
                    double sum = 0;
                    for (int i = 0; i < overlaps.Length; i++)
                    {
                        sum += overlaps[i];
                        cumulative[i] = sum;
                    }

                    // Oracle from the previous top eigenvector (what today's warm start is, at best).
                    int oracleTop = Oracle(op, [previous[0]], lambda);
                    spans.Add(cumulative[^1]);
                    fromTop.Add(oracleTop);
                    // Rayleigh–Ritz in span(previous top-l), l HVPs, then Lanczos from its best vector.
                    // The probe batch's gradient g (held by the HVP operator; no HVP): as the start, and mixed with the previous top.
                    double gradientOverlap = Math.Pow(space.Dot(gradient, current[0]), 2) / Math.Pow(space.Norm(gradient), 2);
                    var gradientSpan = Enumerable.Range(0, current.Count).Sum(i => Math.Pow(space.Dot(gradient, current[i]), 2)) / Math.Pow(space.Norm(gradient), 2);
                    int oracleGradient = Oracle(op, [gradient], lambda);
                    int oracleMixed = Oracle(op, [previous[0], gradient], lambda);
                    fromGradient.Add(oracleGradient);
                    fromMixed.Add(oracleMixed);
                    gradientOverlaps.Add(gradientOverlap);
                    var rr = new List<string>();
                    for (int l = 2; l <= L; l++)
                    {
                        using var ritzStart = RayleighRitzStart(op, space, previous, l);
                        int oracle = Oracle(op, [ritzStart], lambda);
                        rr.Add($"l={l}: {l}+{oracle}={l + oracle}");
                        (fromSubspace.TryGetValue(l, out var list) ? list : fromSubspace[l] = []).Add(l + oracle);
                    }

                    Console.WriteLine($"step {step}: λ {values}; overlap² of new top with previous top-i: {string.Join(", ", overlaps.Select(o => F(o, "F3")))}; with span(1..i): {string.Join(", ", cumulative.Select(o => F(o, "F3")))}; oracle HVPs from previous top: {oracleTop}; overlap² of the gradient with the new top {F(gradientOverlap, "F3")}, with its top-{L} {F(gradientSpan, "F3")}; oracle from the gradient {oracleGradient}, from previous top + gradient {oracleMixed}; Rayleigh–Ritz start then oracle: {string.Join("; ", rr)}");
                }
            }

            previous.Truncate(0);
            for (int i = 0; i < current.Count; i++)
            {
                previous.Append(current[i]);
            }
        }

        Console.WriteLine($"Medians over the warm probes: overlap² of the new top eigenvector with the previous top-{L} subspace {F(Median(spans), "F3")} (range {F(spans.Min(), "F3")}–{F(spans.Max(), "F3")}); oracle HVPs from the previous top eigenvector {F(Median(fromTop))}; from the probe gradient {F(Median(fromGradient))} (its overlap² with the top eigenvector {F(Median(gradientOverlaps), "F3")}), from the previous top + gradient {F(Median(fromMixed))}; Rayleigh–Ritz start, l + oracle: {string.Join(", ", fromSubspace.Select(p => $"l={p.Key} {F(Median(p.Value))}"))}");
        return 0;
    }

    private static int Oracle(LinearOperator<Tensor> op, Tensor[] start, double reference)
    {
        var options = new LanczosOptions { Count = 1, KrylovDimension = 16, StoppingRule = LanczosStoppingRule.EigenvalueError, Seed = 1, Tolerance = 1e-12 };
        for (int j = 1; j <= 60; j++)
        {
            var r = Lanczos.Solve(op, options with { MaxApplications = j }, start);
            if (r.Eigenvalues.Count > 0 && Math.Abs(r.Eigenvalues[0] - reference) / Math.Abs(reference) <= 1e-3)
            {
                return j;
            }
        }

        return -1;
    }

    private static Tensor RayleighRitzStart(LinearOperator<Tensor> op, TensorVectorSpace space, TensorBasis basis, int l)
    {
        var products = new Tensor[l];
        var m = new double[l, l];
        for (int i = 0; i < l; i++)
        {
            products[i] = space.CreateVector();
            op.Apply(basis[i], products[i]);
        }

        for (int i = 0; i < l; i++)
        {
            for (int j = 0; j < l; j++)
            {
                m[i, j] = 0.5 * (space.Dot(basis[i], products[j]) + space.Dot(basis[j], products[i]));
            }
        }

        var c = TopEigenvector(m);
        var z = space.CreateVector();
        for (int i = 0; i < l; i++)
        {
            space.Axpy(c[i], basis[i], z);
            products[i].Dispose();
        }

        return z;
    }

    /// <summary>
    /// The top eigenvector of a small symmetric matrix by power iteration on m + s·I with s = Σ|mᵢⱼ| ≥ ‖m‖ (every shifted
    /// eigenvalue positive, so the top one dominates; slow for close eigenvalues, hence the many iterations on an l × l matrix).
    /// </summary>
    private static double[] TopEigenvector(double[,] m)
    {
        int n = m.GetLength(0);
        double shift = 0;
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                shift += Math.Abs(m[i, j]);
            }
        }

        var x = Enumerable.Repeat(1.0, n).ToArray();
        for (int it = 0; it < 20000; it++)
        {
            var y = new double[n];
            for (int i = 0; i < n; i++)
            {
                y[i] = shift * x[i];
                for (int j = 0; j < n; j++)
                {
                    y[i] += m[i, j] * x[j];
                }
            }

            double norm = Math.Sqrt(y.Sum(v => v * v));
            x = y.Select(v => v / norm).ToArray();
        }

        return x;
    }
}
