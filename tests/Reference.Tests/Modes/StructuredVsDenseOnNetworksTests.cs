using MathNet.Numerics.LinearAlgebra;
using SpectralMonitor.Estimators.Modes;
using SpectralMonitor.Estimators.NonNormality;
using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Reference.Tests.Modes;

/// <summary>
/// The structured (mode-resolved) analysis against the dense eigendecomposition of the full update operator J built
/// from the exact Hessian of real networks (n ≤ 300 parameters), after some training so that the spectrum is a
/// trained network's, not a random matrix's.
/// </summary>
public class StructuredVsDenseOnNetworksTests
{
    public static TheoryData<int, int, double, double> Networks => new()
    {
        // input, hidden, learning rate, momentum
        { 4, 8, 0.1, 0.9 },
        { 3, 20, 0.05, 0.5 },
        { 6, 30, 0.02, 0.9 },
    };

    private static (double[] Parameters, double[,] Hessian) TrainedHessian(int input, int hidden, int steps)
    {
        var architecture = new MlpArchitecture([input, hidden, 1], HiddenActivation.Tanh);
        var objective = new MlpObjective(architecture, LossKind.MeanSquaredError);
        var data = SyntheticData.Regression(48, input, 1, seed: 11);
        var optimizer = new SgdOptimizer(architecture.ParameterCount, new SgdHyperparameters(0.05, 0.9));
        var trainer = new MiniBatchTrainer(objective, data, optimizer, architecture.InitializeParameters(4), 48, 4);
        trainer.Run(steps);
        var parameters = trainer.Parameters.ToArray();
        return (parameters, objective.DenseHessian(parameters, data));
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void HeavyBallRadiiMatchTheDenseEigenvaluesOfJ(int input, int hidden, double learningRate, double momentum)
    {
        var (_, h) = TrainedHessian(input, hidden, steps: 60);
        int n = h.GetLength(0);
        Assert.InRange(n, 20, 300);
        var snapshot = new SgdSnapshot<double[]>(new SgdHyperparameters(learningRate, momentum), new double[n]);
        var curvatures = Matrix<double>.Build.DenseOfArray(h).Evd(Symmetricity.Symmetric).EigenValues.Select(z => z.Real).ToArray();
        var structured = ModeAnalysis.Analyze(UpdateBlock.For(snapshot), curvatures, topModeCount: 3, horizon: 20);

        var j = DenseUpdateMatrices.Create(snapshot, h).Matrix;
        var values = Matrix<double>.Build.DenseOfArray(j).Evd().EigenValues.ToArray();

        // Eigenvalues of the non-normal J are computed to about κ·ε·‖J‖; the radii here need 1e-8 absolute.
        Assert.Equal(values.Max(z => z.Magnitude), structured.SpectralRadius, 1e-8);
        Assert.Equal(values.Where(z => z.Real < 0).Select(z => z.Magnitude).DefaultIfEmpty(0).Max(), structured.OscillatoryRadius, 1e-8);
        Assert.Equal(values.Where(z => z.Real >= 0).Select(z => z.Magnitude).DefaultIfEmpty(0).Max(), structured.MonotoneRadius, 1e-8);
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void HeavyBallConditionMatchesDenseEigenvectorsWhereWellDefined(int input, int hidden, double learningRate, double momentum)
    {
        var (_, h) = TrainedHessian(input, hidden, steps: 60);
        int n = h.GetLength(0);
        var evd = Matrix<double>.Build.DenseOfArray(h).Evd(Symmetricity.Symmetric);
        var curvatures = evd.EigenValues.Select(z => z.Real).ToArray();
        var snapshot = new SgdSnapshot<double[]>(new SgdHyperparameters(learningRate, momentum), new double[n]);
        var block = UpdateBlock.For(snapshot);
        var structured = ModeAnalysis.Analyze(block, curvatures, topModeCount: 3, horizon: 20);

        // κ over the top-3 curvature modes: J restricted to span{(uᵢ, 0), (0, uᵢ)} of the top eigenvectors uᵢ of H is a
        // 6×6 matrix whose unit eigenvectors, mapped back to ℝ²ⁿ, are J's (orthonormal change of basis: κ is preserved).
        var j = Matrix<double>.Build.DenseOfArray(DenseUpdateMatrices.Create(snapshot, h).Matrix);
        var top = Enumerable.Range(0, n).OrderByDescending(i => curvatures[i]).Take(3).ToArray();
        var basis = Matrix<double>.Build.Dense(2 * n, 6);
        for (int c = 0; c < 3; c++)
        {
            for (int r = 0; r < n; r++)
            {
                basis[r, c] = evd.EigenVectors[r, top[c]];
                basis[n + r, 3 + c] = evd.EigenVectors[r, top[c]];
            }
        }

        var restricted = basis.Transpose() * j * basis;
        Assert.True((j * basis - basis * restricted).FrobeniusNorm() < 1e-10 * j.FrobeniusNorm(), "the top modes span an invariant subspace of J");
        var dense = EigenvectorCondition.Dense(restricted.ToArray());

        // Dense κ of a 6×6 matrix from EVD + SVD is accurate to about κ²·ε relative; the bar is 1e-6.
        Assert.True(dense.IsFinite);
        Assert.Equal(1.0, structured.TopEigenvectorCondition / dense.Value, 1e-6);
    }

    [Fact]
    public void AdamRadiiMatchTheDenseEigenvaluesOfJ()
    {
        var (parameters, h) = TrainedHessian(4, 10, steps: 40);
        int n = h.GetLength(0);
        var random = new Random(3);
        var snapshot = new AdamSnapshot<double[]>(
            new AdamHyperparameters(3e-3, WeightDecay: 1e-3),
            Step: 30,
            ExpAvg: [.. Enumerable.Range(0, n).Select(_ => 1e-3 * (random.NextDouble() - 0.5))],
            ExpAvgSq: [.. Enumerable.Range(0, n).Select(_ => 1e-5 * (0.1 + random.NextDouble()))],
            MaxExpAvgSq: null);

        // Structured: the eigenvalues of S·H̃·S, from the dense builder of the same preconditioned curvature.
        var shs = Matrix<double>.Build.DenseOfArray(DenseUpdateMatrices.PreconditionedHessian(snapshot, h));
        var curvatures = ((shs + shs.Transpose()) / 2).Evd(Symmetricity.Symmetric).EigenValues.Select(z => z.Real).ToArray();
        var structured = ModeAnalysis.Analyze(UpdateBlock.For(snapshot), curvatures, topModeCount: 3, horizon: 20);

        var values = Matrix<double>.Build.DenseOfArray(DenseUpdateMatrices.Create(snapshot, h).Matrix).Evd().EigenValues.ToArray();
        Assert.Equal(values.Max(z => z.Magnitude), structured.SpectralRadius, 1e-8);
        Assert.Equal(values.Where(z => z.Real < 0).Select(z => z.Magnitude).DefaultIfEmpty(0).Max(), structured.OscillatoryRadius, 1e-8);
        Assert.Equal(values.Where(z => z.Real >= 0).Select(z => z.Magnitude).DefaultIfEmpty(0).Max(), structured.MonotoneRadius, 1e-8);
        Assert.NotEmpty(parameters);
    }
}
