using MathNet.Numerics.LinearAlgebra;
using SpectralMonitor.Estimators.NonNormality;

namespace SpectralMonitor.Estimators.Tests.NonNormality;

public class KreissConstantTests
{
    // Reference for J = λI + N (n × n, |λ| < 1). (zI − J)⁻¹ = Σ_{k<n} Nᵏ/wᵏ⁺¹ with w = z − λ; a diagonal unitary
    // similarity removes the phases, so ‖(zI − J)⁻¹‖₂ = ‖T(|w|)‖₂ with T(d) = Σ Nᵏ/dᵏ⁺¹ (nonnegative entries, decreasing
    // in d). On |z| = r the smallest |w| is r − |λ| (z on the ray of λ), hence
    // K(J) = sup_{r>1} (r − 1)·‖T(r − |λ|)‖₂ — a one-dimensional maximization, done here by a fine grid in log(r − 1)
    // and golden-section refinement.
    private static double JordanReference(int n, double lambda)
    {
        double F(double logDistance)
        {
            double d = Math.Exp(logDistance);
            double w = 1 + d - Math.Abs(lambda);
            var t = Matrix<double>.Build.Dense(n, n, (i, j) => j >= i ? 1 / Math.Pow(w, j - i + 1) : 0);
            return d * t.L2Norm();
        }

        double best = double.NegativeInfinity;
        double bestX = 0;
        const double Step = 0.01;
        for (double x = -25; x <= 10; x += Step)
        {
            double v = F(x);
            if (v > best)
            {
                (best, bestX) = (v, x);
            }
        }

        double a = bestX - Step;
        double b = bestX + Step;
        double ratio = (Math.Sqrt(5) - 1) / 2;
        while (b - a > 1e-12)
        {
            double x1 = b - (ratio * (b - a));
            double x2 = a + (ratio * (b - a));
            if (F(x1) >= F(x2))
            {
                b = x2;
            }
            else
            {
                a = x1;
            }
        }

        // The limit |z| → ∞ of (|z| − 1)‖(zI − J)⁻¹‖ is 1, so K ≥ 1 even when no finite r attains it.
        return Math.Max(1, Math.Max(best, F((a + b) / 2)));
    }

    [Theory]
    [InlineData(2, 0.0)]
    [InlineData(2, 0.5)]
    [InlineData(2, -0.8)]
    [InlineData(3, 0.3)]
    [InlineData(5, 0.0)]
    [InlineData(5, -0.5)]
    [InlineData(8, 0.9)]
    public void JordanBlockMatchesOneDimensionalReduction(int n, double lambda)
    {
        double expected = JordanReference(n, lambda);
        var result = KreissConstant.Dense(TestMatrices.Jordan(n, lambda));

        // Both sides maximize the same smooth function to ~1e-10 relative; 1e-7 leaves room for the
        // Nelder–Mead stopping rule (flat maximum: the value converges quadratically in the location).
        Assert.Null(result.Reason);
        Assert.Equal(expected, result.Value, 1e-7 * expected);

        // An interior maximizer lies on the ray of λ (positive real axis for λ > 0, negative for λ < 0); the objective
        // is flat in θ there (second order), so the location is checked loosely.
        if (lambda != 0 && expected > 1)
        {
            Assert.Equal(lambda > 0 ? 0 : Math.PI, Math.Abs(result.Maximizer.Phase), 1e-2);
        }
    }

    [Fact]
    public void TwoByTwoJordanHasClosedForm()
    {
        // J = [[λ, 1], [0, λ]]: ‖(zI − J)⁻¹‖ = (1 + √(1 + 4d²))/(2d²) with d = |z − λ| (singular values of
        // [[1/w, 1/w²], [0, 1/w]]), smallest on the ray of λ where d = r − |λ|. The reference is the maximum of the
        // explicit 1-D expression (r − 1)(1 + √(1 + 4d²))/(2d²) on a grid of step 1e-5 in r (error ~1e-10 at a quadratic
        // maximum).
        const double Lambda = 0.9;
        static double F(double r)
        {
            double d = r - Lambda;
            return (r - 1) * (1 + Math.Sqrt(1 + (4 * d * d))) / (2 * d * d);
        }

        double best = 0;
        for (double r = 1; r < 20; r += 1e-5)
        {
            best = Math.Max(best, F(r));
        }

        Assert.True(best > 2);
        Assert.Equal(best, KreissConstant.Dense(TestMatrices.Jordan(2, Lambda)).Value, 1e-8);

        // λ = 0: the same expression stays below 1 for every finite r and tends to 1, so K = 1 (the supremum at infinity).
        Assert.Equal(1, KreissConstant.Dense(TestMatrices.Jordan(2, 0)).Value, 1e-12);
    }

    [Fact]
    public void NormalStableMatrixHasKreissConstantOne()
    {
        var (a, _) = TestMatrices.Normal(10, 3, radius: 0.9);

        // For a normal matrix (r − 1)/dist(z, Λ) < 1 everywhere and → 1 as |z| → ∞.
        var result = KreissConstant.Dense(a);
        Assert.Equal(1, result.Value, 1e-12);
    }

    [Fact]
    public void UnstableMatrixIsInfinite()
    {
        var result = KreissConstant.Dense(TestMatrices.Jordan(3, 1.0));
        Assert.Equal(double.PositiveInfinity, result.Value);
        Assert.NotNull(result.Reason);
    }

    [Fact]
    public void KreissMatrixTheoremHoldsForAStableNonNormalMatrix()
    {
        var a = TestMatrices.WithSpectralRadius(TestMatrices.Grcar(12), 0.95);
        var kreiss = KreissConstant.Dense(a).Value;
        var growth = TransientGrowth.Dense(a, 400).Max;

        // K ≤ sup_k ‖Aᵏ‖ ≤ e·n·K (sup over k ≤ 400: ρ⁴⁰⁰ ≈ 1e-9, so the sup is attained earlier).
        Assert.True(kreiss <= growth * (1 + 1e-9), $"K = {kreiss}, max ‖Aᵏ‖ = {growth}");
        Assert.True(growth <= Math.E * 12 * kreiss, $"K = {kreiss}, max ‖Aᵏ‖ = {growth}");
    }
}
