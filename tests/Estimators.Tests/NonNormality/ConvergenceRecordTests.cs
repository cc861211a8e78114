using SpectralMonitor.Estimators.Dense;
using SpectralMonitor.Estimators.NonNormality;
using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Estimators.Tests.NonNormality;

/// <summary>The global searches report their quality in the same <see cref="ConvergenceInfo"/> as the Krylov solvers.</summary>
public class ConvergenceRecordTests
{
    [Fact]
    public void KreissSearchCountsItsResolventEvaluationsAndRefinements()
    {
        var result = KreissConstant.Dense(TestMatrices.Jordan(4, 0.5));
        Assert.Equal(ConvergenceStatus.Converged, result.Convergence.Status);
        Assert.Null(result.Reason);

        // The default 32 × 37 half-grid alone costs 1 184 evaluations; each refinement adds at least three.
        Assert.True(result.ResolventEvaluations >= (32 * 37) + (3 * result.Convergence.Iterations), $"{result.ResolventEvaluations} evaluations");
        Assert.InRange(result.Convergence.Iterations, 1, new KreissOptions().RefinementStarts);
    }

    [Fact]
    public void KreissOfAnUnstableMatrixIsExactlyInfiniteAndSaysWhy()
    {
        var result = KreissConstant.Dense(TestMatrices.Jordan(3, 1.5));
        Assert.Equal(double.PositiveInfinity, result.Value);
        Assert.Equal(ConvergenceStatus.Converged, result.Convergence.Status);
        Assert.Equal(result.Convergence.Reason, result.Reason);
        Assert.Contains("≥ 1", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void TooFewCrissCrossIterationsAreReportedAsNotConverged()
    {
        // Grcar(100) needs several criss-cross iterations at ε = 1e-4 (Mengi and Overton report 5-8): one is not enough.
        var capped = Pseudospectra.Radius(TestMatrices.Grcar(100), 1e-4, maxIterations: 1);
        Assert.Equal(ConvergenceStatus.MaxIterationsReached, capped.Convergence.Status);
        Assert.False(capped.Converged);
        Assert.Equal(1, capped.Iterations);

        var full = Pseudospectra.Radius(TestMatrices.Grcar(100), 1e-4);
        Assert.True(full.Convergence.IsConverged);
        Assert.True(full.Convergence.OperatorApplications > 0, "the radial searches evaluate σ_min");
        Assert.True(full.Value > capped.Value);
    }

    [Theory]
    [InlineData(20, false)]
    [InlineData(56, true)]
    public void NumericalRadiusCountsItsEvaluationsAndProducts(int n, bool lanczosPath)
    {
        var result = NumericalRange.NumericalRadius(TestMatrices.Jordan(n, 0));
        Assert.Equal(ConvergenceStatus.Converged, result.Convergence.Status);

        // 64 grid angles plus the golden-section refinements of up to three maxima.
        Assert.True(result.Evaluations > 64);
        if (lanczosPath)
        {
            Assert.True(result.Convergence.OperatorApplications >= result.Evaluations, "every λ_max costs at least one product");
        }
        else
        {
            Assert.Equal(0, result.Convergence.OperatorApplications);
        }
    }

    [Fact]
    public void AHutchinsonEstimateReportsItsStandardErrorAsItsResidual()
    {
        var op = new DenseMatrixOperator<double>(TestMatrices.Random(20, 3));
        var estimate = DepartureFromNormality.NormalizedCommutator(op, probes: 8, seed: 2, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(ConvergenceStatus.Converged, estimate.Convergence.Status);
        Assert.Equal(estimate.StandardError, Assert.Single(estimate.Convergence.ResidualNorms));
        Assert.Equal(8, estimate.Convergence.Iterations);
        Assert.Equal(32, estimate.Convergence.OperatorApplications);
    }

    [Fact]
    public void TheSchurQrIterationReportsItsIterations()
    {
        var schur = ComplexSchur.Decompose(TestMatrices.Grcar(12));
        Assert.True(schur.Convergence.IsConverged);
        Assert.Equal(schur.Iterations, schur.Convergence.Iterations);
        Assert.Equal(12, schur.Convergence.ConvergedCount);
    }
}
