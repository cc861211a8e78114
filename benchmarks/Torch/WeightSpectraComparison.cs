using System.Diagnostics;
using SpectralMonitor.Estimators.NonNormality;
using SpectralMonitor.Torch;
using TorchSharp;
using static TorchSharp.torch;
using static SpectralMonitor.Benchmarks.Torch.Training;

namespace SpectralMonitor.Benchmarks.Torch;

/// <summary>
/// The weight-spectra stage before and after, side by side at the parameters of every probe: 8 power iterations per
/// matrix (the stage until 2026-12-02) against Lanczos on WᵀW at the monitor's defaults, each on its own warm-start
/// chain, alternating which runs first, both against the exact top singular value of every weight matrix (float64
/// <c>torch.linalg.svdvals</c>).
/// </summary>
internal sealed class WeightSpectraComparison : IDisposable
{
    private readonly List<(string Name, Tensor Parameter, TensorWeightMatrix Matrix, double[] Power, double[] Lanczos)> _weights = [];
    /// <summary>The power iterations per matrix of the stage before Lanczos.</summary>
    private const int PowerIterations = 8;

    private readonly int _steps;
    private readonly double _tolerance;
    private readonly List<(int Step, int PowerIterations, int LanczosIterations, double PowerMs, double LanczosMs, double PowerError, double LanczosError)> _rows = [];

    /// <summary>Tracks every parameter of <paramref name="module"/> with at least two dimensions, as the TorchSharp target does.</summary>
    public WeightSpectraComparison(nn.Module module, StabilityMonitorOptions defaults)
    {
        _steps = defaults.SingularValueIterations;
        _tolerance = defaults.SingularValueTolerance;
        foreach (var (name, parameter) in module.named_parameters())
        {
            if (parameter.dim() >= 2)
            {
                var matrix = new TensorWeightMatrix(name, parameter);
                int seed = name.Length + matrix.Columns;
                _weights.Add((name, parameter, matrix, SingularValues.StartVector(matrix.Columns, seed), new double[matrix.Columns]));
            }
        }
    }

    /// <summary>Both variants at the current parameters (the order alternates with <paramref name="step"/>).</summary>
    public void Measure(int step)
    {
        bool lanczosFirst = step % 2 == 0;
        var first = Run(lanczosFirst);
        var second = Run(!lanczosFirst);
        var (lanczos, power) = lanczosFirst ? (first, second) : (second, first);
        double powerError = 0, lanczosError = 0;
        for (int i = 0; i < _weights.Count; i++)
        {
            double exact = Exact(_weights[i].Parameter);
            powerError = Math.Max(powerError, Math.Abs(power.Values[i] - exact) / exact);
            lanczosError = Math.Max(lanczosError, Math.Abs(lanczos.Values[i] - exact) / exact);
        }

        _rows.Add((step, power.Iterations, lanczos.Iterations, power.Seconds * 1000, lanczos.Seconds * 1000, powerError, lanczosError));
    }

    /// <summary>Writes the table and its summary (warm probes: every probe after the first).</summary>
    public void Print()
    {
        Console.WriteLine();
        Console.WriteLine($"Weight spectra, side by side at the parameters of every probe ({_weights.Count} weight matrices; each variant warm-started from its own chain, alternating which runs first): {PowerIterations} power iterations per matrix (the stage before) against Lanczos on WᵀW at the defaults (at most {_steps} steps, stopped at the top Ritz pair's relative residual {_tolerance:0E+0}); products with WᵀW summed over the matrices; largest relative error of σ₁ against float64 svdvals.");
        Console.WriteLine();
        Console.WriteLine("| step | WᵀW products, power | Lanczos | ms, power | Lanczos | max rel. error, power | Lanczos |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var r in _rows)
        {
            Console.WriteLine($"| {r.Step} | {r.PowerIterations} | {r.LanczosIterations} | {F(r.PowerMs, "F1")} | {F(r.LanczosMs, "F1")} | {F(r.PowerError, "0.0E+0")} | {F(r.LanczosError, "0.0E+0")} |");
        }

        var warm = _rows.Skip(1).ToList();
        if (warm.Count > 0)
        {
            Console.WriteLine();
            Console.WriteLine($"Warm probes ({warm.Count}): median WᵀW products {F(Median(warm.Select(r => (double)r.PowerIterations)), "F1")} power, {F(Median(warm.Select(r => (double)r.LanczosIterations)), "F1")} Lanczos; median ms {F(Median(warm.Select(r => r.PowerMs)), "F1")} power, {F(Median(warm.Select(r => r.LanczosMs)), "F1")} Lanczos (median ratio Lanczos/power {F(Median(warm.Select(r => r.LanczosMs / r.PowerMs)), "F2")}); max rel. error {F(warm.Max(r => r.PowerError), "0.0E+0")} power, {F(warm.Max(r => r.LanczosError), "0.0E+0")} Lanczos; probes with an error above 5e-4: {warm.Count(r => r.PowerError > 5e-4)} power, {warm.Count(r => r.LanczosError > 5e-4)} Lanczos.");
        }
    }

    public void Dispose()
    {
        foreach (var weight in _weights)
        {
            weight.Matrix.Dispose();
        }
    }

    private (double[] Values, int Iterations, double Seconds) Run(bool lanczos)
    {
        var values = new double[_weights.Count];
        int iterations = 0;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < _weights.Count; i++)
        {
            var weight = _weights[i];
            var estimate = lanczos
                ? SingularValues.TopByLanczos(weight.Matrix, weight.Lanczos, _steps, _tolerance, seed: weight.Name.Length + weight.Matrix.Columns)
                : SingularValues.Top(weight.Matrix, weight.Power, PowerIterations, tolerance: 0);
            values[i] = estimate.Value;
            iterations += estimate.Convergence.Iterations;
        }

        return (values, iterations, clock.Elapsed.TotalSeconds);
    }

    private static double Exact(Tensor parameter)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var matrix = parameter.detach().reshape(parameter.shape[0], -1).to(ScalarType.Float64);
        return torch.linalg.svdvals(matrix)[0].ToDouble();
    }
}
