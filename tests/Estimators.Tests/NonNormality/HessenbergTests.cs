using System.Numerics;
using MathNet.Numerics.LinearAlgebra;
using SpectralMonitor.Estimators.Dense;

namespace SpectralMonitor.Estimators.Tests.NonNormality;

public class HessenbergTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(40)]
    public void ReductionIsAnOrthogonalSimilarityToHessenbergForm(int n)
    {
        var a = TestMatrices.Random(n, seed: n);
        var (h, q) = HessenbergReduction.Reduce(a);
        Assert.NotNull(q);
        Assert.True(HessenbergReduction.IsUpperHessenberg(h));
        var qm = Matrix<double>.Build.DenseOfArray(q);
        var am = Matrix<double>.Build.DenseOfArray(a);
        var hm = Matrix<double>.Build.DenseOfArray(h);

        // Householder reduction is backward stable: residuals of order n·ε·‖A‖ (factor 10 for the constant).
        double tolerance = 10 * n * TestMatrices.Epsilon * Math.Max(1, am.FrobeniusNorm());
        Assert.True((qm.Transpose() * qm - Matrix<double>.Build.DenseIdentity(n)).FrobeniusNorm() <= 10 * n * TestMatrices.Epsilon);
        Assert.True((qm * hm * qm.Transpose() - am).FrobeniusNorm() <= tolerance);
    }

    [Fact]
    public void ResolventMatchesComplexSvd()
    {
        var a = TestMatrices.Grcar(30);
        var resolvent = HessenbergResolvent.FromMatrix(a);
        var points = new[] { new Complex(0.5, 0.5), new Complex(2, 2.5), new Complex(-1, 0), new Complex(3, -1), new Complex(0.1, 1.9) };
        foreach (var z in points)
        {
            double expected = TestMatrices.SmallestSingularValue(a, z);
            double actual = resolvent.SmallestSingularValue(z);

            // Inverse iteration stops at a 1e-12 relative change; the SVD reference is accurate to ~n·ε relative
            // to ‖zI − A‖, which for the smallest σ here (≈1e-8 near Grcar's eigenvalues) is ≈ 1e-6 relative.
            Assert.Equal(expected, actual, Math.Max(1e-9 * expected, 1e-13));
        }
    }

    [Fact]
    public void ResolventIsZeroAtAnExactEigenvalue()
    {
        var a = new double[,] { { 2, 1, 0 }, { 0, 3, 1 }, { 0, 0, 5 } };
        var resolvent = new HessenbergResolvent(a);
        Assert.Equal(0, resolvent.SmallestSingularValue(3));
        Assert.Equal(double.PositiveInfinity, resolvent.ResolventNorm(5));
    }

    [Fact]
    public void RejectsANonHessenbergMatrix()
    {
        var a = new double[,] { { 1, 0, 0 }, { 0, 1, 0 }, { 1, 0, 1 } };
        var error = Assert.Throws<ArgumentException>(() => new HessenbergResolvent(a));
        Assert.Equal("hessenberg", error.ParamName);
    }
}
