using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Cpu;
using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Benchmarks;

/// <summary>
/// Time per Krylov step spent outside the operator (Gram–Schmidt with reorthogonalization, norms, bookkeeping),
/// as a ratio to one read of the current basis from memory (a plain sum over its vectors).
/// </summary>
internal static class OrthogonalizationOverhead
{
    public static void Run()
    {
        Console.WriteLine("orthogonalization-overhead: cheap diagonal operator, expansion from 0 to m, best of 5 runs (the machine is shared: best-of filters out preemption).");
        Console.WriteLine("ratio = (time outside the operator) / (time to read the current basis once with a vectorized sum), summed over the steps.");
        Console.WriteLine("Two CGS passes read the basis 4 times (Project + SubtractProjection per pass), so ≈ 4–6 is the expected floor.");
        Console.WriteLine();
        Console.WriteLine("n          m   ms/step outside op   ms/step in op   ms per basis read (m/2 vectors)   ratio");
        foreach (var (n, m) in new[] { (100_000, 20), (100_000, 50), (1_000_000, 20), (1_000_000, 40) })
        {
            Measure(n, m);
        }
    }

    private static void Measure(int n, int m)
    {
        var space = new CpuVectorSpace<double>(n);
        var diagonal = new double[n];
        for (int i = 0; i < n; i++)
        {
            diagonal[i] = 1 + Math.Sin(i);
        }

        var operatorTime = new Stopwatch();
        var op = new DelegateOperator<double[]>(space, (x, y) =>
        {
            operatorTime.Start();
            for (int i = 0; i < x.Length; i++)
            {
                y[i] = diagonal[i] * x[i];
            }

            operatorTime.Stop();
        }, isSymmetric: true);

        var start = space.CreateVector();
        space.FillRandom(start, RandomKind.Gaussian, 1);
        double bestOutside = double.PositiveInfinity;
        double bestInside = double.PositiveInfinity;
        double bestRead = double.PositiveInfinity;
        for (int run = 0; run < 5; run++)
        {
            using var factorization = new KrylovSchurFactorization<double[]>(op, m, symmetric: true);
            factorization.Initialize(start);
            operatorTime.Reset();
            var total = Stopwatch.StartNew();
            factorization.Expand(m);
            total.Stop();
            bestOutside = Math.Min(bestOutside, (total.Elapsed.TotalMilliseconds - operatorTime.Elapsed.TotalMilliseconds) / m);
            bestInside = Math.Min(bestInside, operatorTime.Elapsed.TotalMilliseconds / m);

            // One read of a basis of j vectors costs j/(m+1) of a read of all m + 1; step j works on j + 1 vectors,
            // so the steps together read Σ (j + 1) = m(m + 3)/2 vectors: on average (m + 3)/2 per step.
            var read = Stopwatch.StartNew();
            double sink = 0;
            for (int i = 0; i < factorization.Basis.Count; i++)
            {
                sink += TensorPrimitives.Sum<double>(factorization.Basis[i]);
            }

            read.Stop();
            GC.KeepAlive(sink);
            bestRead = Math.Min(bestRead, read.Elapsed.TotalMilliseconds / factorization.Basis.Count * (m + 3) / 2.0);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{n,-10} {m,-3} {bestOutside,19:F3}   {bestInside,13:F3}   {bestRead,31:F3}   {bestOutside / bestRead,5:F2}"));
    }
}
