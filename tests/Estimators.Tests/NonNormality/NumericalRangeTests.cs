using SpectralMonitor.Estimators.NonNormality;

namespace SpectralMonitor.Estimators.Tests.NonNormality;

public class NumericalRangeTests
{
    // The field of values of the nilpotent shift N (ones on the superdiagonal) is the disc of radius cos(π/(n + 1)):
    // λ_max((e^{iθ}N + e^{−iθ}Nᵀ)/2) is the same for every θ and equals the top eigenvalue of the path graph / 2.
    [Theory]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(24)]
    [InlineData(50)]
    [InlineData(56)]
    public void NilpotentShiftHasRadiusCosPiOverNPlusOne(int n)
    {
        var shift = TestMatrices.Jordan(n, 0);
        double expected = Math.Cos(Math.PI / (n + 1));

        // Symmetric EVD / Lanczos to ~1e-13 absolute (‖N‖ ≤ 1); n = 50 and 56 take the Lanczos path.
        Assert.Equal(expected, NumericalRange.NumericalRadius(shift).Value, 1e-11);
        Assert.Equal(expected, NumericalRange.NumericalAbscissa(shift), 1e-12);
    }

    [Theory]
    [InlineData(10, 1)]
    [InlineData(30, 2)]
    [InlineData(52, 3)]
    public void NormalMatrixHasRadiusEqualToSpectralRadius(int n, int seed)
    {
        // For normal A the field of values is the convex hull of the spectrum: r(A) = ρ(A), ω(A) = max Re λ.
        var (a, eigenvalues) = TestMatrices.Normal(n, seed, radius: 2);
        Assert.Equal(eigenvalues.Max(z => z.Magnitude), NumericalRange.NumericalRadius(a).Value, 1e-10);
        Assert.Equal(eigenvalues.Max(z => z.Real), NumericalRange.NumericalAbscissa(a), 1e-12);
    }

    [Fact]
    public void TwoByTwoTriangularMatchesEllipse()
    {
        // W([[a, b], [0, c]]) (a, c real) is the ellipse with foci a, c and minor axis |b|: its rightmost point is
        // (a + c)/2 + √((a − c)² + b²)/2, which for a, c ≥ 0 is also the numerical radius.
        double a = 0.9;
        double b = 3;
        double c = 0.2;
        double expected = ((a + c) / 2) + (Math.Sqrt(((a - c) * (a - c)) + (b * b)) / 2);
        var m = TestMatrices.UpperTriangular2(a, b, c);
        Assert.Equal(expected, NumericalRange.NumericalAbscissa(m), 1e-13);
        Assert.Equal(expected, NumericalRange.NumericalRadius(m).Value, 1e-11);
    }

    [Fact]
    public void RadiusLiesBetweenSpectralRadiusAndNorm()
    {
        var a = TestMatrices.Random(35, 9);
        double r = NumericalRange.NumericalRadius(a).Value;
        double rho = SpectralRadius.Dense(a).Value;
        double norm = TestMatrices.TwoNorm(a);

        // ρ ≤ r ≤ ‖A‖ ≤ 2r (rounding margin 1e-12).
        Assert.True(rho <= r + 1e-12 && r <= norm + 1e-12 && norm <= (2 * r) + 1e-12, $"ρ = {rho}, r = {r}, ‖A‖ = {norm}");
    }
}
