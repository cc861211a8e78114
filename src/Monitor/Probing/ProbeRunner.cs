using Microsoft.Extensions.Logging;
using SpectralMonitor.Probing.Stages;
using SpectralMonitor.Telemetry;

namespace SpectralMonitor.Probing;

/// <summary>Runs one probe of a target; never throws (failures become failed <see cref="ProbeResult"/>s).</summary>
internal interface IProbeRunner : IDisposable
{
    string OptimizerName { get; }

    ILearningRateController? LearningRates { get; }

    /// <summary>Runs one probe.</summary>
    /// <param name="step">The step it runs after.</param>
    /// <param name="time">The clock.</param>
    /// <param name="startedTimestamp">When it began (for its duration).</param>
    /// <param name="cancellationReason">Says why the token was cancelled (the failure reason of a cancelled probe).</param>
    /// <param name="cancellationToken">Cancelled past the timeout or on disposal; checked between stages and before every operator application.</param>
    ProbeResult Run(long step, TimeProvider time, long startedTimestamp, Func<string> cancellationReason, CancellationToken cancellationToken);
}

/// <summary>
/// Opens a probe of the target and runs the stages (<see cref="ProbeStages.Default{TVec}"/>) in order, each within
/// what is left of <see cref="StabilityMonitorOptions.MaxHvpsPerProbe"/>; then gathers their typed readings into one
/// <see cref="ProbeResult"/>. Device memory: the largest stage's Krylov basis
/// (<see cref="StabilityMonitorOptions.KrylovDimension"/> + 1 vectors), the warm-start basis
/// (<see cref="StabilityMonitorOptions.TopModes"/> vectors) and a few work vectors.
/// </summary>
internal sealed class ProbeRunner<TVec> : IProbeRunner
    where TVec : class
{
    private readonly IProbeTarget<TVec> _target;
    private readonly StabilityMonitorOptions _options;
    private readonly ILogger _logger;
    private readonly ProbeStage<TVec>[] _stages;
    private bool _unsupportedLogged;
    private int _probes;

    /// <param name="target">The model and optimizer.</param>
    /// <param name="options">Validated options.</param>
    /// <param name="logger">Where the one-time "optimizer unsupported" line goes.</param>
    /// <param name="stages">The stages in order; null for <see cref="ProbeStages.Default{TVec}"/>. The runner owns and disposes them.</param>
    public ProbeRunner(IProbeTarget<TVec> target, StabilityMonitorOptions options, ILogger logger, IEnumerable<ProbeStage<TVec>>? stages = null)
    {
        _stages = stages?.ToArray() ?? ProbeStages.Default<TVec>();
        _target = target;
        _options = options;
        _logger = logger;
    }

    public string OptimizerName => _target.OptimizerName;

    public ILearningRateController? LearningRates => _target.LearningRates;

    /// <summary>Runs one probe; a cancelled one fails with a generic reason (the monitor passes its own, see <see cref="IProbeRunner.Run"/>).</summary>
    public ProbeResult Run(long step, TimeProvider time, long startedTimestamp, CancellationToken cancellationToken) =>
        Run(step, time, startedTimestamp, static () => "cancelled (probe timeout or monitor disposal)", cancellationToken);

    public ProbeResult Run(long step, TimeProvider time, long startedTimestamp, Func<string> cancellationReason, CancellationToken cancellationToken)
    {
        ProbeFrame<TVec>? frame = null;
        var durations = new Dictionary<string, TimeSpan>(StringComparer.Ordinal);
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            long part = time.GetTimestamp();
            using var context = _target.BeginProbe(cancellationToken);
            using var opened = frame = new ProbeFrame<TVec>(context, _options, _probes);
            if (context.Optimizer is null && !_unsupportedLogged)
            {
                _unsupportedLogged = true;
                Log.OptimizerUnsupported(_logger, context.OptimizerUnavailableReason ?? "the optimizer is not one the monitor can linearize");
            }

            cancellationToken.ThrowIfCancellationRequested();
            frame.Prepare();
            durations["open"] = time.GetElapsedTime(part);
            foreach (var stage in _stages)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (stage.Applies(frame) && frame.Remaining >= stage.MinimumHvps(frame))
                {
                    part = time.GetTimestamp();
                    string? problem = stage.Run(frame, new StageBudget(frame.Remaining), cancellationToken);
                    durations[stage.Name] = time.GetElapsedTime(part);
                    if (problem is not null)
                    {
                        return Failed(step, frame, problem, time, startedTimestamp) with { StageDurations = durations };
                    }
                }
            }

            return Succeeded(step, frame, time, startedTimestamp) with { StageDurations = durations };
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Failed(step, frame, cancellationReason(), time, startedTimestamp) with { StageDurations = durations };
        }
        catch (ProbeTargetException ex)
        {
            // The target's own words: what is wrong and what to do.
            return Failed(step, frame, ex.Message, time, startedTimestamp) with { StageDurations = durations };
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return Failed(step, frame, $"{ex.GetType().Name}: {ex.Message}", time, startedTimestamp) with { StageDurations = durations };
        }
    }

    public void Dispose()
    {
        foreach (var stage in _stages)
        {
            stage.Dispose();
        }
    }

    private static ProbeResult Failed(long step, ProbeFrame<TVec>? frame, string reason, TimeProvider time, long started) =>
        new(step, ProbeStatus.Failed, reason, frame?.Path ?? ProbePath.CurvatureOnly, time.GetElapsedTime(started), frame?.Spent ?? 0, new Dictionary<string, double>(), [], frame?.Convergence);

    private ProbeResult Succeeded(long step, ProbeFrame<TVec> frame, TimeProvider time, long started)
    {
        var readings = frame.Readings.SelectMany(r => r.Readings()).ToArray();
        var indicators = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var reading in readings)
        {
            if (reading.Indicator is { } name)
            {
                indicators[name] = reading.Value;
            }
        }

        foreach (var (name, value) in indicators)
        {
            if (double.IsNaN(value))
            {
                return Failed(step, frame, $"indicator {name} came out NaN", time, started);
            }
        }

        _probes++;
        var weights = frame.Get<WeightSpectraReading>()?.Weights ?? [];
        return new ProbeResult(step, ProbeStatus.Succeeded, null, frame.Path, time.GetElapsedTime(started), frame.Spent, indicators, weights, frame.Convergence)
        {
            Readings = readings,
        };
    }
}
