using System.Diagnostics;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch;

/// <summary>
/// Model-level statistics of one training forward pass, read by <see cref="ForwardLogitHooks"/>. A field is NaN when
/// it was not measured (no output module, no attention-score module, or its hook did not fire since the last read).
/// </summary>
/// <param name="OutputLogPartition">Mean over rows of log Σ_k exp z_k of the output logits z (rows over the last dimension): the log-partition log Z, whose drift Wortsman et al. (2023) found to precede output-logit divergence.</param>
/// <param name="MaxAbsOutputLogit">max |z| over the output logits.</param>
/// <param name="OutputLogitRms">√(mean z²) over the output logits.</param>
/// <param name="MaxAttentionLogit">The largest finite pre-softmax attention score, over batch, heads, rows and every hooked attention layer (masked entries, −∞, excluded).</param>
/// <param name="MinAttentionEntropy">Per attention head, the batch mean of the entropy (nats) of the LAST query row's attention weights (the row that sees every key under a causal mask); the minimum over heads and hooked layers. It falls to 0 when attention collapses onto one key.</param>
public sealed record ForwardLogitStatistics(
    double OutputLogPartition,
    double MaxAbsOutputLogit,
    double OutputLogitRms,
    double MaxAttentionLogit,
    double MinAttentionEntropy);

/// <summary>
/// Opt-in model-level signals of a TorchSharp model, read from its own training forward pass through forward hooks
/// (no extra forward): the output logits' log-partition, largest magnitude and RMS, and per attention layer the largest
/// pre-softmax score and the smallest head entropy (see <see cref="ForwardLogitStatistics"/>). On the detection
/// benchmark's small GPT the largest attention logit crossed 100 (and the attention entropy fell below 0.01) 50–60 steps
/// before the loss blew up in runs warmed up to too high a learning rate, while healthy runs stayed below 100
/// (benchmarks/Detection/LOGITS.md: 4 held-out spikes). Given to the monitor (<see cref="TorchSharpProbeOptions.ForwardLogits"/>)
/// they become part of its step sensor, armed only for the forward of a step it reads, and the default rule
/// <see cref="Rules.DefaultRules.AttentionEntropyCollapse"/> reads the attention entropy; alone, the caller reads them
/// with <see cref="TryRead"/>.
/// </summary>
/// <remarks>
/// <para><b>Hooks fire only through <c>call</c>.</b> TorchSharp runs forward hooks when a module is invoked with
/// <c>module.call(x)</c>, not <c>module.forward(x)</c>. The output module's hook fires when the training loop calls
/// it with <c>call</c>. Attention scores are rarely a module's output: pass them through a no-op probe point, an
/// <c>nn.Identity()</c> field of the attention module invoked as <c>scores = probe.call(q.matmul(k.transpose(-2, -1)) * scale + mask)</c>
/// (an alias of the same storage: training is unchanged, bit for bit), and name those probe modules in the constructor.
/// Scores are [..., T_query, T_key] with masked entries −∞.</para>
/// <para><b>Which forward is read.</b> Each hook takes the first forward after the previous <see cref="TryRead"/> (or
/// after construction) and ignores later ones until the next read, so a probe's or an evaluation's forward that runs
/// after the training forward does not replace it. Read once per step after the update, or every k steps: the values
/// are then those of the step after the previous read.</para>
/// <para><b>Cost.</b> Each hooked forward costs a handful of reductions on the device (one pass over the output logits
/// and one over the attention scores, plus the softmax of one row per head); <see cref="TryRead"/> makes one host
/// transfer. On the benchmark's 1-layer GPT (CPU, one thread) about 1 ms per read against a 10 ms step: read every few
/// steps where that matters. <see cref="CaptureTime"/> sums the time spent inside the hooks.</para>
/// <para><b>Never throws into training.</b> A hook that fails records nothing (that read reports NaN), and
/// <see cref="TryRead"/> returns null instead of throwing. Not thread-safe: use it on the training thread. Dispose it
/// to remove the hooks and free the tensors held between reads.</para>
/// </remarks>
public sealed class ForwardLogitHooks : IDisposable
{
    private readonly List<Action> _removeHooks = [];
    private readonly Tensor?[] _attention;
    private readonly bool[] _attentionArmed;
    private readonly Stopwatch _watch = new();
    private Tensor? _output;
    private bool _outputArmed = true;
    private bool _disposed;

    /// <summary>Registers the hooks.</summary>
    /// <param name="model">The model.</param>
    /// <param name="outputModule">The name (in <c>named_modules()</c>) of the module whose output is the logits, "" for
    /// <paramref name="model"/> itself, or null for no output statistics.</param>
    /// <param name="attentionScoreModules">The names of the attention-score probe points (one per attention layer); empty for none.</param>
    /// <exception cref="ArgumentException">A named module does not exist or does not map one tensor to one tensor, or nothing is named.</exception>
    public ForwardLogitHooks(nn.Module<Tensor, Tensor> model, string? outputModule, IReadOnlyList<string> attentionScoreModules)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(attentionScoreModules);
        if (outputModule is null && attentionScoreModules.Count == 0)
        {
            throw new ArgumentException("Name an output module or at least one attention-score module.", nameof(attentionScoreModules));
        }

        var modules = model.named_modules().ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
        nn.Module<Tensor, Tensor> Find(string name, string parameter) =>
            name.Length == 0 ? model
            : !modules.TryGetValue(name, out var module) ? throw new ArgumentException($"The model has no module named '{name}'.", parameter)
            : module as nn.Module<Tensor, Tensor> ?? throw new ArgumentException($"Module '{name}' ({module.GetType().Name}) does not map one tensor to one tensor.", parameter);

        var output = outputModule is null ? null : Find(outputModule, nameof(outputModule));
        var attention = attentionScoreModules.Select(name => Find(name, nameof(attentionScoreModules))).ToArray();
        _attention = new Tensor?[attention.Length];
        _attentionArmed = [.. attention.Select(_ => true)];
        if (output is not null)
        {
            _removeHooks.Add(output.register_forward_hook((_, _, result) =>
            {
                if (_outputArmed)
                {
                    _outputArmed = false;
                    _output = Capture(result, OutputStatistics);
                }

                return null!;
            }).remove);
        }

        for (int i = 0; i < attention.Length; i++)
        {
            int layer = i;
            _removeHooks.Add(attention[i].register_forward_hook((_, _, result) =>
            {
                if (_attentionArmed[layer])
                {
                    _attentionArmed[layer] = false;
                    _attention[layer] = Capture(result, AttentionStatistics);
                }

                return null!;
            }).remove);
        }
    }

    /// <summary>The number of hooked attention layers.</summary>
    public int AttentionLayers => _attention.Length;

    /// <summary>Wall time spent inside the hooks so far (the reductions; the host transfer is in <see cref="TryRead"/>).</summary>
    public TimeSpan CaptureTime => _watch.Elapsed;

    /// <summary>
    /// Discards anything captured since the last read and arms every hook for the next forward pass (what
    /// <see cref="TryRead"/> does after reading). Together with <see cref="Disarm"/> it lets a caller pay for the
    /// reductions only on the steps it reads: arm before the forward of a step to be read, read after it, disarm.
    /// </summary>
    public void Arm() => SetArmed(true);

    /// <summary>
    /// Discards anything captured since the last read and disarms every hook: forward passes cost nothing more than a
    /// flag test until <see cref="Arm"/> or <see cref="TryRead"/>.
    /// </summary>
    public void Disarm() => SetArmed(false);

    private void SetArmed(bool armed)
    {
        if (_disposed)
        {
            return;
        }

        DisposeCaptured();
        _outputArmed = armed;
        Array.Fill(_attentionArmed, armed);
    }

    /// <summary>
    /// The statistics of the forward passes the hooks took since the previous read (one host transfer), and re-arms
    /// the hooks for the next forward. Never throws.
    /// </summary>
    /// <returns>The statistics (NaN fields where a hook did not fire), or null when no hook fired, after
    /// <see cref="Dispose"/>, or when the read failed.</returns>
    public ForwardLogitStatistics? TryRead()
    {
        if (_disposed)
        {
            return null;
        }

        try
        {
            var parts = new[] { _output }.Concat(_attention).OfType<Tensor>().ToArray();
            if (parts.Length == 0)
            {
                return null;
            }

            using var all = torch.cat(parts, 0);
            double[] read = all.data<double>().ToArray();
            int offset = _output is null ? 0 : 3;
            double maxLogit = double.NaN, minEntropy = double.NaN;
            for (int i = offset; i + 1 < read.Length; i += 2)
            {
                maxLogit = i == offset ? read[i] : Max(maxLogit, read[i]);
                minEntropy = i == offset ? read[i + 1] : Min(minEntropy, read[i + 1]);
            }

            return _output is null
                ? new ForwardLogitStatistics(double.NaN, double.NaN, double.NaN, maxLogit, minEntropy)
                : new ForwardLogitStatistics(read[0], read[1], read[2], maxLogit, minEntropy);
        }
        catch (Exception e) when (e is ExternalException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
        finally
        {
            DisposeCaptured();
            _outputArmed = true;
            Array.Fill(_attentionArmed, true);
        }
    }

    /// <summary>Removes the hooks and frees the tensors held since the last read. Idempotent.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var remove in _removeHooks)
        {
            remove();
        }

        _removeHooks.Clear();
        DisposeCaptured();
    }

    /// <summary>
    /// [mean over rows of logsumexp, max |z|, √(mean z²)] of <paramref name="logits"/> (rows over the last dimension),
    /// reduced in the logits' precision on their device, returned as a float64 tensor of 3 elements.
    /// </summary>
    /// <param name="logits">[…, classes].</param>
    /// <returns>A new tensor the caller owns.</returns>
    public static Tensor OutputStatistics(Tensor logits)
    {
        ArgumentNullException.ThrowIfNull(logits);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var z = logits.detach().reshape(-1, logits.shape[^1]);
        return torch.stack([z.logsumexp(-1).mean(), z.abs().max(), z.mul(z).mean().sqrt()]).to_type(ScalarType.Float64).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// [largest finite score, smallest head entropy] of attention scores [B, heads…, T_query, T_key] whose masked
    /// entries are −∞, as a float64 tensor of 2 elements. The head entropy is the batch mean (over the first dimension)
    /// of the entropy of the last query row, H = log Σ_j e^{s_j} − Σ_j p_j s_j with p = softmax(s); it assumes that row
    /// has no masked entry (true of a causal mask). Reduced in the scores' precision on their device: once logits
    /// reach about 10⁶ in float32 the entropy carries a rounding error of order 10⁻² (it can read slightly below 0).
    /// </summary>
    /// <param name="scores">Pre-softmax scores, rows over the last dimension.</param>
    /// <returns>A new tensor the caller owns.</returns>
    public static Tensor AttentionStatistics(Tensor scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var s = scores.detach();
        var last = s.select(-2, -1);
        var entropy = last.logsumexp(-1) - (last.softmax(-1) * last).sum(-1);
        var perHead = entropy.reshape(entropy.shape[0], -1).mean([0]);
        return torch.stack([s.max(), perHead.min()]).to_type(ScalarType.Float64).MoveToOuterDisposeScope();
    }

    // NaN propagates (a non-finite forward is worth seeing); otherwise the larger / smaller.
    private static double Max(double a, double b) => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Max(a, b);

    private static double Min(double a, double b) => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Min(a, b);

    private Tensor? Capture(Tensor result, Func<Tensor, Tensor> statistics)
    {
        _watch.Start();
        try
        {
            // Owned here until the next read, not by the training step's dispose scope.
            return statistics(result).DetachFromDisposeScope();
        }
        catch (Exception e) when (e is ExternalException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
        finally
        {
            _watch.Stop();
        }
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
