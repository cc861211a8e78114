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
        var cold = SingularValues.Top(matrix, v, iterations: 40);
        Assert.Equal(3, cold.Value, 1e-12);
        var warm = SingularValues.Top(matrix, v, iterations: 1, tolerance: 1e-12);

        // From the converged vector the first iterate already gives σ exactly; its "change" is measured from 0.
        Assert.Equal(3, warm.Value, 1e-12);
        Assert.Equal(2, warm.Convergence.OperatorApplications);
        Assert.Equal(10.0 / 9, SingularValues.StableRank(10, warm.Value), 1e-12);
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
