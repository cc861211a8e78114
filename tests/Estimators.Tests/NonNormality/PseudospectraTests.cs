using System.Numerics;
using SpectralMonitor.Estimators.NonNormality;

namespace SpectralMonitor.Estimators.Tests.NonNormality;

public class PseudospectraTests
{
    // Published values for Grcar(100), ε = 1e-4: ρ_ε = 2.85216 and α_ε = 2.41276, quoted from Guglielmi & Overton
    // (SIAM J. Matrix Anal. Appl. 32, 2011/2012) in Pseudospectra.jl's tests (RalphAS/Pseudospectra.jl,
    // test/radius_abscissa.jl, which checks them with atol = 1e-5); the same file checks the largest imaginary
    // part of an eigenvalue, 2.2617668 (atol 1e-6). These are the values published there; no other ε is listed.
    [Fact]
    public void GrcarPseudospectralRadiusMatchesPublishedValue()
    {
        var result = Pseudospectra.Radius(TestMatrices.Grcar(100), 1e-4);
        Assert.True(result.Converged);
        Assert.Equal(2.85216, result.Value, 1e-5);
        Assert.Equal(result.Value, result.Point.Magnitude, 1e-12);
    }

    [Fact]
    public void GrcarPseudospectralAbscissaMatchesPublishedValue()
    {
        var result = Pseudospectra.Abscissa(TestMatrices.Grcar(100), 1e-4);
        Assert.True(result.Converged);
        Assert.Equal(2.41276, result.Value, 1e-5);
        Assert.Equal(result.Value, result.Point.Real, 1e-12);
    }

    [Fact]
    public void GrcarTopEigenvalueImaginaryPartMatchesPublishedValue()
    {
        var spectrum = SpectralRadius.Dense(TestMatrices.Grcar(100));
        Assert.Equal(2.2617668, spectrum.Eigenvalues.Max(z => z.Imaginary), 1e-6);
    }

    [Fact]
    public void BoundaryPointIsOnThePseudospectrumBoundary()
    {
        var a = TestMatrices.Grcar(30);
        foreach (double epsilon in new[] { 1e-1, 1e-3, 1e-6 })
        {
            var radius = Pseudospectra.Radius(a, epsilon);
            var abscissa = Pseudospectra.Abscissa(a, epsilon);

            // σ_min at the reported point equals ε to the accuracy of the 2n × 2n eigenvalues (relative 1e-6 is loose).
            Assert.Equal(epsilon, TestMatrices.SmallestSingularValue(a, radius.Point), 1e-6 * epsilon);
            Assert.Equal(epsilon, TestMatrices.SmallestSingularValue(a, abscissa.Point), 1e-6 * epsilon);
        }
    }

    [Fact]
    public void NormalMatrixPseudospectrumIsUnionOfDiscs()
    {
        // Normal: Λ_ε is the union of discs of radius ε about the eigenvalues, so ρ_ε = ρ + ε and α_ε = α + ε.
        var (a, eigenvalues) = TestMatrices.Normal(12, 4, radius: 1.5);
        double rho = eigenvalues.Max(z => z.Magnitude);
        double alpha = eigenvalues.Max(z => z.Real);
        foreach (double epsilon in new[] { 1e-2, 0.3 })
        {
            // Eigenvalues of the 2n problems are accurate to ~1e-14 here; 1e-10 absolute.
            Assert.Equal(rho + epsilon, Pseudospectra.Radius(a, epsilon).Value, 1e-10);
            Assert.Equal(alpha + epsilon, Pseudospectra.Abscissa(a, epsilon).Value, 1e-10);
        }
    }

    [Fact]
    public void JordanBlock2x2HasClosedFormAbscissa()
    {
        // J = [[0, 1], [0, 0]]: σ_min(zI − J) depends on |z| only, σ_min = (√(1 + 4r²) − 1)/2 at |z| = r; setting it
        // to ε gives r = √(ε² + ε), so α_ε = ρ_ε = √(ε(1 + ε)).
        foreach (double epsilon in new[] { 1e-3, 0.25 })
        {
            double expected = Math.Sqrt(epsilon * (1 + epsilon));
            var j = TestMatrices.Jordan(2, 0);
            Assert.Equal(expected, Pseudospectra.Abscissa(j, epsilon).Value, 1e-9);
            Assert.Equal(expected, Pseudospectra.Radius(j, epsilon).Value, 1e-9);
        }
    }

    [Fact]
    public void InvalidEpsilonIsRejected()
    {
        var error = Assert.Throws<ArgumentException>(() => Pseudospectra.Radius(new double[,] { { 1 } }, 0));
        Assert.Equal("epsilon", error.ParamName);
        Assert.NotEqual(Complex.Zero, Pseudospectra.Radius(new double[,] { { 1 } }, 0.5).Point);
    }
}
