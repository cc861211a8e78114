using System.Numerics;
using System.Runtime.InteropServices;
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
/// <param name="MaxLayerUpdateToWeight">The largest η‖Δθ_l‖/‖θ_l‖ over parameter tensors l with ‖θ_l‖ &gt; 0; NaN when a tensor's update or weights hold a NaN.</param>
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
/// which is small next to a training step's forward and backward passes. Small tensors (biases, norms, the layers of
/// a small model) that share their settings are flattened together and reduced in one pass, so that a read of a model
/// with many small tensors is not dominated by the fixed cost of per-tensor operations; the batch copies at most 2²⁰
/// elements at a time. When every tensor involved is a contiguous float32 or float64 tensor on the CPU (SGD, Adam and
/// AdamW), the same sums are taken in one vectorized managed pass over the tensors' own memory instead: no tensor
/// operation, no copy, no native call per element-wise step, which on small models is several times faster than the
/// tensor operations' fixed costs (benchmarks/RESULTS.md, "Overhead", times the three side by side).
/// </summary>
public static class OptimizerStepStatisticsReader
{
    /// <summary>c of the ε-dominated test √v̂ ≤ c·ε.</summary>
    public const double EpsilonFactor = 10;

    /// <summary>The level of |m̂|/(√v̂+ε) counted as saturated.</summary>
    public const double SaturationLevel = 1;

    /// <summary>Parameter tensors of at most this many elements are reduced together with others of the same settings.</summary>
    internal const long SmallTensor = 1 << 16;

    /// <summary>The most elements reduced together (a bound on the batch's temporary copies).</summary>
    internal const long BatchElements = 1 << 20;

    /// <summary>Reads the statistics of the optimizer's current state; null with a reason when it cannot.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="reason">Why the result is null; otherwise null.</param>
    /// <returns>The statistics, or null (unsupported optimizer, no state yet, or a non-finite value in the state is reported as NaN fields, not null).</returns>
    public static OptimizerStepStatistics? TryRead(optim.Optimizer optimizer, out string? reason) =>
        TryRead(optimizer, SmallTensor, BatchElements, out reason);

    /// <summary>
    /// <see cref="TryRead(optim.Optimizer, out string?)"/> with the batching limits given: tensors of at most
    /// <paramref name="smallTensor"/> elements (0: none) that share their settings are reduced together, at most
    /// <paramref name="batchElements"/> elements at a time (tests and the overhead benchmark: 0 reduces every tensor alone).
    /// </summary>
    internal static OptimizerStepStatistics? TryRead(optim.Optimizer optimizer, long smallTensor, long batchElements, out string? reason) =>
        TryRead(optimizer, smallTensor, batchElements, onHost: true, out reason);

    /// <summary>
    /// <see cref="TryRead(optim.Optimizer, long, long, out string?)"/>, with <paramref name="onHost"/> false keeping the
    /// tensor operations even where the managed pass could read the tensors (tests and the overhead benchmark compare
    /// the two).
    /// </summary>
    internal static OptimizerStepStatistics? TryRead(optim.Optimizer optimizer, long smallTensor, long batchElements, bool onHost, out string? reason)
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
        var entries = Entries(dictionary, groups, out long step);
        if (entries.Count == 0)
        {
            reason = "The optimizer holds no state yet (no step taken).";
            return null;
        }

        // Per tensor [‖u‖², η²‖u‖², ‖θ‖², ε-dominated count, saturated count, max |u|, count]: in one managed pass over
        // CPU memory, or by tensor operations and one host transfer.
        double[] values = onHost && entries.All(HostReadable)
            ? HostRows(entries)
            : torch.cat(Rows(entries, smallTensor, batchElements), 0).to(float64).cpu().data<double>().ToArray();
        reason = null;
        return Summarize(values, step, adaptive: optimizer is not SGD);
    }

    /// <summary>What every parameter with state holds, in parameter-group order, and the optimizer's step count.</summary>
    private static List<Entry> Entries(OptimizerHelper.StateDictionary dictionary, ParamGroup[] groups, out long step)
    {
        var entries = new List<Entry>();
        step = -1;
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

                if (Describe(parameter, dictionary.State[entry++], options, ref step) is { } described)
                {
                    entries.Add(described);
                }
            }
        }

        return entries;
    }

    /// <summary>
    /// Per-tensor sums of <paramref name="entries"/> as rows of seven (in the current dispose scope). Tensors of up to
    /// <paramref name="smallTensor"/> elements that share their hyperparameters, dtype and device are reduced together
    /// (<see cref="BatchRows"/>): a per-tensor pass costs about twenty small tensor operations, whose fixed cost, not
    /// the arithmetic, dominates a read of a small model.
    /// </summary>
    private static List<Tensor> Rows(List<Entry> entries, long smallTensor, long batchElements)
    {
        var rows = new List<Tensor>();
        var batches = new Dictionary<BatchKey, List<Entry>>();
        foreach (var described in entries)
        {
            if (described.Key is { } key && described.Parameter.numel() <= smallTensor)
            {
                if (!batches.TryGetValue(key, out var list))
                {
                    batches[key] = list = [];
                }

                list.Add(described);
            }
            else
            {
                rows.Add(Row(described));
            }
        }

        foreach (var (key, batch) in batches)
        {
            for (int first = 0; first < batch.Count;)
            {
                // Chunks of at most batchElements elements bound the batch's temporary copies.
                int count = 0;
                long elements = 0;
                while (first + count < batch.Count && (count == 0 || elements + batch[first + count].Parameter.numel() <= batchElements))
                {
                    elements += batch[first + count].Parameter.numel();
                    count++;
                }

                rows.Add(count == 1 ? Row(batch[first]) : BatchRows(key, batch.GetRange(first, count)));
                first += count;
            }
        }

        return rows;
    }

    /// <summary>The statistics from the rows' values, read to the host (seven per tensor).</summary>
    private static OptimizerStepStatistics Summarize(double[] values, long step, bool adaptive)
    {
        const int Width = 7;
        double update = 0, scaledUpdate = 0, weight = 0, epsilon = 0, saturated = 0, maxUpdate = double.NegativeInfinity, count = 0;
        double maxLayerRatio = double.NaN, maxLayerEpsilon = double.NaN;
        bool layerNaN = false;
        for (int i = 0; i < values.Length; i += Width)
        {
            update += values[i];
            scaledUpdate += values[i + 1];
            weight += values[i + 2];
            epsilon += values[i + 3];
            saturated += values[i + 4];
            maxUpdate = Math.Max(maxUpdate, values[i + 5]); // a NaN in any row (a NaN in the state) stays NaN
            count += values[i + 6];
            if (double.IsNaN(values[i + 1]) || double.IsNaN(values[i + 2]))
            {
                layerNaN = true; // a NaN in a layer's update or weights is not skipped as a layer without weight
            }
            else if (values[i + 2] > 0)
            {
                maxLayerRatio = Max(maxLayerRatio, Math.Sqrt(values[i + 1] / values[i + 2]));
            }

            maxLayerEpsilon = Max(maxLayerEpsilon, values[i + 6] > 0 ? values[i + 3] / values[i + 6] : double.NaN);
        }

        return new OptimizerStepStatistics(
            step,
            Math.Sqrt(update),
            weight > 0 ? Math.Sqrt(scaledUpdate / weight) : double.NaN,
            layerNaN ? double.NaN : maxLayerRatio,
            adaptive ? epsilon / count : double.NaN,
            adaptive ? maxLayerEpsilon : double.NaN,
            adaptive ? saturated / count : double.NaN,
            adaptive ? maxUpdate : double.NaN);
    }

    // NaN-aware max: NaN only when both are NaN.
    private static double Max(double a, double b) => double.IsNaN(a) ? b : double.IsNaN(b) ? a : Math.Max(a, b);

    /// <summary>What a parameter's state holds: the tensors its statistics are computed from, or null without state.</summary>
    private static Entry? Describe(Parameter parameter, OptimizerState state, OptimizerOptions options, ref long step)
    {
        double lr = options.LearningRate ?? double.NaN;
        switch (state)
        {
            case SGD.State sgd:
                return sgd.momentum_buffer is { IsInvalid: false } b
                    ? new Entry(parameter, b, null, 0, 1, 1, lr, new BatchKey(false, lr, 0, 1, 1, b.dtype, b.device.ToString()))
                    : null;
            case Adam.State adam:
                step = adam.step;
                return AdamEntry(parameter, adam.exp_avg, adam.exp_avg_sq, adam.step, options, lr);
            case AdamW.State adamW:
                step = adamW.step;
                return AdamEntry(parameter, adamW.exp_avg, adamW.exp_avg_sq, adamW.step, options, lr);
            case RMSProp.State rms when rms.square_avg is { IsInvalid: false } sq:
                step = rms.step;
                double eps = ((RMSProp.Options)options).eps ?? 1e-8;
                var denominator = sq.sqrt();
                var direction = rms.momentum_buffer is { IsInvalid: false } mb ? mb : parameter.grad is { } grad ? grad.div(denominator.Plus(eps)) : null;
                return direction is null ? null : new Entry(parameter, direction, denominator, eps, 1, 1, lr, null);
            default:
                return null;
        }
    }

    private static Entry? AdamEntry(Parameter parameter, Tensor? expAvg, Tensor? expAvgSq, long step, OptimizerOptions options, double lr)
    {
        if (expAvg is null || expAvgSq is null || expAvg.IsInvalid || expAvgSq.IsInvalid || step <= 0)
        {
            return null;
        }

        var (beta1, beta2, eps) = options switch
        {
            Adam.Options a => (a.beta1 ?? 0.9, a.beta2 ?? 0.999, a.eps ?? 1e-8),
            AdamW.Options w => (w.beta1 ?? 0.9, w.beta2 ?? 0.999, w.eps ?? 1e-8),
            _ => (0.9, 0.999, 1e-8),
        };
        double c1 = 1 - Math.Pow(beta1, step), c2 = 1 - Math.Pow(beta2, step);
        return new Entry(parameter, expAvg, expAvgSq, eps, c1, c2, lr, new BatchKey(true, lr, eps, c1, c2, expAvg.dtype, expAvg.device.ToString()));
    }

    /// <summary>
    /// The Adam direction m̂/(√v̂+ε) and √v̂ = √(v/c₂), exactly as torch.optim.Adam takes its step (amsgrad aside), from
    /// the first moment <paramref name="m"/> and the second <paramref name="v"/> (one tensor or several flattened together).
    /// </summary>
    private static (Tensor Direction, Tensor Root) AdamDirection(Tensor m, Tensor v, double eps, double c1, double c2)
    {
        using var c1Scalar = c1.ToScalar();
        using var c2Scalar = c2.ToScalar();
        var root = v.div(c2Scalar).sqrt();
        return (m.div(c1Scalar).div(root.Plus(eps)), root);
    }

    /// <summary>One parameter's row of seven: [‖u‖², η²‖u‖², ‖θ‖², ε-dominated count, saturated count, max |u|, count].</summary>
    private static Tensor Row(Entry entry)
    {
        var (direction, denominator) = entry.Key is { Adaptive: true }
            ? AdamDirection(entry.First, entry.Second!, entry.Eps, entry.C1, entry.C2)
            : (entry.First, entry.Second);
        var u = direction.to(float32);
        var updateSquared = u.mul(u).sum();
        var weight = entry.Parameter.detach().to(float32);
        var weightSquared = weight.mul(weight).sum();
        var n = torch.tensor((double)u.numel(), float32);
        Tensor epsilonCount, saturatedCount, maxAbs;
        using var epsilonLevel = (EpsilonFactor * entry.Eps).ToScalar();
        using var saturationLevel = SaturationLevel.ToScalar();
        using var learningRateSquared = ((float)(entry.LearningRate * entry.LearningRate)).ToScalar();
        if (denominator is not null)
        {
            epsilonCount = denominator.le(epsilonLevel).sum().to(float32);
            var absolute = u.abs();
            saturatedCount = absolute.ge(saturationLevel).sum().to(float32);
            maxAbs = absolute.max();
        }
        else
        {
            epsilonCount = saturatedCount = maxAbs = torch.tensor(0f);
        }

        return torch.stack([updateSquared, updateSquared.mul(learningRateSquared), weightSquared, epsilonCount, saturatedCount, maxAbs, n]);
    }

    /// <summary>
    /// The rows of several parameters that share <paramref name="key"/>, computed on their flattened concatenation: the
    /// element-wise work once, the per-tensor sums from one split of the stacked squares and ε-indicators. The bucket's
    /// saturated count and max |u| go in its first row (the summary only adds and maximizes them over rows).
    /// </summary>
    private static Tensor BatchRows(BatchKey key, List<Entry> entries)
    {
        var sizes = entries.Select(e => e.Parameter.numel()).ToArray();
        var first = torch.cat(entries.Select(e => e.First.reshape(-1)).ToList(), 0);
        var theta = torch.cat(entries.Select(e => e.Parameter.detach().reshape(-1)).ToList(), 0).to(float32);
        Tensor direction;
        Tensor? root = null;
        if (key.Adaptive)
        {
            var second = torch.cat(entries.Select(e => e.Second!.reshape(-1)).ToList(), 0);
            (direction, root) = AdamDirection(first, second, key.Eps, key.C1, key.C2);
        }
        else
        {
            direction = first;
        }

        using var epsilonLevel = (EpsilonFactor * key.Eps).ToScalar();
        using var saturationLevel = SaturationLevel.ToScalar();
        using var learningRateSquared = ((float)(key.LearningRate * key.LearningRate)).ToScalar();
        var u = direction.to(float32);
        var columns = new List<Tensor> { u.mul(u), theta.mul(theta) };
        if (root is not null)
        {
            columns.Add(root.le(epsilonLevel).to(float32));
        }

        // (segments × columns): each tensor's sums.
        var sums = torch.stack(torch.stack(columns).split(sizes, 1).Select(part => part.sum(1)).ToList(), 0);
        int segments = sizes.Length;
        var updateSquared = sums[TensorIndex.Colon, 0];
        var zeros = torch.zeros(segments, float32);
        Tensor epsilonCount = zeros, saturatedCount = zeros, maxAbs = zeros;
        if (root is not null)
        {
            epsilonCount = sums[TensorIndex.Colon, 2];
            var absolute = u.abs();
            saturatedCount = torch.cat([absolute.ge(saturationLevel).sum().to(float32).reshape(1), torch.zeros(segments - 1, float32)], 0);
            maxAbs = torch.cat([absolute.max().reshape(1), torch.zeros(segments - 1, float32)], 0);
        }

        // Scalar tensors, as in Row: torch.tensor(float[]) would wrap a pinned managed array in the native tensor.
        var counts = torch.stack(sizes.Select(n => torch.tensor((double)n, float32)).ToList(), 0);
        return torch.stack([updateSquared, updateSquared.mul(learningRateSquared), sums[TensorIndex.Colon, 1], epsilonCount, saturatedCount, maxAbs, counts], 1).reshape(-1);
    }


    /// <summary>
    /// Whether <paramref name="entry"/>'s sums can be taken over CPU memory in place: SGD or Adam/AdamW state (RMSprop's
    /// direction is itself a tensor operation) whose parameter and state tensors are contiguous CPU tensors of one
    /// floating type, float32 or float64, each small enough for a span.
    /// </summary>
    private static bool HostReadable(Entry entry)
    {
        if (entry.Key is null)
        {
            return false;
        }

        var type = entry.First.dtype;
        return type is ScalarType.Float32 or ScalarType.Float64
            && HostMemory.InPlace(entry.Parameter, type) && HostMemory.InPlace(entry.First, type) && (entry.Second is null || HostMemory.InPlace(entry.Second, type));
    }

    /// <summary>The rows of seven of every entry (all <see cref="HostReadable"/>), from one managed pass each over the tensors' memory.</summary>
    private static double[] HostRows(List<Entry> entries)
    {
        var values = new double[7 * entries.Count];
        for (int i = 0; i < entries.Count; i++)
        {
            var row = values.AsSpan(7 * i, 7);
            if (entries[i].First.dtype == ScalarType.Float32)
            {
                HostSums<float>(entries[i], row);
            }
            else
            {
                HostSums<double>(entries[i], row);
            }
        }

        return values;
    }

    /// <summary>
    /// One entry's row of seven over the tensors' own memory, in <typeparamref name="T"/> element by element as the
    /// tensor operations compute it (m/c₁, √(v/c₂), their quotient with ε added, the two thresholds), the sums in double
    /// over blocks summed in <typeparamref name="T"/>.
    /// </summary>
    private static void HostSums<T>(Entry entry, Span<double> row)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // The spans alias native memory that the entry's tensors keep alive for the whole call.
        ReadOnlySpan<T> theta = MemoryMarshal.Cast<byte, T>(entry.Parameter.bytes);
        ReadOnlySpan<T> first = MemoryMarshal.Cast<byte, T>(entry.First.bytes);
        double weightSquared = SumOfSquares(theta);
        double updateSquared, epsilonCount = 0, saturatedCount = 0, maxAbs = 0;
        if (entry.Key!.Adaptive)
        {
            ReadOnlySpan<T> second = MemoryMarshal.Cast<byte, T>(entry.Second!.bytes);
            (updateSquared, epsilonCount, saturatedCount, maxAbs) = AdamSums(
                first, second, T.CreateChecked(entry.C1), T.CreateChecked(entry.C2), T.CreateChecked(entry.Eps), T.CreateChecked(EpsilonFactor * entry.Eps));
        }
        else
        {
            updateSquared = SumOfSquares(first);
        }

        row[0] = updateSquared;
        row[1] = updateSquared * entry.LearningRate * entry.LearningRate;
        row[2] = weightSquared;
        row[3] = epsilonCount;
        row[4] = saturatedCount;
        row[5] = maxAbs;
        row[6] = theta.Length;
    }

    /// <summary>Elements per block of <see cref="AdamSums"/> whose partial sums are kept in <c>T</c> lanes before they are added in double.</summary>
    private const int Block = 1024;

    // Σx² in double over float blocks: the CPU vector space's blocked dot.
    private static double SumOfSquares<T>(ReadOnlySpan<T> x)
        where T : unmanaged, IFloatingPointIeee754<T> => SpectralMonitor.Estimators.Cpu.CpuVectorSpace<T>.DotBlocked(x, x);

    /// <summary>
    /// Σu², the counts of √v̂ ≤ c·ε and |u| ≥ 1, and max |u| for u = (m/c₁)/(√(v/c₂) + ε). A non-finite u makes the sum
    /// non-finite, and a NaN makes the maximum NaN as torch's max does.
    /// </summary>
    private static (double UpdateSquared, double EpsilonCount, double SaturatedCount, double MaxAbs) AdamSums<T>(
        ReadOnlySpan<T> m, ReadOnlySpan<T> v, T c1, T c2, T eps, T epsilonLevel)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T saturation = T.CreateChecked(SaturationLevel);
        var vc1 = new Vector<T>(c1);
        var vc2 = new Vector<T>(c2);
        var veps = new Vector<T>(eps);
        var vlevel = new Vector<T>(epsilonLevel);
        var vsaturation = new Vector<T>(saturation);
        double squares = 0, epsilonCount = 0, saturatedCount = 0;
        var max = Vector<T>.Zero;
        T maxTail = T.Zero;
        int width = Vector<T>.Count;
        for (int start = 0; start < m.Length; start += Block)
        {
            int length = Math.Min(Block, m.Length - start);
            var mb = m.Slice(start, length);
            var vb = v.Slice(start, length);
            Vector<T> sum = Vector<T>.Zero, small = Vector<T>.Zero, saturated = Vector<T>.Zero;
            int i = 0;
            for (; i <= length - width; i += width)
            {
                var root = Vector.SquareRoot(new Vector<T>(vb[i..]) / vc2);
                var u = new Vector<T>(mb[i..]) / vc1 / (root + veps);
                var abs = Vector.Abs(u);
                sum += u * u;
                small += Vector.ConditionalSelect(Vector.LessThanOrEqual(root, vlevel), Vector<T>.One, Vector<T>.Zero);
                saturated += Vector.ConditionalSelect(Vector.GreaterThanOrEqual(abs, vsaturation), Vector<T>.One, Vector<T>.Zero);
                max = Vector.Max(max, abs);
            }

            T tail = T.Zero;
            for (; i < length; i++)
            {
                T root = T.Sqrt(vb[i] / c2);
                T u = mb[i] / c1 / (root + eps);
                T abs = T.Abs(u);
                tail += u * u;
                epsilonCount += root <= epsilonLevel ? 1 : 0;
                saturatedCount += abs >= saturation ? 1 : 0;
                maxTail = T.Max(maxTail, abs);
            }

            squares += double.CreateChecked(Vector.Sum(sum)) + double.CreateChecked(tail);
            epsilonCount += double.CreateChecked(Vector.Sum(small));
            saturatedCount += double.CreateChecked(Vector.Sum(saturated));
        }

        double maxAbs = double.CreateChecked(maxTail);
        for (int lane = 0; lane < width; lane++)
        {
            maxAbs = Math.Max(maxAbs, double.CreateChecked(max[lane]));
        }

        return (squares, epsilonCount, saturatedCount, double.IsNaN(squares) ? double.NaN : maxAbs);
    }

    /// <summary>What tensors share to be reduced together: the update rule and every hyperparameter the row uses, dtype and device.</summary>
    private sealed record BatchKey(bool Adaptive, double LearningRate, double Eps, double C1, double C2, ScalarType Type, string Device);

    /// <summary>
    /// One parameter's state: for Adam the moments (<paramref name="First"/> m, <paramref name="Second"/> v) with their
    /// bias corrections; for SGD the momentum buffer; for RMSprop its step direction and the denominator √v (never batched: a null key).
    /// </summary>
    private sealed record Entry(Parameter Parameter, Tensor First, Tensor? Second, double Eps, double C1, double C2, double LearningRate, BatchKey? Key);
}
