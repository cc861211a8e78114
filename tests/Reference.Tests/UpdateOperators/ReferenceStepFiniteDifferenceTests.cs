using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Reference.Tests.UpdateOperators;

/// <summary>
/// Every dense J against central differences of one REAL reference-optimizer step (the C# optimizers that step like
/// torch.optim) on a small tanh MLP, with the Hessian assembled from exact HVPs. Exact operators (SGD, full-state Adam)
/// are compared at a state reached by training; frozen-preconditioner operators at a stationary point of the loss tilted
/// by a linear term (same Hessian, zero effective gradient at θ₀), where they are exact.
/// </summary>
public class ReferenceStepFiniteDifferenceTests
{
    public static TheoryData<string> ExactConfigs => new(["sgd", "sgd-momentum-dampening-wd", "sgd-nesterov", "sgd-momentum-first-step", "adam-full", "adam-full-l2-maximize", "adamw-full"]);

    public static TheoryData<string> FrozenConfigs => new(["adam", "adam-l2-amsgrad", "adamw-beta1-zero", "rmsprop", "rmsprop-centered-momentum-wd"]);

    private static object Hyperparameters(string name) => name switch
    {
        "sgd" => new SgdHyperparameters(0.1),
        "sgd-momentum-dampening-wd" => new SgdHyperparameters(0.05, Momentum: 0.9, Dampening: 0.1, WeightDecay: 0.01),
        "sgd-nesterov" => new SgdHyperparameters(0.05, Momentum: 0.9, Nesterov: true),
        "sgd-momentum-first-step" => new SgdHyperparameters(0.05, Momentum: 0.9, Dampening: 0.5),
        "adam-full" or "adam" => new AdamHyperparameters(0.01),
        "adam-full-l2-maximize" => new AdamHyperparameters(0.01, Beta1: 0.8, Beta2: 0.99, WeightDecay: 0.05, Maximize: true),
        "adamw-full" => new AdamHyperparameters(0.01, WeightDecay: 0.1, Decoupled: true),
        "adam-l2-amsgrad" => new AdamHyperparameters(0.01, Beta1: 0.8, Beta2: 0.99, WeightDecay: 0.05, Amsgrad: true),
        "adamw-beta1-zero" => new AdamHyperparameters(0.01, Beta1: 0, WeightDecay: 0.1, Decoupled: true),
        "rmsprop" => new RmsPropHyperparameters(0.01),
        "rmsprop-centered-momentum-wd" => new RmsPropHyperparameters(0.005, Alpha: 0.9, WeightDecay: 0.01, Momentum: 0.8, Centered: true),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    [Theory]
    [MemberData(nameof(ExactConfigs))]
    public void ExactOperatorsEqualFiniteDifferencesOfARealStep(string name)
    {
        var (objective, batch, theta, snapshot) = Trained(name, steps: name.EndsWith("first-step", StringComparison.Ordinal) ? 0 : 6);
        var h = ReferenceJacobians.DenseHessian(objective, batch, theta);
        var gradient = new double[theta.Length];
        objective.LossAndGradient(theta, batch, gradient);
        var linearization = snapshot is AdamSnapshot<double[]> ? UpdateLinearization.FullState : UpdateLinearization.FrozenPreconditioner;
        var dense = DenseUpdateMatrices.Create(snapshot, h, linearization, gradient, theta);
        var fd = ReferenceJacobians.CentralDifferences(objective, batch, snapshot, theta, dense.Layout);

        // Central differences of a smooth step err by about h²·|F'''| + ε·|F|/h ≈ 1e-10 relative (h = 1e-6; 1e-4 relative
        // for the small second moments, whose columns still carry truncation ≈ 1e-8). 1e-6 bounds both with margin and is
        // far below any single term of J (the smallest, the ∂P/∂v coupling, is ≥ 1e-4 of the scale here).
        double error = ReferenceJacobians.RelativeDifference(dense.Matrix, fd);
        Assert.True(error <= 1e-6, $"{name} ({dense.Layout.Description}): relative |J − J_fd| = {error:E3}");
    }

    [Theory]
    [MemberData(nameof(FrozenConfigs))]
    public void FrozenOperatorsEqualFiniteDifferencesAtAStationaryPoint(string name)
    {
        var (objective, batch, theta, snapshot) = Trained(name, steps: 6);
        var h = ReferenceJacobians.DenseHessian(objective, batch, theta);
        var gradient = new double[theta.Length];
        objective.LossAndGradient(theta, batch, gradient);

        // Tilt so that the effective gradient ±∇L̃ + λθ vanishes at θ₀.
        (double sign, double l2) = snapshot switch
        {
            AdamSnapshot<double[]> a => (a.Hyperparameters.Maximize ? -1.0 : 1.0, a.Hyperparameters.Decoupled ? 0 : a.Hyperparameters.WeightDecay),
            RmsPropSnapshot<double[]> r => (r.Hyperparameters.Maximize ? -1.0 : 1.0, r.Hyperparameters.WeightDecay),
            _ => throw new InvalidOperationException(name),
        };
        var tilt = gradient.Select((g, i) => g + (sign * l2 * theta[i])).ToArray();
        var dense = DenseUpdateMatrices.Create(snapshot, h);
        var fd = ReferenceJacobians.CentralDifferences(objective, batch, snapshot, theta, dense.Layout, tilt);

        // As above; here v is held fixed, so only h = 1e-6 columns occur (truncation ≈ 1e-12, rounding ≈ 1e-10).
        double error = ReferenceJacobians.RelativeDifference(dense.Matrix, fd);
        Assert.True(error <= 1e-7, $"{name} ({dense.Layout.Description}): relative |J − J_fd| = {error:E3}");

        // Without the tilt the point is not stationary and freezing P is only an approximation: the difference is
        // visible, which shows that the comparison above can fail.
        if (snapshot is AdamSnapshot<double[]> { Hyperparameters.Amsgrad: false })
        {
            var untilted = ReferenceJacobians.CentralDifferences(objective, batch, snapshot, theta, dense.Layout);
            Assert.True(ReferenceJacobians.RelativeDifference(dense.Matrix, untilted) > 1e-5, $"{name}: frozen J unexpectedly exact away from stationarity");
        }
    }

    [Fact]
    public void MatrixFreeOperatorOnTheMlpHessianEqualsDense()
    {
        var (objective, batch, theta, snapshot) = Trained("adam-full", steps: 6);
        var gradient = new double[theta.Length];
        objective.LossAndGradient(theta, batch, gradient);
        var hessian = new HessianOperator(objective, theta, batch);
        using var j = global::SpectralMonitor.Estimators.Optimizers.UpdateOperators.Create(snapshot, hessian, UpdateLinearization.FullState, gradient, theta);
        var dense = DenseUpdateMatrices.Create(snapshot, ReferenceJacobians.DenseHessian(objective, batch, theta), UpdateLinearization.FullState, gradient, theta).Matrix;
        int n = theta.Length;
        var x = j.StateSpace.CreateVector();
        j.StateSpace.FillRandom(x, Estimators.RandomKind.Gaussian, 5);
        var y = j.StateSpace.CreateVector();
        j.Apply(x, y);
        Assert.Equal(1, hessian.Applications);
        var flat = Enumerable.Range(0, 3).SelectMany(b => x[b]).ToArray();
        var expected = new double[3 * n];
        double scale = 0;
        for (int r = 0; r < 3 * n; r++)
        {
            for (int c = 0; c < 3 * n; c++)
            {
                expected[r] += dense[r, c] * flat[c];
            }

            scale = Math.Max(scale, Math.Abs(expected[r]));
        }

        // The dense Hessian is symmetrized from HVPs of unit vectors; the HVP of x sums the same terms in another
        // order: a few ulps of ‖H‖·‖x‖ per entry (1e-12 relative leaves a wide margin).
        Numerics.AssertClose(expected, Enumerable.Range(0, 3).SelectMany(b => y[b]).ToArray(), 1e-12, "J·x", scale);
    }

    /// <summary>A 3→4→2 tanh MLP on 8 regression samples, after <paramref name="steps"/> steps of the optimizer.</summary>
    private static (MlpObjective Objective, Batch Batch, double[] Theta, OptimizerSnapshot<double[]> Snapshot) Trained(string name, int steps)
    {
        var architecture = new MlpArchitecture([3, 4, 2], HiddenActivation.Tanh);
        var objective = new MlpObjective(architecture, LossKind.MeanSquaredError);
        var batch = SyntheticData.Regression(8, 3, 2, seed: 3);
        var theta = architecture.InitializeParameters(seed: 4);
        var optimizer = ReferenceOptimizer.Create(theta.Length, Hyperparameters(name));
        var gradient = new double[theta.Length];
        for (int t = 0; t < steps; t++)
        {
            objective.LossAndGradient(theta, batch, gradient);
            optimizer.Step(theta, gradient);
        }

        return (objective, batch, theta, optimizer.Snapshot());
    }
}
