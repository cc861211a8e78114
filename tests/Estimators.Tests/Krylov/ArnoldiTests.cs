using System.Numerics;
using MathNet.Numerics.LinearAlgebra;
using SpectralMonitor.Estimators.Cpu;
using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Estimators.Tests.Krylov;

public class ArnoldiTests(ITestOutputHelper output)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>
    /// A non-normal matrix with a random bulk of radius ≈ 1 (Gaussian/√n, circular law) plus a rank-5 real perturbation
    /// whose eigenvalues are 3, −2.6, 2 ± 1.5i and 1.2: the eigenvalues of A lie near these (MathNet gives them exactly).
    /// </summary>
    private static double[,] NonNormalWithOutliers(int n, int seed)
    {
        var g = Matrix<double>.Build.DenseOfArray(KrylovTestMatrices.Gaussian(n, n, seed)) / Math.Sqrt(n);
        var q = Matrix<double>.Build.DenseOfArray(KrylovTestMatrices.Gaussian(n, 5, seed + 1)).QR().Q.SubMatrix(0, n, 0, 5);
        var c = Matrix<double>.Build.DenseOfArray(new double[,]
        {
            { 3, 0, 0, 0, 0 },
            { 0, -2.6, 0, 0, 0 },
            { 0, 0, 2, 1.5, 0 },
            { 0, 0, -1.5, 2, 0 },
            { 0, 0, 0, 0, 1.2 },
        });
        return (g + (q * c * q.Transpose())).ToArray();
    }

    private static Complex[] DenseEigenvalues(double[,] a) => Matrix<double>.Build.DenseOfArray(a).Evd().EigenValues.ToArray();

    [Theory]
    [InlineData(50, EigenvalueSelection.LargestMagnitude, 4)]
    [InlineData(100, EigenvalueSelection.LargestMagnitude, 4)]
    [InlineData(200, EigenvalueSelection.LargestRealPart, 3)]
    [InlineData(400, EigenvalueSelection.LargestMagnitude, 4)]
    public void NonNormalMatrices_MatchDenseEigenvalues(int n, EigenvalueSelection which, int k)
    {
        var a = NonNormalWithOutliers(n, n);
        var op = new DenseMatrixOperator<double>(a);
        var options = new ArnoldiOptions { Count = k, Which = which, KrylovDimension = 20, Tolerance = 1e-10 };
        using var basis = op.Space.CreateBasis(20);

        var result = Arnoldi.Solve(op, options, basis: basis, cancellationToken: Token);

        output.WriteLine($"n={n} {which}: {result.Convergence.Status}, {result.Convergence.OperatorApplications} applications, {result.Convergence.Iterations} restarts");
        Assert.True(result.Convergence.IsConverged, result.Convergence.Reason);
        Assert.Equal(k, result.Eigenvalues.Count);

        var dense = DenseEigenvalues(a);
        var wanted = which == EigenvalueSelection.LargestMagnitude
            ? dense.OrderByDescending(Complex.Abs).Take(k).ToArray()
            : dense.OrderByDescending(v => v.Real).Take(k).ToArray();

        // Converged to residual ≤ 1e-10·|λ|; these outliers have eigenvalue condition numbers of order 1–10 (the bulk is
        // a perturbation of norm ≈ 2), so the eigenvalue error is ≲ 1e-9·|λ|. 1e-8 absolute leaves a margin.
        ComplexSchurTests.AssertSameSet(wanted, result.Eigenvalues, 1e-8);

        // Ordered by Which.
        for (int i = 1; i < k; i++)
        {
            double previous = which == EigenvalueSelection.LargestMagnitude ? Complex.Abs(result.Eigenvalues[i - 1]) : result.Eigenvalues[i - 1].Real;
            double current = which == EigenvalueSelection.LargestMagnitude ? Complex.Abs(result.Eigenvalues[i]) : result.Eigenvalues[i].Real;
            Assert.True(previous >= current - 1e-9, $"eigenvalue {i} out of order");
        }

        AssertProjectedMatrixAndRitzVectors(op, a, result, basis);
    }

    [Fact]
    public void GaussianMatrixWithoutOutliers_LeadingEigenvaluesByMagnitude()
    {
        // The hardest case for the test sizes: a plain Gaussian matrix (eigenvalues fill a disk, small gaps at its edge).
        const int n = 60;
        var a = KrylovTestMatrices.Gaussian(n, n, 77);
        var op = new DenseMatrixOperator<double>(a);
        var result = Arnoldi.Solve(op, new ArnoldiOptions { Count = 2, KrylovDimension = 30, Tolerance = 1e-10, MaxRestarts = 500 }, cancellationToken: Token);

        output.WriteLine($"{result.Convergence.Status}, {result.Convergence.OperatorApplications} applications, {result.Convergence.Iterations} restarts");
        Assert.True(result.Convergence.IsConverged, result.Convergence.Reason);
        var wanted = DenseEigenvalues(a).OrderByDescending(Complex.Abs).Take(2).ToArray();

        // ‖A‖ ≈ 2√n ≈ 15, residual ≤ 1e-10·|λ| ≈ 1e-9, eigenvalue condition numbers of a Gaussian matrix ~ √n: ≲ 1e-7.
        ComplexSchurTests.AssertSameSet(wanted, result.Eigenvalues, 1e-7);
    }

    [Fact]
    public void ComplexPairsAreReportedAdjacentAndConjugate()
    {
        // Rotation blocks r·R(φ) with r = 5, 4, 3, 2, 1, … in a random basis, plus a small non-normal part.
        const int n = 80;
        var d = Matrix<double>.Build.Dense(n, n);
        for (int b = 0; b < n; b += 2)
        {
            double r = b < 10 ? 5 - (b / 2) : 0.5;
            double angle = 0.4 + (0.2 * b);
            d[b, b] = r * Math.Cos(angle);
            d[b, b + 1] = r * Math.Sin(angle);
            d[b + 1, b] = -r * Math.Sin(angle);
            d[b + 1, b + 1] = r * Math.Cos(angle);
            if (b + 2 < n)
            {
                d[b, b + 2] = 0.3;
            }
        }

        var q = Matrix<double>.Build.DenseOfArray(KrylovTestMatrices.RandomOrthogonal(n, 8));
        var a = (q * d * q.Transpose()).ToArray();
        var op = new DenseMatrixOperator<double>(a);
        using var basis = op.Space.CreateBasis(20);

        var result = Arnoldi.Solve(op, new ArnoldiOptions { Count = 4, KrylovDimension = 20, Tolerance = 1e-10 }, basis: basis, cancellationToken: Token);

        Assert.True(result.Convergence.IsConverged, result.Convergence.Reason);

        // The block upper triangular d keeps the block eigenvalues exactly: 5e^{±0.4i} and 4e^{±0.8i}.
        Complex[] expected = [Complex.FromPolarCoordinates(5, 0.4), Complex.FromPolarCoordinates(5, -0.4), Complex.FromPolarCoordinates(4, 0.8), Complex.FromPolarCoordinates(4, -0.8)];
        for (int i = 0; i < 4; i++)
        {
            // Residual 1e-10·|λ| and condition numbers O(1) (the coupling 0.3 is small next to the gaps).
            Assert.Equal(expected[i].Real, result.Eigenvalues[i].Real, 1e-8);
            Assert.Equal(expected[i].Imaginary, result.Eigenvalues[i].Imaginary, 1e-8);
        }

        // The two members of a computed pair are conjugate to rounding (the Schur form of a real matrix is complex).
        Assert.True(Complex.Abs(result.Eigenvalues[0] - Complex.Conjugate(result.Eigenvalues[1])) <= 1e-12 * 5);
        Assert.True(result.Eigenvalues[0].Imaginary > 0 && result.Eigenvalues[2].Imaginary > 0);
        AssertProjectedMatrixAndRitzVectors(op, a, result, basis);
    }

    [Fact]
    public void InvariantSubspace_ConvergesWithExactEigenvalues()
    {
        // A = u·vᵀ·2 + w·zᵀ (rank 2, non-symmetric): the Krylov space of a start vector is span{x, u, w}.
        const int n = 40;
        var q = KrylovTestMatrices.RandomOrthogonal(n, 4);
        var a = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                a[i, j] = (2 * q[i, 0] * q[j, 0]) + (0.5 * q[i, 0] * q[j, 1]) - (q[i, 1] * q[j, 1]);
            }
        }

        var op = new DenseMatrixOperator<double>(a);
        var result = Arnoldi.Solve(op, new ArnoldiOptions { Count = 2, KrylovDimension = 10 }, cancellationToken: Token);

        Assert.Equal(ConvergenceStatus.Converged, result.Convergence.Status);
        Assert.Equal(3, result.Convergence.OperatorApplications);

        // Eigenvalues 2 and −1 (upper triangular in the basis q₀, q₁), exact to rounding.
        Assert.Equal(2, result.Eigenvalues[0].Real, 1e-13);
        Assert.Equal(-1, result.Eigenvalues[1].Real, 1e-13);
    }

    [Fact]
    public void StatusesForZeroStartNaNAndCancellation()
    {
        var space = new CpuVectorSpace<double>(30);
        var diagonal = new DelegateOperator<double[]>(space, (x, y) =>
        {
            for (int i = 0; i < x.Length; i++)
            {
                y[i] = (i + 1) * x[i];
            }
        });
        var zero = Arnoldi.Solve(diagonal, new ArnoldiOptions(), startVector: new double[30], cancellationToken: Token);
        Assert.Equal(ConvergenceStatus.Breakdown, zero.Convergence.Status);
        Assert.Empty(zero.Eigenvalues);

        int calls = 0;
        var poisoned = new DelegateOperator<double[]>(space, (x, y) =>
        {
            for (int i = 0; i < x.Length; i++)
            {
                y[i] = (i + 1) * x[i];
            }

            if (++calls == 4)
            {
                y[0] = double.NaN;
            }
        });
        var nan = Arnoldi.Solve(poisoned, new ArnoldiOptions { Count = 2 }, cancellationToken: Token);
        Assert.Equal(ConvergenceStatus.NonFiniteOperatorOutput, nan.Convergence.Status);
        Assert.Equal(2, nan.Eigenvalues.Count);
        Assert.Equal(3, nan.ProjectedMatrix.GetLength(0));

        using var source = new CancellationTokenSource();
        source.Cancel();
        var cancelled = Arnoldi.Solve(diagonal, new ArnoldiOptions(), cancellationToken: source.Token);
        Assert.Equal(ConvergenceStatus.Cancelled, cancelled.Convergence.Status);
        Assert.Equal(0, cancelled.Convergence.OperatorApplications);
    }

    [Fact]
    public void InvalidOptions_ThrowWithTheOptionNamed()
    {
        var op = new DenseMatrixOperator<double>(KrylovTestMatrices.Gaussian(30, 30, 1));
        var which = Assert.Throws<ArgumentException>("options", () => Arnoldi.Solve(op, new ArnoldiOptions { Which = EigenvalueSelection.SmallestAlgebraic }, cancellationToken: Token));
        Assert.Contains("Which is SmallestAlgebraic", which.Message, StringComparison.Ordinal);
        var tight = Assert.Throws<ArgumentException>("options", () => Arnoldi.Solve(op, new ArnoldiOptions { Count = 3, KrylovDimension = 4 }, cancellationToken: Token));
        Assert.Contains("KrylovDimension is 4", tight.Message, StringComparison.Ordinal);
        var count = Assert.Throws<ArgumentException>("options", () => Arnoldi.Solve(op, new ArnoldiOptions { Count = 31 }, cancellationToken: Token));
        Assert.Contains("Count is 31", count.Message, StringComparison.Ordinal);
        using var small = op.Space.CreateBasis(5);
        Assert.Throws<ArgumentException>("basis", () => Arnoldi.Solve(op, new ArnoldiOptions(), basis: small, cancellationToken: Token));
        Assert.Throws<ArgumentException>("startVector", () => Arnoldi.Solve(op, new ArnoldiOptions(), startVector: new double[3], cancellationToken: Token));
    }

    /// <summary>
    /// ProjectedMatrix = QᵀAQ computed from the returned basis, Q orthonormal, and each Ritz vector Q·y has the
    /// reported residual and unit norm.
    /// </summary>
    private static void AssertProjectedMatrixAndRitzVectors(DenseMatrixOperator<double> op, double[,] a, ArnoldiResult result, IBasis<double[]> basis)
    {
        int n = a.GetLength(0);
        int m = basis.Count;
        Assert.Equal(m, result.ProjectedMatrix.GetLength(0));
        Assert.Equal(m, result.RitzCoordinates.GetLength(0));
        Assert.Equal(result.Eigenvalues.Count, result.RitzCoordinates.GetLength(1));
        var aq = new double[m][];
        double normA = Matrix<double>.Build.DenseOfArray(a).FrobeniusNorm();
        for (int j = 0; j < m; j++)
        {
            aq[j] = new double[n];
            op.Apply(basis[j], aq[j]);
        }

        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < m; j++)
            {
                // Orthonormal to rounding (two Gram–Schmidt passes): a few ε per entry, times √n for the inner product.
                Assert.Equal(i == j ? 1 : 0, op.Space.Dot(basis[i], basis[j]), 1e-13);

                // QᵀAQ equals S up to the orthogonality error times ‖A‖.
                Assert.Equal(op.Space.Dot(basis[i], aq[j]), result.ProjectedMatrix[i, j], 1e-12 * normA);
            }
        }

        for (int c = 0; c < result.Eigenvalues.Count; c++)
        {
            var lambda = result.Eigenvalues[c];
            double residual = 0;
            double norm = 0;
            for (int r = 0; r < n; r++)
            {
                Complex x = Complex.Zero;
                Complex ax = Complex.Zero;
                for (int j = 0; j < m; j++)
                {
                    x += basis[j][r] * result.RitzCoordinates[j, c];
                    ax += aq[j][r] * result.RitzCoordinates[j, c];
                }

                residual += Complex.Abs(ax - (lambda * x)) * Complex.Abs(ax - (lambda * x));
                norm += Complex.Abs(x) * Complex.Abs(x);
            }

            Assert.Equal(1, Math.Sqrt(norm), 1e-12);

            // The reported |bᵀy| and the true residual differ by the rounding of A·Q = Q·S + q·bᵀ: ≈ n·ε·‖A‖.
            Assert.Equal(result.Convergence.ResidualNorms[c], Math.Sqrt(residual), 1e-11 * normA);
        }
    }
}
