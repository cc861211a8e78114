using MathNet.Numerics.LinearAlgebra;
using SpectralMonitor.Estimators.Operators;
using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Estimators.Tests.Optimizers;

public class PreconditionerCommutatorTests
{
    private static double[,] RandomSymmetric(int n, int seed)
    {
        var random = new Random(seed);
        var a = Matrix<double>.Build.Dense(n, n, (_, _) => random.NextDouble() - 0.5);
        return ((a + a.Transpose()) / 2).ToArray();
    }

    [Fact]
    public void MatchesTheDenseValueWithinItsStandardError()
    {
        const int n = 40;
        var h = RandomSymmetric(n, 1);
        var random = new Random(2);
        var p = Enumerable.Range(0, n).Select(_ => 0.1 + random.NextDouble()).ToArray();
        const double decay = 0.05;

        var hessian = new DenseMatrixOperator<double>(h, assumeSymmetric: true);
        using var op = new PreconditionedHessianOperator<double[]>(hessian, p, shift: decay);
        var estimate = PreconditionerCommutator.Estimate(op, probes: 400, seed: 7, TestContext.Current.CancellationToken);

        // Exact: K = H + λI, [K, P]ᵢⱼ = Kᵢⱼ(Pⱼ − Pᵢ), normalized by ‖K‖_F·max P.
        var k = Matrix<double>.Build.DenseOfArray(h) + (decay * Matrix<double>.Build.DenseIdentity(n));
        var pm = Matrix<double>.Build.DenseOfDiagonalArray(p);
        double exact = ((k * pm) - (pm * k)).FrobeniusNorm() / (k.FrobeniusNorm() * p.Max());

        Assert.Equal(800, estimate.HessianVectorProducts);
        Assert.Equal(p.Max(), estimate.PreconditionerNorm, 15);
        // Hutchinson with 400 probes: a Gaussian-like estimator; 4 standard errors is a 1-in-15 000 false failure.
        Assert.InRange(estimate.Value, exact - (4 * estimate.StandardError), exact + (4 * estimate.StandardError));
        Assert.True(estimate.StandardError < 0.05 * exact, "400 probes pin the value to a few percent");
    }

    [Fact]
    public void ScalarPreconditionerCommutesExactly()
    {
        const int n = 25;
        var hessian = new DenseMatrixOperator<double>(RandomSymmetric(n, 3), assumeSymmetric: true);
        using var op = new PreconditionedHessianOperator<double[]>(hessian, Enumerable.Repeat(0.3, n).ToArray());
        var estimate = PreconditionerCommutator.Estimate(op, probes: 3, cancellationToken: TestContext.Current.CancellationToken);

        // K(cz) − c(Kz) vanishes to rounding: a few ulps of ‖K‖ per entry.
        Assert.True(estimate.Value < 1e-14, $"value {estimate.Value}");
    }
}
