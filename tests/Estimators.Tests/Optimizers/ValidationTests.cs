using SpectralMonitor.Estimators.Operators;
using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Estimators.Tests.Optimizers;

public class ValidationTests
{
    private const int N = 20;
    private static readonly DenseMatrixOperator<double> Hessian = new(OptimizerTestData.SymmetricMatrix(N, 1), assumeSymmetric: true);

    private static double[] Ones(int n = N) => Enumerable.Repeat(1.0, n).ToArray();

    private static AdamSnapshot<double[]> Adam(AdamHyperparameters? h = null, double[]? m = null, double[]? v = null, long step = 3) =>
        new(h ?? new AdamHyperparameters(0.01), step, m ?? Ones(), v ?? Ones(), null);

    public static TheoryData<string, string> BadSnapshots => new()
    {
        { "adam-lr-zero", "AdamSnapshot.Hyperparameters.LearningRate is 0; it must be positive and finite." },
        { "adam-lr-nan", "AdamSnapshot.Hyperparameters.LearningRate is NaN; it must be positive and finite." },
        { "adam-beta1-one", "AdamSnapshot.Hyperparameters.Beta1 is 1; it must be in [0, 1)." },
        { "adam-beta2-negative", "AdamSnapshot.Hyperparameters.Beta2 is -0.5; it must be in [0, 1)." },
        { "adam-eps-zero", "AdamSnapshot.Hyperparameters.Epsilon is 0; it must be positive and finite." },
        { "adam-wd-negative", "AdamSnapshot.Hyperparameters.WeightDecay is -1; it must be non-negative and finite." },
        { "adam-step-negative", "AdamSnapshot.Step is -1; it must be non-negative (steps taken so far)." },
        { "adam-nan-17", "AdamSnapshot.ExpAvgSq contains NaN at index 17." },
        { "adam-inf-3", "AdamSnapshot.ExpAvg contains -Infinity at index 3." },
        { "adam-short", "AdamSnapshot.ExpAvg is not a vector of the Hessian's space (dimension 20; it has length 19)." },
        { "adam-negative-v", "Adam's preconditioner 1/(√v̂ + ε) is not finite at index 5 (AdamSnapshot.ExpAvgSq is negative at index 5)" },
        { "adam-amsgrad-missing", "AdamSnapshot.MaxExpAvgSq is null; it is required here." },
        { "sgd-momentum-one", "SgdSnapshot.Hyperparameters.Momentum is 1; it must be in [0, 1)." },
        { "sgd-nesterov-dampening", "Nesterov momentum requires a momentum and zero dampening" },
        { "sgd-buffer-long", "SgdSnapshot.MomentumBuffer is not a vector of the Hessian's space (dimension 20; it has length 21)." },
        { "rmsprop-alpha-one", "RmsPropSnapshot.Hyperparameters.Alpha is 1; it must be in [0, 1)." },
        { "rmsprop-momentum-negative", "RmsPropSnapshot.Hyperparameters.Momentum is -0.1; it must be in [0, 1)." },
        { "rmsprop-centered-missing", "RmsPropSnapshot.GradAvg is null; it is required here." },
    };

    [Theory]
    [MemberData(nameof(BadSnapshots))]
    public void BadSnapshotsAreRejectedByEveryBuilderWithTheFieldNamed(string name, string message)
    {
        OptimizerSnapshot<double[]> snapshot = name switch
        {
            "adam-lr-zero" => Adam(new AdamHyperparameters(0)),
            "adam-lr-nan" => Adam(new AdamHyperparameters(double.NaN)),
            "adam-beta1-one" => Adam(new AdamHyperparameters(0.01, Beta1: 1)),
            "adam-beta2-negative" => Adam(new AdamHyperparameters(0.01, Beta2: -0.5)),
            "adam-eps-zero" => Adam(new AdamHyperparameters(0.01, Epsilon: 0)),
            "adam-wd-negative" => Adam(new AdamHyperparameters(0.01, WeightDecay: -1)),
            "adam-step-negative" => Adam(step: -1),
            "adam-nan-17" => Adam(v: Ones().Select((x, i) => i == 17 ? double.NaN : x).ToArray()),
            "adam-inf-3" => Adam(m: Ones().Select((x, i) => i == 3 ? double.NegativeInfinity : x).ToArray()),
            "adam-short" => Adam(m: Ones(N - 1)),
            "adam-negative-v" => Adam(v: Ones().Select((x, i) => i == 5 ? -1 : x).ToArray()),
            "adam-amsgrad-missing" => Adam(new AdamHyperparameters(0.01, Amsgrad: true)),
            "sgd-momentum-one" => new SgdSnapshot<double[]>(new SgdHyperparameters(0.1, Momentum: 1), null),
            "sgd-nesterov-dampening" => new SgdSnapshot<double[]>(new SgdHyperparameters(0.1, Momentum: 0.9, Dampening: 0.1, Nesterov: true), null),
            "sgd-buffer-long" => new SgdSnapshot<double[]>(new SgdHyperparameters(0.1, Momentum: 0.9), Ones(N + 1)),
            "rmsprop-alpha-one" => new RmsPropSnapshot<double[]>(new RmsPropHyperparameters(0.01, Alpha: 1), 1, Ones(), null, null),
            "rmsprop-momentum-negative" => new RmsPropSnapshot<double[]>(new RmsPropHyperparameters(0.01, Momentum: -0.1), 1, Ones(), null, null),
            "rmsprop-centered-missing" => new RmsPropSnapshot<double[]>(new RmsPropHyperparameters(0.01, Centered: true), 4, Ones(), null, null),
            _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
        };

        var fromOperator = Assert.Throws<ArgumentException>(() => UpdateOperators.Create(snapshot, Hessian));
        Assert.Contains(message, fromOperator.Message, StringComparison.Ordinal);
        Assert.Equal("snapshot", fromOperator.ParamName);
        var fromDense = Assert.Throws<ArgumentException>(() => DenseUpdateMatrices.Create(snapshot, Hessian.ToArray()));
        Assert.Contains(message, fromDense.Message, StringComparison.Ordinal);
        var fromPreconditioned = Assert.Throws<ArgumentException>(() => UpdateOperators.CreatePreconditionedHessian(snapshot, Hessian));
        Assert.Contains(message, fromPreconditioned.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FullStateRequiresGradientAndParametersAndRejectsAmsgrad()
    {
        var gradient = Ones();
        var missingGradient = Assert.Throws<ArgumentException>(() => UpdateOperators.Create(Adam(), Hessian, UpdateLinearization.FullState));
        Assert.Equal("gradient", missingGradient.ParamName);

        var l2 = Adam(new AdamHyperparameters(0.01, WeightDecay: 0.1));
        var missingParameters = Assert.Throws<ArgumentException>(() => new AdamFullStateUpdateOperator<double[]>(l2, Hessian, gradient));
        Assert.Equal("parameters", missingParameters.ParamName);
        Assert.Contains("parameters is null", missingParameters.Message, StringComparison.Ordinal);

        var nanGradient = Assert.Throws<ArgumentException>(() => new AdamFullStateUpdateOperator<double[]>(Adam(), Hessian, Ones().Select((x, i) => i == 2 ? double.NaN : x).ToArray()));
        Assert.Contains("gradient contains NaN at index 2.", nanGradient.Message, StringComparison.Ordinal);

        var amsgrad = new AdamSnapshot<double[]>(new AdamHyperparameters(0.01, Amsgrad: true), 3, Ones(), Ones(), Ones());
        var ams = Assert.Throws<ArgumentException>(() => new AdamFullStateUpdateOperator<double[]>(amsgrad, Hessian, gradient));
        Assert.Contains("AdamSnapshot.Hyperparameters.Amsgrad is true", ams.Message, StringComparison.Ordinal);

        var rms = new RmsPropSnapshot<double[]>(new RmsPropHyperparameters(0.01), 1, Ones(), null, null);
        var rmsFull = Assert.Throws<ArgumentException>(() => UpdateOperators.Create(rms, Hessian, UpdateLinearization.FullState, gradient));
        Assert.Equal("linearization", rmsFull.ParamName);
    }

    [Fact]
    public void FullStateTreatsNeverUpdatedCoordinatesAsConstantAndRejectsInconsistentOnes()
    {
        // Coordinate 0 never saw a gradient (m = v = g = 0): its ∂P/∂v term is the limit 0, and the operator is finite.
        var m = Ones();
        var v = Ones();
        var g = Ones();
        m[0] = v[0] = g[0] = 0;
        var snapshot = Adam(m: m, v: v);
        using var j = new AdamFullStateUpdateOperator<double[]>(snapshot, Hessian, g);
        var dense = DenseUpdateMatrices.AdamFullState(snapshot, Hessian.ToArray(), g);
        Assert.Equal(0, dense[0, 2 * N]);
        var x = j.StateSpace.CreateVector();
        j.StateSpace.FillRandom(x, RandomKind.Gaussian, 3);
        var y = j.StateSpace.CreateVector();
        j.Apply(x, y);
        Assert.True(double.IsFinite(j.StateSpace.Dot(y, y)));

        // m ≠ 0 where v' = 0 cannot come from torch's recursions; ∂θ'/∂v is infinite there.
        var inconsistent = Adam(m: Ones(), v: v);
        var e = Assert.Throws<ArgumentException>(() => new AdamFullStateUpdateOperator<double[]>(inconsistent, Hessian, g));
        Assert.Contains("full-state Adam Jacobian is undefined", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HessianMustBeSymmetricAndOfTheStateSpace()
    {
        var nonSymmetric = new DenseMatrixOperator<double>(OptimizerTestData.SymmetricMatrix(N, 2));
        var e = Assert.Throws<ArgumentException>(() => UpdateOperators.Create(Adam(), nonSymmetric));
        Assert.Equal("hessian", e.ParamName);

        var asymmetric = OptimizerTestData.SymmetricMatrix(N, 2);
        asymmetric[0, 1] += 0.5;
        var dense = Assert.Throws<ArgumentException>(() => DenseUpdateMatrices.Create(Adam(), asymmetric));
        Assert.Contains("hessian is not symmetric: entry (0, 1)", dense.Message, StringComparison.Ordinal);

        using var j = UpdateOperators.Create(Adam(), Hessian);
        var wrong = new BlockVector<double[]>(new double[N], new double[N], new double[N]);
        Assert.Throws<ArgumentException>(() => j.Apply(wrong, j.StateSpace.CreateVector()));
    }

    [Fact]
    public void LayoutsDescribeTheStateBlocks()
    {
        using var sgd = UpdateOperators.Create(new SgdSnapshot<double[]>(new SgdHyperparameters(0.1, Momentum: 0.9), Ones()), Hessian);
        Assert.Equal(["param", "momentum_buffer"], sgd.Layout.TorchNames);
        using var first = UpdateOperators.Create(new SgdSnapshot<double[]>(new SgdHyperparameters(0.1, Momentum: 0.9), null), Hessian);
        Assert.Equal(["param"], first.Layout.TorchNames);
        Assert.Contains("first step", first.Layout.Description, StringComparison.Ordinal);
        using var adam = UpdateOperators.Create(Adam(), Hessian);
        Assert.Equal([StateBlock.Parameters, StateBlock.ExpAvg], adam.Layout.Blocks);
        Assert.Equal(UpdateLinearization.FrozenPreconditioner, adam.Layout.Linearization);
        Assert.Equal(1, adam.Layout.IndexOf(StateBlock.ExpAvg));
        Assert.Equal(-1, adam.Layout.IndexOf(StateBlock.ExpAvgSq));
        using var full = UpdateOperators.Create(Adam(), Hessian, UpdateLinearization.FullState, Ones());
        Assert.Equal(["param", "exp_avg", "exp_avg_sq"], full.Layout.TorchNames);
        Assert.Equal(UpdateLinearization.FullState, full.Layout.Linearization);
        using var beta0 = UpdateOperators.Create(Adam(new AdamHyperparameters(0.01, Beta1: 0)), Hessian);
        Assert.Equal(["param"], beta0.Layout.TorchNames);
        using var rms = UpdateOperators.Create(new RmsPropSnapshot<double[]>(new RmsPropHyperparameters(0.01, Momentum: 0.5), 1, Ones(), null, null), Hessian);
        Assert.Equal(["param", "momentum_buffer"], rms.Layout.TorchNames);
    }

    [Fact]
    public void ShiftedOperatorAddsTheShiftWithoutExtraHvp()
    {
        var h = OptimizerTestData.SymmetricMatrix(N, 5);
        var inner = new DenseMatrixOperator<double>(h, assumeSymmetric: true);
        var shifted = new ShiftedOperator<double[]>(inner, shift: 0.25, scale: -1);
        var x = OptimizerTestData.Normal(N, new Random(6));
        var y = new double[N];
        shifted.Apply(x, y);
        Assert.Equal(1, inner.TotalApplications);
        var hx = OptimizerTestData.Multiply(h, x);
        for (int i = 0; i < N; i++)
        {
            // Two roundings per entry on unit-scale numbers.
            Assert.Equal(-hx[i] + (0.25 * x[i]), y[i], 1e-14 * OptimizerTestData.ProductScale(h, x));
        }

        Assert.Throws<ArgumentException>(() => new ShiftedOperator<double[]>(inner, double.NaN));
        Assert.Throws<ArgumentException>(() => new ShiftedOperator<double[]>(new DenseMatrixOperator<double>(h), 0));
    }
}
