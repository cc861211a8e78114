using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Krylov;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch.Tests;

/// <summary>
/// Host round trips of the device backend, counted by <see cref="TensorVectorSpace.HostReads"/> and
/// <see cref="TensorVectorSpace.HostUploads"/> (on a GPU each read is a synchronisation with the device). A Krylov step
/// must read only the scalars its recurrence needs: one transfer per Gram–Schmidt pass (the coefficients and both norms
/// together), two when the DGKS test asks for the second pass, and upload nothing.
/// </summary>
public class HostSyncTests
{
    [Fact]
    public void AKrylovStepReadsOnceOrTwiceAndUploadsNothing()
    {
        using var scope = TensorProbeScope.Begin();
        const int n = 3000;
        var space = new TensorVectorSpace(n, ScalarType.Float64);
        var diagonal = torch.linspace(0.01, 1, n, ScalarType.Float64);
        var op = new DiagonalTensorOperator(space, diagonal);
        using var factorization = new KrylovSchurFactorization<Tensor>(op, 30, symmetric: true);
        var start = space.CreateVector();
        space.FillRandom(start, RandomKind.Gaussian, 5);
        Assert.Equal(FactorizationStatus.Completed, factorization.Initialize(start));

        var readsPerStep = new List<long>();
        for (int j = 1; j <= 30; j++)
        {
            long reads = space.HostReads;
            long uploads = space.HostUploads;
            Assert.Equal(FactorizationStatus.Completed, factorization.Expand(j, cancellationToken: TestContext.Current.CancellationToken));
            readsPerStep.Add(space.HostReads - reads);
            Assert.Equal(uploads, space.HostUploads);
        }

        Assert.All(readsPerStep, r => Assert.InRange(r, 1, 2));

        // The Lanczos vectors of a diagonal operator whose top lies in a continuum lose orthogonality fast: the DGKS
        // test must have asked for a second pass on some steps (else this test would not exercise it), and the basis
        // must stay orthonormal to rounding level (the double-precision tolerance 1e-12 allows for n = 3000 terms).
        Assert.Contains(2L, readsPerStep);
        for (int a = 0; a < factorization.Size; a++)
        {
            for (int b = 0; b <= a; b++)
            {
                Assert.Equal(a == b ? 1.0 : 0.0, space.Dot(factorization.Basis[a], factorization.Basis[b]), 1e-12);
            }
        }
    }

    [Theory]
    [InlineData(5)] // the window (rows 3 and 4) spans two storage blocks of TensorBasis.BlockRows = 4
    [InlineData(4)] // the window (rows 2 and 3) lies in one block
    public void TwoWindowedPassesAtOnceAreTwoSeparatePassesWithOneRead(int count)
    {
        // A Lanczos local step: the fused call must do exactly what two ProjectOut calls do (the same device operations,
        // so the same bits), reading the host once instead of twice.
        using var scope = TensorProbeScope.Begin();
        const int n = 4000;
        var space = new TensorVectorSpace(n, ScalarType.Float32);
        using var basis = (TensorBasis)space.CreateBasis(8);
        for (int i = 0; i < count; i++)
        {
            var v = space.CreateVector();
            space.FillRandom(v, RandomKind.Gaussian, 20 + i);
            basis.ProjectOut(v, new double[basis.Count]);
            space.Scale(v, 1 / space.Norm(v));
            basis.Append(v);
        }

        var w = space.CreateVector();
        space.FillRandom(w, RandomKind.Gaussian, 7);
        space.Axpy(3, basis[count - 1], w); // a sizeable component in the window, as Aq_j has
        var twice = space.CreateVector();
        space.Copy(w, twice);

        int first = count - 2;
        var (c1, c2, d1, d2) = (new double[2], new double[2], new double[2], new double[2]);
        var one = basis.ProjectOut(w, first, c1);
        var two = basis.ProjectOut(w, first, c2);
        long reads = space.HostReads;
        var fused = basis.ProjectOutTwice(twice, first, d1, d2);
        Assert.Equal(reads + 1, space.HostReads);

        Assert.Equal(c1, d1);
        Assert.Equal(c2, d2);
        Assert.Equal(one.Before, fused.Before);
        Assert.Equal(two.After, fused.After);
        Assert.Equal(w.data<float>().ToArray(), twice.data<float>().ToArray());
        Assert.True(Math.Abs(c2[1]) < 1e-3 * Math.Abs(c1[1]), "the second pass removes only rounding");
        Assert.Throws<ArgumentException>("firstPass", () => basis.ProjectOutTwice(twice, first, new double[3], d2));
    }

    [Fact]
    public void AWholeSolveReadsAtMostTwicePerOperatorApplicationPlusItsStartAndFinish()
    {
        using var scope = TensorProbeScope.Begin();
        const int n = 2000;
        var space = new TensorVectorSpace(n, ScalarType.Float32);
        var diagonal = torch.linspace(-1, 1, n, ScalarType.Float32);
        diagonal[n - 1] = torch.tensor(2.0f);
        var op = new DiagonalTensorOperator(space, diagonal);
        using var vectors = space.CreateBasis(1);
        long reads = space.HostReads;
        var result = Lanczos.Solve(op, new LanczosOptions { Count = 1, KrylovDimension = 12, Tolerance = 1e-4, Seed = 3 }, eigenvectors: vectors, cancellationToken: TestContext.Current.CancellationToken);
        long applications = result.Convergence.OperatorApplications;
        Assert.Equal(ConvergenceStatus.Converged, result.Convergence.Status);
        Assert.Equal(2.0, result.Eigenvalues[0], 1e-4);

        // Start: the random vector's norm (1). Finish: the Ritz vector's norm (1). Restarts move vectors, read nothing.
        Assert.InRange(space.HostReads - reads, applications, (2 * applications) + 2);
    }

    [Theory]
    [InlineData(5)] // the window (rows 3 and 4) spans two storage blocks of TensorBasis.BlockRows = 4
    [InlineData(4)] // the window (rows 2 and 3) lies in one block
    public void AWindowedGramSchmidtPassMatchesAHostReferenceAndReadsOnce(int count)
    {
        using var scope = TensorProbeScope.Begin();
        const int n = 500;
        var space = new TensorVectorSpace(n, ScalarType.Float64);
        using var basis = (TensorBasis)space.CreateBasis(8);
        var host = new List<double[]>();
        for (int i = 0; i <= count; i++)
        {
            // count orthonormal basis vectors (Gram–Schmidt on the host) and one more direction; the window is the last two.
            var v = space.CreateVector();
            space.FillRandom(v, RandomKind.Gaussian, 10 + i);
            var x = v.data<double>().ToArray();
            foreach (var q in host)
            {
                double c = x.Zip(q, (a, b) => a * b).Sum();
                for (int t = 0; t < n; t++)
                {
                    x[t] -= c * q[t];
                }
            }

            double norm = Math.Sqrt(x.Sum(a => a * a));
            host.Add(x.Select(a => a / norm).ToArray());
            if (i < count)
            {
                basis.Append(torch.tensor(host[i], ScalarType.Float64));
            }
        }

        var w = space.CreateVector();
        space.FillRandom(w, RandomKind.Gaussian, 99);
        var expected = w.data<double>().ToArray();
        double expectedBefore = Math.Sqrt(expected.Sum(a => a * a));
        var expectedCoefficients = new double[2];
        for (int k = 0; k < 2; k++)
        {
            var q = host[count - 2 + k];
            expectedCoefficients[k] = expected.Zip(q, (a, b) => a * b).Sum();
            for (int t = 0; t < n; t++)
            {
                expected[t] -= expectedCoefficients[k] * q[t];
            }
        }

        long reads = space.HostReads;
        var coefficients = new double[2];
        var norms = basis.ProjectOut(w, count - 2, coefficients);
        Assert.Equal(reads + 1, space.HostReads);

        // Double precision over 500 terms: 1e-12 relative allows for the summation order of the device reductions.
        Assert.Equal(expectedBefore, norms.Before, 1e-12 * expectedBefore);
        Assert.Equal(Math.Sqrt(expected.Sum(a => a * a)), norms.After, 1e-12 * expectedBefore);
        Assert.Equal(expectedCoefficients[0], coefficients[0], 1e-12 * expectedBefore);
        Assert.Equal(expectedCoefficients[1], coefficients[1], 1e-12 * expectedBefore);
        var actual = w.data<double>().ToArray();
        for (int t = 0; t < n; t++)
        {
            Assert.Equal(expected[t], actual[t], 1e-12 * expectedBefore);
        }

        Assert.Throws<ArgumentOutOfRangeException>("first", () => basis.ProjectOut(w, count, Array.Empty<double>()));
        Assert.Throws<ArgumentException>("coefficients", () => basis.ProjectOut(w, count - 2, new double[3]));
    }

    /// <summary><c>y = d ⊙ x</c> on tensors.</summary>
    private sealed class DiagonalTensorOperator(TensorVectorSpace space, Tensor diagonal) : LinearOperator<Tensor>(space)
    {
        public override bool IsSymmetric => true;

        protected override void ApplyCore(Tensor x, Tensor y)
        {
            using var noGrad = torch.no_grad();
            using var product = x.mul(diagonal);
            y.copy_(product);
        }
    }
}
