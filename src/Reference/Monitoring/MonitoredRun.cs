using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using SpectralMonitor.Rules;

namespace SpectralMonitor.Reference.Monitoring;

/// <summary>A reproducible training run of the reference backend.</summary>
/// <param name="Name">A short name for reports.</param>
/// <param name="Architecture">The MLP.</param>
/// <param name="Loss">The loss.</param>
/// <param name="Data">The training set (also the probe batch, up to <paramref name="ProbeBatchSize"/> rows).</param>
/// <param name="OptimizerHyperparameters">An <c>SgdHyperparameters</c>, <c>AdamHyperparameters</c> or <c>RmsPropHyperparameters</c>.</param>
/// <param name="Steps">Training steps.</param>
/// <param name="BatchSize">Mini-batch size; the data size gives full-batch gradient descent (deterministic losses).</param>
/// <param name="Seed">Seed of the initial parameters and the batch order.</param>
/// <param name="ProbeBatchSize">Rows of the fixed probe batch (0: the whole data set).</param>
public sealed record RunSpec(
    string Name,
    MlpArchitecture Architecture,
    LossKind Loss,
    Batch Data,
    object OptimizerHyperparameters,
    int Steps,
    int BatchSize,
    int Seed,
    int ProbeBatchSize = 0);

/// <summary>What happened in a run.</summary>
/// <param name="Spec">The run.</param>
/// <param name="Losses">Loss per step (before that step's update).</param>
/// <param name="LearningRates">Learning rate used at each step (group 0).</param>
/// <param name="GradientNorms">Gradient norm per step.</param>
/// <param name="Probes">Every probe, in order.</param>
/// <param name="Alerts">Every alert raised, in order.</param>
/// <param name="SpikeOnsets">Steps at which loss spikes start (<see cref="Spikes.Onsets"/>).</param>
/// <param name="Diverged">Whether the loss became non-finite (the run then stops).</param>
/// <param name="Elapsed">Wall time of the run.</param>
public sealed record RunRecord(
    RunSpec Spec,
    IReadOnlyList<double> Losses,
    IReadOnlyList<double> LearningRates,
    IReadOnlyList<double> GradientNorms,
    IReadOnlyList<ProbeResult> Probes,
    IReadOnlyList<StabilityAlert> Alerts,
    IReadOnlyList<int> SpikeOnsets,
    bool Diverged,
    TimeSpan Elapsed)
{
    /// <summary>The first spike's step, or null.</summary>
    public int? FirstSpike => SpikeOnsets.Count > 0 ? SpikeOnsets[0] : null;

    /// <summary>The first raised alert's step, or null.</summary>
    public long? FirstAlert => Alerts.Count > 0 ? Alerts[0].Step : null;

    /// <summary>The final loss (the last finite one).</summary>
    public double FinalLoss => Losses.LastOrDefault(double.IsFinite, double.NaN);
}

/// <summary>One step of a run in progress, for progress displays.</summary>
/// <param name="Step">The step just taken.</param>
/// <param name="Loss">Its loss.</param>
/// <param name="LearningRate">The learning rate in force.</param>
/// <param name="Monitor">The monitor (null when the run is unmonitored).</param>
public readonly record struct RunProgress(int Step, double Loss, double LearningRate, StabilityMonitor? Monitor);

/// <summary>Runs a <see cref="RunSpec"/> with or without a <see cref="StabilityMonitor"/> attached.</summary>
public static class MonitoredRun
{
    /// <summary>Trains <paramref name="spec"/>; with <paramref name="options"/> null the run is not monitored.</summary>
    /// <param name="spec">The run.</param>
    /// <param name="options">Monitor options, or null for an unmonitored run.</param>
    /// <param name="loggerFactory">Logging for the monitor.</param>
    /// <param name="meterFactory">Meter factory for the monitor.</param>
    /// <param name="progress">Called after every step.</param>
    /// <param name="cancellationToken">Stops the run between steps.</param>
    public static RunRecord Execute(
        RunSpec spec,
        StabilityMonitorOptions? options,
        ILoggerFactory? loggerFactory = null,
        IMeterFactory? meterFactory = null,
        Action<RunProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var stopwatch = Stopwatch.StartNew();
        var objective = new MlpObjective(spec.Architecture, spec.Loss);
        var optimizer = ReferenceOptimizer.Create(spec.Architecture.ParameterCount, spec.OptimizerHyperparameters);
        var trainer = new MiniBatchTrainer(objective, spec.Data, optimizer, spec.Architecture.InitializeParameters(spec.Seed), spec.BatchSize, spec.Seed);
        var probeBatch = spec.ProbeBatchSize > 0 && spec.ProbeBatchSize < spec.Data.Count ? spec.Data.Slice(0, spec.ProbeBatchSize) : spec.Data;

        var probes = new List<ProbeResult>();
        var alerts = new List<StabilityAlert>();
        using var monitor = options is null
            ? null
            : StabilityMonitor.Create(new ReferenceProbeTarget(objective, probeBatch, () => trainer.Parameters, optimizer), options, loggerFactory, meterFactory);
        if (monitor is not null)
        {
            monitor.ProbeCompleted += (_, p) => probes.Add(p);
            monitor.AlertRaised += (_, a) => alerts.Add(a);
        }

        var losses = new List<double>(spec.Steps);
        var rates = new List<double>(spec.Steps);
        var norms = new List<double>(spec.Steps);
        bool diverged = false;
        for (int t = 0; t < spec.Steps && !cancellationToken.IsCancellationRequested; t++)
        {
            rates.Add(optimizer.LearningRate);
            var step = trainer.Step();
            losses.Add(step.Loss);
            norms.Add(step.GradientNorm);
            monitor?.OnStep(t, step.Loss, step.GradientNorm);
            progress?.Invoke(new RunProgress(t, step.Loss, optimizer.LearningRate, monitor));
            if (!step.Applied)
            {
                diverged = true;
                break;
            }
        }

        return new RunRecord(spec, losses, rates, norms, probes, alerts, Spikes.Onsets(losses), diverged, stopwatch.Elapsed);
    }
}
