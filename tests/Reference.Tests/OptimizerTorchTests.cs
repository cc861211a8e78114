namespace SpectralMonitor.Reference.Tests;

public class OptimizerTorchTests
{
    public static TheoryData<string> Configs => new(TorchFixtures.Names(TorchFixtures.Optimizers.GetProperty("configs")));

    public static TheoryData<string> JacobianConfigs => new(TorchFixtures.Names(TorchFixtures.Jacobians.GetProperty("configs")));

    [Theory]
    [MemberData(nameof(Configs))]
    public void TrajectoryMatchesPyTorch(string name)
    {
        var config = TorchFixtures.OptimizerConfig(name);
        var (objective, batch, theta) = TorchFixtures.Model(TorchFixtures.Optimizers.GetProperty("model"));
        var optimizer = ReferenceOptimizer.Create(theta.Length, TorchFixtures.Hyperparameters(config));
        var trajectory = config.GetProperty("trajectory").EnumerateArray().ToArray();
        Assert.Equal(21, trajectory.Length);
        Assert.Equal(TorchFixtures.Doubles(trajectory[0].GetProperty("parameters")), theta);

        var gradient = new double[theta.Length];
        for (int t = 1; t < trajectory.Length; t++)
        {
            var expected = trajectory[t];
            double loss = objective.LossAndGradient(theta, batch, gradient);
            double torchLoss = expected.GetProperty("loss").GetDouble();

            // Float64 on both sides; only summation order and fused multiply-adds in torch's vector kernels differ
            // (~1e-16 per operation). Twenty contracting steps amplify that by far less than 1e4, so 1e-10 relative
            // (per vector, to its largest entry) is the required bound with a wide margin.
            Assert.True(Math.Abs(loss - torchLoss) <= 1e-10 * Math.Abs(torchLoss), $"{name} step {t}: loss {loss} vs {torchLoss}");
            optimizer.Step(theta, gradient);
            Numerics.AssertClose(TorchFixtures.Doubles(expected.GetProperty("parameters")), theta, 1e-10, $"{name} step {t} parameters");

            var state = TorchFixtures.StateByName(optimizer.Snapshot());
            var expectedState = TorchFixtures.StateFromJson(expected.GetProperty("state"));
            Assert.Equal(expectedState.Keys.Order(), state.Keys.Order());
            foreach (var (key, vector) in expectedState)
            {
                Numerics.AssertClose(vector, state[key], 1e-10, $"{name} step {t} {key}");
            }

            if (expected.TryGetProperty("step_count", out var stepCount))
            {
                long step = optimizer.Snapshot() switch
                {
                    Estimators.Optimizers.AdamSnapshot<double[]> adam => adam.Step,
                    Estimators.Optimizers.RmsPropSnapshot<double[]> rms => rms.Step,
                    _ => -1,
                };
                Assert.Equal(stepCount.GetInt64(), step);
            }

            Assert.Equal(t, optimizer.StepCount);
        }
    }

    /// <summary>
    /// Re-runs one step from the fixture's base state through <see cref="ReferenceOptimizer.FromSnapshot"/>, perturbing one
    /// coordinate of θ or of a state buffer, and differences it exactly as the script did: the columns must agree.
    /// </summary>
    [Theory]
    [MemberData(nameof(JacobianConfigs))]
    public void OneStepFiniteDifferenceColumnsMatchPyTorch(string name)
    {
        var config = TorchFixtures.JacobianConfig(name);
        var (objective, batch, _) = TorchFixtures.Model(TorchFixtures.Jacobians.GetProperty("model"));
        var hyperparameters = TorchFixtures.Hyperparameters(config);
        var baseElement = config.GetProperty("base");
        var theta0 = TorchFixtures.Doubles(baseElement.GetProperty("parameters"));
        var state0 = TorchFixtures.StateFromJson(baseElement.GetProperty("state"));
        long step0 = baseElement.TryGetProperty("step_count", out var sc) ? sc.GetInt64() : 0;
        int columns = 0;
        foreach (var column in config.GetProperty("columns").EnumerateArray())
        {
            string block = column.GetProperty("block").GetString()!;
            int index = column.GetProperty("index").GetInt32();
            double h = column.GetProperty("h").GetDouble();
            var plus = OneStep(objective, batch, hyperparameters, theta0, state0, step0, block, index, h);
            var minus = OneStep(objective, batch, hyperparameters, theta0, state0, step0, block, index, -h);
            var derivative = column.GetProperty("derivative");
            Assert.Equal(derivative.EnumerateObject().Select(p => p.Name).Order(), plus.Keys.Order());
            double scale = derivative.EnumerateObject().SelectMany(p => TorchFixtures.Doubles(p.Value)).Max(Math.Abs);
            foreach (var output in derivative.EnumerateObject())
            {
                var expected = TorchFixtures.Doubles(output.Value);
                var actual = new double[expected.Length];
                for (int i = 0; i < actual.Length; i++)
                {
                    actual[i] = (plus[output.Name][i] - minus[output.Name][i]) / (2 * h);
                }

                // Same formula and step on both sides: truncation errors cancel; what differs is the rounding of the
                // two step implementations divided by 2h, ≈ ε·|state|/h ≲ 1e-9 of the column's largest entry.
                Numerics.AssertClose(expected, actual, 1e-7, $"{name} ∂{output.Name}/∂{block}[{index}]", Math.Max(scale, 1e-12));
            }

            columns++;
        }

        Assert.True(columns >= 3);
    }

    /// <summary>The fixture's own check: for plain SGD, ∂θ'/∂θ = I − ηH exactly, which our HVP gives.</summary>
    [Fact]
    public void PlainSgdJacobianColumnsEqualIdentityMinusLearningRateTimesHessian()
    {
        var config = TorchFixtures.JacobianConfig("sgd_plain");
        var (objective, batch, _) = TorchFixtures.Model(TorchFixtures.Jacobians.GetProperty("model"));
        double lr = config.GetProperty("hyperparameters").GetProperty("lr").GetDouble();
        var theta0 = TorchFixtures.Doubles(config.GetProperty("base").GetProperty("parameters"));
        var unit = new double[theta0.Length];
        var hv = new double[theta0.Length];
        foreach (var column in config.GetProperty("columns").EnumerateArray())
        {
            int index = column.GetProperty("index").GetInt32();
            unit[index] = 1;
            objective.HessianVectorProduct(theta0, batch, unit, hv);
            var exact = new double[theta0.Length];
            for (int i = 0; i < exact.Length; i++)
            {
                exact[i] = unit[i] - (lr * hv[i]);
            }

            unit[index] = 0;

            // Central difference with h = 1e-6: truncation h²·η·|∇³L|/6 ≈ 1e-14, rounding ε/h ≈ 1e-10.
            Numerics.AssertClose(exact, TorchFixtures.Doubles(column.GetProperty("derivative").GetProperty("parameters")), 1e-8, $"column {index}");
        }
    }

    private static Dictionary<string, double[]> OneStep(
        MlpObjective objective, Batch batch, object hyperparameters, double[] theta0, Dictionary<string, double[]> state0, long step, string block, int index, double delta)
    {
        var theta = (double[])theta0.Clone();
        var state = state0.ToDictionary(p => p.Key, p => (double[])p.Value.Clone());
        var target = block == "parameters" ? theta : state[block];
        target[index] += delta;
        var optimizer = ReferenceOptimizer.FromSnapshot(TorchFixtures.Snapshot(hyperparameters, state, step), theta.Length);
        var gradient = new double[theta.Length];
        objective.LossAndGradient(theta, batch, gradient);
        optimizer.Step(theta, gradient);
        var result = TorchFixtures.StateByName(optimizer.Snapshot());
        result["parameters"] = theta;
        return result;
    }
}
