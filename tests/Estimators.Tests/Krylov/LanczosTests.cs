using MathNet.Numerics.LinearAlgebra;
using SpectralMonitor.Estimators.Cpu;
using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Estimators.Tests.Krylov;

public class LanczosTests(ITestOutputHelper output)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public void LaplacianWithOutliersAtDimension100000_TopFiveToTolerance()
    {
        // The pure 1-D Laplacian of size 10⁵ has its top five eigenvalues within 2.5e-8 of 4 (gaps ≈ 3π²/n² ≈ 3e-9),
        // so no Krylov method resolves them to 1e-8 in a few thousand applications (measured: 3060 applications
        // still left the top one at 1.4e-7). This operator keeps the 10⁵ scale and the Laplacian bulk of the CSR
        // matrix, and puts five closed-form outliers above it: spectrum {2 − 2cos(jπ/(n − 4))} ∪ {5, 6, 7, 8, 9}.
        const int n = 100_000;
        double[] outliers = [5, 6, 7, 8, 9];
        var op = KrylovTestMatrices.LaplacianWithOutliers(n, outliers);
        var options = new LanczosOptions { Count = 5, KrylovDimension = 20, Tolerance = 1e-8 };
        var space = op.Space;
        using var vectors = space.CreateBasis(5);

        var result = Lanczos.Solve(op, options, eigenvectors: vectors, cancellationToken: Token);

        output.WriteLine($"{result.Convergence.Status}: {result.Convergence.OperatorApplications} applications, {result.Convergence.Iterations} restarts");
        Assert.Equal(ConvergenceStatus.Converged, result.Convergence.Status);
        Assert.Equal(5, result.Convergence.ConvergedCount);

        // Measured: 36 applications (2 restarts) with m = 20; allow headroom for a different seed or platform.
        Assert.InRange(result.Convergence.OperatorApplications, 5, 120);
        for (int i = 0; i < 5; i++)
        {
            double exact = outliers[4 - i];

            // A residual r bounds the eigenvalue error by r²/gap (gap ≥ 1 here) plus rounding: 1e-8 relative is loose.
            Assert.Equal(exact, result.Eigenvalues[i], 1e-8 * exact);
            double residual = KrylovTestMatrices.Residual(op, vectors[i], result.Eigenvalues[i]);
            Assert.True(residual <= options.Tolerance * exact, $"‖Ax − θx‖ = {residual:E3} for θ = {result.Eigenvalues[i]}");

            // The reported residual estimate |bᵀy| agrees with the true one up to the loss of orthogonality (≈ √n·ε·‖A‖).
            Assert.Equal(residual, result.Convergence.ResidualNorms[i], 1e-10);
        }
    }

    [Fact]
    public void LaplacianAtDimension100000_TopEigenvalueToMonitorTolerance()
    {
        // The monitor's target tolerance (1e-3, DESIGN §8) on the pure 1-D Laplacian of size 10⁵: feasible, because the
        // Ritz value approaches the edge of the dense spectrum like (π/j)², and 1e-3·4 needs only a few dozen steps.
        const int n = 100_000;
        var op = KrylovTestMatrices.Laplacian(n);
        var options = new LanczosOptions { Count = 1, KrylovDimension = 30, Tolerance = 1e-3 };
        using var vectors = op.Space.CreateBasis(1);

        var result = Lanczos.Solve(op, options, eigenvectors: vectors, cancellationToken: Token);

        output.WriteLine($"{result.Convergence.Status}: {result.Convergence.OperatorApplications} applications");
        Assert.True(result.Convergence.IsConverged, result.Convergence.Reason);
        double exact = 2 - (2 * Math.Cos(n * Math.PI / (n + 1)));

        // The Ritz value is a Rayleigh quotient: below λ_max, and its error is ≤ r²/(spectral gap), far below 1e-3 here.
        Assert.InRange(result.Eigenvalues[0], exact * (1 - 1e-3), exact + (1e-12 * exact));
        double residual = KrylovTestMatrices.Residual(op, vectors[0], result.Eigenvalues[0]);
        Assert.True(residual <= 1e-3 * result.Eigenvalues[0], $"residual {residual}");
    }

    [Fact]
    public void LaplacianAtDimension1000_TopFiveToRoundingLevel()
    {
        // The top five eigenvalues of the 1-D Laplacian, n = 1000, to residual 1e-8 (relative gap ≈ 1e-5: a hard case).
        const int n = 1000;
        var op = KrylovTestMatrices.Laplacian(n);
        var exact = KrylovTestMatrices.LaplacianEigenvalues(n);
        var options = new LanczosOptions { Count = 5, KrylovDimension = 60, Tolerance = 1e-8, MaxRestarts = 200 };
        using var vectors = op.Space.CreateBasis(5);

        var result = Lanczos.Solve(op, options, eigenvectors: vectors, cancellationToken: Token);

        output.WriteLine($"{result.Convergence.Status}: {result.Convergence.OperatorApplications} applications, {result.Convergence.Iterations} restarts");
        Assert.True(result.Convergence.IsConverged, result.Convergence.Reason);
        for (int i = 0; i < 5; i++)
        {
            // Eigenvalue error ≤ r²/gap + rounding: (4e-8)²/5e-5 ≈ 3e-11 absolute; 1e-12 relative covers the measured 1e-14.
            Assert.Equal(exact[n - 1 - i], result.Eigenvalues[i], 1e-10);
            Assert.True(KrylovTestMatrices.Residual(op, vectors[i], result.Eigenvalues[i]) <= 1e-8 * 4 * 1.01);
        }
    }

    public static TheoryData<EigenvalueSelection, double[]> Selections() => new()
    {
        { EigenvalueSelection.LargestAlgebraic, [10, 9, 8] },
        { EigenvalueSelection.SmallestAlgebraic, [-7, -6, -5] },
        { EigenvalueSelection.LargestMagnitude, [10, 9, 8] },
        { EigenvalueSelection.SmallestMagnitude, [0.5, -1, 2] },
        { EigenvalueSelection.BothEnds, [10, 9, -7] },
        { EigenvalueSelection.LargestRealPart, [10, 9, 8] },
    };

    [Theory]
    [MemberData(nameof(Selections))]
    public void DiagonalWithKnownSpectrum_EachSelection(EigenvalueSelection which, double[] expected)
    {
        // Outliers 10, 9, 8 and −7, −6, −5 around a bulk in [−3, 3] that contains 0.5, −1 and 2 as the
        // smallest-modulus eigenvalues (the bulk is kept away from 0 so that SmallestMagnitude is well separated).
        var values = new List<double> { 10, 9, 8, -7, -6, -5, 0.5, -1, 2 };
        for (int i = 0; i < 291; i++)
        {
            double t = -3 + (6.0 * i / 290);
            if (Math.Abs(t) >= 2.5)
            {
                values.Add(t);
            }
        }

        var op = KrylovTestMatrices.Diagonal([.. values]);
        var options = new LanczosOptions { Count = 3, Which = which, KrylovDimension = 40, Tolerance = 1e-10, MaxRestarts = 500 };

        var result = Lanczos.Solve(op, options, cancellationToken: Token);

        Assert.True(result.Convergence.IsConverged, result.Convergence.Reason);
        Assert.Equal(3, result.Eigenvalues.Count);
        for (int i = 0; i < 3; i++)
        {
            // Converged to residual 1e-10·|θ| with gaps ≥ 0.5: eigenvalue error ≤ r²/gap, far below 1e-9.
            Assert.Equal(expected[i], result.Eigenvalues[i], 1e-9);
            Assert.True(result.Convergence.ResidualNorms[i] <= 1e-10 * Math.Abs(expected[i]));
        }
    }

    [Fact]
    public void WarmStartFromPreviousRitzVectors_NeedsFewerApplications()
    {
        // Two probes of a slowly changing operator (a spectrum with outliers, rotated by a fixed random basis):
        // the second probe starts from the first one's Ritz vectors.
        const int n = 400;
        var spectrum = new double[n];
        for (int i = 0; i < n; i++)
        {
            spectrum[i] = Math.Sin(i) * 1.0;
        }

        spectrum[0] = 4;
        spectrum[1] = 3;
        spectrum[2] = 2.5;
        var first = new DenseMatrixOperator<double>(KrylovTestMatrices.SymmetricWithSpectrum(spectrum, 11), assumeSymmetric: true);
        var drifted = (double[])spectrum.Clone();
        for (int i = 0; i < n; i++)
        {
            drifted[i] *= 1.001;
        }

        var second = new DenseMatrixOperator<double>(KrylovTestMatrices.SymmetricWithSpectrum(drifted, 11), assumeSymmetric: true);
        var options = new LanczosOptions { Count = 3, KrylovDimension = 20, Tolerance = 1e-8 };
        using var ritz = first.Space.CreateBasis(3);
        var firstResult = Lanczos.Solve(first, options, eigenvectors: ritz, cancellationToken: Token);
        Assert.True(firstResult.Convergence.IsConverged);

        var cold = Lanczos.Solve(second, options with { Seed = 5 }, cancellationToken: Token);
        var warmStart = new[] { ritz[0], ritz[1], ritz[2] };
        var warm = Lanczos.Solve(second, options with { Seed = 5 }, startVectors: warmStart, cancellationToken: Token);

        output.WriteLine($"cold {cold.Convergence.OperatorApplications} applications, warm {warm.Convergence.OperatorApplications}");
        Assert.True(cold.Convergence.IsConverged && warm.Convergence.IsConverged);
        Assert.True(warm.Convergence.OperatorApplications < cold.Convergence.OperatorApplications);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(drifted[i], warm.Eigenvalues[i], 1e-9);
            Assert.Equal(cold.Eigenvalues[i], warm.Eigenvalues[i], 1e-9);
        }
    }

    [Fact]
    public void WarmStartFromTheEigenvectorBasisItself_IsFreedDuringTheSolveAndRefilled()
    {
        // The monitor's pattern: the previous Ritz vectors live in the eigenvector basis and are also the start vectors.
        // The basis must be empty while the operator is applied (its memory is free while the Krylov basis grows) and
        // hold the new unit Ritz vectors afterwards; the eigenvalues are those of a cold solve (closed-form spectrum).
        const int n = 120;
        var spectrum = new double[n];
        for (int i = 0; i < n; i++)
        {
            spectrum[i] = Math.Cos(i);
        }

        spectrum[0] = 5;
        spectrum[1] = 4;
        var dense = new DenseMatrixOperator<double>(KrylovTestMatrices.SymmetricWithSpectrum(spectrum, 7), assumeSymmetric: true);
        var options = new LanczosOptions { Count = 2, KrylovDimension = 12, Tolerance = 1e-10 };
        using var ritz = dense.Space.CreateBasis(2);
        Assert.True(Lanczos.Solve(dense, options, eigenvectors: ritz, cancellationToken: Token).Convergence.IsConverged);

        var observed = new ObservingOperator(dense, ritz);
        var start = new[] { ritz[0], ritz[1] };
        var warm = Lanczos.Solve(observed, options with { Seed = 3 }, startVectors: start, eigenvectors: ritz, cancellationToken: Token);

        Assert.True(warm.Convergence.IsConverged);
        Assert.True(observed.Applications > 0);
        Assert.Equal(0, observed.LargestCountSeen);
        Assert.Equal(2, ritz.Count);

        // 1e-9: the eigenvalue-error rule at 1e-10 on an isolated pair (gap 1).
        Assert.Equal(5, warm.Eigenvalues[0], 1e-9);
        Assert.Equal(4, warm.Eigenvalues[1], 1e-9);
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(1, dense.Space.Norm(ritz[i]), 1e-12);
            var image = dense.Space.CreateVector();
            dense.Apply(ritz[i], image);
            dense.Space.Axpy(-warm.Eigenvalues[i], ritz[i], image);

            // A Ritz pair of a converged eigenvalue: residual ‖Ax − λx‖ small (tolerance 1e-10 on the residual scale).
            Assert.True(dense.Space.Norm(image) < 1e-6, $"residual of Ritz vector {i}: {dense.Space.Norm(image)}");
        }
    }

    /// <summary>Forwards to another operator and records the largest size of a basis seen during an application.</summary>
    private sealed class ObservingOperator(LinearOperator<double[]> inner, IBasis<double[]> watched) : LinearOperator<double[]>(inner.Space)
    {
        public int LargestCountSeen { get; private set; }

        public override bool IsSymmetric => true;

        protected override void ApplyCore(double[] x, double[] y)
        {
            LargestCountSeen = Math.Max(LargestCountSeen, watched.Count);
            inner.Apply(x, y);
        }
    }

    [Fact]
    public void RankTwoOperator_InvariantSubspaceIsExact()
    {
        // A = 3·u·uᵀ − 2·v·vᵀ (u ⟂ v unit): the Krylov space of any start vector is span{x, u, v}, invariant after
        // three steps, and its Ritz values 3, 0, −2 are exact.
        const int n = 50;
        var q = KrylovTestMatrices.RandomOrthogonal(n, 3);
        var a = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                a[i, j] = (3 * q[i, 0] * q[j, 0]) - (2 * q[i, 1] * q[j, 1]);
            }
        }

        var op = new DenseMatrixOperator<double>(KrylovTestMatrices.Symmetrize(a), assumeSymmetric: true);
        var result = Lanczos.Solve(op, new LanczosOptions { Count = 2, Which = EigenvalueSelection.LargestMagnitude, KrylovDimension = 10 }, cancellationToken: Token);

        Assert.Equal(ConvergenceStatus.Converged, result.Convergence.Status);
        Assert.Contains("Invariant", result.Convergence.Reason, StringComparison.Ordinal);
        Assert.Equal(3, result.Convergence.OperatorApplications);

        // Exact up to rounding of the three-step factorization: a few ε·‖A‖.
        Assert.Equal(3, result.Eigenvalues[0], 1e-13);
        Assert.Equal(-2, result.Eigenvalues[1], 1e-13);
    }

    [Fact]
    public void InvariantSubspaceSmallerThanCount_ContinuesInTheComplement()
    {
        // diag(5, 1, 1, …) from e₀: the Krylov space is span{e₀}, invariant after one step, but three values are wanted.
        var values = new double[30];
        Array.Fill(values, 1.0);
        values[0] = 5;
        values[1] = 4;
        values[2] = 3;
        var op = KrylovTestMatrices.Diagonal(values);
        var start = new double[30];
        start[0] = 1;
        var result = Lanczos.Solve(op, new LanczosOptions { Count = 3, KrylovDimension = 10 }, startVectors: [start], cancellationToken: Token);

        Assert.True(result.Convergence.IsConverged, result.Convergence.Reason);
        Assert.Equal([5.0, 4.0, 3.0], result.Eigenvalues.Select(v => Math.Round(v, 10)).ToArray());
    }

    [Fact]
    public void NaNProducingOperator_ReportsNonFiniteOutputWithPartialResult()
    {
        int calls = 0;
        var space = new CpuVectorSpace<double>(100);
        var op = new DelegateOperator<double[]>(space, (x, y) =>
        {
            calls++;
            for (int i = 0; i < x.Length; i++)
            {
                y[i] = (i + 1) * x[i];
            }

            if (calls == 6)
            {
                y[17] = double.NaN;
            }
        }, isSymmetric: true);

        var result = Lanczos.Solve(op, new LanczosOptions { Count = 2, KrylovDimension = 20 }, cancellationToken: Token);

        Assert.Equal(ConvergenceStatus.NonFiniteOperatorOutput, result.Convergence.Status);
        Assert.Equal(6, result.Convergence.OperatorApplications);

        // The partial result comes from the five valid steps: Ritz values inside the spectrum [1, 100].
        Assert.Equal(2, result.Eigenvalues.Count);
        Assert.All(result.Eigenvalues, v => Assert.InRange(v, 1, 100));
        Assert.All(result.Eigenvalues, v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void CancellationIsAStatus()
    {
        using var source = new CancellationTokenSource();
        int calls = 0;
        var space = new CpuVectorSpace<double>(200);
        var op = new DelegateOperator<double[]>(space, (x, y) =>
        {
            if (++calls == 4)
            {
                source.Cancel();
            }

            for (int i = 0; i < x.Length; i++)
            {
                y[i] = Math.Cos(i) * x[i];
            }
        }, isSymmetric: true);

        var result = Lanczos.Solve(op, new LanczosOptions { Count = 1 }, cancellationToken: source.Token);

        Assert.Equal(ConvergenceStatus.Cancelled, result.Convergence.Status);
        Assert.Equal(4, result.Convergence.OperatorApplications);
    }

    [Fact]
    public void ApplicationCapIsAStatus()
    {
        var op = KrylovTestMatrices.Laplacian(500);
        var result = Lanczos.Solve(op, new LanczosOptions { Count = 2, MaxApplications = 25 }, cancellationToken: Token);

        Assert.Equal(ConvergenceStatus.MaxIterationsReached, result.Convergence.Status);
        Assert.Equal(25, result.Convergence.OperatorApplications);
        Assert.Equal(2, result.Eigenvalues.Count);
    }

    [Fact]
    public void RestartCapIsAStatus()
    {
        var op = KrylovTestMatrices.Laplacian(500);
        var result = Lanczos.Solve(op, new LanczosOptions { Count = 1, KrylovDimension = 10, MaxRestarts = 2 }, cancellationToken: Token);

        Assert.Equal(ConvergenceStatus.MaxIterationsReached, result.Convergence.Status);
        Assert.Equal(2, result.Convergence.Iterations);
        Assert.Contains("Restart limit 2", result.Convergence.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ZeroWarmStart_IsBreakdown_NonFiniteWarmStart_IsNonFinite()
    {
        var op = KrylovTestMatrices.Laplacian(50);
        var zero = new double[50];
        var breakdown = Lanczos.Solve(op, new LanczosOptions(), startVectors: [zero], cancellationToken: Token);
        Assert.Equal(ConvergenceStatus.Breakdown, breakdown.Convergence.Status);
        Assert.Empty(breakdown.Eigenvalues);
        Assert.Equal(0, op.Applications);

        var bad = new double[50];
        bad[3] = double.PositiveInfinity;
        var nonFinite = Lanczos.Solve(op, new LanczosOptions(), startVectors: [bad], cancellationToken: Token);
        Assert.Equal(ConvergenceStatus.NonFiniteOperatorOutput, nonFinite.Convergence.Status);
        Assert.Contains("startVectors[0]", nonFinite.Convergence.Reason, StringComparison.Ordinal);
    }

    public static TheoryData<LanczosOptions, string> InvalidOptions() => new()
    {
        { new LanczosOptions { Count = 0 }, "Count is 0" },
        { new LanczosOptions { Count = 51 }, "Count is 51" },
        { new LanczosOptions { Count = 5, KrylovDimension = 5 }, "KrylovDimension is 5" },
        { new LanczosOptions { KrylovDimension = 51 }, "KrylovDimension is 51" },
        { new LanczosOptions { KrylovDimension = -1 }, "KrylovDimension is -1" },
        { new LanczosOptions { Tolerance = 0 }, "Tolerance is 0" },
        { new LanczosOptions { Tolerance = double.NaN }, "Tolerance is NaN" },
        { new LanczosOptions { Tolerance = 1 }, "Tolerance is 1" },
        { new LanczosOptions { MaxRestarts = -1 }, "MaxRestarts is -1" },
        { new LanczosOptions { MaxApplications = -3 }, "MaxApplications is -3" },
        { new LanczosOptions { Which = (EigenvalueSelection)42 }, "Which is 42" },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void InvalidOptions_ThrowWithTheOptionNamed(LanczosOptions options, string message)
    {
        var op = KrylovTestMatrices.Laplacian(50);
        var error = Assert.Throws<ArgumentException>(() => Lanczos.Solve(op, options, cancellationToken: Token));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Equal("options", error.ParamName);
    }

    [Fact]
    public void KrylovDimensionEqualToN_IsAllowedEvenWhenCountIsN()
    {
        var values = new double[] { 3, -1, 2, 7, 0.5 };
        var result = Lanczos.Solve(KrylovTestMatrices.Diagonal(values), new LanczosOptions { Count = 5, KrylovDimension = 5 }, cancellationToken: Token);
        Assert.True(result.Convergence.IsConverged);
        Assert.Equal([7.0, 3, 2, 0.5, -1], result.Eigenvalues.Select(v => Math.Round(v, 12)).ToArray());
    }

    [Fact]
    public void MismatchedArguments_Throw()
    {
        var op = KrylovTestMatrices.Laplacian(50);
        Assert.Throws<ArgumentException>("startVectors", () => Lanczos.Solve(op, new LanczosOptions(), startVectors: [new double[49]], cancellationToken: Token));
        using var small = op.Space.CreateBasis(1);
        Assert.Throws<ArgumentException>("eigenvectors", () => Lanczos.Solve(op, new LanczosOptions { Count = 2 }, eigenvectors: small, cancellationToken: Token));
    }

    [Fact]
    public void RandomSymmetricMatrix_MatchesDenseEigenvaluesAndResiduals()
    {
        const int n = 120;
        var a = KrylovTestMatrices.Symmetrize(KrylovTestMatrices.Gaussian(n, n, 21));
        var op = new DenseMatrixOperator<double>(a, assumeSymmetric: true);
        var dense = Matrix<double>.Build.DenseOfArray(a).Evd(Symmetricity.Symmetric).EigenValues.Select(v => v.Real).OrderByDescending(v => v).ToArray();
        using var vectors = op.Space.CreateBasis(4);

        var result = Lanczos.Solve(op, new LanczosOptions { Count = 4, KrylovDimension = 40, Tolerance = 1e-10, MaxRestarts = 300 }, eigenvectors: vectors, cancellationToken: Token);

        Assert.True(result.Convergence.IsConverged, result.Convergence.Reason);
        for (int i = 0; i < 4; i++)
        {
            // Residual ≤ 1e-10·|θ| ≈ 1e-9 and the top gaps of a Wigner matrix are ≳ 0.1: error ≤ r²/gap + rounding.
            Assert.Equal(dense[i], result.Eigenvalues[i], 1e-9);
            double norm = Math.Sqrt(op.Space.Dot(vectors[i], vectors[i]));
            Assert.Equal(1, norm, 1e-12);
            Assert.True(KrylovTestMatrices.Residual(op, vectors[i], result.Eigenvalues[i]) <= 1.01e-10 * Math.Abs(result.Eigenvalues[i]));
        }
    }
}
