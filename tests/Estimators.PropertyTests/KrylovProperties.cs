using FsCheck.Xunit;
using MathNet.Numerics.LinearAlgebra;
using SpectralMonitor.Estimators.Cpu;
using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Estimators.PropertyTests;

public class KrylovProperties
{
    private const double Epsilon = 2.220446049250313e-16;

    /// <summary>
    /// CGS2 keeps the basis orthonormal to working precision: ‖QᵀQ − I‖_F ≤ c·ε·k, before and after a thick restart
    /// and a second expansion. c = 10 covers the two passes' rounding with margin (measured values are ~1·ε·k).
    /// </summary>
    [Property(MaxTest = 30)]
    public void BasisStaysOrthonormal_AfterExpansionAndRestart(int seed, byte sizeByte, bool symmetric)
    {
        int n = 8 + (sizeByte % 50);
        int m = Math.Min(n, 3 + (Math.Abs(seed) % 20));
        var g = Gaussian(n, seed);
        var a = symmetric ? Symmetrize(g) : g;
        var op = new DenseMatrixOperator<double>(a, assumeSymmetric: symmetric);
        using var f = new KrylovSchurFactorization<double[]>(op, m, symmetric);
        var start = new double[n];
        op.Space.FillRandom(start, RandomKind.Gaussian, seed);
        Assert.Equal(FactorizationStatus.Completed, f.Initialize(start));

        var status = f.Expand(m, cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(status is FactorizationStatus.Completed or FactorizationStatus.InvariantSubspace);
        AssertOrthonormal(f.Basis);
        if (status != FactorizationStatus.Completed || m < 2)
        {
            return;
        }

        // Restart onto p orthonormal columns spanning an invariant subspace of S. For a general S, the Schur vectors of
        // a real Schur form are not available from MathNet, so use the symmetric part's eigenvectors only to exercise
        // the basis transform: orthonormality of Q·U holds for any orthonormal U.
        var s = Matrix<double>.Build.DenseOfArray(f.ProjectedMatrix());
        var u = (s + s.Transpose()).Evd(Symmetricity.Symmetric).EigenVectors;
        int p = Math.Max(1, m / 2);
        f.Restart(u.SubMatrix(0, m, m - p, p).ToArray());
        AssertOrthonormal(f.Basis);
        f.Expand(m, cancellationToken: TestContext.Current.CancellationToken);
        AssertOrthonormal(f.Basis);
    }

    /// <summary>
    /// Lanczos eigenvalues of random symmetric matrices equal the dense ones: each converged Ritz value is within its
    /// residual (≤ 1e-10·|θ|) of an eigenvalue; 1e-8·‖A‖_F leaves room for a near-degenerate pair.
    /// </summary>
    [Property(MaxTest = 30)]
    public void LanczosMatchesDenseEigenvalues(int seed, byte sizeByte, byte countByte, bool smallest)
    {
        int n = 5 + (sizeByte % 40);
        int k = 1 + (countByte % Math.Min(3, n));
        var a = Symmetrize(Gaussian(n, seed));
        var op = new DenseMatrixOperator<double>(a, assumeSymmetric: true);
        var which = smallest ? EigenvalueSelection.SmallestAlgebraic : EigenvalueSelection.LargestAlgebraic;
        var options = new LanczosOptions { Count = k, Which = which, KrylovDimension = Math.Min(n, (2 * k) + 10), Tolerance = 1e-10, MaxRestarts = 1000, Seed = seed };

        var result = Lanczos.Solve(op, options, cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(result.Convergence.IsConverged, result.Convergence.Reason);
        var dense = Matrix<double>.Build.DenseOfArray(a).Evd(Symmetricity.Symmetric).EigenValues.Select(v => v.Real).Order().ToArray();
        if (!smallest)
        {
            Array.Reverse(dense);
        }

        double norm = Matrix<double>.Build.DenseOfArray(a).FrobeniusNorm();
        for (int i = 0; i < k; i++)
        {
            Assert.Equal(dense[i], result.Eigenvalues[i], 1e-8 * norm);
        }
    }

    private static void AssertOrthonormal(IBasis<double[]> basis)
    {
        var space = new CpuVectorSpace<double>(basis[0].Length);
        double sum = 0;
        for (int i = 0; i < basis.Count; i++)
        {
            for (int j = 0; j < basis.Count; j++)
            {
                double d = space.Dot(basis[i], basis[j]) - (i == j ? 1 : 0);
                sum += d * d;
            }
        }

        Assert.True(Math.Sqrt(sum) <= 10 * Epsilon * basis.Count, $"‖QᵀQ − I‖_F = {Math.Sqrt(sum):E3} for {basis.Count} vectors");
    }

    private static double[,] Gaussian(int n, int seed)
    {
        var random = new Random(seed);
        var g = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                g[i, j] = (2 * random.NextDouble()) - 1;
            }
        }

        return g;
    }

    private static double[,] Symmetrize(double[,] a)
    {
        int n = a.GetLength(0);
        var s = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                s[i, j] = 0.5 * (a[i, j] + a[j, i]);
            }
        }

        return s;
    }
}
