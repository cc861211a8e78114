using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Reference.Tests;

public class OptimizerTests
{
    public static TheoryData<string> Kinds => new("sgd", "sgd-nesterov", "adam", "adamw-amsgrad", "rmsprop", "rmsprop-centered-momentum");

    [Fact]
    public void SgdFirstMomentumStepInitializesTheBufferToTheGradient()
    {
        // PyTorch: buf = clone(d_p) on the first step (no dampening applied), then buf = μ·buf + (1−τ)·d_p.
        var sgd = new SgdOptimizer(2, new SgdHyperparameters(0.5, Momentum: 0.9, Dampening: 0.5));
        Assert.Null(((SgdSnapshot<double[]>)sgd.Snapshot()).MomentumBuffer);
        double[] theta = [1.0, -2.0];
        sgd.Step(theta, [2.0, 4.0]);
        Assert.Equal([2.0, 4.0], sgd.MomentumBuffer.ToArray());
        Assert.Equal([0.0, -4.0], theta);
        sgd.Step(theta, [1.0, 1.0]);
        Assert.Equal([(0.9 * 2.0) + 0.5, (0.9 * 4.0) + 0.5], sgd.MomentumBuffer.ToArray());
        Assert.Equal([0.0 - (0.5 * 2.3), -4.0 - (0.5 * 4.1)], theta);
    }

    [Fact]
    public void AdamFirstStepMovesEachCoordinateByTheLearningRate()
    {
        // After one step m̂ = g and v̂ = g², so Δθ = −η·g/(|g| + ε) ≈ −η·sign(g): a closed form.
        var adam = new AdamOptimizer(3, new AdamHyperparameters(0.01, Epsilon: 1e-12));
        double[] theta = [0.0, 0.0, 0.0];
        adam.Step(theta, [3.0, -0.5, 1e-3]);
        // Exact up to the rounding of a handful of operations (1e-17 absolute).
        Assert.Equal(-0.01 * 3.0 / (3.0 + 1e-12), theta[0], 1e-17);
        Assert.Equal(0.01 * 0.5 / (0.5 + 1e-12), theta[1], 1e-17);
        Assert.Equal(-0.01 * 1e-3 / (1e-3 + 1e-12), theta[2], 1e-17);
        Assert.Equal(1, adam.StepCount);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void RestoringASnapshotContinuesTheTrajectoryExactly(string kind)
    {
        const int n = 6;
        var reference = Create(kind, n);
        var theta = Numerics.RandomVector(n, 1);
        for (int t = 0; t < 3; t++)
        {
            reference.Step(theta, Gradient(theta, t));
        }

        var snapshot = reference.Snapshot();
        var restored = ReferenceOptimizer.FromSnapshot(snapshot, n);
        Assert.Equal(reference.Kind, restored.Kind);
        if (reference.Kind != OptimizerKind.Sgd)
        {
            // torch's SGD keeps no step count, so an SGD snapshot does not carry one.
            Assert.Equal(reference.StepCount, restored.StepCount);
        }
        var thetaRestored = (double[])theta.Clone();
        for (int t = 3; t < 6; t++)
        {
            reference.Step(theta, Gradient(theta, t));
            restored.Step(thetaRestored, Gradient(thetaRestored, t));
        }

        // Same arithmetic from the same state: bitwise equal.
        Assert.Equal(theta, thetaRestored);
        var a = TorchFixtures.StateByName(reference.Snapshot());
        var b = TorchFixtures.StateByName(restored.Snapshot());
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var key in a.Keys)
        {
            Assert.Equal(a[key], b[key]);
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void SnapshotsAreCopies(string kind)
    {
        const int n = 4;
        var optimizer = Create(kind, n);
        var theta = Numerics.RandomVector(n, 2);
        optimizer.Step(theta, Gradient(theta, 0));
        var snapshot = optimizer.Snapshot();
        var before = TorchFixtures.StateByName(snapshot).ToDictionary(p => p.Key, p => (double[])p.Value.Clone());
        optimizer.Step(theta, Gradient(theta, 1));
        foreach (var (key, vector) in TorchFixtures.StateByName(snapshot))
        {
            Assert.Equal(before[key], vector);
        }

        // And restoring copies too: mutating the snapshot afterwards does not reach the optimizer.
        var restored = ReferenceOptimizer.FromSnapshot(snapshot, n);
        var restoredBefore = TorchFixtures.StateByName(restored.Snapshot());
        foreach (var vector in TorchFixtures.StateByName(snapshot).Values)
        {
            vector[0] += 1;
        }

        foreach (var (key, vector) in TorchFixtures.StateByName(restored.Snapshot()))
        {
            Assert.Equal(restoredBefore[key], vector);
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void MaximizeEqualsMinimizingTheNegatedGradient(string kind)
    {
        const int n = 5;
        var plain = Create(kind, n);
        var maximizing = Create(kind, n, maximize: true);
        var theta1 = Numerics.RandomVector(n, 3);
        var theta2 = (double[])theta1.Clone();
        for (int t = 0; t < 4; t++)
        {
            var g = Gradient(theta1, t);
            plain.Step(theta1, g);
            maximizing.Step(theta2, [.. g.Select(x => -x)]);
        }

        Assert.Equal(theta1, theta2);
    }

    [Fact]
    public void LearningRateCanBeChangedBetweenSteps()
    {
        var sgd = new SgdOptimizer(1, new SgdHyperparameters(0.1));
        double[] theta = [1.0];
        sgd.LearningRate = 0.25;
        sgd.Step(theta, [2.0]);
        Assert.Equal(0.5, theta[0]);
        Assert.Equal(0.25, ((SgdSnapshot<double[]>)sgd.Snapshot()).Hyperparameters.LearningRate);
        var ex = Assert.Throws<ArgumentException>(() => sgd.LearningRate = -1);
        Assert.Contains("LearningRate = -1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HyperparametersAreValidatedWithTheFieldNamed()
    {
        AssertMessage(() => new SgdOptimizer(3, new SgdHyperparameters(0)), "LearningRate = 0");
        AssertMessage(() => new SgdOptimizer(3, new SgdHyperparameters(double.PositiveInfinity)), "LearningRate = Infinity");
        AssertMessage(() => new SgdOptimizer(3, new SgdHyperparameters(0.1, Momentum: -0.5)), "Momentum = -0.5");
        AssertMessage(() => new SgdOptimizer(3, new SgdHyperparameters(0.1, WeightDecay: double.NaN)), "WeightDecay = NaN");
        AssertMessage(() => new SgdOptimizer(3, new SgdHyperparameters(0.1, Momentum: 0.9, Dampening: 0.1, Nesterov: true)), "Nesterov needs");
        AssertMessage(() => new SgdOptimizer(0, new SgdHyperparameters(0.1)), "dimension = 0");
        AssertMessage(() => new AdamOptimizer(3, new AdamHyperparameters(0.1, Beta1: 1.0)), "Beta1 = 1");
        AssertMessage(() => new AdamOptimizer(3, new AdamHyperparameters(0.1, Beta2: -0.1)), "Beta2 = -0.1");
        AssertMessage(() => new AdamOptimizer(3, new AdamHyperparameters(0.1, Epsilon: 0)), "Epsilon = 0");
        AssertMessage(() => new AdamOptimizer(3, new AdamHyperparameters(0.1, WeightDecay: -1)), "WeightDecay = -1");
        AssertMessage(() => new RmsPropOptimizer(3, new RmsPropHyperparameters(0.1, Alpha: 1.5)), "Alpha = 1.5");
        AssertMessage(() => new RmsPropOptimizer(3, new RmsPropHyperparameters(0.1, Momentum: -1)), "Momentum = -1");
        AssertMessage(() => new RmsPropOptimizer(3, new RmsPropHyperparameters(0.1, Epsilon: -1e-8)), "Epsilon = -1E-08");
        AssertMessage(() => ReferenceOptimizer.Create(3, "adam"), "String");
    }

    [Fact]
    public void SnapshotsAreValidatedOnRestore()
    {
        var adam = new AdamHyperparameters(0.1, Amsgrad: true);
        AssertMessage(() => ReferenceOptimizer.FromSnapshot(new AdamSnapshot<double[]>(adam, 2, new double[3], new double[4], new double[3]), 3), "ExpAvgSq has length 4");
        AssertMessage(() => ReferenceOptimizer.FromSnapshot(new AdamSnapshot<double[]>(adam, 2, new double[3], new double[3], null), 3), "MaxExpAvgSq is missing");
        AssertMessage(() => ReferenceOptimizer.FromSnapshot(new AdamSnapshot<double[]>(adam, -1, new double[3], new double[3], null), 3), "Step = -1");
        var rms = new RmsPropHyperparameters(0.1, Momentum: 0.5, Centered: true);
        AssertMessage(() => ReferenceOptimizer.FromSnapshot(new RmsPropSnapshot<double[]>(rms, 4, new double[3], new double[3], null), 3), "GradAvg is missing");
        AssertMessage(() => ReferenceOptimizer.FromSnapshot(new SgdSnapshot<double[]>(new SgdHyperparameters(0.1, 0.9), new double[2]), 3), "MomentumBuffer has length 2");

        // At step 0 absent buffers mean PyTorch's zero initialization.
        var fresh = ReferenceOptimizer.FromSnapshot(new AdamSnapshot<double[]>(adam, 0, new double[3], new double[3], null), 3);
        Assert.Equal(new double[3], ((AdamSnapshot<double[]>)fresh.Snapshot()).MaxExpAvgSq);
    }

    [Fact]
    public void StepValidatesLengths()
    {
        var adam = new AdamOptimizer(3, new AdamHyperparameters(0.1));
        var ex = Assert.Throws<ArgumentException>(() => adam.Step(new double[3], new double[2]));
        Assert.Equal("gradient", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => adam.Step(new double[4], new double[3]));
        Assert.Equal("parameters", ex.ParamName);
        Assert.Equal(0, adam.StepCount);
    }

    private static void AssertMessage(Func<object> action, string fragment)
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() => action());
        Assert.Contains(fragment, ex.Message, StringComparison.Ordinal);
    }

    /// <summary>A smooth, state-dependent gradient (∇ of Σ cos(θ_i)·(i+1) plus a step-dependent term).</summary>
    private static double[] Gradient(double[] theta, int t) =>
        [.. theta.Select((x, i) => (-(i + 1) * Math.Sin(x)) + (0.1 * Math.Cos(t + i)))];

    private static IReferenceOptimizer Create(string kind, int n, bool maximize = false) => kind switch
    {
        "sgd" => new SgdOptimizer(n, new SgdHyperparameters(0.1, 0.9, 0.2, 0.01, Maximize: maximize)),
        "sgd-nesterov" => new SgdOptimizer(n, new SgdHyperparameters(0.1, 0.9, 0, 0.01, Nesterov: true, Maximize: maximize)),
        "adam" => new AdamOptimizer(n, new AdamHyperparameters(0.05, WeightDecay: 0.01, Maximize: maximize)),
        "adamw-amsgrad" => new AdamOptimizer(n, new AdamHyperparameters(0.05, 0.8, 0.99, 1e-8, 0.1, Amsgrad: true, Decoupled: true, Maximize: maximize)),
        "rmsprop" => new RmsPropOptimizer(n, new RmsPropHyperparameters(0.01, Maximize: maximize)),
        "rmsprop-centered-momentum" => new RmsPropOptimizer(n, new RmsPropHyperparameters(0.01, 0.9, 1e-8, 0.01, 0.5, Centered: true, Maximize: maximize)),
        _ => throw new ArgumentException(kind, nameof(kind)),
    };
}
