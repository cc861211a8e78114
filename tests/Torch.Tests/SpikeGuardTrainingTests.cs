using SpectralMonitor.Backoff;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch.Tests;

/// <summary>The spike guard through the TorchSharp wrapper: a skipped update really leaves the model and the optimizer alone.</summary>
[Collection(SerialTorchTests.Name)]
public class SpikeGuardTrainingTests
{
    [Fact]
    public void ASkippedStepLeavesParametersAndAdamStateUnchangedBitForBitAndTheNextStepTrains()
    {
        using var run = new RegressionRun(seed: 11, hidden: 8);
        using var optimizer = torch.optim.Adam(run.Model.parameters(), 0.01);
        var options = new StabilityMonitorOptions
        {
            Rules = [],
            FirstProbeStep = 1_000_000,
            SpikeGuard = new SpikeGuardOptions { BackoffFactor = 0.5, CooldownSteps = 1000 },
        };
        using var monitored = optimizer.WithSpectralMonitor(run.Model, run.Loss, new() { Monitor = options });

        // 30 ordinary full-batch steps: a smoothly decreasing loss never triggers.
        for (int step = 0; step < 30; step++)
        {
            Assert.True(TrainStep(run, monitored, lossOverride: null));
        }

        Assert.Equal(0, monitored.Monitor.SpikeGuardTriggers);
        var before = run.Parameters();
        var stateBefore = AdamState(optimizer);

        // A step whose reported loss jumps (a spike onset as the loop sees it): the gradient is computed, the update is not.
        Assert.False(TrainStep(run, monitored, lossOverride: 1e3));
        Assert.Equal(before, run.Parameters());
        Assert.Equal(stateBefore, AdamState(optimizer));
        Assert.Equal(1, monitored.SkippedSteps);
        Assert.Equal(1, monitored.Monitor.SkippedUpdates);

        // The learning rate was cut by BackoffFactor, and the next ordinary step trains (at the cut rate).
        Assert.Equal(0.005, optimizer.ParamGroups.First().LearningRate, 15);
        Assert.True(TrainStep(run, monitored, lossOverride: null));
        Assert.NotEqual(before, run.Parameters());
        Assert.Equal(2, monitored.NextStep - 30);
    }

    [Fact]
    public void ANonFiniteGradientIsNeverApplied()
    {
        using var run = new RegressionRun(seed: 12, hidden: 8);
        using var optimizer = torch.optim.SGD(run.Model.parameters(), 0.05, momentum: 0.9);
        var options = new StabilityMonitorOptions { Rules = [], FirstProbeStep = 1_000_000, SpikeGuard = new SpikeGuardOptions() };
        using var monitored = optimizer.WithSpectralMonitor(run.Model, run.Loss, new() { Monitor = options });
        Assert.True(TrainStep(run, monitored, lossOverride: null));
        var before = run.Parameters();

        // The loss is finite but one gradient entry is NaN: without the guard the update would make every weight NaN.
        using (var scope = torch.NewDisposeScope())
        {
            optimizer.zero_grad();
            var loss = run.Loss();
            loss.backward();
            using (torch.no_grad())
            {
                run.Model.parameters().First().grad!.view(-1)[0] = double.NaN;
            }

            Assert.False(monitored.Step(loss));
        }

        Assert.Equal(before, run.Parameters());
        Assert.All(before, v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void TheWrappersGradientNormIsTheGlobalL2NormOfTheGradients()
    {
        using var run = new RegressionRun(seed: 5, hidden: 8);
        using var optimizer = torch.optim.SGD(run.Model.parameters(), 0.01);
        Assert.Equal(0.0, MonitoredOptimizer.GradientNorm(optimizer));
        using (var scope = torch.NewDisposeScope())
        {
            run.Loss().backward();
        }

        // Reference: every gradient entry squared and summed in float64 on the host.
        double sum = 0;
        foreach (var parameter in run.Model.parameters())
        {
            sum += Host.ToArray(parameter.grad!).Sum(g => g * g);
        }

        // The wrapper reduces each tensor by torch's norm in the gradients' dtype, then combines the norms in float64:
        // a relative difference of a few float32 roundings at most (the model here is float64: a few ulps).
        Assert.Equal(Math.Sqrt(sum), MonitoredOptimizer.GradientNorm(optimizer)!.Value, Math.Sqrt(sum) * 1e-12);

        foreach (var parameter in run.Model.parameters())
        {
            using var noGrad = torch.no_grad();
            parameter.grad!.fill_(double.NaN);
            break;
        }

        Assert.True(double.IsNaN(MonitoredOptimizer.GradientNorm(optimizer)!.Value));
    }

    /// <summary>One full-batch step through the wrapper; the reported loss may be overridden (the gradient is the real one).</summary>
    private static bool TrainStep(RegressionRun run, MonitoredOptimizer monitored, double? lossOverride)
    {
        using var scope = torch.NewDisposeScope();
        monitored.Optimizer.zero_grad();
        var loss = run.Loss();
        loss.backward();
        return lossOverride is double reported ? monitored.Step(reported) : monitored.Step(loss);
    }

    /// <summary>Adam's state of every parameter (step count, first and second moments), copied to the host.</summary>
    private static List<double[]> AdamState(optim.Optimizer optimizer)
    {
        var result = new List<double[]>();
        foreach (var state in ((TorchSharp.Modules.OptimizerHelper)optimizer).state_dict().State)
        {
            var adam = (TorchSharp.Modules.Adam.State)state;
            result.Add([adam.step]);
            result.Add(Host.ToArray(adam.exp_avg));
            result.Add(Host.ToArray(adam.exp_avg_sq));
        }

        return result;
    }
}
