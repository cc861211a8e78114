using SpectralMonitor.Estimators.Operators;
using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Estimators.Tests.Optimizers;

public class UpdateOperatorMatchesDenseTests
{
    // A matrix-vector product of length N summed in a different order differs by at most about N·ε·Σ|J_ij||x_j|;
    // with N ≤ 18 that is below 5e-15 of the scale, and 1e-12 leaves room for the few extra roundings of the
    // matrix-free path (P computed through √, the diagonal products) without hiding a wrong coefficient.
    private const double RelativeTolerance = 1e-12;

    public static TheoryData<string> CaseNames => new(OptimizerTestData.AllNames);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void ApplyAndTransposeEqualDenseMatrixWithOneHvpEach(string name)
    {
        int n = OptimizerTestData.Dimension;
        var c = OptimizerTestData.Case(name, n, seed: 11);
        var h = OptimizerTestData.SymmetricMatrix(n, seed: 12);
        var hessian = new DenseMatrixOperator<double>(h, assumeSymmetric: true);
        using var j = UpdateOperators.Create(c.Snapshot, hessian, c.Linearization, c.Gradient, c.Parameters);
        var dense = DenseUpdateMatrices.Create(c.Snapshot, h, c.Linearization, c.Gradient, c.Parameters);

        Assert.Equal(dense.Layout.Blocks, j.Layout.Blocks);
        int size = dense.Matrix.GetLength(0);
        Assert.Equal(size, j.Dimension);

        var random = new Random(13);
        for (int trial = 0; trial < 3; trial++)
        {
            var xFlat = OptimizerTestData.Normal(size, random);
            var x = Split(xFlat, j.Layout.Blocks.Count, n);
            var y = j.StateSpace.CreateVector();

            long before = hessian.TotalApplications;
            j.Apply(x, y);
            Assert.Equal(before + 1, hessian.TotalApplications);
            AssertClose(OptimizerTestData.Multiply(dense.Matrix, xFlat), Flatten(y), OptimizerTestData.ProductScale(dense.Matrix, xFlat));

            before = hessian.TotalApplications;
            j.ApplyTranspose(x, y);
            Assert.Equal(before + 1, hessian.TotalApplications);
            AssertClose(OptimizerTestData.Multiply(dense.Matrix, xFlat, transpose: true), Flatten(y), OptimizerTestData.ProductScale(dense.Matrix, xFlat, transpose: true));
        }
    }

    [Theory]
    [InlineData("sgd-momentum-dampening")]
    [InlineData("adam")]
    [InlineData("adam-l2")]
    [InlineData("adamw-beta1-zero-maximize")]
    [InlineData("adam-amsgrad")]
    [InlineData("rmsprop-centered-momentum-maximize")]
    public void PreconditionedHessianIsSymmetricAndEqualsDense(string name)
    {
        int n = OptimizerTestData.Dimension;
        var c = OptimizerTestData.Case(name, n, seed: 21);
        var h = OptimizerTestData.SymmetricMatrix(n, seed: 22);
        var hessian = new DenseMatrixOperator<double>(h, assumeSymmetric: true);
        using var sks = UpdateOperators.CreatePreconditionedHessian(c.Snapshot, hessian);
        var dense = DenseUpdateMatrices.PreconditionedHessian(c.Snapshot, h);
        Assert.True(sks.IsSymmetric);

        var random = new Random(23);
        for (int trial = 0; trial < 3; trial++)
        {
            var x = OptimizerTestData.Normal(n, random);
            var y = new double[n];
            long before = hessian.TotalApplications;
            sks.Apply(x, y);
            Assert.Equal(before + 1, hessian.TotalApplications);
            AssertClose(OptimizerTestData.Multiply(dense, x), y, OptimizerTestData.ProductScale(dense, x));
        }

        // The dense S·K·S is symmetric entry for entry (both sides are the same products of three numbers).
        for (int i = 0; i < n; i++)
        {
            for (int k = 0; k < n; k++)
            {
                Assert.Equal(dense[i, k], dense[k, i], 1e-15 * OptimizerTestData.MaxAbs(dense));
            }
        }
    }

    [Fact]
    public void PreconditionedHessianIsSimilarToPreconditionedCurvature()
    {
        // P·K = S·(S·K·S)·S⁻¹, so the eigenvalues agree; the dense eigen-solvers of MathNet give both spectra.
        int n = OptimizerTestData.Dimension;
        var c = OptimizerTestData.Case("adam-l2", n, seed: 31);
        var h = OptimizerTestData.SymmetricMatrix(n, seed: 32);
        var sks = DenseUpdateMatrices.PreconditionedHessian(c.Snapshot, h);
        var hessian = new DenseMatrixOperator<double>(h, assumeSymmetric: true);
        using var frozen = new AdamUpdateOperator<double[]>((AdamSnapshot<double[]>)c.Snapshot, hessian);
        var p = frozen.Preconditioner;
        double lambda = ((AdamSnapshot<double[]>)c.Snapshot).Hyperparameters.WeightDecay;
        var pk = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int k = 0; k < n; k++)
            {
                pk[i, k] = p[i] * (h[i, k] + (i == k ? lambda : 0));
            }
        }

        var symmetric = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.DenseOfArray(sks).Evd(MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric).EigenValues.Select(z => z.Real).Order().ToArray();
        var general = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.DenseOfArray(pk).Evd().EigenValues;
        var generalReal = general.Select(z => z.Real).Order().ToArray();
        double scale = symmetric.Max(Math.Abs);

        // Eigenvalues of a similarity transform of a symmetric matrix are real and well conditioned for the
        // symmetric form; the non-symmetric EVD of P·K loses at most κ(S)·ε·‖·‖ ≈ 1e-14 relative here.
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(0, general[i].Imaginary, 1e-10 * scale);
            Assert.Equal(symmetric[i], generalReal[i], 1e-10 * scale);
        }
    }

    internal static BlockVector<double[]> Split(double[] flat, int blocks, int n)
    {
        var parts = new double[blocks][];
        for (int b = 0; b < blocks; b++)
        {
            parts[b] = flat.AsSpan(b * n, n).ToArray();
        }

        return new BlockVector<double[]>(parts);
    }

    internal static double[] Flatten(BlockVector<double[]> x)
    {
        var flat = new List<double>();
        for (int b = 0; b < x.BlockCount; b++)
        {
            flat.AddRange(x[b]);
        }

        return [.. flat];
    }

    private static void AssertClose(double[] expected, double[] actual, double scale)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(
                Math.Abs(expected[i] - actual[i]) <= RelativeTolerance * scale,
                $"Entry {i}: expected {expected[i]:R}, got {actual[i]:R} (scale {scale:G3}).");
        }
    }
}
