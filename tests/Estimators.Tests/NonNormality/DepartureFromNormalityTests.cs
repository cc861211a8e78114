using SpectralMonitor.Estimators.NonNormality;
using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Estimators.Tests.NonNormality;

public class DepartureFromNormalityTests
{
    [Fact]
    public void HenriciOf2x2TriangularIsTheOffDiagonal()
    {
        // ‖A‖²_F − |a|² − |c|² = b² for [[a, b], [0, c]].
        var result = DepartureFromNormality.Henrici(TestMatrices.UpperTriangular2(0.9, -10, 0.5));

        // Cancellation in ‖A‖²_F − Σ|λ|² costs ~ε·‖A‖²_F/dep relative: 1e-13 relative is safe here.
        Assert.Equal(10, result.Value, 1e-12);
        Assert.Equal(10 / Math.Sqrt(100 + 0.81 + 0.25), result.Relative, 1e-13);
    }

    [Fact]
    public void NormalMatrixHasZeroDeparture()
    {
        var (a, _) = TestMatrices.Normal(15, 2, radius: 1);

        // dep is the square root of a difference of O(1) numbers that agree to ~n·ε: up to √(n·ε) ≈ 1e-7.
        Assert.True(DepartureFromNormality.Henrici(a).Value < 1e-6);
        Assert.True(DepartureFromNormality.NormalizedCommutator(a) < 1e-13);
    }

    [Fact]
    public void DenseCommutatorOf2x2MatchesClosedForm()
    {
        // A = [[0, 1], [0, 0]]: AᵀA − AAᵀ = diag(−1, 1), ‖·‖_F = √2, ‖A‖²_F = 1.
        Assert.Equal(Math.Sqrt(2), DepartureFromNormality.NormalizedCommutator(TestMatrices.Jordan(2, 0)), 1e-15);
    }

    [Fact]
    public void HutchinsonAgreesWithDenseWithinItsStatisticalError()
    {
        var a = TestMatrices.Random(40, 17);
        for (int i = 0; i < 40; i++)
        {
            for (int j = i + 1; j < 40; j++)
            {
                a[i, j] *= 3;
            }
        }

        double exact = DepartureFromNormality.NormalizedCommutator(a);
        var op = new DenseMatrixOperator<double>(a);
        var estimate = DepartureFromNormality.NormalizedCommutator(op, probes: 400, seed: 11, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(400, estimate.Probes);
        Assert.Equal(1600, estimate.OperatorApplications);
        Assert.Equal(1600, op.TotalApplications);

        // Statistical tolerance: the Rademacher variance bound gives a relative standard deviation of the ‖M‖²_F
        // estimate of at most √(2/400) ≈ 0.07, i.e. ≈ 0.035 for the square root; we check that the reported delta-method
        // standard error is of that size and that the error is within 4 standard errors (fixed seed: deterministic).
        Assert.True(estimate.StandardError < 0.05 * exact, $"standard error {estimate.StandardError} vs value {exact}");
        Assert.True(Math.Abs(estimate.Value - exact) <= 4 * estimate.StandardError, $"estimate {estimate.Value} ± {estimate.StandardError}, exact {exact}");
    }

    [Fact]
    public void HutchinsonOfNormalMatrixIsZero()
    {
        var (a, _) = TestMatrices.Normal(20, 6, radius: 1);
        var estimate = DepartureFromNormality.NormalizedCommutator(new DenseMatrixOperator<double>(a), probes: 5, cancellationToken: TestContext.Current.CancellationToken);

        // Mz = 0 exactly in exact arithmetic; rounding leaves ~n·ε.
        Assert.True(estimate.Value < 1e-13);
    }
}
