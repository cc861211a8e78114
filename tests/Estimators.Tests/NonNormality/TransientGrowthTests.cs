using SpectralMonitor.Estimators.Cpu;
using SpectralMonitor.Estimators.NonNormality;
using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Estimators.Tests.NonNormality;

public class TransientGrowthTests
{
    // [[a, b], [0, c]]ᵏ = [[aᵏ, b·(aᵏ − cᵏ)/(a − c)], [0, cᵏ]]; for [[p, q], [0, r]],
    // σ_max² = (s + √(s² − 4p²r²))/2 with s = p² + q² + r².
    private static double ClosedForm(double a, double b, double c, int k)
    {
        double p = Math.Pow(a, k);
        double r = Math.Pow(c, k);
        double q = b * (p - r) / (a - c);
        double s = (p * p) + (q * q) + (r * r);
        return Math.Sqrt((s + Math.Sqrt(Math.Max(0, (s * s) - (4 * p * p * r * r)))) / 2);
    }

    [Theory]
    [InlineData(0.9, 10.0, 0.8, 40)]
    [InlineData(0.5, 3.0, -0.6, 12)]
    [InlineData(0.99, 100.0, 0.95, 200)]
    public void UpperTriangular2x2MatchesClosedForm(double a, double b, double c, int horizon)
    {
        var result = TransientGrowth.Dense(TestMatrices.UpperTriangular2(a, b, c), horizon);
        Assert.Equal(horizon, result.Horizon);
        double max = 0;
        int argmax = 0;
        for (int k = 1; k <= horizon; k++)
        {
            double expected = ClosedForm(a, b, c, k);

            // Repeated multiplication: each product adds ~2ε relative error; k·1e-14 covers k ≤ 200 with margin.
            Assert.Equal(expected, result.Norms[k - 1], Math.Max(1e-14, k * 1e-14) * expected);
            if (expected > max)
            {
                (max, argmax) = (expected, k);
            }
        }

        Assert.Equal(argmax, result.Argmax);
        Assert.Equal(max, result.Max, 1e-12 * max);
        Assert.Equal("dense", result.Method);
    }

    [Fact]
    public void NormalMatrixPowersHaveNormRhoToTheK()
    {
        var (a, eigenvalues) = TestMatrices.Normal(20, 7, radius: 0.95);
        double rho = eigenvalues.Max(z => z.Magnitude);
        var result = TransientGrowth.Dense(a, 30);
        for (int k = 1; k <= 30; k++)
        {
            // Normal: ‖Aᵏ‖ = ρᵏ; rounding of k products of an orthogonally diagonalizable matrix, ~k·n·ε relative.
            Assert.Equal(Math.Pow(rho, k), result.Norms[k - 1], 1e-12 * Math.Max(1, k));
        }

        Assert.Equal(1, result.Argmax);
    }

    [Fact]
    public void ProjectedMatrixUsesTheDenseComputation()
    {
        var h = TestMatrices.UpperTriangular2(0.9, 10, 0.8);
        var projected = TransientGrowth.FromProjectedMatrix(h, 10);
        var dense = TransientGrowth.Dense(h, 10);
        Assert.Equal(dense.Norms, projected.Norms);
        Assert.Equal("projected", projected.Method);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(8)]
    public void PowerIterationAgreesWithDense(int power)
    {
        var a = TestMatrices.NonNormalRandom(25, seed: 3, amplification: 3, radius: 0.9);
        var op = new DenseMatrixOperator<double>(a);
        double exact = TransientGrowth.Dense(a, power).Norms[power - 1];
        var estimate = TransientGrowth.PowerIteration(op, power, new PowerIterationOptions { Tolerance = 1e-13, MaxIterations = 2000 }, cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(estimate.Convergence.IsConverged, estimate.Convergence.Reason);

        // Power iteration on (Aᵏ)ᵀAᵏ converges to σ_max² from below; at a 1e-13 relative step the value has
        // converged to ~1e-10 unless σ₂/σ₁ is within 1e-3 of 1 (not the case here).
        Assert.Equal(exact, estimate.Norm, 1e-9 * exact);
        Assert.True(estimate.Norm <= exact * (1 + 1e-12));
        Assert.Equal(2L * power * estimate.Convergence.Iterations, estimate.Convergence.OperatorApplications);
        Assert.Equal(estimate.Convergence.OperatorApplications, op.TotalApplications);
    }

    [Fact]
    public void PowerIterationReportsNonFiniteOutput()
    {
        var space = new CpuVectorSpace<double>(3);
        var op = new DelegateOperator<double[]>(space, (x, y) => Array.Fill(y, double.NaN), (x, y) => Array.Fill(y, double.NaN));
        var estimate = TransientGrowth.PowerIteration(op, 2, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(ConvergenceStatus.NonFiniteOperatorOutput, estimate.Convergence.Status);
    }

    [Fact]
    public void PowerIterationOfNilpotentPowerIsZero()
    {
        var op = new DenseMatrixOperator<double>(TestMatrices.Jordan(3, 0));
        var estimate = TransientGrowth.PowerIteration(op, 3, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(0, estimate.Norm);
        Assert.True(estimate.Convergence.IsConverged);
    }

    [Fact]
    public void InvalidArgumentsNameTheParameter()
    {
        Assert.Equal("horizon", Assert.Throws<ArgumentException>(() => TransientGrowth.Dense(new double[,] { { 1 } }, 0)).ParamName);
        var op = new DenseMatrixOperator<double>(new double[,] { { 1 } });
        Assert.Equal("power", Assert.Throws<ArgumentException>(() => TransientGrowth.PowerIteration(op, 0, cancellationToken: TestContext.Current.CancellationToken)).ParamName);
    }
}
