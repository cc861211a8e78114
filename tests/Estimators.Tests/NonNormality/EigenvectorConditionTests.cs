using System.Numerics;
using SpectralMonitor.Estimators.NonNormality;

namespace SpectralMonitor.Estimators.Tests.NonNormality;

public class EigenvectorConditionTests
{
    // For [[a, b], [0, c]] with a ≠ c the unit eigenvectors are e₁ and (b, c − a)/‖·‖, at angle φ with
    // |cos φ| = |t|/√(1 + t²), t = b/(c − a); VᵀV = [[1, cos φ], [cos φ, 1]], so κ = √((1 + |cos φ|)/(1 − |cos φ|)),
    // which simplifies to |t| + √(1 + t²) (evaluated in that form: no cancellation).
    [Theory]
    [InlineData(0.5, 1.0, -0.3)]
    [InlineData(0.9, 10.0, 0.8)]
    [InlineData(0.99, 100.0, 0.95)]
    [InlineData(-2.0, 0.001, 3.0)]
    [InlineData(1.0, 100.0, 0.99)]
    public void UpperTriangular2x2MatchesClosedForm(double a, double b, double c)
    {
        double t = b / (c - a);
        double expected = Math.Abs(t) + Math.Sqrt(1 + (t * t));
        var result = EigenvectorCondition.Dense(TestMatrices.UpperTriangular2(a, b, c));

        // κ amplifies rounding in V by κ² at most: relative tolerance 1e-13·κ² (at least 1e-12).
        Assert.Null(result.Reason);
        Assert.Equal(2, result.VectorCount);
        Assert.Equal(expected, result.Value, Math.Max(1e-12, 1e-13 * expected * expected) * expected);
    }

    [Theory]
    [InlineData(2, 0.5)]
    [InlineData(3, 0.0)]
    [InlineData(5, -0.7)]
    [InlineData(8, 1.0)]
    public void JordanBlockIsDefective(int n, double lambda)
    {
        var result = EigenvectorCondition.Dense(TestMatrices.Jordan(n, lambda));
        Assert.Equal(double.PositiveInfinity, result.Value);
        Assert.False(result.IsFinite);
        Assert.NotNull(result.Reason);
        Assert.Contains("defective", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void NumericallyDefectiveClusterIsInfinite()
    {
        // [[1, 1], [δ, 1]] has eigenvalues 1 ± √δ and eigenvectors (1, ±√δ): with δ = 1e-32 they coincide in double.
        var result = EigenvectorCondition.Dense(new double[,] { { 1, 1 }, { 1e-32, 1 } });
        Assert.Equal(double.PositiveInfinity, result.Value);
        Assert.NotNull(result.Reason);
    }

    [Fact]
    public void NearlyDefectiveButResolvableIsFinite()
    {
        // δ = 1e-12: eigenvectors (1, ±1e-6)/‖·‖, κ = √((1 + cos)/(1 − cos)) with cos = (1 − δ)/(1 + δ) → κ = 1/√δ = 1e6.
        var result = EigenvectorCondition.Dense(new double[,] { { 1, 1 }, { 1e-12, 1 } });
        Assert.True(result.IsFinite);

        // The eigenvector entries √δ are computed to relative accuracy ε/δ ≈ 1e-4 (conditioning of the 2×2 EVD).
        Assert.Equal(1e6, result.Value, 1e6 * 1e-3);
    }

    [Theory]
    [InlineData(6, 1)]
    [InlineData(15, 2)]
    [InlineData(40, 3)]
    public void NormalMatrixHasUnitCondition(int n, int seed)
    {
        var (a, _) = TestMatrices.Normal(n, seed, radius: 0.9);
        var result = EigenvectorCondition.Dense(a);

        // Eigenvectors of a normal matrix with distinct eigenvalues are orthonormal to O(n·ε/gap); the random
        // eigenvalues here are separated by ≳1e-3, so κ − 1 ≲ 1e-10.
        Assert.Equal(1, result.Value, 1e-8);
        Assert.Equal(n, result.VectorCount);
    }

    [Fact]
    public void RitzCoordinatesUseTheChosenColumns()
    {
        // Columns e₁, (e₁ + e₂)/√2 and e₃ of a 4 × 3 coordinate matrix: the first two alone have κ = cot(π/8).
        var y = new Complex[4, 3];
        y[0, 0] = 1;
        y[0, 1] = 1;
        y[1, 1] = 1;
        y[2, 2] = 1;
        var two = EigenvectorCondition.FromRitzCoordinates(y, [0, 1]);
        Assert.Equal(2, two.VectorCount);
        Assert.Equal(1 / Math.Tan(Math.PI / 8), two.Value, 1e-12);
        var all = EigenvectorCondition.FromRitzCoordinates(y);
        Assert.Equal(3, all.VectorCount);
        Assert.Equal(1 / Math.Tan(Math.PI / 8), all.Value, 1e-12);
        var error = Assert.Throws<ArgumentException>(() => EigenvectorCondition.FromRitzCoordinates(y, [0, 3]));
        Assert.Equal("columns", error.ParamName);
    }

    [Fact]
    public void ComplexConjugateEigenvectorsAreBuiltFromRealBlocks()
    {
        // Rotation-like block with non-orthogonal eigenvectors: A = S·[[0, −1], [1, 0]]·S⁻¹, S = [[1, 2], [0, 1]].
        // Eigenvalues ±i, eigenvectors S·(1, ∓i): κ(V) from the exact 2 × 2 eigenvectors.
        var a = new double[,] { { 2, -5 }, { 1, -2 } };
        var v = new Complex[2, 2];
        v[0, 0] = new Complex(1, -2);
        v[1, 0] = new Complex(0, -1);
        v[0, 1] = new Complex(1, 2);
        v[1, 1] = new Complex(0, 1);
        double expected = EigenvectorCondition.FromVectors(v).Value;
        var result = EigenvectorCondition.Dense(a);
        Assert.Equal(expected, result.Value, 1e-12 * expected);
        Assert.True(expected > 1.5);
    }

    [Fact]
    public void EigenvalueConditionOf2x2MatchesClosedForm()
    {
        // Left eigenvector of a for [[a, b], [0, c]] is (a − c, b)/‖·‖ and the right one e₁: s = √(1 + t²), t = b/(a − c);
        // the same s holds for c.
        var result = EigenvalueCondition.Dense(TestMatrices.UpperTriangular2(0.9, 10, 0.5), count: 2);
        double expected = Math.Sqrt(1 + (25.0 * 25.0));
        Assert.Equal(0.9, result.Eigenvalues[0].Real, 1e-14);
        Assert.Equal(expected, result.ConditionNumbers[0], 1e-12 * expected);
        Assert.Equal(expected, result.ConditionNumbers[1], 1e-12 * expected);
        Assert.Null(result.Reason);
    }

    [Fact]
    public void EigenvalueConditionOfJordanBlockIsInfinite()
    {
        var result = EigenvalueCondition.Dense(TestMatrices.Jordan(4, 0.5), count: 1);
        Assert.Equal(double.PositiveInfinity, result.ConditionNumbers[0]);
        Assert.Equal("singular-vectors", result.Method);
        Assert.NotNull(result.Reason);
    }

    [Fact]
    public void EigenvalueConditionOfNormalMatrixIsOne()
    {
        var (a, _) = TestMatrices.Normal(12, 5, radius: 2);
        var result = EigenvalueCondition.Dense(a, count: 5);
        foreach (double s in result.ConditionNumbers)
        {
            Assert.Equal(1, s, 1e-9);
        }
    }
}
