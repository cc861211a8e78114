using System.Numerics;
using MathNet.Numerics.LinearAlgebra;
using SpectralMonitor.Estimators.Dense;
using SpectralMonitor.Estimators.NonNormality;

namespace SpectralMonitor.Estimators.Tests.Krylov;

public class StablePartTests
{
    [Fact]
    public void TheStablePartKeepsExactlyTheEigenvaluesInsideTheUnitDisk()
    {
        // Q·T·Qᵀ with T upper triangular (a 2×2 rotation block for a conjugate pair): eigenvalues 1.5, −1.2 (outside),
        // 0.3 ± 0.4i and −0.5 (inside), mixed by a random orthogonal Q so that no subspace is axis-aligned.
        var t = new double[,]
        {
            { 1.5, 0.7, -0.2, 0.4, 0.1 },
            { 0, 0.3, 0.4, 0.9, -0.3 },
            { 0, -0.4, 0.3, 0.2, 0.5 },
            { 0, 0, 0, -1.2, 0.6 },
            { 0, 0, 0, 0, -0.5 },
        };
        var q = Matrix<double>.Build.DenseOfArray(KrylovTestMatrices.RandomOrthogonal(5, 11));
        var a = (q * Matrix<double>.Build.DenseOfArray(t) * q.Transpose()).ToArray();

        var stable = ComplexSchur.StablePart(a)!;
        Assert.Equal(3, stable.GetLength(0));
        var values = SpectralRadius.Dense(stable).Eigenvalues.OrderBy(z => z.Real).ThenBy(z => z.Imaginary).ToArray();
        Complex[] expected = [new(-0.5, 0), new(0.3, -0.4), new(0.3, 0.4)];

        // Eigenvalues of a 5×5 well-conditioned problem: rounding level, 1e-12 absolute.
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(expected[i].Real, values[i].Real, 1e-12);
            Assert.Equal(expected[i].Imaginary, values[i].Imaginary, 1e-12);
        }
    }

    [Fact]
    public void AllStableReturnsTheMatrixAndNoneStableReturnsNull()
    {
        var inside = new double[,] { { 0.5, 1 }, { 0, -0.2 } };
        Assert.Same(inside, ComplexSchur.StablePart(inside));
        Assert.Null(ComplexSchur.StablePart(new double[,] { { 2, 1 }, { 0, -1.5 } }));
    }

    [Fact]
    public void RadiusBranchesSplitByTheSignOfTheRealPart()
    {
        var branches = SpectralRadius.Branches([new(-0.9, 0.1), new(0.95, 0), new(-0.3, -0.2), new(0, 0.5)]);
        Assert.Equal(Math.Sqrt(0.82), branches.Oscillatory, 1e-15);
        Assert.Equal(0.95, branches.Monotone);
        Assert.Equal(0.95, branches.Radius);
    }
}
