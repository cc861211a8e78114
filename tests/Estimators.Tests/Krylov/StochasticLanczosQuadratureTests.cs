using SpectralMonitor.Estimators.Cpu;
using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Estimators.Tests.Krylov;

public class StochasticLanczosQuadratureTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public void TraceOfDiagonal_WithinHutchinsonVarianceBound()
    {
        // For a diagonal D and Rademacher z, zᵀDz = Σ dᵢ exactly: the Hutchinson variance 2(‖D‖_F² − Σdᵢ²) is zero.
        // Lanczos quadrature reproduces zᵀDz = n·e₁ᵀTe₁ exactly, so every probe gives the trace to rounding.
        var values = Enumerable.Range(0, 500).Select(i => Math.Cos(i) + (i % 7)).ToArray();
        var result = StochasticLanczosQuadrature.Estimate(KrylovTestMatrices.Diagonal(values), new SlqOptions { Probes = 4, Steps = 20 }, Token);

        Assert.Equal(values.Sum(), result.TraceEstimate, 1e-9 * values.Sum(Math.Abs));
        Assert.All(result.ProbeTraces, t => Assert.Equal(values.Sum(), t, 1e-9 * values.Sum(Math.Abs)));
        Assert.Equal(80, result.OperatorApplications);
        Assert.Equal(4, result.ProbeCount);
        Assert.Equal(1, result.Weights.Sum(), 1e-12);
    }

    [Fact]
    public void TraceOfRotatedMatrix_WithinHutchinsonVarianceBound()
    {
        // A = Q·diag(d)·Qᵀ: Var(zᵀAz) = 2(‖A‖_F² − Σ Aᵢᵢ²) ≤ 2‖A‖_F². With 30 probes the standard error is
        // σ/√30; assert within 4 standard errors (a false failure has probability < 1e-4, and the seed is fixed).
        const int n = 200;
        var d = Enumerable.Range(0, n).Select(i => 1 + (i / 50.0)).ToArray();
        var a = KrylovTestMatrices.SymmetricWithSpectrum(d, 3);
        double frobenius2 = 0;
        double diagonal2 = 0;
        for (int i = 0; i < n; i++)
        {
            diagonal2 += a[i, i] * a[i, i];
            for (int j = 0; j < n; j++)
            {
                frobenius2 += a[i, j] * a[i, j];
            }
        }

        double standardError = Math.Sqrt(2 * (frobenius2 - diagonal2) / 30);
        var result = StochasticLanczosQuadrature.Estimate(new DenseMatrixOperator<double>(a, assumeSymmetric: true), new SlqOptions { Probes = 30, Steps = 15, Seed = 9 }, Token);

        Assert.InRange(result.TraceEstimate, d.Sum() - (4 * standardError), d.Sum() + (4 * standardError));
    }

    [Fact]
    public void DensityOfKnownSpectrum_PutsTheMassInTheRightIntervals()
    {
        // 70% of the eigenvalues uniform in [0, 1], 30% uniform in [4, 5]: the smoothed density must carry ≈ 0.7 and
        // ≈ 0.3 of its mass near those intervals and almost none in the gap. Each probe's weights estimate the
        // spectral measure with error O(1/√n) ≈ 0.03 (n = 1000); 12 probes shrink it further; 0.05 is a safe bound.
        const int n = 1000;
        var values = new double[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = i < 700 ? i / 700.0 : 4 + ((i - 700) / 300.0);
        }

        var result = StochasticLanczosQuadrature.Estimate(KrylovTestMatrices.Diagonal(values), new SlqOptions { Probes = 12, Steps = 40, Seed = 1 }, Token);
        var grid = Enumerable.Range(0, 801).Select(i => -1.5 + (i * 0.01)).ToArray();
        var density = result.Density(grid, sigma: 0.1);

        double Mass(double from, double to) => grid.Select((t, i) => (t, i)).Where(p => p.t >= from && p.t < to).Sum(p => density[p.i] * 0.01);
        Assert.Equal(1, Mass(-1.5, 6.5), 0.01);
        Assert.Equal(0.7, Mass(-0.5, 1.5), 0.05);
        Assert.Equal(0.3, Mass(3.5, 5.5), 0.05);
        Assert.True(Mass(1.8, 3.2) < 0.01);
        Assert.All(result.Nodes, v => Assert.InRange(v, -1e-12, 5 + 1e-12));
    }

    [Fact]
    public void StepsBeyondDimension_GiveTheExactSpectrum()
    {
        // n = 6 < Steps: the Krylov space of a generic probe is the whole space, so the nodes are the eigenvalues.
        double[] values = [1, 2, 3, 4, 5, 6];
        var result = StochasticLanczosQuadrature.Estimate(KrylovTestMatrices.Diagonal(values), new SlqOptions { Probes = 1, Steps = 50 }, Token);
        Assert.Equal(values, result.Nodes.Order().Select(v => Math.Round(v, 10)).ToArray());

        // A Rademacher probe has |zᵢ| = 1: every weight is 1/n.
        Assert.All(result.Weights, w => Assert.Equal(1.0 / 6, w, 1e-12));
    }

    [Fact]
    public void InvalidOptionsAndNonFiniteOperator()
    {
        var op = KrylovTestMatrices.Diagonal([1, 2, 3]);
        Assert.Contains("Probes is 0", Assert.Throws<ArgumentException>("options", () => StochasticLanczosQuadrature.Estimate(op, new SlqOptions { Probes = 0 }, Token)).Message, StringComparison.Ordinal);
        Assert.Contains("Steps is -1", Assert.Throws<ArgumentException>("options", () => StochasticLanczosQuadrature.Estimate(op, new SlqOptions { Steps = -1 }, Token)).Message, StringComparison.Ordinal);
        var result = StochasticLanczosQuadrature.Estimate(op, new SlqOptions(), Token);
        Assert.Throws<ArgumentOutOfRangeException>("sigma", () => result.Density([0.0], 0));

        int calls = 0;
        var poisoned = new DelegateOperator<double[]>(new CpuVectorSpace<double>(100), (x, y) =>
        {
            for (int i = 0; i < x.Length; i++)
            {
                y[i] = x[i];
            }

            if (++calls == 25)
            {
                y[5] = double.NaN;
            }
        }, isSymmetric: true);
        var partial = StochasticLanczosQuadrature.Estimate(poisoned, new SlqOptions { Probes = 3, Steps = 10 }, Token);

        // The identity makes each probe's Krylov space one-dimensional (one application per probe): 24 clean probes
        // would be needed to reach the NaN, so use more steps per probe via a non-trivial operator below instead.
        Assert.Equal(ConvergenceStatus.Converged, partial.Convergence.Status);
        Assert.Equal(3, partial.OperatorApplications);

        calls = 0;
        var diagonal = new DelegateOperator<double[]>(new CpuVectorSpace<double>(100), (x, y) =>
        {
            for (int i = 0; i < x.Length; i++)
            {
                y[i] = (i + 1) * x[i];
            }

            if (++calls == 15)
            {
                y[5] = double.NaN;
            }
        }, isSymmetric: true);
        var broken = StochasticLanczosQuadrature.Estimate(diagonal, new SlqOptions { Probes = 3, Steps = 10 }, Token);
        Assert.Equal(ConvergenceStatus.NonFiniteOperatorOutput, broken.Convergence.Status);
        Assert.Equal(1, broken.ProbeCount);
        Assert.Equal(10, broken.Nodes.Count);
        Assert.Equal(1, broken.Weights.Sum(), 1e-12);
    }
}
