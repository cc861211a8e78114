using BenchmarkDotNet.Attributes;
using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Benchmarks;

/// <summary>Top eigenvalue of the 1-D Laplacian to the monitor's tolerance (1e-3), by thick-restart Lanczos.</summary>
[MemoryDiagnoser]
public class LanczosLaplacianBenchmark
{
    private CsrMatrixOperator<double> _operator = null!;

    /// <summary>Operator dimension.</summary>
    [Params(10_000, 100_000)]
    public int N { get; set; }

    /// <summary>Krylov dimension m.</summary>
    [Params(20, 40)]
    public int KrylovDimension { get; set; }

    /// <summary>Builds the operator once per parameter set.</summary>
    [GlobalSetup]
    public void Setup() => _operator = BenchmarkOperators.Laplacian(N);

    /// <summary>One solve from a fixed seed.</summary>
    [Benchmark]
    public double TopEigenvalue()
    {
        var result = Lanczos.Solve(_operator, new LanczosOptions { Count = 1, KrylovDimension = KrylovDimension, Tolerance = 1e-3, Seed = 1 });
        return result.Eigenvalues[0];
    }
}
