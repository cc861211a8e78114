using MathNet.Numerics.LinearAlgebra;
using SpectralMonitor.Estimators.NonNormality;

namespace SpectralMonitor.Estimators.Tests.NonNormality;

public class SingularValuesTests
{
    [Fact]
    public void TopSingularValueOfARandomMatrixMatchesTheSvd()
    {
        var w = TestMatrices.Random(30, 5);
        var matrix = new Dense(w);
        double expected = Matrix<double>.Build.DenseOfArray(w).Svd(computeVectors: false).S[0];
        var v = SingularValues.StartVector(matrix.Columns, seed: 1);

        // The power method converges like (σ₂/σ₁)^(2k); 500 iterations reach rounding level for this matrix, and the
        // estimate is a lower bound, so it may fall short of the SVD by rounding only (1e-10 relative).
        var estimate = SingularValues.Top(matrix, v, iterations: 500, tolerance: 1e-12);
        Assert.Equal(expected, estimate.Value, 1e-10 * expected);
        Assert.True(estimate.Value <= expected * (1 + 1e-12), "a power-method estimate converges from below");
        Assert.Equal(ConvergenceStatus.Converged, estimate.Convergence.Status);
        Assert.Equal(1, v.Sum(x => x * x), 1e-12);
    }

    [Fact]
    public void AWarmStartConvergesInOneIteration()
    {
        // W = [[3, 0], [0, 1], [0, 0]]: σ = 3 with right singular vector e₁, ‖W‖²_F = 10, stable rank 10/9.
        var matrix = new Dense(new double[,] { { 3, 0 }, { 0, 1 }, { 0, 0 } });
        var v = SingularValues.StartVector(2, seed: 9);
        var cold = SingularValues.Top(matrix, v, iterations: 40, tolerance: 1e-12);
        Assert.Equal(3, cold.Value, 1e-12);
        var warm = SingularValues.Top(matrix, v, iterations: 1, tolerance: 1e-12);

        // From the converged vector the first iterate already gives σ exactly, and its residual meets any tolerance.
        Assert.Equal(3, warm.Value, 1e-12);
        Assert.Equal(ConvergenceStatus.Converged, warm.Convergence.Status);
        Assert.Equal(2, warm.Convergence.OperatorApplications);
        Assert.Equal(10.0 / 9, SingularValues.StableRank(10, warm.Value), 1e-12);
    }

    [Theory]
    [InlineData(1e-2)]
    [InlineData(1e-3)]
    [InlineData(1e-6)]
    public void TheIterationStopsAtTheResidualToleranceWithinItsBound(double tolerance)
    {
        // W = U·diag(3, 2.8, 1, 0.5)·Vᵀ (6 × 4): the top two singular values 7% apart, so the power method needs many
        // iterations from a cold start ((2.8/3)² = 0.87 per iteration).
        double[] singular = [3, 2.8, 1, 0.5];
        var matrix = new Dense(WithSingularValues(singular, rows: 6, seed: 4));
        var v = SingularValues.StartVector(matrix.Columns, seed: 2);
        var estimate = SingularValues.Top(matrix, v, iterations: 1000, tolerance: tolerance);

        Assert.Equal(ConvergenceStatus.Converged, estimate.Convergence.Status);
        Assert.True(estimate.Convergence.Iterations < 1000);
        double residual = estimate.Convergence.ResidualNorms[0];
        Assert.InRange(residual, 0, tolerance);

        // The bound the residual gives for the symmetric WᵀW: σ² lies within r·σ² of one of its eigenvalues. It is
        // checked as stated (no slack beyond rounding); the nearest is the top one, as the power method approaches it.
        double sigma2 = estimate.Value * estimate.Value;
        double nearest = singular.MinBy(s => Math.Abs((s * s) - sigma2));
        Assert.Equal(3, nearest);
        Assert.True(Math.Abs((nearest * nearest) - sigma2) <= (residual * sigma2) + 1e-12, $"|σ² − 9| = {Math.Abs(9 - sigma2):G3} > r·σ² = {residual * sigma2:G3}");

        // One iteration fewer leaves the residual above the tolerance: the iteration stopped at the first iterate that
        // met it, not later.
        if (estimate.Convergence.Iterations > 1)
        {
            var shorter = SingularValues.Top(matrix, SingularValues.StartVector(matrix.Columns, seed: 2), estimate.Convergence.Iterations - 1, tolerance);
            Assert.Equal(ConvergenceStatus.MaxIterationsReached, shorter.Convergence.Status);
            Assert.True(shorter.Convergence.ResidualNorms[0] > tolerance);
        }
    }

    [Fact]
    public void ToleranceZeroRunsEveryIterationAndALooseOneFewer()
    {
        var matrix = new Dense(WithSingularValues([3, 2.8, 1, 0.5], rows: 6, seed: 4));
        var all = SingularValues.Top(matrix, SingularValues.StartVector(4, seed: 2), iterations: 8, tolerance: 0);
        Assert.Equal(8, all.Convergence.Iterations);
        Assert.Equal(16, all.Convergence.OperatorApplications);
        Assert.Equal(ConvergenceStatus.MaxIterationsReached, all.Convergence.Status);

        // Warm from the vector those 8 iterations left, a tolerance of 1e-2 is met at once (the warm monitor's case).
        var v = SingularValues.StartVector(4, seed: 2);
        SingularValues.Top(matrix, v, iterations: 60, tolerance: 0);
        var warm = SingularValues.Top(matrix, v, iterations: 8, tolerance: 1e-2);
        Assert.Equal(1, warm.Convergence.Iterations);
        Assert.Equal(ConvergenceStatus.Converged, warm.Convergence.Status);
    }

    [Theory]
    [InlineData(-1e-3)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void ABadToleranceIsRejected(double tolerance)
    {
        var matrix = new Dense(new double[,] { { 1, 0 }, { 0, 1 } });
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => SingularValues.Top(matrix, [1, 0], iterations: 2, tolerance));
        Assert.Equal("tolerance", error.ParamName);
    }

    [Fact]
    public void LanczosFindsAClusteredTopSingularValueWithinItsToleranceInFarFewerProductsThanPowerIteration()
    {
        // 200 × 100 with σᵢ = 1 − 0.005·i: the top of a randomly initialized layer's spectrum, where neighbours lie
        // about 1% apart (power iteration contracts the second component by only (0.995)² = 0.99 per iteration).
        double[] singular = Enumerable.Range(0, 100).Select(i => 1 - (0.005 * i)).ToArray();
        var matrix = new Dense(WithSingularValues(singular, rows: 200, seed: 6));
        var lanczos = SingularValues.TopByLanczos(matrix, new double[100], maxSteps: 200, tolerance: 1e-3, seed: 1, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(ConvergenceStatus.Converged, lanczos.Convergence.Status);

        // Stopped at a relative residual of 1e-3: σ² within 1e-3·σ² of an eigenvalue of WᵀW, so σ within 5e-4 of a
        // singular value; here of the top one (checked), which a Ritz value of the top end never exceeds.
        Assert.True(lanczos.Value <= 1 + 1e-12, $"{lanczos.Value} > σ₁ = 1");
        Assert.True(1 - lanczos.Value <= 0.5e-3, $"σ = {lanczos.Value}: error {1 - lanczos.Value:G3} > 5e-4");
        Assert.Equal(2 * lanczos.Convergence.Iterations, lanczos.Convergence.OperatorApplications);


        // Power iteration to the same residual bound takes several times as many products.
        var power = SingularValues.Top(matrix, SingularValues.StartVector(100, seed: 1), iterations: 5000, tolerance: 1e-3);
        Assert.Equal(ConvergenceStatus.Converged, power.Convergence.Status);
        Assert.True(
            3 * lanczos.Convergence.OperatorApplications <= power.Convergence.OperatorApplications,
            $"Lanczos {lanczos.Convergence.OperatorApplications} products, power iteration {power.Convergence.OperatorApplications}");
    }

    [Fact]
    public void LanczosStopsOnTheResidualItselfNotOnAnEigenvalueErrorEstimate()
    {
        // A well separated top (σ₁ = 3, the rest ≤ 1): an eigenvalue-error estimate r²/δ would stop with a residual r
        // up to √(tol·θ·δ) ≈ 0.27 here. The residual rule stops only once r ≤ tol·θ, which is what makes "σ² within
        // tol·σ² of an eigenvalue of WᵀW" a bound rather than an estimate.
        double[] singular = [3, .. Enumerable.Range(0, 39).Select(i => 1 - (0.01 * i))];
        var matrix = new Dense(WithSingularValues(singular, rows: 60, seed: 9));
        var estimate = SingularValues.TopByLanczos(matrix, new double[40], maxSteps: 100, tolerance: 1e-3, seed: 2, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(ConvergenceStatus.Converged, estimate.Convergence.Status);
        double theta = estimate.Value * estimate.Value;
        Assert.InRange(estimate.Convergence.ResidualNorms[0], 0, 1e-3 * theta);
        Assert.True(Math.Abs(9 - theta) <= estimate.Convergence.ResidualNorms[0] + 1e-12, $"|σ² − 9| = {Math.Abs(9 - theta):G3} > r = {estimate.Convergence.ResidualNorms[0]:G3}");
    }

    [Fact]
    public void LanczosWarmStartsFromTheVectorItLeaves()
    {
        double[] singular = [3, 2.8, 1, 0.5, 0.2];
        var matrix = new Dense(WithSingularValues(singular, rows: 8, seed: 7));
        var v = new double[5];
        var cold = SingularValues.TopByLanczos(matrix, v, maxSteps: 50, tolerance: 1e-10, seed: 3, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(3, cold.Value, 1e-9);
        Assert.Equal(1, v.Sum(x => x * x), 1e-12);

        // v is now the top right singular vector (to the tolerance): W·v has norm σ₁.
        var wv = new double[8];
        matrix.Multiply(v, wv);
        Assert.Equal(3, Math.Sqrt(wv.Sum(x => x * x)), 1e-6);

        var warm = SingularValues.TopByLanczos(matrix, v, maxSteps: 50, tolerance: 1e-3, seed: 3, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(3, warm.Value, 1e-6);
        Assert.True(warm.Convergence.Iterations < cold.Convergence.Iterations, $"warm {warm.Convergence.Iterations} steps, cold {cold.Convergence.Iterations}");
        Assert.True(warm.Convergence.Iterations <= 3, $"warm {warm.Convergence.Iterations} steps");
    }

    [Fact]
    public void LanczosStopsAtItsStepBudget()
    {
        double[] singular = Enumerable.Range(0, 60).Select(i => 1 - (0.001 * i)).ToArray();
        var matrix = new Dense(WithSingularValues(singular, rows: 80, seed: 8));
        var estimate = SingularValues.TopByLanczos(matrix, new double[60], maxSteps: 4, tolerance: 1e-9, seed: 1, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(ConvergenceStatus.MaxIterationsReached, estimate.Convergence.Status);
        Assert.Equal(4, estimate.Convergence.Iterations);
        Assert.Equal(8, estimate.Convergence.OperatorApplications);
        Assert.InRange(estimate.Value, 0.9, 1 + 1e-12);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 2)]
    [InlineData(1, 4)]
    public void LanczosOnTinyMatricesIsExact(int rows, int columns)
    {
        var w = TestMatrices.Random(Math.Max(rows, columns), seed: 11);
        var small = new double[rows, columns];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                small[r, c] = w[r, c];
            }
        }

        double expected = Matrix<double>.Build.DenseOfArray(small).Svd(computeVectors: false).S[0];
        var estimate = SingularValues.TopByLanczos(new Dense(small), new double[columns], maxSteps: 10, tolerance: 1e-3, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(expected, estimate.Value, 1e-12 * expected);
        Assert.Equal(ConvergenceStatus.Converged, estimate.Convergence.Status);
    }

    [Fact]
    public void LanczosReportsZeroAndNonFiniteMatricesAsStatuses()
    {
        var zero = SingularValues.TopByLanczos(new Dense(new double[3, 2]), new double[2], maxSteps: 5, tolerance: 1e-3, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(0, zero.Value);
        Assert.Equal(ConvergenceStatus.Converged, zero.Convergence.Status);

        var nan = SingularValues.TopByLanczos(new Dense(new double[,] { { double.NaN, 1 }, { 0, 1 } }), new double[2], maxSteps: 5, tolerance: 1e-3, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(ConvergenceStatus.NonFiniteOperatorOutput, nan.Convergence.Status);
        Assert.True(double.IsNaN(nan.Value));
    }

    [Fact]
    public void ACancelledLanczosReportsCancelledAndKeepsItsWarmStart()
    {
        var matrix = new Dense(WithSingularValues([3, 2, 1], rows: 5, seed: 10));
        double[] v = [0.6, 0.8, 0];
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var estimate = SingularValues.TopByLanczos(matrix, v, maxSteps: 10, tolerance: 1e-3, cancellationToken: cancelled.Token);
        Assert.Equal(ConvergenceStatus.Cancelled, estimate.Convergence.Status);
        Assert.True(double.IsNaN(estimate.Value));
        Assert.Equal([0.6, 0.8, 0], v);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void LanczosRejectsABadTolerance(double tolerance)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => SingularValues.TopByLanczos(new Dense(new double[,] { { 1, 0 }, { 0, 1 } }), new double[2], 5, tolerance, cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal("tolerance", error.ParamName);
    }

    [Fact]
    public void ZeroAndNonFiniteMatricesAreStatusesNotExceptions()
    {
        var zero = SingularValues.Top(new Dense(new double[3, 2]), SingularValues.StartVector(2, 1), iterations: 5);
        Assert.Equal(0, zero.Value);
        Assert.Equal(ConvergenceStatus.Converged, zero.Convergence.Status);
        Assert.True(double.IsNaN(SingularValues.StableRank(0, zero.Value)));

        var nan = SingularValues.Top(new Dense(new double[,] { { double.NaN, 1 } }), SingularValues.StartVector(2, 1), iterations: 5);
        Assert.Equal(ConvergenceStatus.NonFiniteOperatorOutput, nan.Convergence.Status);
        Assert.Equal(1, nan.Convergence.Iterations);
    }

    /// <summary>U·diag(singular)·Vᵀ with U (rows × k) and V (k × k) taken from random orthogonal matrices.</summary>
    private static double[,] WithSingularValues(double[] singular, int rows, int seed)
    {
        int k = singular.Length;
        var u = Matrix<double>.Build.DenseOfArray(TestMatrices.Orthogonal(rows, seed)).SubMatrix(0, rows, 0, k);
        var v = Matrix<double>.Build.DenseOfArray(TestMatrices.Orthogonal(k, seed + 1));
        return (u * Matrix<double>.Build.DenseOfDiagonalArray(singular) * v.Transpose()).ToArray();
    }

    private sealed class Dense(double[,] w) : IHostMatrix
    {
        private readonly Matrix<double> _w = Matrix<double>.Build.DenseOfArray(w);

        public int Rows => _w.RowCount;

        public int Columns => _w.ColumnCount;

        public void Multiply(ReadOnlySpan<double> x, Span<double> result) =>
            _w.Multiply(Vector<double>.Build.DenseOfArray(x.ToArray())).AsArray().CopyTo(result);

        public void MultiplyTranspose(ReadOnlySpan<double> y, Span<double> result) =>
            _w.TransposeThisAndMultiply(Vector<double>.Build.DenseOfArray(y.ToArray())).AsArray().CopyTo(result);
    }
}
