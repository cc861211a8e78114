using MathNet.Numerics.LinearAlgebra;
using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Optimizers;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch.Tests;

public class ProbeTargetTests
{
    private static void Train(TinyMlp mlp, optim.Optimizer optimizer, int steps)
    {
        for (int i = 0; i < steps; i++)
        {
            using var scope = torch.NewDisposeScope();
            optimizer.zero_grad();
            mlp.Loss().backward();
            optimizer.step();
        }
    }

    private static void TrainMonitored(TinyMlp mlp, optim.Optimizer optimizer, StabilityMonitor monitor, int steps)
    {
        for (int step = 0; step < steps; step++)
        {
            using var d = torch.NewDisposeScope();
            optimizer.zero_grad();
            var loss = mlp.Loss();
            loss.backward();
            optimizer.step();
            monitor.OnStep(step, loss.ToDouble());
        }
    }

    /// <summary>The singular values of a 2-D parameter (descending), by a dense SVD.</summary>
    private static double[] SingularValuesOf(TinyMlp mlp, string name)
    {
        var parameter = mlp.View.Parameters[mlp.View.Names.ToList().IndexOf(name)];
        var w = Host.ToArray(parameter);
        int rows = (int)parameter.shape[0];
        int columns = (int)parameter.shape[1];
        return Matrix<double>.Build.Dense(rows, columns, (r, c) => w[(r * columns) + c]).Svd(computeVectors: false).S.ToArray();
    }

    [Fact]
    public void AProbeContextExposesHessianStateAndWeightsAndFreesItsTensorsButNotTheWarmStartBasis()
    {
        using var outer = torch.NewDisposeScope();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 31);
        using var optimizer = torch.optim.SGD(mlp.Model.parameters(), 0.05, momentum: 0.9, weight_decay: 0.01);
        Train(mlp, optimizer, 2);
        var target = new TorchSharpProbeTarget(mlp.Model, optimizer, mlp.Loss);
        Assert.Equal("sgd", target.OptimizerName);
        Assert.NotNull(target.LearningRates);

        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        TensorBasis basis;
        double[] expectedHv;
        using (torch.NewDisposeScope())
        using (var reference = new HessianVectorProductOperator(mlp.View, mlp.Loss, mlp.Model))
        {
            var space = (TensorVectorSpace)reference.Space;
            using var v = space.CreateVector();
            using var hv = space.CreateVector();
            space.FillRandom(v, RandomKind.Gaussian, 4);
            reference.Apply(v, hv);
            expectedHv = Host.ToArray(hv);
        }

        using (var context = target.BeginProbe(CancellationToken.None))
        {
            var space = context.Hessian.Space;
            var v = space.CreateVector();
            var hv = space.CreateVector();
            space.FillRandom(v, RandomKind.Gaussian, 4);
            context.Hessian.Apply(v, hv);

            // The same double backward on the same batch: bit-identical.
            Assert.Equal(expectedHv, Host.ToArray(hv));

            var sgd = Assert.IsType<SgdSnapshot<Tensor>>(context.Optimizer);
            Assert.Null(context.OptimizerUnavailableReason);
            Assert.Equal(new SgdHyperparameters(0.05, 0.9, 0, 0.01, false, false), sgd.Hyperparameters);
            Assert.NotNull(sgd.MomentumBuffer);

            // Every 2-D parameter, in named_parameters() order, multiplied on the device as on the host.
            Assert.Equal(new[] { "fc1.weight", "fc2.weight" }, context.Weights.Select(w => w.Name));
            var random = new Random(8);
            foreach (var (weight, parameter) in context.Weights.Zip(mlp.View.Parameters.Where(p => p.dim() == 2)))
            {
                var w = Host.ToArray(parameter);
                Assert.Equal((int)parameter.shape[0], weight.Rows);
                Assert.Equal((int)parameter.shape[1], weight.Columns);
                var x = TinyMlp.Gaussian(random, weight.Columns, 1);
                var y = TinyMlp.Gaussian(random, weight.Rows, 1);
                var wx = new double[weight.Rows];
                var wty = new double[weight.Columns];
                weight.Multiply(x, wx);
                weight.MultiplyTranspose(y, wty);
                for (int r = 0; r < weight.Rows; r++)
                {
                    // A handful of products of O(1) doubles: a few ulps apart from the host's summation order.
                    Assert.Equal(Enumerable.Range(0, weight.Columns).Sum(c => w[(r * weight.Columns) + c] * x[c]), wx[r], 1e-14);
                }

                for (int c = 0; c < weight.Columns; c++)
                {
                    Assert.Equal(Enumerable.Range(0, weight.Rows).Sum(r => w[(r * weight.Columns) + c] * y[r]), wty[c], 1e-14);
                }

                Assert.Equal(w.Sum(value => value * value), weight.FrobeniusNormSquared(), 1e-14);
            }

            // The monitor's warm-start basis is created through the space while a probe's scope is open ...
            basis = Assert.IsType<TensorBasis>(space.CreateBasis(2));
            basis.Append(hv);
        }

        // ... and survives the probe: everything else the probe created is freed.
        var kept = new double[1];
        using (var check = mlp.View.CreateVectorSpace().CreateVector())
        {
            mlp.View.CreateVectorSpace().Copy(basis[0], check);
            basis.Project(check, kept);
        }

        Assert.Equal(expectedHv.Sum(value => value * value), kept[0], 1e-12 * expectedHv.Sum(value => value * value));
        basis.Dispose();
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void ConvolutionKernelsAreTrackedAsOutByRestMatrices()
    {
        using var scope = torch.NewDisposeScope();
        using var conv = nn.Conv2d(2, 3, 3, dtype: ScalarType.Float64);
        using var optimizer = torch.optim.SGD(conv.parameters(), 0.1);
        using var input = torch.ones(new long[] { 1, 2, 5, 5 }, ScalarType.Float64);

        // A fixed kernel: the default initialisation draws from the global generator, and the power-iteration
        // tolerance below depends on the gap between the kernel's top two singular values.
        using (var generator = new Generator(5))
        using (torch.no_grad())
        {
            conv.weight!.normal_(0, 1, generator);
        }

        var target = new TorchSharpProbeTarget(conv, optimizer, () => conv.forward(input).square().mean());
        using var context = target.BeginProbe(CancellationToken.None);
        var weight = Assert.Single(context.Weights);
        Assert.Equal("weight", weight.Name);
        Assert.Equal(3, weight.Rows);
        Assert.Equal(2 * 3 * 3, weight.Columns);

        // Its singular values by power iteration through the interface equal the SVD of the reshaped kernel.
        var w = Host.ToArray(conv.weight!);
        var dense = Matrix<double>.Build.Dense(3, 18, (r, c) => w[(r * 18) + c]);
        var singular = dense.Svd(computeVectors: false).S;
        double exact = singular[0];
        double gapRatio = singular[1] / singular[0];
        Assert.InRange(gapRatio, 0, 0.9);
        var v = Enumerable.Repeat(1.0, 18).ToArray();
        var u = new double[3];
        double sigma = 0;
        for (int i = 0; i < 200; i++)
        {
            weight.Multiply(v, u);
            sigma = Math.Sqrt(u.Sum(x => x * x));
            weight.MultiplyTranspose(u, v);
            double norm = Math.Sqrt(v.Sum(x => x * x));
            for (int c = 0; c < v.Length; c++)
            {
                v[c] /= norm;
            }
        }

        // 200 power steps with a gap ratio ≤ 0.9 (checked above): the error in σ₁ falls like 0.9⁴⁰⁰ ≈ 5e-19, so it is
        // converged to rounding.
        Assert.Equal(exact, sigma, 1e-10 * exact);
    }

    [Fact]
    public void OptionsChooseModeWeightsAndLearningRateControl()
    {
        using var scope = torch.NewDisposeScope();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 32, dropout: 0.5);
        using var optimizer = torch.optim.Adagrad(mlp.Model.parameters(), 0.1);
        var modes = new List<bool>();
        var target = new TorchSharpProbeTarget(
            mlp.Model,
            optimizer,
            () =>
            {
                modes.Add(mlp.Model.training);
                return mlp.Loss();
            },
            new TorchSharpProbeOptions { ModelMode = ProbeModelMode.Train, IncludeWeight = name => name.StartsWith("fc2", StringComparison.Ordinal), ControlLearningRate = false });
        Assert.Equal("adagrad", target.OptimizerName);
        Assert.Null(target.LearningRates);
        mlp.Model.eval();
        using (var context = target.BeginProbe(CancellationToken.None))
        {
            Assert.Null(context.Optimizer);
            Assert.Contains("Adagrad", context.OptimizerUnavailableReason, StringComparison.Ordinal);
            Assert.Equal("fc2.weight", Assert.Single(context.Weights).Name);
        }

        Assert.Equal(new[] { true }, modes);
        Assert.False(mlp.Model.training);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => target.BeginProbe(cancelled.Token));
        Assert.Single(modes);
    }

    [Fact]
    public void UnknownOptimizerStillGetsSharpnessAndSingularValuesAndOneLogLine()
    {
        using var scope = torch.NewDisposeScope();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 33, hidden: 5);
        using var optimizer = torch.optim.Adagrad(mlp.Model.parameters(), 0.05);
        var log = new RecordingLogger();
        var options = new StabilityMonitorOptions
        {
            ProbeInterval = 3,
            FirstProbeStep = 0,
            OverheadBudget = 1,
            BringForwardOnTrend = false,
            Tolerance = 1e-10,
            MaxHvpsPerProbe = 300,
            SingularValueIterations = 300,
            SingularValueTolerance = 1e-10,
        };
        using var monitor = optimizer.AttachSpectralMonitor(mlp.Model, mlp.Loss, new() { Monitor = options, LoggerFactory = log });
        TrainMonitored(mlp, optimizer, monitor, steps: 12);

        Assert.True(monitor.ProbeCount >= 3, $"{monitor.ProbeCount} probes");
        Assert.Equal(0, monitor.FailedProbeCount);
        Assert.Single(log.Entries, e => e.Id.Id == 1005);

        // A probe now, at the final parameters, against dense answers.
        var probe = monitor.ProbeNow(12);
        Assert.NotNull(probe);
        Assert.Equal(ProbeStatus.Succeeded, probe.Status);
        Assert.Equal(ProbePath.CurvatureOnly, probe.Path);
        Assert.False(probe.Indicators.ContainsKey(Indicators.SpectralRadius));
        using var hvp = new HessianVectorProductOperator(mlp.View, mlp.Loss, mlp.Model);
        var dense = DenseTopEigenvalue(hvp);

        // Lanczos to relative residual 1e-10 (eigenvalue error ≤ 1e-10·λ) against the EVD of the HVP-built Hessian.
        Assert.Equal(dense, probe.Indicators[Indicators.Sharpness], 1e-8 * Math.Abs(dense));
        foreach (var reading in probe.Weights)
        {
            var singular = SingularValuesOf(mlp, reading.Name);

            // Lanczos on WᵀW to a relative residual of 1e-10 (at most 12 columns: the whole space, exact to rounding).
            Assert.Equal(singular[0], reading.TopSingularValue, 1e-8 * singular[0]);
            Assert.Equal(singular.Sum(s => s * s) / (singular[0] * singular[0]), reading.StableRank, 1e-7);
        }

        Assert.Equal(2, probe.Weights.Count);
        Assert.Single(log.Entries, e => e.Id.Id == 1005);
    }

    [Fact]
    public void WeightSingularValuesAtTheDefaultToleranceAreWithinItsBound()
    {
        using var scope = torch.NewDisposeScope();
        // fc1 is 30 × 40: more columns than the singular-value Lanczos keeps (16), so it restarts rather than ending
        // with the whole space.
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 35, inputs: 40, hidden: 30);
        using var optimizer = torch.optim.SGD(mlp.Model.parameters(), 0.05, momentum: 0.9);
        var options = new StabilityMonitorOptions { ProbeInterval = 3, FirstProbeStep = 0, OverheadBudget = 1, BringForwardOnTrend = false };
        Assert.Equal(1e-3, options.SingularValueTolerance);
        using var monitor = optimizer.AttachSpectralMonitor(mlp.Model, mlp.Loss, new() { Monitor = options });
        TrainMonitored(mlp, optimizer, monitor, steps: 12);

        var probe = monitor.ProbeNow(12);
        Assert.NotNull(probe);
        Assert.Equal(ProbeStatus.Succeeded, probe.Status);
        Assert.Equal(2, probe.Weights.Count);
        foreach (var reading in probe.Weights)
        {
            double top = SingularValuesOf(mlp, reading.Name)[0];

            // Lanczos on WᵀW stopped at a relative residual of 1e-3: σ within 5e-4 of a singular value; here of σ₁
            // (checked against the SVD), which it never exceeds.
            Assert.True(reading.TopSingularValue <= top * (1 + 1e-12), $"{reading.Name}: {reading.TopSingularValue} > σ₁ = {top}");
            Assert.True(top - reading.TopSingularValue <= 0.5e-3 * top * 1.001, $"{reading.Name}: {reading.TopSingularValue} against σ₁ = {top}");
        }
    }

    [Fact]
    public void ProbesStayWithinTheHvpBudgetAndEvaluateTheProbeLossOncePerProbe()
    {
        using var scope = torch.NewDisposeScope();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 34, hidden: 8);
        using var optimizer = torch.optim.SGD(mlp.Model.parameters(), 0.05, momentum: 0.9);
        int lossCalls = 0;
        var options = new StabilityMonitorOptions
        {
            ProbeInterval = 2,
            FirstProbeStep = 0,
            OverheadBudget = 1,
            BringForwardOnTrend = false,
            KrylovDimension = 8,
            MaxHvpsPerProbe = 20,

            // Unreachable in 20 HVPs, so every probe spends its whole budget.
            Tolerance = 1e-14,
        };
        var hvpCounts = new List<long>();
        using var monitored = optimizer.WithSpectralMonitor(mlp.Model, () =>
        {
            lossCalls++;
            return mlp.Loss();
        }, new() { Monitor = options });
        monitored.Monitor.ProbeCompleted += (_, p) => hvpCounts.Add(p.HvpCount);
        for (int step = 0; step < 10; step++)
        {
            using var d = torch.NewDisposeScope();
            optimizer.zero_grad();
            var loss = mlp.Loss();
            loss.backward();
            monitored.Step(loss);
        }

        Assert.Equal(10, monitored.NextStep);
        Assert.Equal(5, hvpCounts.Count);
        Assert.Equal(hvpCounts.Count, lossCalls);
        Assert.All(hvpCounts, count => Assert.InRange(count, 8, 20));
        Assert.Equal(0, monitored.Monitor.FailedProbeCount);
    }

    [Fact]
    public void InvalidArgumentsAreRejectedAtAttachTime()
    {
        using var scope = torch.NewDisposeScope();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 35);
        using var optimizer = torch.optim.SGD(mlp.Model.parameters(), 0.1);
        using var monitored = optimizer.WithSpectralMonitor(mlp.Model, mlp.Loss);
        using var vector = torch.ones(new long[] { 2 }, ScalarType.Float64);
        var notScalar = Assert.Throws<ArgumentException>(() => monitored.Step(vector));
        Assert.Equal("loss", notScalar.ParamName);
        Assert.Equal(0, monitored.NextStep);

        Assert.Throws<ArgumentNullException>(() => optimizer.AttachSpectralMonitor(mlp.Model, null!));
        var bad = Assert.Throws<ArgumentException>(() => optimizer.AttachSpectralMonitor(mlp.Model, mlp.Loss, new() { Monitor = new StabilityMonitorOptions { ProbeInterval = 0 } }));
        Assert.Contains("ProbeInterval", bad.Message, StringComparison.Ordinal);
        using var bias = torch.ones(new long[] { 3 }, ScalarType.Float64);
        Assert.Throws<ArgumentException>(() => new TensorWeightMatrix("bias", bias));
        foreach (var parameter in mlp.Model.parameters())
        {
            parameter.requires_grad = false;
        }

        var frozen = Assert.Throws<ArgumentException>(() => optimizer.AttachSpectralMonitor(mlp.Model, mlp.Loss));
        Assert.Contains("requires grad", frozen.Message, StringComparison.Ordinal);
    }

    private static double DenseTopEigenvalue(HessianVectorProductOperator hvp)
    {
        var space = (TensorVectorSpace)hvp.Space;
        int n = space.Dimension;
        var dense = new double[n, n];
        using var e = space.CreateVector();
        using var column = space.CreateVector();
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

        var symmetric = Matrix<double>.Build.DenseOfArray(dense);
        symmetric = 0.5 * (symmetric + symmetric.Transpose());
        return symmetric.Evd(Symmetricity.Symmetric).EigenValues.Max(z => z.Real);
    }
}
