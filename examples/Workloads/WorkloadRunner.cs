using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using SpectralMonitor.Backoff;
using SpectralMonitor.Rules;
using SpectralMonitor.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralMonitor.Examples.Workloads;

/// <summary>The data sets of the workloads, each read (from this assembly's resources) at its first use.</summary>
public sealed class WorkloadData
{
    private readonly Lazy<DigitsDataSet> _digits = new(DigitsDataSet.Load);
    private readonly Lazy<CharCorpus> _corpus = new(CharCorpus.Load);

    /// <summary>The 8×8 digits.</summary>
    public DigitsDataSet Digits => _digits.Value;

    /// <summary>The English text.</summary>
    public CharCorpus Corpus => _corpus.Value;
}

/// <summary>One training step as the runner reports it.</summary>
/// <param name="Step">Step number from 0.</param>
/// <param name="Loss">The step's mini-batch loss (before its update).</param>
/// <param name="LearningRate">The learning rate the step's update used (parameter group 0).</param>
/// <param name="GradientNorm">The global L2 norm of the step's gradient.</param>
/// <param name="Monitor">The monitor, or null when the run is not monitored.</param>
/// <param name="Probe">The probe the monitor ran after this step, or null.</param>
/// <param name="AlertChanges">Alerts raised or lowered at this step (empty when none).</param>
/// <param name="StepTime">Wall time of the step without the probe.</param>
public readonly record struct StepReport(
    int Step,
    double Loss,
    double LearningRate,
    double GradientNorm,
    StabilityMonitor? Monitor,
    ProbeResult? Probe,
    IReadOnlyList<StabilityAlert> AlertChanges,
    TimeSpan StepTime);

/// <summary>
/// An update the runner has just applied, reported inside the step (the batch and the step's gradients still alive).
/// </summary>
/// <param name="Step">Step number from 0.</param>
/// <param name="Loss">The step's mini-batch loss at the parameters before the update.</param>
/// <param name="LearningRate">The learning rate the update used (parameter group 0).</param>
/// <param name="BatchLossAfter">The same mini-batch's loss at the updated parameters: one more forward pass (no
/// gradient; through <c>forward</c>, so forward hooks on the model itself do not fire).</param>
public readonly record struct AppliedUpdate(int Step, double Loss, double LearningRate, Func<double> BatchLossAfter);

/// <summary>What happened in a run.</summary>
/// <param name="Spec">The run.</param>
/// <param name="ParameterCount">Trainable parameters of the model.</param>
/// <param name="Losses">Loss per step (mini-batch, before the step's update); the last one is not finite when the run diverged.</param>
/// <param name="LearningRates">Learning rate each step's update used.</param>
/// <param name="GradientNorms">Gradient norm per step.</param>
/// <param name="Probes">Every probe, in order.</param>
/// <param name="AlertChanges">Every alert raised or lowered, in order, as the monitor's events report them.</param>
/// <param name="AlertLevels">The monitor's highest alert level after each step (empty when unmonitored). Not
/// derivable from <paramref name="AlertChanges"/>: a rule that rises again within its cooldown changes its level
/// without raising an event.</param>
/// <param name="Diverged">The loss became non-finite (the run stopped there).</param>
/// <param name="Cancelled">The run was cancelled before its last step.</param>
/// <param name="Elapsed">Wall time of the training loop, probes included.</param>
/// <param name="ProbeTime">Wall time spent in probes.</param>
public sealed record RunTrace(
    RunSpec Spec,
    long ParameterCount,
    IReadOnlyList<double> Losses,
    IReadOnlyList<double> LearningRates,
    IReadOnlyList<double> GradientNorms,
    IReadOnlyList<ProbeResult> Probes,
    IReadOnlyList<StabilityAlert> AlertChanges,
    IReadOnlyList<AlertLevel> AlertLevels,
    bool Diverged,
    bool Cancelled,
    TimeSpan Elapsed,
    TimeSpan ProbeTime)
{
    /// <summary>The alerts that raised a level, in order.</summary>
    public IReadOnlyList<StabilityAlert> RaisedAlerts => [.. AlertChanges.Where(a => a.IsRaised)];

    /// <summary>The step of the first raised alert, or null.</summary>
    public long? FirstAlertStep => AlertChanges.FirstOrDefault(a => a.IsRaised)?.Step;

    /// <summary>Training time without probes.</summary>
    public TimeSpan TrainingTime => Elapsed - ProbeTime;

    /// <summary>Mean wall time of a training step without probes.</summary>
    public TimeSpan MeanStepTime => Losses.Count == 0 ? TimeSpan.Zero : TrainingTime / Losses.Count;

    /// <summary>The last finite loss, or NaN.</summary>
    public double FinalLoss => Losses.LastOrDefault(double.IsFinite, double.NaN);

    /// <summary>Steps whose update the monitor's spike guard skipped (<see cref="StabilityMonitor.BeforeUpdate"/>).</summary>
    public int SkippedUpdates { get; init; }
}

/// <summary>
/// Trains one <see cref="RunSpec"/> step by step, in float32 on the CPU, with the monitor attached through the
/// public one-line API (<see cref="SpectralMonitorTorchSharpExtensions.AttachSpectralMonitor"/>), and reports every
/// step to a callback. The loop is the usual TorchSharp one: zero_grad, forward, loss, backward, step; then the
/// scheduled learning rate of the next step is written to the optimizer's groups (a scheduler's step) and the
/// monitor's <c>OnStep</c> runs, so that a backoff multiplies the scheduled rate (the monitor's governor reads the
/// rate the schedule wrote and applies its factor to it). Between backward and step, an optional gradient scale (the
/// benchmark's ZClip-style clipping) multiplies the gradient, and the monitor's <see cref="StabilityMonitor.BeforeUpdate"/>
/// may skip the update (only with <see cref="StabilityMonitorOptions.SpikeGuard"/>; a skipped non-finite step does not end
/// the run, since the parameters stay finite).
/// </summary>
public static class WorkloadRunner
{
    /// <summary>
    /// Held while a run seeds torch's global generator and builds its model. Model construction reads that generator,
    /// so runs on parallel threads build one at a time and each run's initial weights depend on its seed only. Code that
    /// seeds or draws from the global generator while runs may be starting on other threads (tests, for example) must
    /// hold it too, or it can change their weights.
    /// </summary>
    public static object GlobalGeneratorLock { get; } = new();

    /// <summary>Trains <paramref name="spec"/>.</summary>
    /// <param name="spec">The run.</param>
    /// <param name="monitorOptions">Monitor options; null for an unmonitored run.</param>
    /// <param name="onStep">Called after every step (on the training thread).</param>
    /// <param name="data">The data sets; null to load them.</param>
    /// <param name="loggerFactory">Logging of the monitor.</param>
    /// <param name="meterFactory">Meter factory of the monitor (null: the monitor creates its Meter, which OpenTelemetry listens to by name).</param>
    /// <param name="torchThreads">When positive, <c>torch.set_num_threads</c> (process-wide) is set to it first; 1 gives reproducible runs.</param>
    /// <param name="onStart">Called once before the first step with the model and the optimizer (on the training thread), e.g. to attach per-step sensors that read them.</param>
    /// <param name="gradientScale">Called with each step's gradient norm after backward; the gradient is multiplied by the factor it returns (1: unchanged). Null for none.</param>
    /// <param name="afterUpdate">Called after each applied update, before the step's batch and gradients are released (a sensor that needs the training batch). Null for none.</param>
    /// <param name="batchLoss">Give the monitor the training batch's loss (<see cref="TorchSharpProbeOptions.BatchLoss"/>): its step sensor then reads the curvature of each batch along its update. The batch stays alive until the monitor's <c>OnStep</c> returns.</param>
    /// <param name="cancellationToken">Stops the run between steps.</param>
    /// <returns>The trace of the run.</returns>
    /// <exception cref="ArgumentException">The spec or the monitor options are invalid.</exception>
    public static RunTrace Run(
        RunSpec spec,
        StabilityMonitorOptions? monitorOptions,
        Action<StepReport>? onStep = null,
        WorkloadData? data = null,
        ILoggerFactory? loggerFactory = null,
        IMeterFactory? meterFactory = null,
        int torchThreads = 1,
        Action<nn.Module<Tensor, Tensor>, optim.Optimizer>? onStart = null,
        Func<double, double>? gradientScale = null,
        Action<AppliedUpdate>? afterUpdate = null,
        bool batchLoss = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        monitorOptions?.Validate();
        data ??= new WorkloadData();
        if (torchThreads > 0)
        {
            torch.set_num_threads(torchThreads);
        }

        using var runScope = torch.NewDisposeScope();
        nn.Module<Tensor, Tensor> model;
        IBatchSource batches;
        lock (GlobalGeneratorLock)
        {
            torch.manual_seed(spec.Seed);
            (model, batches) = Build(spec, data);
        }

        using var ownedModel = model;
        var probe = batches.ProbeBatch();
        var parameters = model.parameters().ToArray();
        long parameterCount = parameters.Sum(p => p.numel());
        using var optimizer = CreateOptimizer(spec, model);
        SetLearningRate(optimizer, spec.ScheduledLearningRate(0));

        Tensor Loss(Tensor logits, Tensor targets) =>
            nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), targets.reshape(-1));

        var probes = new List<ProbeResult>();
        var alerts = new List<StabilityAlert>();
        var stepAlerts = new List<StabilityAlert>();
        ProbeResult? stepProbe = null;
        // A transformer's monitor reads its attention scores (the default attention_entropy_collapse rule), as the docs
        // advise: hooks on the probe points, armed by the monitor for the steps it reads. Disposed after the monitor.
        using var hooks = monitorOptions is not null && model is CharGpt gpt
            ? new ForwardLogitHooks(gpt, outputModule: null, gpt.AttentionScoreModuleNames)
            : null;
        // The training batch of the current step, kept past the step's dispose scope for the monitor's batch-loss closure.
        Tensor? heldInputs = null, heldTargets = null;
        using var monitor = monitorOptions is null
            ? null
            : optimizer.AttachSpectralMonitor(
                model,
                probeLoss: () => Loss(model.forward(probe.Inputs), probe.Targets),
                new TorchSharpMonitorOptions
                {
                    Monitor = monitorOptions,
                    Probe = new TorchSharpProbeOptions
                    {
                        ForwardLogits = hooks,
                        BatchLoss = batchLoss ? () => Loss(model.forward(heldInputs!), heldTargets!) : null,
                    },
                    LoggerFactory = loggerFactory,
                    MeterFactory = meterFactory,
                });
        if (monitor is not null)
        {
            monitor.AlertRaised += (_, alert) => stepAlerts.Add(alert);
            monitor.AlertLowered += (_, alert) => stepAlerts.Add(alert);
            monitor.ProbeCompleted += (_, result) => stepProbe = result;
        }

        onStart?.Invoke(model, optimizer);
        var losses = new List<double>(spec.Steps);
        var rates = new List<double>(spec.Steps);
        var norms = new List<double>(spec.Steps);
        var levels = new List<AlertLevel>(monitor is null ? 0 : spec.Steps);
        var probeTime = TimeSpan.Zero;
        bool diverged = false;
        var total = Stopwatch.StartNew();
        var watch = new Stopwatch();
        int step = 0, skipped = 0;
        for (; step < spec.Steps && !cancellationToken.IsCancellationRequested; step++)
        {
            watch.Restart();
            double rate, loss, gradientNorm;
            bool applied = true;
            using (var stepScope = torch.NewDisposeScope())
            {
                var batch = batches.NextBatch();
                if (batchLoss && monitor is not null)
                {
                    heldInputs = batch.Inputs.DetachFromDisposeScope();
                    heldTargets = batch.Targets.DetachFromDisposeScope();
                }

                optimizer.zero_grad();
                // call, not forward: forward hooks on the model (an onStart sensor's) see the training forward only;
                // the monitor's probe loss uses forward and does not fire them.
                var lossTensor = Loss(model.call(batch.Inputs), batch.Targets);
                lossTensor.backward();
                gradientNorm = GradientNorm(parameters);
                loss = lossTensor.item<float>();
                if (gradientScale?.Invoke(gradientNorm) is double scale && scale != 1)
                {
                    ScaleGradients(parameters, scale);
                }

                // Without a spike guard this is Apply at once; with one, a spike onset's update is skipped (its rate cut first).
                if (monitor is not null && monitor.BeforeUpdate(step, loss, gradientNorm) == UpdateDecision.Skip)
                {
                    applied = false;
                    skipped++;
                }

                rate = optimizer.ParamGroups.First().LearningRate;
                if (applied)
                {
                    optimizer.step();
                    afterUpdate?.Invoke(new AppliedUpdate(step, loss, rate, () =>
                    {
                        using var noGrad = torch.no_grad();
                        using var after = Loss(model.forward(batch.Inputs), batch.Targets);
                        return after.item<float>();
                    }));
                }
            }

            diverged = applied && (!double.IsFinite(loss) || !double.IsFinite(gradientNorm));
            SetLearningRate(optimizer, spec.ScheduledLearningRate(step + 1));
            var stepTime = watch.Elapsed;

            stepAlerts.Clear();
            stepProbe = null;
            monitor?.OnStep(step, loss, gradientNorm);
            heldInputs?.Dispose();
            heldTargets?.Dispose();
            heldInputs = heldTargets = null;
            if (stepProbe is { } completed)
            {
                probes.Add(completed);
                probeTime += completed.Duration;
            }

            alerts.AddRange(stepAlerts);
            if (monitor is not null)
            {
                levels.Add(monitor.Level);
            }

            losses.Add(loss);
            rates.Add(rate);
            norms.Add(gradientNorm);
            onStep?.Invoke(new StepReport(step, loss, rate, gradientNorm, monitor, stepProbe, stepAlerts.Count == 0 ? [] : [.. stepAlerts], stepTime));
            if (diverged)
            {
                step++;
                break;
            }
        }

        return new RunTrace(spec, parameterCount, losses, rates, norms, probes, alerts, levels, diverged, !diverged && step < spec.Steps, total.Elapsed, probeTime)
        {
            SkippedUpdates = skipped,
        };
    }

    /// <summary>Creates the model and the batch source of a spec (weights from torch's global generator).</summary>
    /// <param name="spec">The run.</param>
    /// <param name="data">The data sets.</param>
    public static (nn.Module<Tensor, Tensor> Model, IBatchSource Batches) Build(RunSpec spec, WorkloadData data)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(data);
        switch (spec.Workload)
        {
            case WorkloadKind.CharGpt:
                var corpus = data.Corpus;
                var config = spec.Gpt ?? RunSpec.DefaultGpt(corpus.VocabularySize);
                if (config.VocabularySize != corpus.VocabularySize)
                {
                    throw new ArgumentException($"RunSpec {spec.Name}: the GPT's vocabulary ({config.VocabularySize}) differs from the corpus's ({corpus.VocabularySize}).", nameof(spec));
                }

                return (new CharGpt(config), new CharBatcher(corpus, config.Context, spec.BatchSize, spec.Seed, spec.ProbeBatchSize));
            case WorkloadKind.DigitsCnn:
                return (new DigitsCnn(), new DigitsBatcher(data.Digits, spec.BatchSize, spec.Seed, images: true, spec.ProbeBatchSize));
            default:
                return (new DigitsMlp(), new DigitsBatcher(data.Digits, spec.BatchSize, spec.Seed, images: false, spec.ProbeBatchSize));
        }
    }

    private static optim.Optimizer CreateOptimizer(RunSpec spec, nn.Module model) => spec.Optimizer switch
    {
        OptimizerKind.SgdMomentum => torch.optim.SGD(model.parameters(), spec.LearningRate, momentum: spec.Momentum),
        OptimizerKind.Adam => torch.optim.Adam(model.parameters(), spec.LearningRate),
        _ => torch.optim.AdamW(model.parameters(), spec.LearningRate, weight_decay: spec.WeightDecay),
    };

    private static void SetLearningRate(optim.Optimizer optimizer, double rate)
    {
        foreach (var group in optimizer.ParamGroups)
        {
            group.LearningRate = rate;
        }
    }

    private static void ScaleGradients(Parameter[] parameters, double scale)
    {
        using var noGrad = torch.no_grad();
        foreach (var parameter in parameters)
        {
            parameter.grad?.mul_(scale);
        }
    }

    private static double GradientNorm(Parameter[] parameters)
    {
        using var noGrad = torch.no_grad();
        var squares = parameters.Where(p => p.grad is not null).Select(p => p.grad!.square().sum()).ToArray();
        return squares.Length == 0 ? 0 : Math.Sqrt(torch.stack(squares).sum().item<float>());
    }
}
