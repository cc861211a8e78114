using MathNet.Numerics.LinearAlgebra;
using SpectralMonitor.Estimators.Cpu;
using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Estimators.NonNormality;
using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Estimators.Tests.Krylov;

/// <summary>
/// Every Krylov method runs on <see cref="MinimalVectorSpace"/>, which implements <see cref="IVectorSpace{TVec}"/> and
/// nothing else over a vector type no backend knows. Compiling proves the methods need no more than that interface;
/// the bit-identical results prove they take no other route at run time (a type test that found another interface
/// would change the arithmetic); the counters prove every vector and basis they create is released.
/// </summary>
public class MinimalVectorSpaceTests
{
    private const int N = 60;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public void LanczosUsesOnlyTheMinimalInterface()
    {
        var a = KrylovTestMatrices.SymmetricWithSpectrum([.. Enumerable.Range(0, N).Select(i => 1 + (0.1 * i))], seed: 4);
        var (cpu, minimal, space) = Operators(a, symmetric: true);
        var options = new LanczosOptions { Count = 3, KrylovDimension = 10, Tolerance = 1e-10 };

        using var cpuVectors = cpu.Space.CreateBasis(3);
        var expected = Lanczos.Solve(cpu, options, eigenvectors: cpuVectors, cancellationToken: Token);
        using var vectors = space.CreateBasis(3);
        var actual = Lanczos.Solve(minimal, options, eigenvectors: vectors, cancellationToken: Token);
        Assert.Equal(ConvergenceStatus.Converged, actual.Convergence.Status);
        Assert.True(actual.Convergence.Iterations > 0, "the test must exercise restarts");
        AssertSame(expected.Eigenvalues, actual.Eigenvalues, expected.Convergence, actual.Convergence);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(cpuVectors[i], vectors[i].Data);
        }

        // A warm start from the Ritz vectors takes the same route too.
        var warmExpected = Lanczos.Solve(cpu, options, [cpuVectors[0], cpuVectors[1]], cancellationToken: Token);
        var warmActual = Lanczos.Solve(minimal, options, [vectors[0], vectors[1]], cancellationToken: Token);
        AssertSame(warmExpected.Eigenvalues, warmActual.Eigenvalues, warmExpected.Convergence, warmActual.Convergence);
        AssertNothingLeaked(space, basesKept: 1);
    }

    [Fact]
    public void ArnoldiUsesOnlyTheMinimalInterface()
    {
        var a = KrylovTestMatrices.Gaussian(N, N, seed: 7);
        var (cpu, minimal, space) = Operators(a, symmetric: false);
        var options = new ArnoldiOptions { Count = 4, KrylovDimension = 14, Tolerance = 1e-9 };

        using var cpuBasis = cpu.Space.CreateBasis(14);
        var expected = Arnoldi.Solve(cpu, options, basis: cpuBasis, cancellationToken: Token);
        using var basis = space.CreateBasis(14);
        var actual = Arnoldi.Solve(minimal, options, basis: basis, cancellationToken: Token);
        Assert.Equal(ConvergenceStatus.Converged, actual.Convergence.Status);
        Assert.True(actual.Convergence.Iterations > 0, "the test must exercise restarts");
        AssertSame(expected.Eigenvalues, actual.Eigenvalues, expected.Convergence, actual.Convergence);
        Assert.Equal(expected.ProjectedMatrix, actual.ProjectedMatrix);
        Assert.Equal(cpuBasis.Count, basis.Count);
        AssertNothingLeaked(space, basesKept: 1);
    }

    [Fact]
    public void StochasticLanczosQuadratureUsesOnlyTheMinimalInterface()
    {
        var a = KrylovTestMatrices.SymmetricWithSpectrum([.. Enumerable.Range(0, N).Select(i => Math.Sin(i) + 2)], seed: 2);
        var (cpu, minimal, space) = Operators(a, symmetric: true);
        var options = new SlqOptions { Probes = 3, Steps = 12, Seed = 5 };

        var expected = StochasticLanczosQuadrature.Estimate(cpu, options, Token);
        var actual = StochasticLanczosQuadrature.Estimate(minimal, options, Token);
        Assert.Equal(expected.Nodes, actual.Nodes);
        Assert.Equal(expected.Weights, actual.Weights);
        Assert.Equal(expected.TraceEstimate, actual.TraceEstimate);
        Assert.Equal(expected.Convergence.OperatorApplications, actual.Convergence.OperatorApplications);
        AssertNothingLeaked(space, basesKept: 0);
    }

    [Fact]
    public void MatrixFreeNonNormalityMeasuresUseOnlyTheMinimalInterface()
    {
        var a = KrylovTestMatrices.Gaussian(N, N, seed: 3);
        var (cpu, minimal, space) = Operators(a, symmetric: false);

        var expectedGrowth = TransientGrowth.PowerIteration(cpu, 3, cancellationToken: Token);
        var actualGrowth = TransientGrowth.PowerIteration(minimal, 3, cancellationToken: Token);
        Assert.Equal(expectedGrowth.Norm, actualGrowth.Norm);
        Assert.Equal(expectedGrowth.Convergence.OperatorApplications, actualGrowth.Convergence.OperatorApplications);

        var expectedCommutator = DepartureFromNormality.NormalizedCommutator(cpu, probes: 4, cancellationToken: Token);
        var actualCommutator = DepartureFromNormality.NormalizedCommutator(minimal, probes: 4, cancellationToken: Token);
        Assert.Equal(expectedCommutator.Value, actualCommutator.Value);
        AssertNothingLeaked(space, basesKept: 0);
    }

    private static (DelegateOperator<double[]> Cpu, DelegateOperator<MinimalVector> Minimal, MinimalVectorSpace Space) Operators(double[,] a, bool symmetric)
    {
        var matrix = Matrix<double>.Build.DenseOfArray(a);
        void Multiply(double[] x, double[] y) => matrix.Multiply(Vector<double>.Build.Dense(x)).AsArray().CopyTo(y, 0);
        void MultiplyTranspose(double[] x, double[] y) => matrix.TransposeThisAndMultiply(Vector<double>.Build.Dense(x)).AsArray().CopyTo(y, 0);
        var space = new MinimalVectorSpace(N);
        var cpu = new DelegateOperator<double[]>(new CpuVectorSpace<double>(N), Multiply, MultiplyTranspose, symmetric);
        var minimal = new DelegateOperator<MinimalVector>(space, (x, y) => Multiply(x.Data, y.Data), (x, y) => MultiplyTranspose(x.Data, y.Data), symmetric);
        return (cpu, minimal, space);
    }

    private static void AssertSame<T>(IReadOnlyList<T> expected, IReadOnlyList<T> actual, ConvergenceInfo expectedInfo, ConvergenceInfo actualInfo)
    {
        Assert.NotEmpty(actual);
        Assert.Equal(expected, actual);
        Assert.Equal(expectedInfo, actualInfo with { ResidualNorms = expectedInfo.ResidualNorms });
        Assert.Equal(expectedInfo.ResidualNorms, actualInfo.ResidualNorms);
    }

    private static void AssertNothingLeaked(MinimalVectorSpace space, int basesKept)
    {
        Assert.Equal(0, space.LiveVectors);
        Assert.Equal(basesKept, space.LiveBases);
        Assert.True(space.Calls.GetValueOrDefault(nameof(IVectorSpace<MinimalVector>.CreateVector)) > 0);
    }
}
