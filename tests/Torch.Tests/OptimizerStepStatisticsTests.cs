using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch.Tests;

public class OptimizerStepStatisticsTests
{
    // The reader reduces in float32 (it is a cheap sensor); sums of a few dozen float32 squares are exact to a few
    // parts in 10⁷ relative, so 1e-5 relative leaves a wide margin and still catches any wrong formula (which would
    // be off by factors such as c₁, √c₂ or ε).
    private const double Relative = 1e-5;

    private static double Norm(IEnumerable<double> x) => Math.Sqrt(x.Sum(v => v * v));

    private static void Close(double expected, double actual, string what) =>
        Assert.True(
            (double.IsNaN(expected) && double.IsNaN(actual)) || Math.Abs(expected - actual) <= Relative * Math.Abs(expected) + 1e-12,
            $"{what}: expected {expected}, got {actual}");

    // Sizes: every tensor small (reduced together); a 76,800-element weight above SmallTensor (reduced alone) beside
    // three small ones.
    // Both paths: the managed pass over CPU memory (the default on the CPU) and the tensor operations (any device).
    [Theory]
    [InlineData(3, 4, true)]
    [InlineData(256, 300, true)]
    [InlineData(3, 4, false)]
    [InlineData(256, 300, false)]
    public void AdamStatisticsMatchTheStepActuallyTaken(int inputs, int hidden, bool onHost)
    {
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 3, inputs: inputs, hidden: hidden);
        Assert.Equal(inputs > 200, mlp.Model.parameters().Any(p => p.numel() > OptimizerStepStatisticsReader.SmallTensor));
        const double lr = 0.01, eps = 1e-2;
        using var optimizer = torch.optim.Adam(mlp.Model.parameters(), lr, beta1: 0.9, beta2: 0.999, eps: eps);
        Assert.Null(OptimizerStepStatisticsReader.TryRead(optimizer, out string? none));
        Assert.NotNull(none);
        for (int k = 0; k < 3; k++)
        {
            OptimizerStateReaderTests.Step(mlp, optimizer);
        }

        var before = mlp.ParametersToArray();
        OptimizerStateReaderTests.Step(mlp, optimizer);
        var after = mlp.ParametersToArray();
        var s = OptimizerStepStatisticsReader.TryRead(optimizer, OptimizerStepStatisticsReader.SmallTensor, OptimizerStepStatisticsReader.BatchElements, onHost, out string? reason);
        Assert.Null(reason);
        Assert.NotNull(s);
        Assert.Equal(4, s!.Step);

        // Without weight decay torch's Adam moves θ by exactly −η·m̂/(√v̂+ε): the statistics must describe that move.
        var u = before.Zip(after, (b, a) => (b - a) / lr).ToArray();
        Close(Norm(u), s.UpdateNormOverLearningRate, "‖Δθ‖/η");
        Close(lr * Norm(u) / Norm(after), s.UpdateToWeight, "η‖Δθ‖/‖θ‖");
        Close(u.Max(Math.Abs), s.MaxNormalizedUpdate, "max |m̂|/(√v̂+ε)");
        double worst = 0;
        int offset = 0;
        for (int i = 0; i < mlp.View.Count; i++)
        {
            int n = (int)mlp.View.Lengths[i];
            worst = Math.Max(worst, lr * Norm(u.Skip(offset).Take(n)) / Norm(after.Skip(offset).Take(n)));
            offset += n;
        }

        Close(worst, s.MaxLayerUpdateToWeight, "worst layer η‖Δθ_l‖/‖θ_l‖");

        // ε-dominated and saturated shares from the state itself, in float64.
        var state = ((TorchSharp.Modules.OptimizerHelper)optimizer).state_dict().State.Cast<TorchSharp.Modules.Adam.State>().ToArray();
        double c1 = 1 - Math.Pow(0.9, 4), c2 = 1 - Math.Pow(0.999, 4);
        var m = state.SelectMany(x => Host.ToArray(x.exp_avg.reshape(-1))).ToArray();
        var root = state.SelectMany(x => Host.ToArray(x.exp_avg_sq.reshape(-1))).Select(v => Math.Sqrt(v / c2)).ToArray();
        var normalized = m.Zip(root, (mi, r) => Math.Abs(mi / c1) / (r + eps)).ToArray();
        Assert.True(Host.MaxAbsDifference(normalized, u.Select(Math.Abs).ToArray()) <= 1e-12, "the state reproduces the step");
        Assert.DoesNotContain(root, r => Math.Abs(r - (OptimizerStepStatisticsReader.EpsilonFactor * eps)) < 1e-6);
        Assert.DoesNotContain(normalized, v => Math.Abs(v - OptimizerStepStatisticsReader.SaturationLevel) < 1e-6);
        double epsilonShare = root.Count(r => r <= OptimizerStepStatisticsReader.EpsilonFactor * eps) / (double)root.Length;
        Assert.InRange(epsilonShare, 1e-9, 1 - 1e-9); // ε = 0.01 puts the threshold (0.1) inside this model's √v̂ range
        Assert.Equal(epsilonShare, s.EpsilonDominatedShare, 12);
        Assert.Equal(normalized.Count(v => v >= OptimizerStepStatisticsReader.SaturationLevel) / (double)normalized.Length, s.SaturatedShare, 12);
        Assert.InRange(s.MaxLayerEpsilonDominatedShare, s.EpsilonDominatedShare, 1);
    }

    [Theory]
    [InlineData("adam")]
    [InlineData("sgd")]
    public void ReducingTensorsTogetherOrAloneGivesTheSameStatistics(string kind)
    {
        // Twelve 64×64 layers: read tensor by tensor, all together, and in chunks of about two layers.
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        for (int i = 0; i < 12; i++)
        {
            layers.Add(($"fc{i}", nn.Linear(64, 64, dtype: ScalarType.Float64)));
            layers.Add(($"act{i}", nn.Tanh()));
        }

        torch.manual_seed(11);
        using var model = nn.Sequential(layers);
        using optim.Optimizer optimizer = kind == "adam" ? torch.optim.Adam(model.parameters(), 1e-3, eps: 1e-6) : torch.optim.SGD(model.parameters(), 0.05, momentum: 0.9);
        var generator = new torch.Generator(5);
        using var inputs = torch.randn(new long[] { 16, 64 }, ScalarType.Float64, generator: generator);
        for (int step = 0; step < 3; step++)
        {
            optimizer.zero_grad();
            using var loss = model.forward(inputs).square().mean();
            loss.backward();
            optimizer.step();
        }

        var alone = OptimizerStepStatisticsReader.TryRead(optimizer, smallTensor: 0, batchElements: 0, onHost: false, out _)!;
        var together = OptimizerStepStatisticsReader.TryRead(optimizer, OptimizerStepStatisticsReader.SmallTensor, OptimizerStepStatisticsReader.BatchElements, onHost: false, out _)!;
        var chunked = OptimizerStepStatisticsReader.TryRead(optimizer, OptimizerStepStatisticsReader.SmallTensor, batchElements: 2 * 64 * 65, onHost: false, out _)!;
        var host = OptimizerStepStatisticsReader.TryRead(optimizer, out _)!;
        foreach (var read in new[] { together, chunked, host })
        {
            Assert.Equal(alone.Step, read.Step);
            Close(alone.UpdateNormOverLearningRate, read.UpdateNormOverLearningRate, "‖u‖");
            Close(alone.UpdateToWeight, read.UpdateToWeight, "update to weight");
            Close(alone.MaxLayerUpdateToWeight, read.MaxLayerUpdateToWeight, "worst layer");
            Assert.Equal(alone.EpsilonDominatedShare, read.EpsilonDominatedShare);
            Assert.Equal(alone.MaxLayerEpsilonDominatedShare, read.MaxLayerEpsilonDominatedShare);
            Assert.Equal(alone.SaturatedShare, read.SaturatedShare);
            Close(alone.MaxNormalizedUpdate, read.MaxNormalizedUpdate, "max |u|"); // the managed pass keeps float64 where the tensor path rounds |u| to float32
        }
    }

    // float32 as models train, sizes that are not multiples of any vector width or of the managed pass's block.
    [Theory]
    [InlineData("adam", ScalarType.Float32)]
    [InlineData("adamw", ScalarType.Float32)]
    [InlineData("sgd", ScalarType.Float32)]
    [InlineData("adam", ScalarType.Float64)]
    public void TheManagedPassAgreesWithTheTensorOperations(string kind, ScalarType type)
    {
        torch.manual_seed(13);
        using var model = nn.Sequential(("a", nn.Linear(37, 53, dtype: type)), ("t", nn.Tanh()), ("b", nn.Linear(53, 3001, dtype: type)));
        using optim.Optimizer optimizer = kind switch
        {
            "adam" => torch.optim.Adam(model.parameters(), 1e-3, eps: 1e-4),
            "adamw" => torch.optim.AdamW(model.parameters(), 1e-3, eps: 1e-4),
            _ => torch.optim.SGD(model.parameters(), 0.05, momentum: 0.9),
        };
        // The last five input features are zero: their weights' gradients, and so v, stay 0 (ε-dominated), and they
        // include the first weight's last element, which the managed pass reads in its scalar tail.
        var generator = new torch.Generator(7);
        using var inputs = torch.randn(new long[] { 8, 37 }, type, generator: generator);
        using (torch.no_grad())
        {
            inputs[TensorIndex.Colon, TensorIndex.Slice(32, 37)] = torch.zeros(8, 5, type);
        }

        for (int step = 0; step < 3; step++)
        {
            optimizer.zero_grad();
            using var loss = model.forward(inputs).square().mean();
            loss.backward();
            optimizer.step();
        }

        if (kind != "sgd")
        {
            // A burst on the last 400 coordinates of the large weight (its scalar tail included): |m̂| five times
            // larger there pushes some |u| past 1, and the very last one holds the largest |u|.
            var state = ((TorchSharp.Modules.OptimizerHelper)optimizer).state_dict().State[2];
            var m = state is TorchSharp.Modules.Adam.State a ? a.exp_avg : ((TorchSharp.Modules.AdamW.State)state).exp_avg;
            using var noGrad = torch.no_grad();
            m.reshape(-1).narrow(0, m.numel() - 400, 400).mul_(5);
            m.reshape(-1).narrow(0, m.numel() - 1, 1).mul_(100); // the largest |u|, in the tail
        }

        var device = OptimizerStepStatisticsReader.TryRead(optimizer, OptimizerStepStatisticsReader.SmallTensor, OptimizerStepStatisticsReader.BatchElements, onHost: false, out _)!;
        var host = OptimizerStepStatisticsReader.TryRead(optimizer, out _)!;
        Close(device.UpdateNormOverLearningRate, host.UpdateNormOverLearningRate, "‖u‖");
        Close(device.UpdateToWeight, host.UpdateToWeight, "update to weight");
        Close(device.MaxLayerUpdateToWeight, host.MaxLayerUpdateToWeight, "worst layer");
        if (kind == "sgd")
        {
            Assert.True(double.IsNaN(host.EpsilonDominatedShare) && double.IsNaN(host.SaturatedShare) && double.IsNaN(host.MaxNormalizedUpdate));
            return;
        }

        // Element by element both compute √v̂, u and the two tests in the model's type with the same operations, so the
        // counts agree exactly. The tensor path takes |u| in float32, so in float64 the maxima agree to float32 rounding.
        Assert.InRange(host.EpsilonDominatedShare, 1e-6, 1 - 1e-6);
        Assert.InRange(host.SaturatedShare, 1e-6, 1 - 1e-6);
        Assert.Equal(device.EpsilonDominatedShare, host.EpsilonDominatedShare);
        Assert.Equal(device.MaxLayerEpsilonDominatedShare, host.MaxLayerEpsilonDominatedShare);
        Assert.Equal(device.SaturatedShare, host.SaturatedShare);
        if (type == ScalarType.Float32)
        {
            Assert.Equal(device.MaxNormalizedUpdate, host.MaxNormalizedUpdate);
        }
        else
        {
            Close(device.MaxNormalizedUpdate, host.MaxNormalizedUpdate, "max |u|");
        }
    }

    [Fact]
    public void ANonFiniteStateReadsAsNonFiniteOnBothPaths()
    {
        torch.manual_seed(17);
        using var model = nn.Linear(40, 30);
        using var optimizer = torch.optim.Adam(model.parameters(), 1e-3);
        optimizer.zero_grad();
        using (var loss = model.forward(torch.ones(4, 40)).square().mean())
        {
            loss.backward();
        }

        optimizer.step();
        var state = ((TorchSharp.Modules.OptimizerHelper)optimizer).state_dict().State.Cast<TorchSharp.Modules.Adam.State>().First();
        using (torch.no_grad())
        {
            state.exp_avg.reshape(-1)[17] = torch.tensor(float.NaN);
        }

        foreach (bool onHost in new[] { false, true })
        {
            var s = OptimizerStepStatisticsReader.TryRead(optimizer, OptimizerStepStatisticsReader.SmallTensor, OptimizerStepStatisticsReader.BatchElements, onHost, out _)!;
            Assert.True(double.IsNaN(s.UpdateNormOverLearningRate), $"onHost {onHost}: ‖u‖ {s.UpdateNormOverLearningRate}");
            Assert.True(double.IsNaN(s.MaxNormalizedUpdate), $"onHost {onHost}: max |u| {s.MaxNormalizedUpdate}");
            Assert.True(double.IsNaN(s.MaxLayerUpdateToWeight), $"onHost {onHost}: worst layer {s.MaxLayerUpdateToWeight}");
        }

        // A NaN in the weights (the state finite again): the worst layer's ratio is NaN too, not the other layer's.
        using (torch.no_grad())
        {
            state.exp_avg.reshape(-1)[17] = torch.tensor(0f);
            model.weight!.reshape(-1)[5] = torch.tensor(float.NaN);
        }

        foreach (bool onHost in new[] { false, true })
        {
            var s = OptimizerStepStatisticsReader.TryRead(optimizer, OptimizerStepStatisticsReader.SmallTensor, OptimizerStepStatisticsReader.BatchElements, onHost, out _)!;
            Assert.True(double.IsFinite(s.UpdateNormOverLearningRate), $"onHost {onHost}: ‖u‖ {s.UpdateNormOverLearningRate}");
            Assert.True(double.IsNaN(s.UpdateToWeight), $"onHost {onHost}: update to weight {s.UpdateToWeight}");
            Assert.True(double.IsNaN(s.MaxLayerUpdateToWeight), $"onHost {onHost}: worst layer {s.MaxLayerUpdateToWeight}");
        }
    }

    [Fact]
    public void SgdMomentumReportsTheBufferAndNoSecondMomentFields()
    {
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 4);
        const double lr = 0.05;
        using var optimizer = torch.optim.SGD(mlp.Model.parameters(), lr, momentum: 0.9);
        OptimizerStateReaderTests.Step(mlp, optimizer);
        OptimizerStateReaderTests.Step(mlp, optimizer);
        var before = mlp.ParametersToArray();
        OptimizerStateReaderTests.Step(mlp, optimizer);
        var after = mlp.ParametersToArray();
        var s = OptimizerStepStatisticsReader.TryRead(optimizer, out _);
        Assert.NotNull(s);

        // Without weight decay and dampening, θ moves by −η·b, b the buffer after the step.
        var u = before.Zip(after, (b, a) => (b - a) / lr).ToArray();
        Close(Norm(u), s!.UpdateNormOverLearningRate, "‖b‖");
        Close(lr * Norm(u) / Norm(after), s.UpdateToWeight, "η‖b‖/‖θ‖");
        Assert.True(double.IsNaN(s.EpsilonDominatedShare) && double.IsNaN(s.SaturatedShare) && double.IsNaN(s.MaxNormalizedUpdate));
    }
}

public class StepSensorMonitorTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(0)]
    public void SensorReadingsReachTheRulesAtTheFirstDueStep(int interval)
    {
        using var run = new RegressionRun(seed: 5, hidden: 8);
        using var optimizer = torch.optim.Adam(run.Model.parameters(), 0.01);

        // A rule any finite update-to-weight ratio trips: it is raised at the first step whose readings carry the
        // sensor's indicator (a step without the reading leaves the rule's level as it was), and never when off.
        var rule = new SpectralMonitor.Rules.AlertRule("u2w", Indicators.UpdateToWeight, SpectralMonitor.Rules.RuleComparison.Absolute, Warning: 0, Critical: 1e9);
        // OverheadBudget 1: the nominal cadence (the budget's deferral of reads is tested on a manual clock in ProbeSchedulerTests).
        var options = new StabilityMonitorOptions { StepSensorInterval = interval, OverheadBudget = 1, Estimators = ProbeEstimators.None, Rules = [rule] };
        using var monitor = optimizer.AttachSpectralMonitor(run.Model, run.Loss, new() { Monitor = options });
        var raised = new List<long>();
        monitor.AlertRaised += (_, alert) => raised.Add(alert.Step);
        for (int step = 1; step <= 10; step++)
        {
            monitor.OnStep(step, run.Step(optimizer));
        }

        // Reads happen at steps divisible by the interval: the first one (step = interval) raises the Warning.
        Assert.Equal(interval == 0 ? [] : [(long)interval], raised);
    }
}
