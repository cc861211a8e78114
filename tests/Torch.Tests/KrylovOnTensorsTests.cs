using System.Numerics;
using MathNet.Numerics.LinearAlgebra;
using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Cpu;
using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Estimators.Operators;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch.Tests;

/// <summary>The estimators run on the tensor backend exactly as on the CPU backend, against dense decompositions.</summary>
public class KrylovOnTensorsTests
{
    [Fact]
    public void LanczosOnHessianVectorProductsMatchesTheDenseHessian()
    {
        using var scope = TensorProbeScope.Begin();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 21, hidden: 5);
        using var hvp = new HessianVectorProductOperator(mlp.View, mlp.Loss);
        var space = (TensorVectorSpace)hvp.Space;
        int n = space.Dimension;

        // Dense Hessian column by column: H·eⱼ by one HVP each, then symmetrized (the two triangles differ by rounding only).
        var dense = new double[n, n];
        using (var e = space.CreateVector())
        using (var column = space.CreateVector())
        {
            for (int j = 0; j < n; j++)
            {
                space.Clear(e);
                using (var slot = e.narrow(0, j, 1))
                {
                    slot.fill_(1.0);
                }

                hvp.Apply(e, column);
                var values = Host.ToArray(column);
                for (int i = 0; i < n; i++)
                {
                    dense[i, j] = values[i];
                }
            }
        }

        double asymmetry = 0;
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < i; j++)
            {
                asymmetry = Math.Max(asymmetry, Math.Abs(dense[i, j] - dense[j, i]));
                dense[i, j] = dense[j, i] = 0.5 * (dense[i, j] + dense[j, i]);
            }
        }

        var exact = Matrix<double>.Build.DenseOfArray(dense).Evd(MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric)
            .EigenValues.Select(z => z.Real).OrderByDescending(v => v).ToArray();
        double scale = exact.Max(Math.Abs);

        // Double-backward rounding: the Hessian is symmetric to a few ulps of its entries.
        Assert.True(asymmetry <= 1e-13 * scale, $"asymmetry {asymmetry}");

        using var ritz = space.CreateBasis(3);
        var result = Lanczos.Solve(hvp, new LanczosOptions { Count = 3, KrylovDimension = 20, Tolerance = 1e-11, Seed = 5 }, eigenvectors: ritz, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(ConvergenceStatus.Converged, result.Convergence.Status);
        for (int i = 0; i < 3; i++)
        {
            // Converged to a relative residual r = 1e-11: an eigenvalue error ≤ r·|λ|, plus the symmetrization above.
            Assert.True(Math.Abs(exact[i] - result.Eigenvalues[i]) <= 1e-9 * scale, $"λ{i}: dense {exact[i]}, Lanczos {result.Eigenvalues[i]}");

            // Residual identity on the device: ‖H·x − λ·x‖ small for every returned Ritz vector.
            using var hx = space.CreateVector();
            hvp.Apply(ritz[i], hx);
            space.Axpy(-result.Eigenvalues[i], ritz[i], hx);
            Assert.True(space.Norm(hx) <= 1e-9 * scale, $"residual {i}: {space.Norm(hx)}");
        }
    }

    [Fact]
    public void LanczosOnADiagonalTensorOperatorFindsTheDiagonal()
    {
        using var scope = TensorProbeScope.Begin();
        const int n = 300;
        var diagonal = Enumerable.Range(0, n).Select(i => Math.Sqrt(i + 1.0)).ToArray();
        var space = new TensorVectorSpace(n, ScalarType.Float64);
        using var d = torch.tensor(diagonal, ScalarType.Float64);
        var tensorOperator = new DelegateOperator<Tensor>(space, (x, y) => space.Multiply(d, x, y), isSymmetric: true);
        var cpuSpace = new CpuVectorSpace<double>(n);
        var cpuOperator = new DelegateOperator<double[]>(cpuSpace, (x, y) => cpuSpace.Multiply(diagonal, x, y), isSymmetric: true);

        foreach (var which in new[] { EigenvalueSelection.LargestAlgebraic, EigenvalueSelection.SmallestAlgebraic })
        {
            var options = new LanczosOptions { Count = 4, Which = which, KrylovDimension = 30, Tolerance = 1e-10, Seed = 3 };
            var onDevice = Lanczos.Solve(tensorOperator, options, cancellationToken: TestContext.Current.CancellationToken);
            var onCpu = Lanczos.Solve(cpuOperator, options, cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal(ConvergenceStatus.Converged, onDevice.Convergence.Status);
            var expected = which == EigenvalueSelection.LargestAlgebraic
                ? diagonal.OrderByDescending(v => v).Take(4).ToArray()
                : diagonal.Order().Take(4).ToArray();
            for (int i = 0; i < 4; i++)
            {
                // Relative residual 1e-10 bounds the eigenvalue error by 1e-10·|λ| (λ ≤ √300 ≈ 17).
                Assert.Equal(expected[i], onDevice.Eigenvalues[i], 1e-9 * 20);

                // Same algorithm, different random start vectors (the backends' generators differ): equal to tolerance.
                Assert.Equal(onCpu.Eigenvalues[i], onDevice.Eigenvalues[i], 2e-9 * 20);
            }
        }
    }

    [Fact]
    public void ArnoldiOnATensorOperatorMatchesTheCpuBackendAndTheDenseEigenvalues()
    {
        using var scope = TensorProbeScope.Begin();
        const int n = 60;
        var random = new Random(17);
        var a = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                a[i, j] = 0.3 * TinyMlp.Gaussian(random, 1, 1.0)[0] / Math.Sqrt(n);
            }

            // Three dominant, well separated eigenvalues, and a strictly upper-triangular coupling that makes A non-normal.
            a[i, i] += i switch { 0 => 5.0, 1 => -4.0, 2 => 3.0, _ => 0.5 * random.NextDouble() };
            if (i + 1 < n)
            {
                a[i, i + 1] += 1.0;
            }
        }

        var flat = new double[n * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                flat[(i * n) + j] = a[i, j];
            }
        }

        var space = new TensorVectorSpace(n, ScalarType.Float64);
        using var matrix = torch.tensor(flat, new long[] { n, n }, ScalarType.Float64);
        var tensorOperator = new DelegateOperator<Tensor>(space, (x, y) =>
        {
            using var noGrad = torch.no_grad();
            using var product = matrix.mv(x);
            y.copy_(product);
        });
        var cpuOperator = new DenseMatrixOperator<double>(a);
        var options = new ArnoldiOptions { Count = 3, KrylovDimension = 20, Tolerance = 1e-11, Seed = 2 };
        var onDevice = Arnoldi.Solve(tensorOperator, options, cancellationToken: TestContext.Current.CancellationToken);
        var onCpu = Arnoldi.Solve(cpuOperator, options, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(ConvergenceStatus.Converged, onDevice.Convergence.Status);
        Assert.Equal(ConvergenceStatus.Converged, onCpu.Convergence.Status);

        var dense = Matrix<double>.Build.DenseOfArray(a).Evd().EigenValues.OrderByDescending(z => z.Magnitude).Take(3).ToArray();
        for (int i = 0; i < 3; i++)
        {
            // Relative residual 1e-11 on a non-normal A: the eigenvalue error is the residual times the eigenvalue's
            // condition number (here O(1–10), the coupling is mild); 1e-8 absolute on |λ| ≈ 3–5 leaves ample room.
            Assert.True(Complex.Abs(dense[i] - onDevice.Eigenvalues[i]) <= 1e-8, $"λ{i}: dense {dense[i]}, tensor Arnoldi {onDevice.Eigenvalues[i]}");
            Assert.True(Complex.Abs(onCpu.Eigenvalues[i] - onDevice.Eigenvalues[i]) <= 1e-8, $"λ{i}: CPU {onCpu.Eigenvalues[i]}, tensor {onDevice.Eigenvalues[i]}");
        }
    }
}
