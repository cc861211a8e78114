using System.Runtime.InteropServices;
using SpectralMonitor.Examples.Workloads;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>
/// Model-level signals of the training forward pass through TorchSharp forward hooks (issue 15; Wortsman et al. 2023
/// saw attention-logit growth and output-logit divergence precede transformer instabilities): the output logits'
/// mean log-partition, largest magnitude and RMS (every workload, hook on the model), and per attention layer the
/// largest pre-softmax score and the smallest head entropy of the attention weights (the GPT, hooks on the no-op probe
/// points named <see cref="CharGpt.AttentionScoresModule"/>; max and min over layers). Each hook reduces its tensor
/// under no_grad to a few float64 numbers on the device; <see cref="Read"/> fetches all of them in one host read. Only
/// the first forward after the previous read is taken (the training forward: the runner calls the model with
/// <c>call</c>, its probe loss with <c>forward</c>, and the monitor's probes run after the step), so probe forwards
/// through the attention layers do not overwrite it. Its cost, the hooks' reductions and the read, is measured on the
/// training thread (<see cref="IStepSensor.OutsideReadSeconds"/> plus the read).
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

    private readonly List<Action> _removeHooks = [];
    private Tensor? _output;
    private Tensor?[] _attention = [];
    private bool _outputArmed;
    private bool[] _attentionArmed = [];
    private double _hookSeconds;
    private double _stepHookSeconds;

    /// <summary>The sensor's own training-thread CPU time per step in milliseconds (its hooks and its read): a cost, not a signal to detect on.</summary>
    public const string SensorMilliseconds = "logit_sensor_ms";

    public IReadOnlyList<string> Signals { get; } = [LogPartition, MaxAbsLogit, LogitRms, MaxAttentionLogit, MinAttentionEntropy, SensorMilliseconds];

    public double OutsideReadSeconds => _hookSeconds;

    /// <summary>The attention layers hooked (0 for a model without probe points).</summary>
    public int AttentionLayers => _attention.Length;

    /// <summary>
    /// [mean over rows of logsumexp, max |z|, √(mean z²)] of logits whose last dimension is the classes, reduced in
    /// the logits' precision and returned as float64.
    /// </summary>
    /// <param name="logits">[…, classes].</param>
    public static Tensor OutputStatistics(Tensor logits)
    {
        ArgumentNullException.ThrowIfNull(logits);
        using var scope = torch.NewDisposeScope();
        var z = logits.detach().reshape(-1, logits.shape[^1]);
        return torch.stack([z.logsumexp(-1).mean(), z.abs().max(), z.square().mean().sqrt()]).to_type(ScalarType.Float64).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// [largest finite score, smallest head entropy] of attention scores [B, heads, T, T] whose masked entries are −∞.
    /// The head entropy is the mean over the batch of the entropy of the last query position's row, the one row that
    /// sees every key (earlier rows of a causal mask see fewer, and row 0 only itself, entropy 0): with p =
    /// softmax(s), H = log Σ_j e^{s_j} − Σ_j p_j s_j. Reduced in the scores' precision, returned as float64. The max
    /// reads every score once; the entropy reads B·heads·T of them.
    /// </summary>
    /// <param name="scores">Pre-softmax scores, rows over the last dimension.</param>
    public static Tensor AttentionStatistics(Tensor scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        using var scope = torch.NewDisposeScope();
        var s = scores.detach();
        var last = s.select(-2, -1);
        var logPartition = last.logsumexp(-1);
        var entropy = logPartition - (last.softmax(-1) * last).sum(-1);
        var perHead = entropy.reshape(entropy.shape[0], -1).mean([0]);
        return torch.stack([s.max(), perHead.min()]).to_type(ScalarType.Float64).MoveToOuterDisposeScope();
    }

    public void Attach(nn.Module<Tensor, Tensor> model, optim.Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        _removeHooks.Add(model.register_forward_hook((_, _, output) =>
        {
            if (_outputArmed)
            {
                _outputArmed = false;
                _output = Capture(output, OutputStatistics);
            }

            return null!;
        }).remove);

        var probes = model.named_modules()
            .Where(m => m.name == CharGpt.AttentionScoresModule || m.name.EndsWith("." + CharGpt.AttentionScoresModule, StringComparison.Ordinal))
            .Select(m => m.module)
            .OfType<nn.Module<Tensor, Tensor>>()
            .ToArray();
        _attention = new Tensor?[probes.Length];
        _attentionArmed = new bool[probes.Length];
        for (int i = 0; i < probes.Length; i++)
        {
            int layer = i;
            _removeHooks.Add(probes[i].register_forward_hook((_, _, output) =>
            {
                if (_attentionArmed[layer])
                {
                    _attentionArmed[layer] = false;
                    _attention[layer] = Capture(output, AttentionStatistics);
                }

                return null!;
            }).remove);
        }

        Arm();
    }

    public void Read(int step, double learningRate, Span<double> values)
    {
        double before = ThreadCpuTime.Seconds();
        try
        {
            var parts = new[] { _output }.Concat(_attention).OfType<Tensor>().ToArray();
            if (parts.Length == 0)
            {
                return;
            }

            using var all = torch.cat(parts, 0);
            double[] read = all.data<double>().ToArray();
            int offset = 0;
            if (_output is not null)
            {
                read.AsSpan(0, 3).CopyTo(values);
                offset = 3;
            }

            if (offset < read.Length)
            {
                double maxLogit = double.NegativeInfinity, minEntropy = double.PositiveInfinity;
                for (int i = offset; i + 1 < read.Length; i += 2)
                {
                    maxLogit = Max(maxLogit, read[i]);
                    minEntropy = Min(minEntropy, read[i + 1]);
                }

                values[3] = maxLogit;
                values[4] = minEntropy;
            }
        }
        finally
        {
            DisposeCaptured();
            Arm();
            values[5] = 1000 * (_stepHookSeconds + ThreadCpuTime.Seconds() - before);
            _stepHookSeconds = 0;
        }
    }

    public void Dispose()
    {
        foreach (var remove in _removeHooks)
        {
            remove();
        }

        _removeHooks.Clear();
        DisposeCaptured();
    }

    // NaN propagates (a non-finite forward is worth seeing); otherwise the larger / smaller.
    private static double Max(double a, double b) => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Max(a, b);

    private static double Min(double a, double b) => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Min(a, b);

    private Tensor? Capture(Tensor output, Func<Tensor, Tensor> statistics)
    {
        double before = ThreadCpuTime.Seconds();
        try
        {
            using var noGrad = torch.no_grad();

            // Owned by the sensor until the next read, not by the training step's dispose scope.
            return statistics(output).DetachFromDisposeScope();
        }
        catch (Exception e) when (e is ExternalException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
        finally
        {
            double spent = ThreadCpuTime.Seconds() - before;
            _hookSeconds += spent;
            _stepHookSeconds += spent;
        }
    }

    private void Arm()
    {
        _outputArmed = true;
        Array.Fill(_attentionArmed, true);
    }

    private void DisposeCaptured()
    {
        _output?.Dispose();
        _output = null;
        for (int i = 0; i < _attention.Length; i++)
        {
            _attention[i]?.Dispose();
            _attention[i] = null;
        }
    }
}
