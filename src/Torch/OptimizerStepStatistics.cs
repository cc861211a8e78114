using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch;

/// <summary>
/// Optimizer-state statistics of one step, read from the state the optimizer keeps (no Hessian-vector product, no
/// extra forward or backward pass): a few element-wise operations and reductions per parameter tensor. Every field is
/// NaN when the optimizer does not define it (for example the second-moment fields for SGD).
/// </summary>
/// <param name="Step">The optimizer's step count (Adam/AdamW/RMSprop), or -1 when it keeps none.</param>
/// <param name="UpdateNormOverLearningRate">
/// ‖Δθ‖/η of the step the state describes, without weight decay: ‖m̂/(√v̂+ε)‖ for Adam/AdamW, ‖b‖ (the momentum
/// buffer) for SGD-momentum, the RMSprop step direction's norm for RMSprop.
/// </param>
/// <param name="UpdateToWeight">η‖Δθ‖/‖θ‖ over all monitored parameters (the update-RMS to weight-RMS ratio).</param>
/// <param name="MaxLayerUpdateToWeight">The largest η‖Δθ_l‖/‖θ_l‖ over parameter tensors l with ‖θ_l‖ &gt; 0.</param>
/// <param name="EpsilonDominatedShare">Share of coordinates with √v̂ ≤ c·ε (c = <see cref="OptimizerStepStatisticsReader.EpsilonFactor"/>): where ε, not the gradient history, sets the step size.</param>
/// <param name="MaxLayerEpsilonDominatedShare">The largest ε-dominated share over parameter tensors.</param>
/// <param name="SaturatedShare">
/// Share of coordinates with |m̂|/(√v̂+ε) ≥ <see cref="OptimizerStepStatisticsReader.SaturationLevel"/>. A burst of
/// gradient on a coordinate whose second moment had collapsed drives the ratio towards (1−β₁)/√(1−β₂) (≈ 3.2 at the
/// defaults), the mechanism Molybog et al. (2023) tie to Adam's loss spikes; on healthy runs of the benchmark's small
/// GPT about 0.05–0.15% of coordinates are at or above 1 (benchmarks/Detection/WARNINGS.md).
/// </param>
/// <param name="MaxNormalizedUpdate">max |m̂|/(√v̂+ε) over all coordinates.</param>
public sealed record OptimizerStepStatistics(
    long Step,
    double UpdateNormOverLearningRate,
    double UpdateToWeight,
    double MaxLayerUpdateToWeight,
    double EpsilonDominatedShare,
    double MaxLayerEpsilonDominatedShare,
    double SaturatedShare,
    double MaxNormalizedUpdate);

/// <summary>
/// Reads <see cref="OptimizerStepStatistics"/> from a TorchSharp optimizer (SGD, Adam, AdamW, RMSProp) through its
/// public <c>state_dict()</c> (which hands out the optimizer's own state tensors; nothing is written). Cost per read:
/// about eight element-wise passes over the parameters and one host transfer of a few numbers per parameter tensor,
/// which is small next to a training step's forward and backward passes.
/// </summary>
public static class OptimizerStepStatisticsReader
{
    /// <summary>c of the ε-dominated test √v̂ ≤ c·ε.</summary>
    public const double EpsilonFactor = 10;

    /// <summary>The level of |m̂|/(√v̂+ε) counted as saturated.</summary>
    public const double SaturationLevel = 1;

    /// <summary>Reads the statistics of the optimizer's current state; null with a reason when it cannot.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="reason">Why the result is null; otherwise null.</param>
    /// <returns>The statistics, or null (unsupported optimizer, no state yet, or a non-finite value in the state is reported as NaN fields, not null).</returns>
    public static OptimizerStepStatistics? TryRead(optim.Optimizer optimizer, out string? reason)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        if (optimizer is not (SGD or Adam or AdamW or RMSProp))
        {
            reason = $"Optimizer {optimizer.GetType().Name} is not supported (only SGD, Adam, AdamW and RMSProp are).";
            return null;
        }

        var dictionary = ((OptimizerHelper)optimizer).state_dict();
        var groups = optimizer.ParamGroups.OfType<ParamGroup>().ToArray();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var rows = new List<Tensor>();
        long step = -1;
        int entry = 0;
        for (int g = 0; g < groups.Length && g < dictionary.Options.Count; g++)
        {
            var options = dictionary.Options[g];
            foreach (var parameter in groups[g].Parameters)
            {
                if (entry >= dictionary.State.Count)
                {
                    break;
                }

                var state = dictionary.State[entry++];
                var row = Row(parameter, state, options, ref step);
                if (row is not null)
                {
                    rows.Add(row);
                }
            }
        }

        if (rows.Count == 0)
        {
            reason = "The optimizer holds no state yet (no step taken).";
            return null;
        }

        // One host transfer: per tensor [‖u‖², η²‖u‖², ‖θ‖², ε-dominated count, saturated count, max |u|, count].
        double[] values = torch.stack([.. rows]).to(float64).cpu().data<double>().ToArray();
        const int Width = 7;
        double update = 0, scaledUpdate = 0, weight = 0, epsilon = 0, saturated = 0, maxUpdate = double.NaN, count = 0;
        double maxLayerRatio = double.NaN, maxLayerEpsilon = double.NaN;
        for (int i = 0; i < values.Length; i += Width)
        {
            update += values[i];
            scaledUpdate += values[i + 1];
            weight += values[i + 2];
            epsilon += values[i + 3];
            saturated += values[i + 4];
            maxUpdate = Max(maxUpdate, values[i + 5]);
            count += values[i + 6];
            if (values[i + 2] > 0)
            {
                maxLayerRatio = Max(maxLayerRatio, Math.Sqrt(values[i + 1] / values[i + 2]));
            }

            maxLayerEpsilon = Max(maxLayerEpsilon, values[i + 6] > 0 ? values[i + 3] / values[i + 6] : double.NaN);
        }

        reason = null;
        bool adaptive = optimizer is not SGD;
        return new OptimizerStepStatistics(
            step,
            Math.Sqrt(update),
            weight > 0 ? Math.Sqrt(scaledUpdate / weight) : double.NaN,
            maxLayerRatio,
            adaptive ? epsilon / count : double.NaN,
            adaptive ? maxLayerEpsilon : double.NaN,
            adaptive ? saturated / count : double.NaN,
            adaptive ? maxUpdate : double.NaN);
    }

    // NaN-aware max: NaN only when both are NaN.
    private static double Max(double a, double b) => double.IsNaN(a) ? b : double.IsNaN(b) ? a : Math.Max(a, b);

    private static Tensor? Row(Parameter parameter, OptimizerState state, OptimizerOptions options, ref long step)
    {
        double lr = options.LearningRate ?? double.NaN;
        Tensor? direction;
        Tensor? denominator = null;
        double eps = 0;
        switch (state)
        {
            case SGD.State sgd:
                direction = sgd.momentum_buffer is { IsInvalid: false } b ? b : null;
                break;
            case Adam.State adam:
                (direction, denominator, eps) = AdamDirection(adam.exp_avg, adam.exp_avg_sq, adam.step, (Adam.Options)options);
                step = adam.step;
                break;
            case AdamW.State adamW:
                (direction, denominator, eps) = AdamDirection(adamW.exp_avg, adamW.exp_avg_sq, adamW.step, (AdamW.Options)options);
                step = adamW.step;
                break;
            case RMSProp.State rms when rms.square_avg is { IsInvalid: false } sq:
                eps = ((RMSProp.Options)options).eps ?? 1e-8;
                denominator = sq.sqrt();
                direction = rms.momentum_buffer is { IsInvalid: false } mb ? mb : parameter.grad is { } grad ? grad / (denominator + eps) : null;
                step = rms.step;
                break;
            default:
                direction = null;
                break;
        }

        if (direction is null)
        {
            return null;
        }

        var u = direction.to(float32);
        var updateSquared = u.square().sum();
        var weightSquared = parameter.detach().to(float32).square().sum();
        var n = torch.tensor((double)u.numel(), float32);
        Tensor epsilonCount, saturatedCount, maxAbs;
        if (denominator is not null)
        {
            epsilonCount = denominator.le(EpsilonFactor * eps).sum().to(float32);
            var absolute = u.abs();
            saturatedCount = absolute.ge(SaturationLevel).sum().to(float32);
            maxAbs = absolute.max();
        }
        else
        {
            epsilonCount = saturatedCount = maxAbs = torch.tensor(0f);
        }

        return torch.stack([updateSquared, updateSquared * (float)(lr * lr), weightSquared, epsilonCount, saturatedCount, maxAbs, n]);
    }

    private static (Tensor? Direction, Tensor? Denominator, double Eps) AdamDirection(Tensor? expAvg, Tensor? expAvgSq, long step, OptimizerOptions options)
    {
        if (expAvg is null || expAvgSq is null || expAvg.IsInvalid || expAvgSq.IsInvalid || step <= 0)
        {
            return (null, null, 0);
        }

        var (beta1, beta2, eps) = options switch
        {
            Adam.Options a => (a.beta1 ?? 0.9, a.beta2 ?? 0.999, a.eps ?? 1e-8),
            AdamW.Options w => (w.beta1 ?? 0.9, w.beta2 ?? 0.999, w.eps ?? 1e-8),
            _ => (0.9, 0.999, 1e-8),
        };
        double c1 = 1 - Math.Pow(beta1, step), c2 = 1 - Math.Pow(beta2, step);

        // √v̂ = √(v/c₂); the update direction m̂/(√v̂+ε), exactly as torch.optim.Adam takes its step (amsgrad aside).
        var root = (expAvgSq / c2).sqrt();
        var direction = (expAvg / c1) / (root + eps);
        return (direction, root, eps);
    }
}
