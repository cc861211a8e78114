using Microsoft.Extensions.Options;
using SpectralMonitor.Backoff;
using SpectralMonitor.Estimators.Optimizers;
using SpectralMonitor.Reference;
using SpectralMonitor.Reference.Monitoring;

namespace SpectralMonitor.Examples.AspNetCoreHost;

/// <summary>
/// The training loop as a hosted service: a small reference-backend run (4→16→1 tanh MLP, 64 samples, full batch,
/// heavy-ball SGD with the monitor's backoff) with a <see cref="StabilityMonitor"/> attached, until the host stops.
/// Stopping cancels the loop between steps, and the monitor is disposed on the way out.
/// </summary>
/// <remarks>
/// One model and one monitor for the life of the process: a monitor watches one model and optimizer, and replacing
/// it mid-process would make the OpenTelemetry SDK export the disposed monitor's counters one last time next to the
/// new ones (one scrape with duplicate series). The reference backend stands in for a TorchSharp model so that the
/// example stays light; with TorchSharp the loop is the same, with the adapter's probe target.
/// </remarks>
public sealed partial class TrainingService(
    IOptions<TrainingOptions> options,
    TrainingState state,
    ILoggerFactory loggerFactory,
    ILogger<TrainingService> logger) : BackgroundService
{
    private readonly TrainingOptions settings = options.Value;

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Off the host's start-up path: StartAsync returns as soon as this awaits.
        await Task.Yield();
        try
        {
            var steps = await this.TrainAsync(stoppingToken).ConfigureAwait(false);
            var phase = stoppingToken.IsCancellationRequested ? TrainingPhase.Stopped : TrainingPhase.Completed;
            state.Update(s => s with { Phase = phase });
            LogEnded(logger, phase, steps);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            state.Update(s => s with { Phase = TrainingPhase.Stopped });
            LogEnded(logger, TrainingPhase.Stopped, state.Current.Step + 1);
        }
        catch (Exception exception)
        {
            // A failing loop must not take the web host down with it: /healthz reports it and answers 503.
            state.Update(s => s with { Phase = TrainingPhase.Faulted, Error = exception.Message });
            LogFailed(logger, exception);
        }
    }

    private async Task<long> TrainAsync(CancellationToken stoppingToken)
    {
        var data = SyntheticData.Regression(64, 4, 1, seed: 3);
        var architecture = new MlpArchitecture([4, 16, 1], HiddenActivation.Tanh);
        var objective = new MlpObjective(architecture, LossKind.MeanSquaredError);
        var optimizer = ReferenceOptimizer.Create(architecture.ParameterCount, new SgdHyperparameters(this.settings.LearningRate, this.settings.Momentum));
        var trainer = new MiniBatchTrainer(objective, data, optimizer, architecture.InitializeParameters(1), data.Count, 1);
        var monitorOptions = new StabilityMonitorOptions
        {
            RunName = this.settings.RunName,
            ProbeInterval = this.settings.ProbeInterval,
            FirstProbeStep = 0,
            Backoff = new BackoffOptions(),
        };

        var monitor = StabilityMonitor.Create(new ReferenceProbeTarget(objective, data, () => trainer.Parameters, optimizer), monitorOptions, loggerFactory);
        long probes = 0;
        monitor.ProbeCompleted += (_, _) => Interlocked.Increment(ref probes);
        state.Update(s => s with { Phase = TrainingPhase.Training, Run = this.settings.RunName, MonitorDisposed = false });
        LogStarted(logger, this.settings.RunName);
        long step = 0;
        try
        {
            for (; this.settings.Steps == 0 || step < this.settings.Steps; step++)
            {
                stoppingToken.ThrowIfCancellationRequested();
                var result = trainer.Step();
                monitor.OnStep(step, result.Loss, result.GradientNorm);
                var taken = step;
                state.Update(s => s with
                {
                    Step = taken,
                    Loss = result.Loss,
                    LearningRate = optimizer.LearningRate,
                    AlertLevel = monitor.Level,
                    Probes = s.Probes + Interlocked.Exchange(ref probes, 0),
                });
                if (!result.Applied)
                {
                    throw new InvalidOperationException($"The loss became non-finite at step {step}; lower Training:LearningRate.");
                }

                if (this.settings.StepDelayMilliseconds > 0)
                {
                    await Task.Delay(this.settings.StepDelayMilliseconds, stoppingToken).ConfigureAwait(false);
                }
            }

            return step;
        }
        finally
        {
            monitor.Dispose();
            state.Update(s => s with { MonitorDisposed = true });
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Training run '{Run}' started")]
    private static partial void LogStarted(ILogger logger, string run);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Training {Phase} after {Steps} step(s); the monitor is disposed")]
    private static partial void LogEnded(ILogger logger, TrainingPhase phase, long steps);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "Training failed; /healthz reports it")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
