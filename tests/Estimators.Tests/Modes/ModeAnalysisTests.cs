using Complex = System.Numerics.Complex;
using MathNet.Numerics.LinearAlgebra;
using SpectralMonitor.Estimators.Modes;
using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Estimators.Tests.Modes;

public class ModeAnalysisTests
{
    /// <summary>A random symmetric matrix Q·diag(λ)·Qᵀ with the given eigenvalues.</summary>
    private static Matrix<double> SymmetricWithSpectrum(double[] eigenvalues, int seed)
    {
        int n = eigenvalues.Length;
        var random = new Random(seed);
        var g = Matrix<double>.Build.Dense(n, n, (_, _) => random.NextDouble() - 0.5);
        var q = g.QR().Q;
        return q * Matrix<double>.Build.DenseOfDiagonalArray(eigenvalues) * q.Transpose();
    }

    /// <summary>The dense J of a 2×2-block optimizer over a symmetric C, on the state (x, y).</summary>
    private static Matrix<double> DenseJ(UpdateBlock b, Matrix<double> c)
    {
        int n = c.RowCount;
        var identity = Matrix<double>.Build.DenseIdentity(n);
        if (b.Size == 1)
        {
            return (b.D0 * identity) - (b.Alpha * c);
        }

        var j = Matrix<double>.Build.Dense(2 * n, 2 * n);
        j.SetSubMatrix(0, 0, (b.D0 * identity) - (b.Alpha * c));
        j.SetSubMatrix(0, n, -b.Beta * identity);
        j.SetSubMatrix(n, 0, b.Gamma * c);
        j.SetSubMatrix(n, n, b.Delta * identity);
        return j;
    }

    /// <summary>κ(V) of unit-norm complex eigenvectors of a real matrix, optionally restricted to a column subset.</summary>
    private static (Complex[] Values, double Kappa) DenseEigen(Matrix<double> a, Func<Complex, Vector<Complex>, bool>? keep = null)
    {
        var evd = a.Evd();
        int n = a.RowCount;
        var values = evd.EigenValues.ToArray();
        var columns = new List<Vector<Complex>>();
        for (int j = 0; j < n; j++)
        {
            Vector<Complex> v;
            var re = evd.EigenVectors.Column(j);
            if (values[j].Imaginary > 0 && j + 1 < n)
            {
                var im = evd.EigenVectors.Column(j + 1);
                v = Vector<Complex>.Build.Dense(n, i => new Complex(re[i], im[i]));
            }
            else if (values[j].Imaginary < 0 && j > 0)
            {
                var rePrev = evd.EigenVectors.Column(j - 1);
                v = Vector<Complex>.Build.Dense(n, i => new Complex(rePrev[i], -re[i]));
            }
            else
            {
                v = Vector<Complex>.Build.Dense(n, i => re[i]);
            }

            v /= v.L2Norm();
            if (keep is null || keep(values[j], v))
            {
                columns.Add(v);
            }
        }

        var matrix = Matrix<Complex>.Build.DenseOfColumnVectors(columns);
        var s = matrix.Svd(computeVectors: false).S;
        return (values, s[0].Magnitude / s[s.Count - 1].Magnitude);
    }

    [Theory]
    [InlineData(0.9, 0.0, false, 1)]
    [InlineData(0.5, 0.1, false, 2)]
    [InlineData(0.9, 0.0, true, 3)]
    public void SgdMomentumMatchesDenseEigendecomposition(double momentum, double dampening, bool nesterov, int seed)
    {
        // Curvatures spread from a negative (saddle) mode to near the stability edge, avoiding the exceptional points
        // (where the dense eigenvectors are not defined to working precision).
        const double eta = 0.1;
        var block = UpdateBlock.ForSgd(new SgdHyperparameters(eta, momentum, dampening, 0, nesterov));
        var random = new Random(seed);
        double edge = block.StabilityEdge;
        var (lowEp, highEp) = block.ExceptionalPoints;
        var curvatures = Enumerable.Range(0, 24).Select(_ => (random.NextDouble() * 1.1 * edge) - 0.5).ToList();
        curvatures.RemoveAll(l => Math.Abs(l - lowEp) < 0.05 * edge || Math.Abs(l - highEp) < 0.05 * edge);
        var c = SymmetricWithSpectrum([.. curvatures], seed);

        var result = ModeAnalysis.Analyze(block, curvatures, topModeCount: 4, horizon: 30);
        var (values, kappa) = DenseEigen(DenseJ(block, c));

        // Eigenvalues of a non-normal matrix are computed to about κ·ε·‖J‖; with κ ≲ 10³ here, 1e-8 is safe.
        Assert.Equal(values.Max(z => z.Magnitude), result.SpectralRadius, 1e-8);
        Assert.Equal(values.Where(z => z.Real < 0).Select(z => z.Magnitude).DefaultIfEmpty(0).Max(), result.OscillatoryRadius, 1e-8);
        Assert.Equal(values.Where(z => z.Real >= 0).Select(z => z.Magnitude).DefaultIfEmpty(0).Max(), result.MonotoneRadius, 1e-8);

        // κ(V) from a dense EVD + SVD is accurate to about κ²·ε relative; 1e-6 relative is the bar.
        Assert.Equal(1.0, result.EigenvectorCondition / kappa, 1e-6);
    }

    [Fact]
    public void TopModeConditionMatchesDenseRestrictedToTopEigenvectors()
    {
        const double eta = 0.05, mu = 0.9;
        var block = UpdateBlock.ForSgd(new SgdHyperparameters(eta, mu));
        double[] curvatures = [30, 25, 12, 4, 2, 1, 0.5, 0.2, -0.3];
        var c = SymmetricWithSpectrum(curvatures, 7);
        var evdC = c.Evd(MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric);
        var result = ModeAnalysis.Analyze(block, curvatures, topModeCount: 2, horizon: 10);

        // Keep the eigenvectors of J whose θ-part lies in the span of C's top two eigenvectors.
        int n = curvatures.Length;
        var top = Matrix<double>.Build.DenseOfColumnVectors(
            Enumerable.Range(0, n).OrderByDescending(i => evdC.EigenValues[i].Real).Take(2).Select(i => evdC.EigenVectors.Column(i)));
        var (_, kappaTop) = DenseEigen(DenseJ(block, c), (_, v) =>
        {
            var theta = Vector<Complex>.Build.Dense(n, i => v[i]);
            var momentum = Vector<Complex>.Build.Dense(n, i => v[n + i]);
            var topC = top.ToComplex();
            double inSpan = (topC.ConjugateTranspose() * theta).L2Norm() + (topC.ConjugateTranspose() * momentum).L2Norm();
            return inSpan > 0.5 * (theta.L2Norm() + momentum.L2Norm());
        });

        Assert.Equal(1.0, result.TopEigenvectorCondition / kappaTop, 1e-6);
        Assert.True(result.EigenvectorCondition >= result.TopEigenvectorCondition);
    }

    [Fact]
    public void AdamModesMatchDenseJInPreconditionedCoordinates()
    {
        // J of Adam with frozen P is similar, through diag(S, S⁻¹) with S = P^½, to the block operator over S·H·S.
        int n = 12;
        var random = new Random(11);
        var h = SymmetricWithSpectrum([.. Enumerable.Range(0, n).Select(i => (i * 0.7) - 1.0)], 3);
        var p = Enumerable.Range(0, n).Select(_ => 0.5 + (2 * random.NextDouble())).ToArray();
        var hp = new AdamHyperparameters(0.05, 0.9, 0.999);
        var block = UpdateBlock.ForAdam(hp, step: 10);
        double c1 = 1 / (1 - Math.Pow(0.9, 10));

        var pm = Matrix<double>.Build.DenseOfDiagonalArray(p);
        var identity = Matrix<double>.Build.DenseIdentity(n);
        var j = Matrix<double>.Build.Dense(2 * n, 2 * n);
        j.SetSubMatrix(0, 0, identity - (0.05 * c1 * 0.1 * pm * h));
        j.SetSubMatrix(0, n, -0.05 * c1 * 0.9 * pm);
        j.SetSubMatrix(n, 0, 0.1 * h);
        j.SetSubMatrix(n, n, 0.9 * identity);

        var s = Matrix<double>.Build.DenseOfDiagonalArray(p.Select(Math.Sqrt).ToArray());
        var shs = s * h * s;
        var curvatures = shs.Evd(MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric).EigenValues.Select(z => z.Real).ToArray();
        var result = ModeAnalysis.Analyze(block, curvatures, topModeCount: 3, horizon: 20);

        var (values, _) = DenseEigen(j);
        Assert.Equal(values.Max(z => z.Magnitude), result.SpectralRadius, 1e-8);

        var t = Matrix<double>.Build.DenseOfDiagonalArray([.. p.Select(Math.Sqrt), .. p.Select(x => 1 / Math.Sqrt(x))]);
        var (_, kappaScaled) = DenseEigen(t.Inverse() * j * t);
        Assert.Equal(1.0, result.EigenvectorCondition / kappaScaled, 1e-6);
    }

    [Fact]
    public void ExceptionalPointDistanceVanishesExactlyWhereTheBlockIsDefective()
    {
        // Heavy ball: exceptional points at ηλ = (1 ± √μ)², edge at ηλ = 2(1 + μ).
        const double eta = 0.2, mu = 0.81;
        var block = UpdateBlock.ForSgd(new SgdHyperparameters(eta, mu));
        var (lower, upper) = block.ExceptionalPoints;
        Assert.Equal(Math.Pow(1 - 0.9, 2) / eta, lower, 1e-12);
        Assert.Equal(Math.Pow(1 + 0.9, 2) / eta, upper, 1e-12);
        Assert.Equal(2 * (1 + mu) / eta, block.StabilityEdge, 1e-12);

        // Sweep the top curvature through the upper exceptional point: distance and discriminant change sign there.
        foreach (double offset in new[] { -1e-3, -1e-6, 0, 1e-6, 1e-3 })
        {
            double lambda = upper * (1 + offset);
            var r = ModeAnalysis.Analyze(block, [lambda, 0.1], topModeCount: 1, horizon: 5);
            Assert.Equal(-offset, r.ExceptionalPointDistance, 1e-12);
            double disc = block.Discriminant(lambda);
            Assert.Equal(Math.Sign(offset), Math.Sign(Math.Round(disc, 12)));
            if (offset == 0)
            {
                Assert.True(double.IsPositiveInfinity(r.TopEigenvectorCondition), "the block is defective at the exceptional point");
            }
            else
            {
                Assert.True(double.IsFinite(r.TopEigenvectorCondition));
            }
        }

        // At the exceptional point the dense 2×2 block is a nontrivial Jordan block: B − zI ≠ 0 but (B − zI)² = 0.
        var b = Matrix<double>.Build.DenseOfArray(block.Matrix(upper));
        double z = block.Trace(upper) / 2;
        var shifted = b - (z * Matrix<double>.Build.DenseIdentity(2));
        Assert.True(shifted.FrobeniusNorm() > 0.1);
        Assert.True((shifted * shifted).FrobeniusNorm() < 1e-12);
    }

    [Fact]
    public void AdamEdgeMatchesThePreconditionedSharpnessThreshold()
    {
        // (2 + 2β₁)/((1 − β₁)·η·c₁): 38/η for β₁ = 0.9 once the bias correction has decayed.
        var block = UpdateBlock.ForAdam(new AdamHyperparameters(1e-3, 0.9), step: 10_000);
        Assert.Equal(38 / 1e-3, block.StabilityEdge, 1e-6);

        // At the edge, the block has an eigenvalue exactly −1.
        var mode = ModeAnalysis.AnalyzeMode(block, block.StabilityEdge, 3);
        Assert.Contains(mode.Eigenvalues, z => Math.Abs(z.Real + 1) < 1e-9 && Math.Abs(z.Imaginary) < 1e-9);
    }

    [Fact]
    public void TransientGrowthOfABlockMatchesDensePowers()
    {
        var block = UpdateBlock.ForSgd(new SgdHyperparameters(0.1, 0.95));
        var mode = ModeAnalysis.AnalyzeMode(block, 0.5, 60);
        var b = Matrix<double>.Build.DenseOfArray(block.Matrix(0.5));
        var power = Matrix<double>.Build.DenseIdentity(2);
        double best = 0;
        int argmax = 0;
        for (int k = 1; k <= 60; k++)
        {
            power *= b;
            double norm = power.L2Norm();
            if (norm > best)
            {
                (best, argmax) = (norm, k);
            }
        }

        // Closed-form 2×2 norm vs SVD: both backward stable, 1e-12 relative.
        Assert.Equal(1.0, mode.TransientGrowth / best, 1e-12);
        Assert.Equal(argmax, mode.TransientArgmax);
        Assert.True(mode.TransientGrowth > 1, "heavy ball with μ = 0.95 amplifies low-curvature perturbations transiently");
    }

    [Theory]
    [InlineData(0.0, "SgdHyperparameters.LearningRate")]
    [InlineData(double.NaN, "SgdHyperparameters.LearningRate")]
    public void InvalidLearningRateNamesTheField(double lr, string field)
    {
        var error = Assert.Throws<ArgumentException>(() => UpdateBlock.ForSgd(new SgdHyperparameters(lr, 0.9)));
        Assert.Contains(field, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MomentumOutsideUnitIntervalIsRejected()
    {
        var error = Assert.Throws<ArgumentException>(() => UpdateBlock.ForAdam(new AdamHyperparameters(1e-3, Beta1: 1.0), 1));
        Assert.Contains("Beta1", error.Message, StringComparison.Ordinal);
    }
}
