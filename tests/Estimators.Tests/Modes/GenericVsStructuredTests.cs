using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Estimators.Modes;
using SpectralMonitor.Estimators.Operators;
using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Estimators.Tests.Modes;

/// <summary>
/// The two analysis paths on the same update operators: Arnoldi on the matrix-free J (generic) and the closed-form
/// block analysis on the eigenvalues of the symmetric curvature operator (structured) give the same leading eigenvalues.
/// </summary>
public class GenericVsStructuredTests
{
    private static (DenseMatrixOperator<double> Hessian, double[] Eigenvalues) RandomHessian(int n, int seed, double[]? leading = null)
    {
        var random = new Random(seed);
        leading ??= [29.7, 25.7, 21.7];
        var eigenvalues = Enumerable.Range(0, n).Select(i => i < leading.Length ? leading[i] : (5 * random.NextDouble()) - 0.3).ToArray();
        var q = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(n, n, (_, _) => random.NextDouble() - 0.5).QR().Q;
        var h = q * MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.DenseOfDiagonalArray(eigenvalues) * q.Transpose();
        var symmetric = (h + h.Transpose()) / 2;
        return (new DenseMatrixOperator<double>(symmetric.ToArray(), assumeSymmetric: true), eigenvalues);
    }

    private static double[] LeadingMagnitudes(IEnumerable<System.Numerics.Complex> values, int count) =>
        values.Select(z => z.Magnitude).OrderByDescending(m => m).Take(count).ToArray();

    [Fact]
    public void HeavyBallLeadingEigenvaluesAgree()
    {
        // Every heavy-ball mode inside the oscillatory window has |z| = √μ exactly (a ring of equal moduli), so the
        // leading eigenvalues by magnitude are made distinct with saddle modes: negative curvatures give real z > 1.
        const int n = 60;
        var (hessian, eigenvalues) = RandomHessian(n, 5, leading: [-6, -4, -2.5, -1.5]);
        var snapshot = new SgdSnapshot<double[]>(new SgdHyperparameters(0.06, 0.9), new double[n]);

        var structured = ModeAnalysis.Analyze(UpdateBlock.For(snapshot), eigenvalues, topModeCount: 3, horizon: 10);
        using var j = UpdateOperators.Create(snapshot, hessian);
        var generic = Arnoldi.Solve(j, new ArnoldiOptions { Count = 4, Which = EigenvalueSelection.LargestMagnitude, KrylovDimension = 40, Tolerance = 1e-10 }, cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(generic.Convergence.IsConverged, generic.Convergence.Reason);
        var expected = LeadingMagnitudes(structured.Modes.SelectMany(m => m.Eigenvalues), 4);
        var actual = LeadingMagnitudes(generic.Eigenvalues, 4);

        // Converged Ritz values of a non-normal J: accurate to about κ·tol; 1e-7 relative is comfortably above that.
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(1.0, actual[i] / expected[i], 1e-7);
        }

        Assert.Equal(structured.SpectralRadius, actual[0], 1e-7);
    }

    [Fact]
    public void AdamFrozenLeadingEigenvaluesAgree()
    {
        const int n = 50;
        var (hessian, _) = RandomHessian(n, 9);
        var random = new Random(2);
        var v = Enumerable.Range(0, n).Select(_ => 1e-4 * (0.2 + random.NextDouble())).ToArray();
        var m = Enumerable.Range(0, n).Select(_ => 1e-3 * (random.NextDouble() - 0.5)).ToArray();
        var snapshot = new AdamSnapshot<double[]>(new AdamHyperparameters(2e-3), Step: 50, ExpAvg: m, ExpAvgSq: v, MaxExpAvgSq: null);

        // Structured: eigenvalues of P^½·H̃·P^½ (the operator the monitor's Lanczos runs on), exact by dense EVD here.
        using var curvature = UpdateOperators.CreatePreconditionedHessian(snapshot, hessian);
        var dense = new double[n, n];
        var e = new double[n];
        var column = new double[n];
        for (int i = 0; i < n; i++)
        {
            Array.Clear(e);
            e[i] = 1;
            curvature.Apply(e, column);
            for (int r = 0; r < n; r++)
            {
                dense[r, i] = column[r];
            }
        }

        var matrix = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.DenseOfArray(dense);
        var curvatures = (matrix + matrix.Transpose()).Divide(2).Evd(MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric).EigenValues.Select(z => z.Real).ToArray();
        var structured = ModeAnalysis.Analyze(UpdateBlock.For(snapshot), curvatures, topModeCount: 3, horizon: 10);

        using var j = UpdateOperators.Create(snapshot, hessian);
        var generic = Arnoldi.Solve(j, new ArnoldiOptions { Count = 4, Which = EigenvalueSelection.LargestMagnitude, KrylovDimension = 40, Tolerance = 1e-10 }, cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(generic.Convergence.IsConverged, generic.Convergence.Reason);

        var expected = LeadingMagnitudes(structured.Modes.SelectMany(mode => mode.Eigenvalues), 4);
        var actual = LeadingMagnitudes(generic.Eigenvalues, 4);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(1.0, actual[i] / expected[i], 1e-7);
        }
    }
}
