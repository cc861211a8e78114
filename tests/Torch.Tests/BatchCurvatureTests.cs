using SpectralMonitor.Rules;
using TorchSharp;
using static TorchSharp.torch;
using GaugeReader = SpectralMonitor.Torch.Tests.ForwardLogitSensorTests.GaugeReader;

namespace SpectralMonitor.Torch.Tests;

/// <summary>
/// <see cref="TorchSharpProbeOptions.BatchLoss"/>: the step sensor's curvature of the training batch along the update
/// just taken (<see cref="Indicators.BatchCurvatureToEdge"/>). On a least-squares loss, quadratic in the weights, the
/// finite difference it takes is exact, so the reading must equal ΔᵀHΔ / ‖Δ‖²_M over the edge with H = 2XᵀX/n, for
/// SGD-momentum (M = I) and Adam (M = diag(√v̂ + ε)); through the monitor it is read where prepared, its rule fires,
/// and training is left bit-identical.
/// </summary>
[Collection(SerialTorchTests.Name)]
public sealed class BatchCurvatureTests
{
    private static readonly double[] Inputs = [1, 2, 0, 0, 1, -1, 3, 0, 1, 1, 1, 1, -2, 0, 2];
    private static readonly double[] Targets = [1, -1, 2, 0, 0.5];

    /// <summary>
    /// The edges written out by hand, as PyTorch's update maps give them (not through <c>UpdateBlock</c>): heavy-ball SGD
    /// 2(1 + μ)/η; Nesterov 2(1 + μ)/(η(1 + 2μ)) over H + λI (L2 decay λ); Adam 2(1 + β₁)/((1 − β₁)ηc₁) with
    /// c₁ = 1/(1 − β₁ᵗ⁺¹) at the next step t + 1; AdamW (2 − ηλ)(1 + β₁)/((1 − β₁)ηc₁) over H (decay decoupled).
    /// </summary>
    [Theory]
    [InlineData("sgd")]
    [InlineData("sgd-nesterov-decay")]
    [InlineData("adam")]
    [InlineData("adam-amsgrad")]
    [InlineData("adamw-decay")]
    public void TheReadingIsTheCurvatureAlongTheUpdateOverTheEdgeExactlyOnAQuadraticLoss(string optimizerName)
    {
        const double rate = 0.05, decay = 0.1, mu = 0.9, beta1 = 0.9;
        using var x = torch.tensor(Inputs, dtype: ScalarType.Float64).reshape(5, 3);
        using var y = torch.tensor(Targets, dtype: ScalarType.Float64).reshape(5, 1);
        using var model = Linear();
        using optim.Optimizer optimizer = optimizerName switch
        {
            "sgd" => torch.optim.SGD(model.parameters(), rate, momentum: mu),
            "sgd-nesterov-decay" => torch.optim.SGD(model.parameters(), rate, momentum: mu, weight_decay: decay, nesterov: true),
            "adam" => torch.optim.Adam(model.parameters(), rate),
            "adam-amsgrad" => torch.optim.Adam(model.parameters(), rate, amsgrad: true),
            _ => torch.optim.AdamW(model.parameters(), rate, weight_decay: decay),
        };
        bool adam = optimizerName.StartsWith("adam", StringComparison.Ordinal);
        Tensor Loss() => nn.functional.mse_loss(model.forward(x), y);
        var target = new TorchSharpProbeTarget(model, optimizer, Loss, new TorchSharpProbeOptions { BatchLoss = Loss });
        Assert.True(target.CapturesTrainingForward);

        // The target reads these CPU tensors in a managed pass; this reader keeps every parameter on the tensor path.
        var tensorPath = new BatchCurvatureReader(Loss, onHost: false);

        using var secondMoment = torch.zeros(3, dtype: ScalarType.Float64);
        using var largestSecondMoment = torch.zeros(3, dtype: ScalarType.Float64);
        double average = double.NaN;
        for (int step = 0; step < 4; step++)
        {
            using var scope = torch.NewDisposeScope();
            target.PrepareRead(); // the monitor's call after the previous step: copies θ before this update
            tensorPath.Prepare(optimizer);
            optimizer.zero_grad();
            var loss = Loss();
            loss.backward();
            secondMoment.mul_(0.999).add_(model.weight!.grad!.reshape(3).square().mul(0.001));
            largestSecondMoment.copy_(torch.maximum(largestSecondMoment, secondMoment));
            var start = model.weight!.detach().clone();
            optimizer.step();
            var readings = new Dictionary<string, double>();
            Assert.True(target.TryReadStep(step, loss.item<double>(), readings));
            var tensorReadings = new Dictionary<string, double>();
            Assert.True(tensorPath.TryRead(optimizer, loss.item<double>(), tensorReadings));

            // H = 2XᵀX/n for the mean squared error; Δ the step just taken; Adam's v kept here from the gradients.
            var delta = model.weight!.detach().sub(start).reshape(3);
            double squared = delta.dot(delta).item<double>();
            double curvature = delta.dot(x.t().matmul(x).mul(2.0 / 5).matmul(delta)).item<double>()
                + (optimizerName == "sgd-nesterov-decay" ? decay * squared : 0);
            var v = optimizerName == "adam-amsgrad" ? largestSecondMoment : secondMoment;
            double metric = adam
                ? delta.square().mul(v.div(1 - Math.Pow(0.999, step + 1)).sqrt().add(1e-8)).sum().item<double>()
                : squared;
            double c1 = 1 / (1 - Math.Pow(beta1, step + 2));
            double edge = optimizerName switch
            {
                "sgd" => 2 * (1 + mu) / rate,
                "sgd-nesterov-decay" => 2 * (1 + mu) / (rate * (1 + (2 * mu))),
                "adamw-decay" => (2 - (rate * decay)) * (1 + beta1) / ((1 - beta1) * rate * c1),
                _ => 2 * (1 + beta1) / ((1 - beta1) * rate * c1),
            };
            double expected = curvature / metric / edge;

            // Float64 throughout: the loss difference cancels to about 1e-16 of a loss of order 1 against a quadratic
            // term of order 1e-3–1e-2, so 1e-9 relative is loose.
            Assert.Equal(expected, readings[Indicators.BatchCurvatureToEdge], 1e-9 * Math.Abs(expected));
            Assert.Equal(expected, tensorReadings[Indicators.BatchCurvatureToEdge], 1e-9 * Math.Abs(expected));
            average = double.IsNaN(average) ? expected : (0.5 * average) + (0.5 * expected);
            Assert.Equal(average, readings[Indicators.BatchCurvatureToEdgeAverage], 1e-9 * Math.Abs(average));
        }
    }

    /// <summary>
    /// Two parameter groups at different rates: heavy-ball SGD at rate ηᵍ is stable while the curvature in the metric
    /// D⁻¹ = diag(1/ηᵍ) stays under 2(1 + μ), so the reading is ΔᵀHΔ / Σ_g (2(1 + μ)/ηᵍ)‖Δᵍ‖², with H = 2[X 1]ᵀ[X 1]/n
    /// over (weight, bias).
    /// </summary>
    [Fact]
    public void GroupsWithDifferentRatesAreReadInTheMetricThatPutsThemOnOneEdge()
    {
        const double weightRate = 0.05, biasRate = 0.01, mu = 0.9;
        using var x = torch.tensor(Inputs, dtype: ScalarType.Float64).reshape(5, 3);
        using var y = torch.tensor(Targets, dtype: ScalarType.Float64).reshape(5, 1);
        using var model = nn.Linear(3, 1, dtype: ScalarType.Float64);
        using var optimizer = torch.optim.SGD(
            new[] { new TorchSharp.Modules.SGD.ParamGroup([model.weight!], weightRate, momentum: mu), new TorchSharp.Modules.SGD.ParamGroup([model.bias!], biasRate, momentum: mu) },
            weightRate,
            momentum: mu);
        Tensor Loss() => nn.functional.mse_loss(model.forward(x), y);
        var target = new TorchSharpProbeTarget(model, optimizer, Loss, new TorchSharpProbeOptions { BatchLoss = Loss });
        using var design = torch.cat([x, torch.ones(5, 1, dtype: ScalarType.Float64)], dim: 1);
        using var hessian = design.t().matmul(design).mul(2.0 / 5);
        for (int step = 0; step < 3; step++)
        {
            using var scope = torch.NewDisposeScope();
            target.PrepareRead();
            optimizer.zero_grad();
            var loss = Loss();
            loss.backward();
            var start = torch.cat([model.weight!.detach().reshape(3), model.bias!.detach()]).clone();
            optimizer.step();
            var readings = new Dictionary<string, double>();
            Assert.True(target.TryReadStep(step, loss.item<double>(), readings));

            var delta = torch.cat([model.weight!.detach().reshape(3), model.bias!.detach()]).sub(start);
            double curvature = delta.dot(hessian.matmul(delta)).item<double>();
            double weightPart = delta[..3].square().sum().item<double>(), biasPart = delta[3..].square().sum().item<double>();
            double expected = curvature / ((2 * (1 + mu) / weightRate * weightPart) + (2 * (1 + mu) / biasRate * biasPart));
            Assert.Equal(expected, readings[Indicators.BatchCurvatureToEdge], 1e-9 * Math.Abs(expected));
        }
    }

    /// <summary>
    /// On a float32 MLP (several parameter tensors, nonlinear loss), the managed pass over CPU memory and the tensor
    /// operations give the same reading: both form Δ in float32 and sum in float64, in different orders, so they agree to
    /// rounding of the sums (1e-12 relative is loose) amplified by the cancellation in L′ − L − gᵀΔ (gᵀΔ is 10–1000 times
    /// the curvature term here), hence 1e-8.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheManagedPassAndTheTensorOperationsReadTheSame(bool adam)
    {
        torch.manual_seed(3);
        using var model = nn.Sequential(("fc1", nn.Linear(6, 32)), ("tanh", nn.Tanh()), ("fc2", nn.Linear(32, 3)));
        using optim.Optimizer optimizer = adam ? torch.optim.AdamW(model.parameters(), 0.01) : torch.optim.SGD(model.parameters(), 0.1, momentum: 0.9, nesterov: true);
        var generator = new torch.Generator(7);
        using var inputs = torch.randn(16, 6, generator: generator);
        using var targets = torch.randint(0, 3, [16], generator: generator);
        Tensor Loss() => nn.functional.cross_entropy(model.forward(inputs), targets);
        var host = new BatchCurvatureReader(Loss);
        var tensors = new BatchCurvatureReader(Loss, onHost: false);
        for (int step = 0; step < 5; step++)
        {
            using var scope = torch.NewDisposeScope();
            host.Prepare(optimizer);
            tensors.Prepare(optimizer);
            optimizer.zero_grad();
            var loss = Loss();
            loss.backward();
            optimizer.step();
            var fromHost = new Dictionary<string, double>();
            var fromTensors = new Dictionary<string, double>();
            Assert.True(host.TryRead(optimizer, loss.item<float>(), fromHost));
            Assert.True(tensors.TryRead(optimizer, loss.item<float>(), fromTensors));
            double expected = fromTensors[Indicators.BatchCurvatureToEdge];
            Assert.True(double.IsFinite(expected) && expected != 0);
            Assert.Equal(expected, fromHost[Indicators.BatchCurvatureToEdge], 1e-8 * Math.Abs(expected));
        }
    }

    [Fact]
    public void NothingIsReadWithoutAPreparedCopyOrWithTheGradientsZeroed()
    {
        using var x = torch.tensor(Inputs, dtype: ScalarType.Float64).reshape(5, 3);
        using var y = torch.tensor(Targets, dtype: ScalarType.Float64).reshape(5, 1);
        using var model = Linear();
        using var optimizer = torch.optim.SGD(model.parameters(), 0.05, momentum: 0.9);
        Tensor Loss() => nn.functional.mse_loss(model.forward(x), y);
        var target = new TorchSharpProbeTarget(model, optimizer, Loss, new TorchSharpProbeOptions { BatchLoss = Loss });
        double Step(bool prepare, bool zeroAfter, Dictionary<string, double> readings)
        {
            if (prepare)
            {
                target.PrepareRead();
            }

            optimizer.zero_grad();
            using var loss = Loss();
            loss.backward();
            optimizer.step();
            if (zeroAfter)
            {
                foreach (var p in model.parameters())
                {
                    using var noGrad = torch.no_grad();
                    p.grad?.zero_();
                }
            }

            Assert.True(target.TryReadStep(0, loss.item<double>(), readings)); // the optimizer statistics are read
            return loss.item<double>();
        }

        var unprepared = new Dictionary<string, double>();
        Step(prepare: false, zeroAfter: false, unprepared);
        Assert.Contains(Indicators.UpdateToWeight, unprepared.Keys);
        Assert.DoesNotContain(Indicators.BatchCurvatureToEdge, unprepared.Keys);

        var zeroed = new Dictionary<string, double>();
        Step(prepare: true, zeroAfter: true, zeroed);
        Assert.DoesNotContain(Indicators.BatchCurvatureToEdge, zeroed.Keys);

        // A prepared copy is used once: the next read without a new prepare has none.
        var prepared = new Dictionary<string, double>();
        Step(prepare: true, zeroAfter: false, prepared);
        Assert.True(prepared[Indicators.BatchCurvatureToEdge] > 0);
        var again = new Dictionary<string, double>();
        Step(prepare: false, zeroAfter: false, again);
        Assert.DoesNotContain(Indicators.BatchCurvatureToEdge, again.Keys);
    }

    [Fact]
    public void ThroughTheMonitorItIsReadRaisesItsRuleAndLeavesTrainingBitIdentical()
    {
        const string run = "batch-curvature-monitor";
        double[] Train(bool monitored, List<StabilityAlert> alerts, List<double?> gauges)
        {
            torch.manual_seed(11);
            using var model = nn.Sequential(("fc1", nn.Linear(6, 16)), ("tanh", nn.Tanh()), ("fc2", nn.Linear(16, 3)));
            using var optimizer = torch.optim.Adam(model.parameters(), 0.05);
            var generator = new torch.Generator(5);
            Tensor inputs = torch.empty(0), targets = torch.empty(0);
            Tensor BatchLoss() => nn.functional.cross_entropy(model.forward(inputs), targets);
            using var probeInputs = torch.randn(32, 6, generator: generator);
            using var probeTargets = torch.randint(0, 3, [32], generator: generator);
            var options = new TorchSharpMonitorOptions
            {
                // The rule's thresholds moved so that any reading raises it: this checks the wiring, not the threshold.
                Monitor = new StabilityMonitorOptions
                {
                    RunName = run, FirstProbeStep = 1_000_000, OverheadBudget = 1, StepSensorInterval = 2,
                    Rules = [DefaultRules.BatchCurvatureRise with { Warning = -1e9, Critical = 1e9 }],
                },
                Probe = new TorchSharpProbeOptions { BatchLoss = BatchLoss },
            };
            using var monitor = monitored ? optimizer.AttachSpectralMonitor(model, () => nn.functional.cross_entropy(model.forward(probeInputs), probeTargets), options) : null;
            if (monitor is not null)
            {
                monitor.AlertRaised += (_, alert) => alerts.Add(alert);
            }

            using var gauge = monitored ? new GaugeReader(Indicators.BatchCurvatureToEdge, run) : null;
            var losses = new List<double>();
            for (int step = 0; step < 30; step++)
            {
                using var scope = torch.NewDisposeScope();
                inputs = torch.randn(16, 6, generator: generator);
                targets = torch.randint(0, 3, [16], generator: generator);
                optimizer.zero_grad();
                var loss = nn.functional.cross_entropy(model.call(inputs), targets);
                loss.backward();
                optimizer.step();
                losses.Add(loss.item<float>());
                monitor?.OnStep(step, losses[^1]);
                gauges.Add(gauge?.Read());
            }

            return [.. losses];
        }

        var alerts = new List<StabilityAlert>();
        var gauges = new List<double?>();
        double[] plain = Train(monitored: false, [], []);
        double[] watched = Train(monitored: true, alerts, gauges);
        Assert.Equal(plain, watched);

        // Reads are due every 2nd step and prepared a step ahead (the one due at step 0 is read at step 1).
        Assert.Null(gauges[0]);
        Assert.All(gauges.Skip(1), g => Assert.NotNull(g));
        Assert.Contains(alerts, a => a.Rule == DefaultRules.BatchCurvatureRise.Name);

        // Not before the rule's warm-up (20 steps; the loop numbers steps from 0, as the monitor's timeline does).
        Assert.All(alerts.Where(a => a.Rule == DefaultRules.BatchCurvatureRise.Name), a => Assert.True(a.Step >= DefaultRules.BatchCurvatureRise.WarmupSteps, $"raised at step {a.Step}"));
    }

    private static TorchSharp.Modules.Linear Linear()
    {
        var model = nn.Linear(3, 1, hasBias: false, dtype: ScalarType.Float64);
        using (torch.no_grad())
        {
            model.weight!.copy_(torch.tensor(new[] { 0.3, -0.2, 0.1 }, dtype: ScalarType.Float64).reshape(1, 3));
        }

        return model;
    }
}
