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
