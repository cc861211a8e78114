using OpenTelemetry;
using OpenTelemetry.Metrics;
using SpectralMonitor.Backoff;
using SpectralMonitor.Estimators.Optimizers;
using SpectralMonitor.Probing;
using SpectralMonitor.Prometheus;
using SpectralMonitor.Reference;
using SpectralMonitor.Reference.Monitoring;
using SpectralMonitor.Rules;

namespace SpectralMonitor.Tests.Prometheus;

/// <summary>One trained run whose monitor is still alive (so its gauges are still exported).</summary>
/// <param name="Name">The run name (the <c>run</c> label).</param>
/// <param name="Monitor">The monitor.</param>
/// <param name="LastLoss">The loss of the last step.</param>
/// <param name="EdgeAlerts">How many times the sharpness-near-edge rule fired.</param>
/// <param name="Backoffs">How many learning-rate backoffs were applied.</param>
/// <param name="FailedProbes">How many probes failed.</param>
/// <param name="SensorReadings">The step sensor's last readings (empty for runs without a sensor).</param>
internal sealed record TrainedRun(string Name, StabilityMonitor Monitor, double LastLoss, int EdgeAlerts, int Backoffs, int FailedProbes, IReadOnlyDictionary<string, double> SensorReadings);

/// <summary>
/// The reference monitored runs behind the Prometheus tests: one MeterProvider with the endpoint on a free loopback
/// port, and three small reference-backend runs (4→16→1 tanh MLP, 64 samples, full batch) that between them make the
/// monitor export every series the dashboard and the alert rules use: heavy-ball SGD at an unstable learning rate
/// (alerts fire from step ~185) with backoff, Adam with every estimator (the preconditioned sharpness, the commutator,
/// and Arnoldi's transient growth and Kreiss constant), SGD whose
/// probe target fails once (the probe-failure counter), and Adam with a step sensor that reports every
/// <see cref="Indicators.StepSensor"/> indicator (the optimizer-state and forward-hook gauges; its readings are made up,
/// since this fixture pins names and labels: the TorchSharp sensor's values are tested in Torch.Tests), whose attention
/// entropy falls through the default rule's thresholds.
/// </summary>
internal sealed class MonitoredReferenceRuns : IDisposable
{
    private MonitoredReferenceRuns(MeterProvider provider, PrometheusEndpoint endpoint, IReadOnlyList<TrainedRun> runs)
    {
        this.Provider = provider;
        this.Endpoint = endpoint;
        this.Runs = runs;
    }

    public MeterProvider Provider { get; }

    public PrometheusEndpoint Endpoint { get; }

    public IReadOnlyList<TrainedRun> Runs { get; }

    public Uri Address => this.Endpoint.Address ?? throw new InvalidOperationException($"The endpoint is not listening: {this.Endpoint.StartupError?.Message}");

    /// <summary>Builds the provider, then trains the runs named <paramref name="prefix"/>-sgd, -adam and -failing.</summary>
    public static MonitoredReferenceRuns Train(string prefix, bool all = true)
    {
        var provider = Sdk.CreateMeterProviderBuilder()
            .AddSpectralMonitorInstrumentation()
            .AddSpectralMonitorPrometheusEndpoint(new PrometheusEndpointOptions { Port = 0, FailOnStartupError = true }, out var endpoint)
            .Build();
        var runs = new List<TrainedRun>();
        try
        {
            runs.Add(Train(prefix + "-sgd", new SgdHyperparameters(0.5, 0.9), steps: 300, backoff: new BackoffOptions(), failAtProbe: null));
            if (all)
            {
                runs.Add(Train(prefix + "-adam", new AdamHyperparameters(0.05), steps: 120, backoff: null, failAtProbe: null, ProbeEstimators.All));
                runs.Add(Train(prefix + "-failing", new SgdHyperparameters(0.1, 0.9), steps: 60, backoff: null, failAtProbe: 2));
                runs.Add(Train(prefix + "-sensor", new AdamHyperparameters(0.01), steps: 60, backoff: null, failAtProbe: null, sensor: true, guardNonFiniteAt: 30));
            }
        }
        catch
        {
            runs.ForEach(r => r.Monitor.Dispose());
            provider.Dispose();
            throw;
        }

        return new MonitoredReferenceRuns(provider, endpoint, runs);
    }

    /// <summary>The run names, for filtering a scrape down to these runs' samples.</summary>
    public IReadOnlyList<string> Names => [.. this.Runs.Select(r => r.Name)];

    public void Dispose()
    {
        foreach (var run in this.Runs)
        {
            run.Monitor.Dispose();
        }

        this.Provider.Dispose();
    }

    // guardNonFiniteAt: with a value, the run has the spike guard, and the guard is told of a non-finite loss at that
    // step (the reference trainer applies its updates regardless: this fixture pins the guard's series, not its effect).
    private static TrainedRun Train(string name, object hyperparameters, int steps, BackoffOptions? backoff, int? failAtProbe, ProbeEstimators estimators = ProbeEstimators.Default, bool sensor = false, int? guardNonFiniteAt = null)
    {
        var data = SyntheticData.Regression(64, 4, 1, seed: 3);
        var architecture = new MlpArchitecture([4, 16, 1], HiddenActivation.Tanh);
        var objective = new MlpObjective(architecture, LossKind.MeanSquaredError);
        var optimizer = ReferenceOptimizer.Create(architecture.ParameterCount, hyperparameters);
        var trainer = new MiniBatchTrainer(objective, data, optimizer, architecture.InitializeParameters(1), 64, 1);
        IProbeTarget<double[]> target = new ReferenceProbeTarget(objective, data, () => trainer.Parameters, optimizer);
        if (failAtProbe is { } failing)
        {
            target = new FailingOnce(target, failing);
        }

        var readings = new Dictionary<string, double>(StringComparer.Ordinal);
        if (sensor)
        {
            target = new MadeUpSensor(target, readings);
        }

        var monitor = StabilityMonitor.Create(
            target,
            new StabilityMonitorOptions { RunName = name, ProbeInterval = 10, FirstProbeStep = 0, OverheadBudget = 1, Backoff = backoff, Estimators = estimators, SpikeGuard = guardNonFiniteAt is null ? null : new SpikeGuardOptions() });
        int edgeAlerts = 0, backoffs = 0, failed = 0;
        monitor.AlertRaised += (_, a) => edgeAlerts += a.Rule == DefaultRules.SharpnessNearEdge.Name ? 1 : 0;
        monitor.ProbeCompleted += (_, p) => failed += p.Status == ProbeStatus.Failed ? 1 : 0;
        double loss = double.NaN;
        for (int step = 0; step < steps; step++)
        {
            var result = trainer.Step();
            loss = result.Loss;
            if (guardNonFiniteAt is not null)
            {
                monitor.BeforeUpdate(step, step == guardNonFiniteAt ? double.NaN : result.Loss, result.GradientNorm);
            }

            var rate = optimizer.LearningRate;
            monitor.OnStep(step, result.Loss, result.GradientNorm);
            backoffs += optimizer.LearningRate < rate ? 1 : 0;
        }

        return new TrainedRun(name, monitor, loss, edgeAlerts, backoffs, failed, readings);
    }

    /// <summary>
    /// A step sensor whose readings follow the step, not the model: every sensor indicator, the attention entropy
    /// 0.5/(step + 1), which falls below the default rule's Warning threshold (0.01) at the read of step 50 and stays
    /// above its Critical one (0.001) for these 60 steps; the others constant.
    /// </summary>
    private sealed class MadeUpSensor(IProbeTarget<double[]> inner, Dictionary<string, double> last) : IProbeTarget<double[]>, IStepSensor
    {
        public string OptimizerName => inner.OptimizerName;

        public ILearningRateController? LearningRates => inner.LearningRates;

        public IReadOnlyList<string> SensorIndicators => Indicators.StepSensor;

        public IProbeContext<double[]> BeginProbe(CancellationToken cancellationToken) => inner.BeginProbe(cancellationToken);

        public bool TryReadStep(long trainingStep, IDictionary<string, double> readings)
        {
            for (int i = 0; i < Indicators.StepSensor.Count; i++)
            {
                string indicator = Indicators.StepSensor[i];
                double value = indicator == Indicators.AttentionEntropyMin ? 0.5 / (trainingStep + 1) : (i + 1) * 0.125;
                readings[indicator] = value;
                last[indicator] = value;
            }

            return true;
        }
    }

    /// <summary>A probe target whose <paramref name="failAt"/>-th probe (1-based) throws, as a broken probe loss would.</summary>
    private sealed class FailingOnce(IProbeTarget<double[]> inner, int failAt) : IProbeTarget<double[]>
    {
        private int probes;

        public string OptimizerName => inner.OptimizerName;

        public ILearningRateController? LearningRates => inner.LearningRates;

        public IProbeContext<double[]> BeginProbe(CancellationToken cancellationToken)
            => ++this.probes == failAt ? throw new InvalidOperationException("injected probe failure") : inner.BeginProbe(cancellationToken);
    }
}
