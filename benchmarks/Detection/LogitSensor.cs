using SpectralMonitor.Examples.Workloads;
using SpectralMonitor.Torch;
using static TorchSharp.torch;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>
/// The library's forward-hook statistics (<see cref="ForwardLogitHooks"/>, issue 15; Wortsman et al. 2023 saw
/// attention-logit growth and output-logit divergence precede transformer instabilities) as a benchmark step sensor:
/// the output logits' mean log-partition, largest magnitude and RMS (every workload, hook on the model), and the
/// largest pre-softmax attention score and smallest head entropy over the GPT's attention layers (hooks on the no-op
/// probe points named <see cref="CharGpt.AttentionScoresModule"/>). The runner calls the model with <c>call</c> for the
/// training forward and its probe loss with <c>forward</c>, and the hooks take the first forward after each read, so
/// the monitor's probes never replace the training step's values. Its cost per step, <see cref="SensorMilliseconds"/>:
/// the time inside the hooks (<see cref="ForwardLogitHooks.CaptureTime"/>, wall time on the training thread) plus the
/// read's thread CPU time.
/// </summary>
internal sealed class LogitSensor : IStepSensor
{
    /// <summary>Mean over the batch rows of log Σ_k exp(z_k), the log-partition of the output logits z.</summary>
    public const string LogPartition = "logit_log_partition";

    /// <summary>max |z| over the batch's output logits.</summary>
    public const string MaxAbsLogit = "logit_max_abs";

    /// <summary>√(mean z²) over the batch's output logits.</summary>
    public const string LogitRms = "logit_rms";

    /// <summary>The largest pre-softmax attention score (masked entries excluded), max over heads, rows and layers.</summary>
    public const string MaxAttentionLogit = "attn_max_logit";

    /// <summary>The smallest head entropy (nats): per head the batch mean of the entropy of the last position's attention row, min over heads and layers.</summary>
    public const string MinAttentionEntropy = "attn_min_entropy";

    /// <summary>The sensor's own time per step in milliseconds (its hooks and its read): a cost, not a signal to detect on.</summary>
    public const string SensorMilliseconds = "logit_sensor_ms";

    private ForwardLogitHooks? _hooks;
    private TimeSpan _captured;

    public IReadOnlyList<string> Signals { get; } = [LogPartition, MaxAbsLogit, LogitRms, MaxAttentionLogit, MinAttentionEntropy, SensorMilliseconds];

    public double OutsideReadSeconds => _hooks?.CaptureTime.TotalSeconds ?? 0;

    /// <summary>The attention layers hooked (0 for a model without probe points).</summary>
    public int AttentionLayers => _hooks?.AttentionLayers ?? 0;

    public void Attach(nn.Module<Tensor, Tensor> model, optim.Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        string[] attention = [.. model.named_modules().Select(m => m.name)
            .Where(n => n == CharGpt.AttentionScoresModule || n.EndsWith("." + CharGpt.AttentionScoresModule, StringComparison.Ordinal))];
        _hooks = new ForwardLogitHooks(model, outputModule: "", attention);
    }

    public void Read(int step, double learningRate, Span<double> values)
    {
        double before = ThreadCpuTime.Seconds();
        if (_hooks?.TryRead() is { } s)
        {
            values[0] = s.OutputLogPartition;
            values[1] = s.MaxAbsOutputLogit;
            values[2] = s.OutputLogitRms;
            values[3] = s.MaxAttentionLogit;
            values[4] = s.MinAttentionEntropy;
        }

        double read = ThreadCpuTime.Seconds() - before;
        var captured = _hooks?.CaptureTime ?? TimeSpan.Zero;
        values[5] = 1000 * (read + (captured - _captured).TotalSeconds);
        _captured = captured;
    }

    public void Dispose() => _hooks?.Dispose();
}
