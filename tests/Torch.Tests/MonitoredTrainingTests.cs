using SpectralMonitor.Backoff;
using SpectralMonitor.Rules;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch.Tests;

/// <summary>Whole training runs with the monitor attached (serial: they use libtorch's global generator and the CPU).</summary>
[Collection(SerialTorchTests.Name)]
public class MonitoredTrainingTests
{
    private const int BurnIn = 20;

    private enum Attachment
    {
        None,
        Extension,
        Wrapper,
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("adam")]
    public void TheTrainingTrajectoryIsBitIdenticalWithTheMonitorAttached(string optimizerKind)
    {
        var plain = Trajectory(optimizerKind, Attachment.None);
        var attached = Trajectory(optimizerKind, Attachment.Extension);
        var wrapped = Trajectory(optimizerKind, Attachment.Wrapper);

        Assert.Equal(0, plain.Probes);
        Assert.True(attached.Probes >= 10, $"{attached.Probes} probes");
        Assert.Equal(attached.Probes, wrapped.Probes);

        // The parameters after every step and the losses are bit-identical: the probe draws nothing from the global
        // generator (dropout is on in training), never touches Parameter.grad (checked at every step inside Trajectory),
        // the optimizer's state or the parameters, and restores the model's mode.
        Assert.Equal(plain.Parameters, attached.Parameters);
        Assert.Equal(plain.Parameters, wrapped.Parameters);
        Assert.Equal(plain.Losses, attached.Losses);
        Assert.Equal(plain.Losses, wrapped.Losses);
    }

    [Theory]
    [InlineData(ProbeModelMode.Eval, false)]
    [InlineData(ProbeModelMode.Train, true)]
    public void ProbesInEvalModeDrawNothingFromTheGlobalGenerator(ProbeModelMode mode, bool drawsExpected)
    {
        // The generator's state itself: after probes of a model with dropout (in training mode), the next draw is the
        // one it would have been without them; a Train-mode probe, whose dropout draws, shows that the check can fail.
        using var run = new RegressionRun(seed: 6, dropout: 0.3);
        using var optimizer = torch.optim.SGD(run.Model.parameters(), 0.05, momentum: 0.9);
        run.Step(optimizer);
        var options = new StabilityMonitorOptions { ProbeInterval = 1, FirstProbeStep = 0, OverheadBudget = 1, Estimators = ProbeEstimators.All };
        using var monitor = optimizer.AttachSpectralMonitor(run.Model, run.Loss, new() { Monitor = options, Probe = new TorchSharpProbeOptions { ModelMode = mode } });

        torch.manual_seed(42);
        for (int step = 0; step < 5; step++)
        {
            Assert.NotNull(monitor.ProbeNow(step));
        }

        using var afterProbes = torch.rand(16, ScalarType.Float64);
        torch.manual_seed(42);
        using var untouched = torch.rand(16, ScalarType.Float64);
        Assert.Equal(5, monitor.ProbeCount);
        Assert.Equal(0, monitor.FailedProbeCount);
        Assert.Equal(drawsExpected, !Host.ToArray(afterProbes).SequenceEqual(Host.ToArray(untouched)));
        Assert.True(run.Model.training);
    }

    [Fact]
    public void LiveTensorCountIsFlatOver100MonitoredStepsWithProbes()
    {
        using var run = new RegressionRun(seed: 9, hidden: 8);
        using var optimizer = torch.optim.Adam(run.Model.parameters(), 0.01);

        // The optimizer's state is created lazily at its first step: warm it up before counting.
        run.Step(optimizer);
        long beforeAttach = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var options = new StabilityMonitorOptions { ProbeInterval = 2, FirstProbeStep = 0, OverheadBudget = 1, BringForwardOnTrend = false, Estimators = ProbeEstimators.Default | ProbeEstimators.SpectralDensity };
        var monitor = optimizer.AttachSpectralMonitor(run.Model, run.Loss, new() { Monitor = options });
        monitor.OnStep(0, run.Step(optimizer));
        Assert.Equal(1, monitor.ProbeCount);
        long afterFirstProbe = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        for (int step = 1; step <= 100; step++)
        {
            monitor.OnStep(step, run.Step(optimizer));
        }

        Assert.Equal(afterFirstProbe, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.Equal(51, monitor.ProbeCount);

        // The warm-start basis outlived every probe's scope (a freed one would have failed the next probe).
        Assert.Equal(0, monitor.FailedProbeCount);
        monitor.Dispose();
        Assert.Equal(beforeAttach, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void AStableLearningRateRaisesNoAlert()
    {
        var run = Train(learningRate: 0.05, backoff: false);
        Assert.Empty(Spikes.Find(run.Losses, BurnIn));
        Assert.Empty(run.Alerts);
        Assert.True(run.Probes.Count >= 50, $"{run.Probes.Count} probes");
        Assert.All(run.Probes, p => Assert.Equal(ProbeStatus.Succeeded, p.Status));

        // Measured about 0.2 of the edge 2(1+μ)/η throughout.
        Assert.All(run.Probes, p => Assert.InRange(p.Indicators[Indicators.SharpnessToEdge], 0.05, 0.5));
    }

    [Fact]
    public void AnUnstableLearningRateWarnsBeforeTheFirstLossSpike()
    {
        var run = Train(learningRate: 0.25, backoff: false);
        var spikes = Spikes.Find(run.Losses, BurnIn);
        Assert.NotEmpty(spikes);
        var firstAlert = run.Alerts.FirstOrDefault(a => a.Level >= AlertLevel.Warning);
        Assert.NotNull(firstAlert);

        // Measured: Warning at step 95 (sharpness at 0.9 of 2(1+μ)/η), first spike at step 215.
        Assert.True(firstAlert.Step < spikes[0], $"first alert at step {firstAlert.Step}, first spike at step {spikes[0]}");

        // Progressive sharpening carried the top curvature to the edge 2(1+μ)/η before the spike.
        Assert.Contains(run.Probes, p => p.Step < spikes[0] && p.Indicators[Indicators.SharpnessToEdge] >= 0.99);
        var edge = run.Probes[0].Indicators[Indicators.SharpnessEdge];
        Assert.Equal(2 * (1 + 0.9) / 0.25, edge, 1e-12);
    }

    [Fact]
    public void BackoffLeavesFewerSpikesThanNoBackoff()
    {
        var without = Train(learningRate: 0.25, backoff: false);
        var with = Train(learningRate: 0.25, backoff: true);
        int spikesWithout = Spikes.Find(without.Losses, BurnIn).Count;
        int spikesWith = Spikes.Find(with.Losses, BurnIn).Count;

        // Measured: 5 spikes without backoff, none with it.
        Assert.True(spikesWith < spikesWithout, $"{spikesWith} spikes with backoff, {spikesWithout} without");
        Assert.Contains(with.LearningRates, rate => rate < 0.25);
        Assert.All(without.LearningRates, rate => Assert.Equal(0.25, rate));
    }

    private static (List<double> Losses, List<double[]> Parameters, int Probes) Trajectory(string optimizerKind, Attachment attachment)
    {
        torch.manual_seed(11);
        using var run = new RegressionRun(seed: 5, dropout: 0.2);
        using var optimizer = optimizerKind == "sgd"
            ? torch.optim.SGD(run.Model.parameters(), 0.05, momentum: 0.9, weight_decay: 1e-3)
            : (optim.Optimizer)torch.optim.Adam(run.Model.parameters(), 0.01);
        var options = new StabilityMonitorOptions { ProbeInterval = 3, FirstProbeStep = 0, OverheadBudget = 1, BringForwardOnTrend = false, Estimators = ProbeEstimators.All };
        using var monitor = attachment == Attachment.Extension ? optimizer.AttachSpectralMonitor(run.Model, run.Loss, new() { Monitor = options }) : null;
        using var wrapper = attachment == Attachment.Wrapper ? optimizer.WithSpectralMonitor(run.Model, run.Loss, new() { Monitor = options }) : null;
        var losses = new List<double>();
        var parameters = new List<double[]>();
        for (int step = 0; step < 40; step++)
        {
            using var scope = torch.NewDisposeScope();
            optimizer.zero_grad();
            var loss = run.Loss();
            loss.backward();
            var gradients = run.Model.parameters().Select(p => Host.ToArray(p.grad!)).ToArray();
            losses.Add(loss.ToDouble());
            if (wrapper is not null)
            {
                wrapper.Step(loss);
            }
            else
            {
                optimizer.step();
                monitor?.OnStep(step, loss.ToDouble());
            }

            // Parameter.grad is the loop's: a probe neither accumulates into it nor clears it.
            Assert.Equal(gradients, run.Model.parameters().Select(p => Host.ToArray(p.grad!)).ToArray());
            Assert.True(run.Model.training);
            parameters.Add(run.Parameters());
        }

        var probes = monitor?.ProbeCount ?? wrapper?.Monitor.ProbeCount ?? 0;
        Assert.Equal(0, monitor?.FailedProbeCount ?? wrapper?.Monitor.FailedProbeCount ?? 0);
        return (losses, parameters, probes);
    }

    private static (List<double> Losses, List<StabilityAlert> Alerts, List<ProbeResult> Probes, List<double> LearningRates) Train(double learningRate, bool backoff)
    {
        using var run = new RegressionRun(seed: 1);
        using var optimizer = torch.optim.SGD(run.Model.parameters(), learningRate, momentum: 0.9);
        var options = new StabilityMonitorOptions
        {
            ProbeInterval = 5,
            FirstProbeStep = 5,
            OverheadBudget = 1,
            BringForwardOnTrend = false,
            Backoff = backoff ? new BackoffOptions() : null,
        };
        using var monitor = optimizer.AttachSpectralMonitor(run.Model, run.Loss, new() { Monitor = options });
        var alerts = new List<StabilityAlert>();
        var probes = new List<ProbeResult>();
        var rates = new List<double>();
        monitor.AlertRaised += (_, alert) => alerts.Add(alert);
        monitor.ProbeCompleted += (_, probe) => probes.Add(probe);
        var losses = new List<double>();
        for (int step = 0; step < 300; step++)
        {
            double loss = run.Step(optimizer);
            losses.Add(loss);
            monitor.OnStep(step, loss);
            rates.Add(optimizer.ParamGroups.First().LearningRate);
        }

        return (losses, alerts, probes, rates);
    }
}
