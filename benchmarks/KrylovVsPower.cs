using System.Globalization;
using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Krylov;

namespace SpectralMonitor.Benchmarks;

/// <summary>
/// Operator applications for the top eigenvalue of a symmetric operator: thick-restart Lanczos against plain power
/// iteration with PyHessian's stopping rule (relative change of the Rayleigh quotient below tol).
/// </summary>
internal static class KrylovVsPower
{
    public static void Run()
    {
        const int n = 2000;
        Console.WriteLine($"krylov-vs-power: n = {n}, operator H·diag(λ)·H (H = 3 random Householder reflections), 5 seeds per row.");
        Console.WriteLine("Power iteration stops when |θ_k − θ_{k−1}| < tol·|θ_k| (PyHessian); Lanczos stops when ‖Ax − θx‖ ≤ tol·|θ| (residual rule)");
        Console.WriteLine("or when its eigenvalue error estimate min(r, r²/δ) ≤ tol·|θ| (eigenvalue rule, the monitor's).");
        Console.WriteLine("'power ok' counts the runs whose answer was really within tol of λ_max.");
        Console.WriteLine();
        Console.WriteLine("spectrum                    tol    Lanczos apps  power apps  power/Lanczos  Lanczos max rel err  power max rel err  power ok  eig-rule apps  eig-rule max rel err");
        foreach (var (name, spectrum) in Spectra(n))
        {
            double top = spectrum.Max();
            foreach (double tol in new[] { 1e-3, 1e-6 })
            {
                double lanczosApps = 0;
                double ruleApps = 0;
                double ruleError = 0;
                double powerApps = 0;
                double lanczosError = 0;
                double powerError = 0;
                int powerOk = 0;
                const int seeds = 5;
                for (int seed = 0; seed < seeds; seed++)
                {
                    var op = BenchmarkOperators.RotatedDiagonal(spectrum, 100 + seed);
                    var lanczos = Lanczos.Solve(op, new LanczosOptions { Count = 1, Tolerance = tol, Seed = seed });
                    if (!lanczos.Convergence.IsConverged)
                    {
                        throw new InvalidOperationException($"Lanczos did not converge: {lanczos.Convergence.Reason}");
                    }

                    lanczosApps += lanczos.Convergence.OperatorApplications;
                    lanczosError = Math.Max(lanczosError, Math.Abs(lanczos.Eigenvalues[0] - top) / top);
                    var rule = Lanczos.Solve(op, new LanczosOptions { Count = 1, Tolerance = tol, Seed = seed, StoppingRule = LanczosStoppingRule.EigenvalueError });
                    ruleApps += rule.Convergence.OperatorApplications;
                    ruleError = Math.Max(ruleError, Math.Abs(rule.Eigenvalues[0] - top) / top);
                    var (theta, applications) = PowerIteration(op, tol, seed, maxApplications: 20_000);
                    powerApps += applications;
                    double error = Math.Abs(theta - top) / top;
                    powerError = Math.Max(powerError, error);
                    powerOk += error <= tol ? 1 : 0;
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{name,-27} {tol,-6:G1} {lanczosApps / seeds,12:F1}  {powerApps / seeds,10:F1}  {powerApps / lanczosApps,13:F2}  {lanczosError,19:E1}  {powerError,17:E1}  {powerOk}/{seeds}     {ruleApps / seeds,13:F1}  {ruleError,20:E1}"));
            }
        }
    }

    private static IEnumerable<(string Name, double[] Spectrum)> Spectra(int n)
    {
        // Bulk: a Marchenko–Pastur-like profile in [0, 1] with a few slightly negative values (as in trained-network
        // Hessians), then outliers.
        double[] Bulk()
        {
            var values = new double[n];
            for (int i = 0; i < n; i++)
            {
                double u = (i + 0.5) / n;
                values[i] = (u * u) - (0.05 * (1 - u) * (1 - u) * (1 - u));
            }

            return values;
        }

        var separated = Bulk();
        separated[0] = 10;
        separated[1] = 6;
        separated[2] = 4;
        separated[3] = 3;
        yield return ("outliers 10, 6, 4, 3", separated);

        var close = Bulk();
        close[0] = 10;
        close[1] = 9.5;
        close[2] = 9;
        close[3] = 5;
        yield return ("close top 10, 9.5, 9, 5", close);

        var cluster = Bulk();
        for (int i = 0; i < 10; i++)
        {
            cluster[i] = 5 + (0.5 * i);
        }

        yield return ("10 outliers 5 … 9.5", cluster);
    }

    private static (double Theta, int Applications) PowerIteration(LinearOperator<double[]> op, double tol, int seed, int maxApplications)
    {
        var space = op.Space;
        var v = space.CreateVector();
        var w = space.CreateVector();
        space.FillRandom(v, RandomKind.Gaussian, seed);
        space.Scale(v, 1 / space.Norm(v));
        double previous = double.NaN;
        for (int k = 1; k <= maxApplications; k++)
        {
            op.Apply(v, w);
            double theta = space.Dot(v, w);
            if (Math.Abs(theta - previous) < tol * Math.Abs(theta))
            {
                return (theta, k);
            }

            previous = theta;
            space.Copy(w, v);
            space.Scale(v, 1 / space.Norm(v));
        }

        return (previous, maxApplications);
    }
}
