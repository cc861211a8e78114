using System.Globalization;
using System.Text;
using static SpectralMonitor.Cli.Tests.CliHarness;

namespace SpectralMonitor.Cli.Tests;

/// <summary>
/// Issue 14, item 9: valid but degenerate matrices (all zero, entries near the ends of the double range, long horizons)
/// get their exact measures, or exit 2 with one line where no answer can be computed in double precision.
/// </summary>
public sealed class DegenerateMatrixTests : IDisposable
{
    // Closed-form values below are compared to 1e-13 relative: the dense EVD, SVD and power products are backward stable,
    // so on these 2 × 2 matrices (condition numbers ≤ 10²) their relative errors are a few ε ≈ 1e-15 per operation.
    private const double Tight = 1e-13;

    private static readonly double Golden = (1 + Math.Sqrt(5)) / 2;

    private readonly string _directory = Directory.CreateTempSubdirectory("spectral-monitor-degenerate-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllText(path, text);
        return path;
    }

    private string Coordinate(string name, int n, params (int Row, int Column, double Value)[] entries)
    {
        var text = new StringBuilder("%%MatrixMarket matrix coordinate real general\n");
        text.Append(CultureInfo.InvariantCulture, $"{n} {n} {entries.Length}\n");
        foreach (var (row, column, value) in entries)
        {
            text.Append(CultureInfo.InvariantCulture, $"{row} {column} {value:R}\n");
        }

        return Write(name, text.ToString());
    }

    [Theory]
    [InlineData(3, false)]
    [InlineData(3, true)]
    [InlineData(600, false)]
    public void ZeroMatrixHasItsExactMeasures(int n, bool explicitZeros)
    {
        // A = 0: every eigenvalue is 0 (ρ = 0); V = I is an eigenvector basis (κ = 1); ‖Aᵏ‖ = 0 for all k (maximum 0,
        // first attained at k = 1); ‖(zI)⁻¹‖ = 1/|z| so (|z| − 1)/|z| < 1 → 1 as |z| → ∞ (Kreiss 1); W(A) = {0}.
        string path = explicitZeros
            ? Write("zero-array.mtx", $"%%MatrixMarket matrix array real general\n{n} {n}\n" + string.Concat(Enumerable.Repeat("0\n", n * n)))
            : Write("zero.mtx", $"%%MatrixMarket matrix coordinate real general\n{n} {n} 0\n");
        bool dense = n <= MatrixAnalysis.DenseLimit;
        var json = Analyze(path);
        AssertReport(new ExpectedReport(0, 1, dense ? n : 6, 0, 1, 1, 0, 0, dense ? "dense" : "krylov"), json, 0);
        Assert.Equal(n, json.GetProperty("n").GetInt32());
        Assert.Equal(0, json.GetProperty("matvecs").GetInt64());
        Assert.True(json.GetProperty("converged").GetBoolean());
    }

    [Fact]
    public void DuplicatesThatCancelGiveTheZeroMatrix()
    {
        string path = Coordinate("cancel.mtx", 3, (1, 2, 1e300), (1, 2, -1e300), (3, 3, 0.5), (3, 3, -0.5));
        AssertReport(new ExpectedReport(0, 1, 3, 0, 1, 1, 0, 0, "dense"), Analyze(path), 0);
    }

    [Theory]
    [InlineData(1e200)]
    [InlineData(1e-300)]
    public void ScaledJordanBlockHasItsExactMeasures(double c)
    {
        // A = c·[[1, 1], [0, 1]]: double eigenvalue c with one eigenvector (κ = ∞); ‖A‖ = c·φ (φ the golden ratio);
        // ‖Aᵏ‖ = cᵏ‖[[1, k], [0, 1]]‖ grows with k when c = 1e200 (then it exceeds the double range from k = 2, and
        // the largest k of the horizon is the argmax) and falls with k when c = 1e-300 (argmax 1). W(A) is the disc of
        // radius c/2 about c, so ω = r = 1.5c. Kreiss: ∞ when ρ = c ≥ 1; 1 when ‖A‖ ≤ 1.
        string path = Coordinate("jordan.mtx", 2, (1, 1, c), (1, 2, c), (2, 2, c));
        bool huge = c > 1;
        var expected = new ExpectedReport(
            c, double.PositiveInfinity, 2,
            huge ? double.PositiveInfinity : c * Golden, huge ? 50 : 1,
            huge ? double.PositiveInfinity : 1,
            1.5 * c, 1.5 * c, "dense");
        AssertReport(expected, Analyze(path), Tight);
    }

    [Fact]
    public void DiagonalWithEntriesNearTheLargestDoubleHasItsExactMeasures()
    {
        // A = diag(1e308, −1e308): normal, ρ = ‖A‖ = ω = r = 1e308, κ = 1; ‖A²‖ = 1e616 exceeds the double range.
        string path = Coordinate("diag308.mtx", 2, (1, 1, 1e308), (2, 2, -1e308));
        AssertReport(new ExpectedReport(1e308, 1, 2, double.PositiveInfinity, 50, double.PositiveInfinity, 1e308, 1e308, "dense"), Analyze(path), Tight);
    }

    [Fact]
    public void MeasuresBeyondTheDoubleRangeAreInfinity()
    {
        // A = 1e308·[[1, 1], [1, 1]]: ρ = ω = r = 2e308 and ‖A‖ = 2e308, all beyond the largest double (1.8e308): the
        // correctly rounded double is +∞. κ = 1 (symmetric: orthonormal eigenvectors, to rounding). Two entries 1e308
        // summed at (1, 1) do the same in 1 × 1.
        string path = Coordinate("full308.mtx", 2, (1, 1, 1e308), (1, 2, 1e308), (2, 1, 1e308), (2, 2, 1e308));
        var infinity = double.PositiveInfinity;
        AssertReport(new ExpectedReport(infinity, 1, 2, infinity, 50, infinity, infinity, infinity, "dense"), Analyze(path), Tight);
        string sum = Coordinate("sum308.mtx", 1, (1, 1, 1e308), (1, 1, 1e308));
        AssertReport(new ExpectedReport(infinity, 1, 1, infinity, 50, infinity, infinity, infinity, "dense"), Analyze(sum), 0);

        var (code, output, _) = Run("analyze", path);
        Assert.Equal(0, code);
        Assert.Contains("Infinity (beyond the double range)", output, StringComparison.Ordinal);
        Assert.Contains("Infinity (ρ ≥ 1)", output, StringComparison.Ordinal);
    }

    [Fact]
    public void SubnormalEntriesAreAnalysedExactly()
    {
        // A = diag(4e-320, −2e-320) (subnormal doubles): normal, ρ = ‖A‖ = ω = r = 4e-320 (as parsed), κ = 1, Kreiss 1.
        double top = double.Parse("4e-320", CultureInfo.InvariantCulture);
        string path = Write("subnormal.mtx", "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 4e-320\n2 2 -2e-320\n");
        AssertReport(new ExpectedReport(top, 1, 2, top, 1, 1, top, top, "dense"), Analyze(path), 0);
    }

    [Theory]
    [InlineData(700)]
    [InlineData(-700)]
    public void ScalingByAPowerOfTwoScalesTheMeasuresExactly(int exponent)
    {
        // A = 2^e·[[0.9, 10], [0, 0.8]]: ρ = 0.9·2^e; κ(V) = |t| + √(1 + t²) with t = 10/(0.8 − 0.9) (scale-invariant);
        // W(A) is the ellipse with foci 0.9·2^e, 0.8·2^e and minor axis 10·2^e, so ω = r = 2^e(0.85 + √(0.05² + 5²)).
        // e = 700: ‖A²‖ ≥ 2^1400 overflows (argmax 50), Kreiss ∞ (ρ ≥ 1). e = −700: ‖Aᵏ‖ ≤ 2^(−700k)·‖N‖ᵏ falls, so
        // the maximum is ‖A‖ = 2^e·‖N‖ at k = 1, and ‖A‖ ≤ 1 gives Kreiss 1.
        double s = Math.ScaleB(1, exponent);
        string path = Coordinate("scaled.mtx", 2, (1, 1, 0.9 * s), (1, 2, 10 * s), (2, 2, 0.8 * s));
        double kappa = 100 + Math.Sqrt(1 + 1e4);
        double edge = 0.85 + Math.Sqrt((0.05 * 0.05) + 25);
        bool huge = exponent > 0;
        var expected = new ExpectedReport(
            0.9 * s, kappa, 2,
            huge ? double.PositiveInfinity : s * TwoByTwoNorm(0.9, 10, 0, 0.8), huge ? 50 : 1,
            huge ? double.PositiveInfinity : 1,
            s * edge, s * edge, "dense");

        // κ(V) ≈ 200 amplifies the eigenvector rounding errors: 1e-9 as in the shipped-example test.
        AssertReport(expected, Analyze(path), Tight, kappaTolerance: 1e-9);
    }

    [Theory]
    [InlineData(300, 300, 1e300)]
    [InlineData(400, 400, double.PositiveInfinity)]
    public void LongHorizonsPastTheDoubleRangeDoNotFail(int horizon, int argmax, double growth)
    {
        // A = diag(10, 1): ‖Aᵏ‖ = 10ᵏ, increasing; 10^400 is beyond the double range. Repeated products carry a relative
        // rounding error of at most k·ε ≈ 7e-14 at k = 300, hence 1e-12.
        string path = Coordinate("diag10.mtx", 2, (1, 1, 10), (2, 2, 1));
        var json = Analyze(path, "--horizon", Text(horizon));
        AssertClose(growth, Number(json.GetProperty("transientGrowth")), 1e-12, "transientGrowth");
        Assert.Equal(argmax, json.GetProperty("transientArgmax").GetInt32());
        Assert.Equal(10, Number(json.GetProperty("spectralRadius")), 1e-13);
    }

    [Fact]
    public void TransientPeakOfAJordanBlockIsFoundAtItsExactPower()
    {
        // A = [[λ, 1], [0, λ]], λ = 0.985: Aᵏ = [[λᵏ, kλᵏ⁻¹], [0, λᵏ]]; its norm peaks near k = λ/(1 − λ) ≈ 66, with
        // neighbours 1e-4 lower (far above rounding). Each ‖Aᵏ‖ is evaluated in closed form.
        const double Lambda = 0.985;
        string path = Coordinate("jordan985.mtx", 2, (1, 1, Lambda), (1, 2, 1), (2, 2, Lambda));
        var (best, argmax) = JordanBlockGrowth(Lambda, 1, 200);
        var json = Analyze(path, "--horizon", "200");
        Assert.Equal(argmax, json.GetProperty("transientArgmax").GetInt32());
        AssertClose(best, Number(json.GetProperty("transientGrowth")), 1e-12, "transientGrowth");
        AssertClose(KreissOfJordanBlock(Lambda, 1), Number(json.GetProperty("kreissConstant")), 1e-7, "kreissConstant");
    }

    [Theory]
    [InlineData(2.0)]
    [InlineData(1e100)]
    public void KreissConstantOfANilpotentOrJordanBlockWithLargeEntries(double b)
    {
        // [[0, b], [0, 0]] and [[0.4, b], [0, 0.4]]: ρ < 1 < ‖A‖, so the Kreiss constant is finite and above 1. Its value
        // is the one-dimensional supremum of KreissOfJordanBlock; the CLI's grid + Nelder–Mead search is accurate to
        // its refinement tolerance, 1e-10 relative in the objective, checked here to 1e-7.
        foreach (double lambda in new[] { 0.0, 0.4 })
        {
            string path = Coordinate("block.mtx", 2, (1, 1, lambda), (1, 2, b), (2, 2, lambda));
            var json = Analyze(path);
            AssertClose(KreissOfJordanBlock(lambda, b), Number(json.GetProperty("kreissConstant")), 1e-7, $"kreissConstant (λ = {lambda})");
            var (growth, argmax) = JordanBlockGrowth(lambda, b, 50);
            AssertClose(growth, Number(json.GetProperty("transientGrowth")), Tight, "transientGrowth");
            Assert.Equal(argmax, json.GetProperty("transientArgmax").GetInt32());
            Assert.Equal(double.PositiveInfinity, Number(json.GetProperty("eigenvectorCondition")));
            AssertClose(lambda + (b / 2), Number(json.GetProperty("numericalRadius")), Tight, "numericalRadius");
        }
    }

    [Fact]
    public void KreissConstantBeyondDoublePrecisionIsOneLineExitTwo()
    {
        // [[0, 1e200], [0, 0]]: K ≈ 2.5e199 is finite, but ‖(zI − A)⁻¹‖ ≈ 1e200/|z|² near the unit circle is beyond what
        // the resolvent search can represent (it needs 1/σ_min² < 1.8e308). No answer can be given: exit 2, one line.
        string path = Coordinate("nilpotent200.mtx", 2, (1, 2, 1e200));
        var (code, output, error) = Run("analyze", path, "--json");
        string line = AssertOneLineError(code, output, error);
        Assert.Contains("Kreiss constant", line, StringComparison.Ordinal);
        Assert.Contains(path, line, StringComparison.Ordinal);
    }
}
