using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Estimators.Tests.Krylov;

public class KrylovSchurFactorizationTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ExpandAndRestart_KeepTheKrylovSchurRelation(bool symmetric)
    {
        const int n = 150;
        var g = KrylovTestMatrices.Gaussian(n, n, 5);
        var a = symmetric ? KrylovTestMatrices.Symmetrize(g) : g;
        var op = new DenseMatrixOperator<double>(a, assumeSymmetric: symmetric);
        using var f = new KrylovSchurFactorization<double[]>(op, 30, symmetric);
        var start = new double[n];
        op.Space.FillRandom(start, Estimators.RandomKind.Gaussian, 1);

        Assert.Equal(FactorizationStatus.Completed, f.Initialize(start));
        Assert.Equal(FactorizationStatus.Completed, f.Expand(30, cancellationToken: Token));
        Assert.Equal(30, f.OperatorApplications);
        AssertRelation(op, f);

        // Restart onto an orthonormal basis U of an invariant subspace of S (12 or 13 directions): eigenvectors when
        // symmetric, otherwise the real basis of a conjugation-closed set of Schur vectors, as Arnoldi builds it.
        var s = f.ProjectedMatrix();
        double[,] u;
        if (symmetric)
        {
            var evd = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.DenseOfArray(s).Evd(MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric);
            u = evd.EigenVectors.SubMatrix(0, 30, 18, 12).ToArray();
        }
        else
        {
            var schur = Estimators.Dense.ComplexSchur.Decompose(s);
            var values = schur.Eigenvalues();
            var order = Enumerable.Range(0, 30).OrderByDescending(i => System.Numerics.Complex.Abs(values[i])).ToArray();
            var selected = new bool[30];
            int kept = 0;
            foreach (int i in order)
            {
                if (kept >= 12)
                {
                    break;
                }

                if (selected[i])
                {
                    continue;
                }

                selected[i] = true;
                kept++;
                if (Math.Abs(values[i].Imaginary) > 1e-12)
                {
                    int partner = Enumerable.Range(0, 30).Where(j => !selected[j]).OrderBy(j => System.Numerics.Complex.Abs(values[j] - System.Numerics.Complex.Conjugate(values[i]))).First();
                    selected[partner] = true;
                    kept++;
                }
            }

            var reordered = Estimators.Dense.ComplexSchur.Reorder(schur, selected);
            var stacked = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(30, 2 * kept);
            for (int c = 0; c < kept; c++)
            {
                for (int r = 0; r < 30; r++)
                {
                    stacked[r, c] = reordered.Z[r, c].Real;
                    stacked[r, kept + c] = reordered.Z[r, c].Imaginary;
                }
            }

            u = stacked.Svd().U.SubMatrix(0, 30, 0, kept).ToArray();
        }

        int p = u.GetLength(1);
        f.Restart(u);
        Assert.Equal(p, f.Size);
        Assert.Equal(p + 1, f.Basis.Count);
        AssertRelation(op, f);

        Assert.Equal(FactorizationStatus.Completed, f.Expand(30, cancellationToken: Token));
        Assert.Equal(30 + (30 - p), f.OperatorApplications);
        AssertRelation(op, f);
    }

    [Fact]
    public void Budget_Cancellation_AndArgumentChecks()
    {
        var op = KrylovTestMatrices.Laplacian(40);
        using var f = new KrylovSchurFactorization<double[]>(op, 10, symmetric: true);
        Assert.Throws<InvalidOperationException>(() => f.Expand(3, cancellationToken: Token));
        var start = new double[40];
        Assert.Equal(FactorizationStatus.ZeroStartVector, f.Initialize(start));
        start[0] = 1;
        Assert.Equal(FactorizationStatus.Completed, f.Initialize(start));
        Assert.Equal(FactorizationStatus.ApplicationLimitReached, f.Expand(10, applicationLimit: 4, cancellationToken: Token));
        Assert.Equal(4, f.Size);
        using var source = new CancellationTokenSource();
        source.Cancel();
        Assert.Equal(FactorizationStatus.Cancelled, f.Expand(10, cancellationToken: source.Token));
        Assert.Throws<ArgumentOutOfRangeException>("targetSize", () => f.Expand(11, cancellationToken: Token));
        Assert.Throws<ArgumentOutOfRangeException>("targetSize", () => f.Expand(2, cancellationToken: Token));
        Assert.Throws<ArgumentException>("u", () => f.Restart(new double[3, 2]));
        Assert.Throws<ArgumentOutOfRangeException>("maxDimension", () => new KrylovSchurFactorization<double[]>(op, 41, symmetric: true));
        Assert.Throws<InvalidOperationException>(() => f.AddRandomDirection(1));
    }

    /// <summary>‖A·Q − Q·S − q·bᵀ‖ and ‖[Q q]ᵀ[Q q] − I‖ at rounding level.</summary>
    internal static void AssertRelation(DenseMatrixOperator<double> op, KrylovSchurFactorization<double[]> f) =>
        AssertRelationWithin(op, f, relation: 1e-13, orthogonality: 1e-14);

    /// <summary>Every entry of A·Q − Q·S − q·bᵀ within <paramref name="relation"/>·‖A‖_F and of [Q q]ᵀ[Q q] − I within <paramref name="orthogonality"/>.</summary>
    internal static void AssertRelationWithin(DenseMatrixOperator<double> op, KrylovSchurFactorization<double[]> f, double relation, double orthogonality)
    {
        int n = op.Dimension;
        int j = f.Size;
        var s = f.ProjectedMatrix();
        var b = f.ResidualCoupling();
        var y = new double[n];
        double normA = 0;
        foreach (var v in op.ToArray())
        {
            normA += v * v;
        }

        normA = Math.Sqrt(normA);
        for (int c = 0; c < j; c++)
        {
            op.Apply(f.Basis[c], y);
            for (int r = 0; r < n; r++)
            {
                double qs = 0;
                for (int t = 0; t < j; t++)
                {
                    qs += f.Basis[t][r] * s[t, c];
                }

                double residual = f.IsInvariant ? 0 : f.Basis[j][r] * b[c];

                // Rounding of one matrix-vector product and the Gram–Schmidt passes: a few ε·‖A‖_F per entry.
                Assert.True(Math.Abs(y[r] - qs - residual) <= relation * normA, $"relation violated at ({r}, {c})");
            }
        }

        for (int i = 0; i < f.Basis.Count; i++)
        {
            for (int k = 0; k < f.Basis.Count; k++)
            {
                Assert.Equal(i == k ? 1 : 0, op.Space.Dot(f.Basis[i], f.Basis[k]), orthogonality);
            }
        }
    }
}
