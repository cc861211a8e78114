namespace SpectralMonitor.Reference.Tests;

public class MlpObjectiveTests
{
    public static TheoryData<HiddenActivation, LossKind> AllModels => new()
    {
        { HiddenActivation.Tanh, LossKind.MeanSquaredError },
        { HiddenActivation.Relu, LossKind.MeanSquaredError },
        { HiddenActivation.Gelu, LossKind.MeanSquaredError },
        { HiddenActivation.Tanh, LossKind.CrossEntropy },
        { HiddenActivation.Relu, LossKind.CrossEntropy },
        { HiddenActivation.Gelu, LossKind.CrossEntropy },
    };

    public static TheoryData<string> TorchCases => new(TorchFixtures.Names(TorchFixtures.Models.GetProperty("cases")));

    [Theory]
    [MemberData(nameof(AllModels))]
    public void GradientMatchesCentralDifferences(HiddenActivation activation, LossKind loss)
    {
        var (objective, batch, theta) = Problem(activation, loss);
        var gradient = new double[theta.Length];
        objective.LossAndGradient(theta, batch, gradient);

        // Central differences with h = 1e-5 (≈ ε^(1/3), the step that balances the two errors): truncation
        // h²/6·|∂³L| ≈ 1e-11 and rounding ε·|L|/h ≈ 1e-11 for these O(1) losses. 1e-8 relative to ‖∇L‖∞ leaves
        // a wide margin, while a wrong or missing backprop term shows up at 1e-3 or more.
        const double h = 1e-5;
        var fd = new double[theta.Length];
        var probe = (double[])theta.Clone();
        for (int i = 0; i < theta.Length; i++)
        {
            probe[i] = theta[i] + h;
            double plus = objective.Loss(probe, batch);
            probe[i] = theta[i] - h;
            double minus = objective.Loss(probe, batch);
            probe[i] = theta[i];
            fd[i] = (plus - minus) / (2 * h);
        }

        Numerics.AssertClose(fd, gradient, 1e-8, $"{activation}/{loss} gradient");
    }

    [Theory]
    [MemberData(nameof(AllModels))]
    public void HessianVectorProductMatchesDifferencesOfGradients(HiddenActivation activation, LossKind loss)
    {
        var (objective, batch, theta) = Problem(activation, loss);
        int n = theta.Length;
        var hv = new double[n];
        var plus = new double[n];
        var minus = new double[n];
        var fd = new double[n];
        var probe = new double[n];
        for (int trial = 0; trial < 3; trial++)
        {
            var v = Numerics.RandomVector(n, 100 + trial);
            objective.HessianVectorProduct(theta, batch, v, hv);

            // (∇L(θ + hv) − ∇L(θ − hv)) / 2h with h = 1e-5: truncation h²/6·|∇³L[v,v,v]| ≈ 1e-10 for these O(1) third
            // derivatives, rounding ε·‖∇L‖/h ≈ 1e-11; 1e-7 relative to ‖Hv‖∞ is a safe bound, three orders below the
            // error a wrong R-pass term produces.
            const double h = 1e-5;
            for (int i = 0; i < n; i++)
            {
                probe[i] = theta[i] + (h * v[i]);
            }

            objective.LossAndGradient(probe, batch, plus);
            for (int i = 0; i < n; i++)
            {
                probe[i] = theta[i] - (h * v[i]);
            }

            objective.LossAndGradient(probe, batch, minus);
            for (int i = 0; i < n; i++)
            {
                fd[i] = (plus[i] - minus[i]) / (2 * h);
            }

            Numerics.AssertClose(fd, hv, 1e-7, $"{activation}/{loss} HVP trial {trial}");
        }
    }

    [Theory]
    [MemberData(nameof(AllModels))]
    public void LossGradientAndHvpInOnePassAgreeWithSeparateCalls(HiddenActivation activation, LossKind loss)
    {
        var (objective, batch, theta) = Problem(activation, loss);
        int n = theta.Length;
        var v = Numerics.RandomVector(n, 7);
        var g1 = new double[n];
        var g2 = new double[n];
        var hv1 = new double[n];
        var hv2 = new double[n];
        double l1 = objective.LossAndGradient(theta, batch, g1);
        objective.HessianVectorProduct(theta, batch, v, hv1);
        double l2 = objective.LossGradientAndHessianVectorProduct(theta, batch, v, g2, hv2);

        // Same arithmetic in the same order: bitwise equal.
        Assert.Equal(l1, l2);
        Assert.Equal(l1, objective.Loss(theta, batch));
        Assert.Equal(g1, g2);
        Assert.Equal(hv1, hv2);
    }

    [Theory]
    [MemberData(nameof(AllModels))]
    public void DenseHessianIsSymmetricToRounding(HiddenActivation activation, LossKind loss)
    {
        var (objective, batch, theta) = Problem(activation, loss);
        var h = objective.DenseHessian(theta, batch);
        int n = theta.Length;
        double max = 0;
        double asymmetry = 0;
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                max = Math.Max(max, Math.Abs(h[i, j]));
                asymmetry = Math.Max(asymmetry, Math.Abs(h[i, j] - h[j, i]));
            }
        }

        // The R-pass computes H_ij and H_ji along different paths: they agree to a few ulps of the largest entries
        // (sums of ~10 terms over 10 samples), so 1e-13·max|H| ≈ 500 ε.
        Assert.True(max > 0);
        Assert.True(asymmetry <= 1e-13 * max, $"asymmetry {asymmetry:E3} vs max {max:E3}");
    }

    [Theory]
    [MemberData(nameof(TorchCases))]
    public void LossGradientAndHvpMatchPyTorch(string name)
    {
        var fixture = TorchFixtures.ModelCase(name);
        var (objective, batch, theta) = TorchFixtures.Model(fixture);
        var gradient = new double[theta.Length];
        double loss = objective.LossAndGradient(theta, batch, gradient);

        // Both sides are exact float64 computations that differ only in summation order (BLAS blocking vs dot
        // products): agreement to ~1e-15 relative is expected; 1e-12 (loss) and 1e-10 (vectors) as the task requires.
        double expectedLoss = fixture.GetProperty("loss_value").GetDouble();
        Assert.True(Math.Abs(loss - expectedLoss) <= 1e-12 * Math.Abs(expectedLoss), $"{name}: loss {loss} vs torch {expectedLoss}");
        Numerics.AssertClose(TorchFixtures.Doubles(fixture.GetProperty("gradient")), gradient, 1e-10, $"{name} gradient");

        var hv = new double[theta.Length];
        int index = 0;
        foreach (var pair in fixture.GetProperty("hvps").EnumerateArray())
        {
            objective.HessianVectorProduct(theta, batch, TorchFixtures.Doubles(pair.GetProperty("vector")), hv);
            Numerics.AssertClose(TorchFixtures.Doubles(pair.GetProperty("product")), hv, 1e-10, $"{name} HVP {index++}");
        }

        Assert.Equal(2, index);
    }

    [Fact]
    public void PredictReturnsNetworkOutputs()
    {
        // 1 → 1 → 1 tanh network by hand: y = w2·tanh(w1·x + b1) + b2.
        var architecture = new MlpArchitecture([1, 1, 1], HiddenActivation.Tanh);
        var objective = new MlpObjective(architecture, LossKind.MeanSquaredError);
        double[] theta = [0.5, -0.25, 2.0, 0.125];
        var batch = Batch.ForRegression([1.0, -3.0], [0.0, 0.0], 1, 1);
        var outputs = new double[2];
        objective.Predict(theta, batch, outputs);
        Assert.Equal((2.0 * Math.Tanh(0.25)) + 0.125, outputs[0], 15);
        Assert.Equal((2.0 * Math.Tanh(-1.75)) + 0.125, outputs[1], 15);

        // MSE mean over the outputs.
        double expected = ((outputs[0] * outputs[0]) + (outputs[1] * outputs[1])) / 2;
        Assert.Equal(expected, objective.Loss(theta, batch), 15);
    }

    [Fact]
    public void CrossEntropyOfUniformLogitsIsLogOfClassCount()
    {
        // Zero weights give zero logits: loss = log k exactly as torch.nn.CrossEntropyLoss.
        var architecture = new MlpArchitecture([2, 3, 4], HiddenActivation.Relu);
        var objective = new MlpObjective(architecture, LossKind.CrossEntropy);
        var batch = Batch.ForClassification([1.0, 2.0, -1.0, 0.5], [3, 0], 2, 4);
        Assert.Equal(Math.Log(4), objective.Loss(new double[architecture.ParameterCount], batch), 15);
    }

    [Fact]
    public void WorkspacesGrowAndShrinkWithBatchSize()
    {
        var (objective, batch, theta) = Problem(HiddenActivation.Gelu, LossKind.CrossEntropy);
        var small = batch.Slice(0, 3);
        var g1 = new double[theta.Length];
        var g2 = new double[theta.Length];
        objective.LossAndGradient(theta, small, g1);
        objective.LossAndGradient(theta, batch, g2);
        var g3 = new double[theta.Length];
        double loss = objective.LossAndGradient(theta, small, g3);
        Assert.Equal(g1, g3);
        Assert.Equal(loss, new MlpObjective(objective.Architecture, LossKind.CrossEntropy).Loss(theta, small));
    }

    [Fact]
    public void ArgumentsAreValidated()
    {
        var (objective, batch, theta) = Problem(HiddenActivation.Tanh, LossKind.MeanSquaredError);
        var gradient = new double[theta.Length];
        var ex = Assert.Throws<ArgumentException>(() => objective.Loss(theta.AsSpan(1), batch));
        Assert.Equal("parameters", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => objective.LossAndGradient(theta, batch, new double[3]));
        Assert.Equal("gradient", ex.ParamName);
        Assert.Contains("length 3", ex.Message, StringComparison.Ordinal);

        var labels = SyntheticData.Classification(5, 4, 3, seed: 1);
        ex = Assert.Throws<ArgumentException>(() => objective.Loss(theta, labels));
        Assert.Equal("batch", ex.ParamName);
        Assert.Contains("regression targets", ex.Message, StringComparison.Ordinal);

        var wide = SyntheticData.Regression(5, 7, 3, seed: 1);
        ex = Assert.Throws<ArgumentException>(() => objective.Loss(theta, wide));
        Assert.Contains("input dimension 7", ex.Message, StringComparison.Ordinal);

        ex = Assert.Throws<ArgumentException>(() => objective.HessianVectorProduct(theta, batch, gradient, gradient));
        Assert.Equal("result", ex.ParamName);
    }

    internal static (MlpObjective Objective, Batch Batch, double[] Parameters) Problem(HiddenActivation activation, LossKind loss)
    {
        var architecture = new MlpArchitecture([4, 6, 5, 3], activation);
        var theta = architecture.InitializeParameters(seed: 11);
        for (int i = 0; i < theta.Length; i++)
        {
            theta[i] *= 2; // larger weights: the activations' curvature matters
        }

        var batch = loss == LossKind.MeanSquaredError
            ? SyntheticData.Regression(10, 4, 3, seed: 5)
            : SyntheticData.Classification(10, 4, 3, seed: 5, separation: 1.0);
        return (new MlpObjective(architecture, loss), batch, theta);
    }
}
