using SpectralMonitor.Estimators.Modes;
using System.Runtime.InteropServices;
using SpectralMonitor.Estimators.Optimizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch;

/// <summary>
/// Reads <see cref="Indicators.BatchCurvatureToEdge"/>: the curvature of a step's own training batch along the update
/// the optimizer just took, over the optimizer's stability edge, from one more forward pass on that batch.
/// </summary>
/// <remarks>
/// <para>With θ the parameters before the update (copied by <see cref="Prepare"/>, a step ahead), Δ = θ′ − θ the update,
/// g the batch gradient the update used (still in the parameters' <c>grad</c>) and L the batch loss at θ (the loss the
/// loop reported), the batch loss at θ′ less its first-order change is half the curvature along Δ plus cubic terms:
/// c = 2 (L_B(θ′) − L − gᵀΔ) / ‖Δ‖²_M (plus the coupled L2 decay λ‖Δ‖²/‖Δ‖²_M, which the update map's curvature
/// includes). SGD: M = I. Adam and AdamW: M = diag(√v̂ + ε) after the update. The edge is the one
/// <see cref="Indicators.SharpnessToEdge"/> is read against, <see cref="UpdateBlock.StabilityEdge"/> of the next update
/// (2(1 + μ)/η for heavy-ball SGD; 2(1 + β₁)/((1 − β₁)η·c₁) for Adam, with c₁ = 1/(1 − β₁ᵗ⁺¹) its bias correction;
/// Nesterov, dampening and AdamW's decay as <see cref="UpdateBlock"/> has them), from the hyperparameters the probe
/// reads. η is the parameter group's rate when the sensor reads, the rate of the next step if a scheduler changed it
/// in between. Parameter groups with different edges (per-group rates) are read in the metric Σ edge_g·‖Δ_g‖²_M, which
/// puts every group on one edge.</para>
/// <para>Cost per read: a copy of the parameters (at <see cref="Prepare"/>), one pass over the parameters, their
/// gradients and (Adam) second moments for four sums, and the forward pass of the batch-loss closure. Parameters that
/// are contiguous float32 or float64 tensors on the CPU are copied into managed buffers that are kept and reused from
/// read to read (one copy of those parameters for the reader's lifetime), and their sums are taken in one managed pass
/// over the tensors' own memory, as <see cref="OptimizerStepStatisticsReader"/> reads the optimizer state: on small
/// models the per-tensor fixed cost of tensor operations, not the arithmetic, would be the read. Any other parameter
/// (on a GPU, half precision, non-contiguous) is copied as a tensor from a prepare to its read and summed by tensor
/// operations with one host transfer.</para>
/// </remarks>
internal sealed class BatchCurvatureReader
{
    /// <summary>Weight on the past of the average over reads (<see cref="Indicators.BatchCurvatureToEdgeAverage"/>).</summary>
    public const double AverageWeight = 0.5;

    private readonly Func<Tensor> _batchLoss;
    private readonly bool _onHost;
    private Parameter[] _parameters = [];
    private Tensor?[] _before = [];
    private byte[]?[] _hostBefore = [];
    private bool _prepared;
    private double _average = double.NaN;

    /// <param name="batchLoss">The loss of the step's training batch at the current parameters.</param>
    /// <param name="onHost">False keeps every parameter on the tensor path (tests compare the two paths).</param>
    public BatchCurvatureReader(Func<Tensor> batchLoss, bool onHost = true)
    {
        _batchLoss = batchLoss;
        _onHost = onHost;
    }

    /// <summary>
    /// Copies the parameters the optimizer updates (before the next update). Tensor copies live until the next
    /// <see cref="TryRead"/>, <see cref="Prepare"/> or <see cref="Discard"/>, which free them; managed copies are reused.
    /// </summary>
    public void Prepare(optim.Optimizer optimizer)
    {
        DisposeCopies();
        using var noGrad = torch.no_grad();
        Parameter[] parameters = [.. optimizer.ParamGroups.OfType<ParamGroup>().SelectMany(g => g.Parameters)];
        if (_hostBefore.Length != parameters.Length)
        {
            _hostBefore = new byte[]?[parameters.Length];
        }

        _before = new Tensor?[parameters.Length];
        for (int i = 0; i < parameters.Length; i++)
        {
            var parameter = parameters[i];
            if (_onHost && HostReadable(parameter))
            {
                var bytes = parameter.bytes;
                if (_hostBefore[i]?.Length != bytes.Length)
                {
                    _hostBefore[i] = new byte[bytes.Length];
                }

                bytes.CopyTo(_hostBefore[i]);
            }
            else
            {
                _hostBefore[i] = null;
                _before[i] = parameter.detach().clone().DetachFromDisposeScope();
            }
        }

        _parameters = parameters;
        _prepared = true;
    }

    /// <summary>
    /// Writes <see cref="Indicators.BatchCurvatureToEdge"/> and its average into <paramref name="readings"/>; false (and
    /// nothing written) when the read was not prepared, the optimizer is not SGD, Adam or AdamW, a hyperparameter has no
    /// stability edge, no parameter has a nonzero gradient, or the update was zero. A non-finite reading (a non-finite loss
    /// after the update) is written alone and leaves the average as it was. Frees the prepared copy.
    /// </summary>
    /// <param name="optimizer">The optimizer that took the update.</param>
    /// <param name="loss">The batch loss before the update.</param>
    /// <param name="readings">Where the readings go.</param>
    public bool TryRead(optim.Optimizer optimizer, double loss, IDictionary<string, double> readings)
    {
        try
        {
            return _prepared && double.IsFinite(loss) && Read(optimizer, loss, readings);
        }
        finally
        {
            DisposeCopies();
        }
    }

    /// <summary>Frees a prepared copy that will not be read.</summary>
    public void Discard() => DisposeCopies();

    private bool Read(optim.Optimizer optimizer, double loss, IDictionary<string, double> readings)
    {
        var groups = optimizer.ParamGroups.OfType<ParamGroup>().ToArray();
        var dictionary = ((OptimizerHelper)optimizer).state_dict();
        if (optimizer is not (SGD or Adam or AdamW) || groups.Length != dictionary.Options.Count
            || !groups.SelectMany(g => g.Parameters).SequenceEqual(_parameters))
        {
            return false;
        }

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var rows = new List<double>();
        var onDevice = new List<(int Row, Tensor Sums)>();
        var edges = new List<double>();
        var decays = new List<double>();
        int index = 0;
        for (int g = 0; g < groups.Length; g++)
        {
            foreach (var parameter in groups[g].Parameters)
            {
                if (index >= dictionary.State.Count)
                {
                    return false;
                }

                var state = dictionary.State[index];
                int i = index++;
                if (parameter.grad is not { IsInvalid: false } gradient)
                {
                    continue;
                }

                if (Geometry(dictionary.Options[g], state) is not { } geometry)
                {
                    return false;
                }

                int row = rows.Count;
                rows.AddRange([0, 0, 0, 0]);
                edges.Add(geometry.Edge);
                decays.Add(geometry.Decay);
                if (_hostBefore[i] is { } hostBefore)
                {
                    if (!HostReadable(parameter) || parameter.bytes.Length != hostBefore.Length)
                    {
                        return false; // moved or retyped between the prepare and the read
                    }

                    var sums = CollectionsMarshal.AsSpan(rows).Slice(row, 4);
                    if (parameter.dtype == ScalarType.Float32)
                    {
                        HostSums<float>(parameter, hostBefore, gradient, geometry, sums);
                    }
                    else
                    {
                        HostSums<double>(parameter, hostBefore, gradient, geometry, sums);
                    }
                }
                else
                {
                    onDevice.Add((row, TensorSums(parameter, _before[i]!, gradient, geometry)));
                }
            }
        }

        if (edges.Count == 0)
        {
            return false;
        }

        if (onDevice.Count > 0)
        {
            // One host transfer for every tensor-path parameter.
            double[] transferred = torch.stack(onDevice.Select(d => d.Sums).ToList()).cpu().data<double>().ToArray();
            for (int d = 0; d < onDevice.Count; d++)
            {
                for (int k = 0; k < 4; k++)
                {
                    rows[onDevice[d].Row + k] = transferred[(4 * d) + k];
                }
            }
        }

        // Per parameter: gᵀΔ, ‖Δ‖², ‖Δ‖²_M, ‖g‖².
        double firstOrder = 0, decayTerm = 0, scaledMetric = 0, gradientSquared = 0;
        for (int p = 0; p < edges.Count; p++)
        {
            firstOrder += rows[(4 * p) + 0];
            decayTerm += decays[p] * rows[(4 * p) + 1];
            scaledMetric += edges[p] * rows[(4 * p) + 2];
            gradientSquared += rows[(4 * p) + 3];
        }

        if (!(scaledMetric > 0) || !(gradientSquared > 0))
        {
            return false; // no update, or the gradients were zeroed before the read
        }

        // The closure's tensors belong to this read's dispose scope.
        double after = _batchLoss().to(ScalarType.Float64).item<double>();

        // Curvature of L_B + Σ λ‖θ‖²/2 (the loss the update map linearizes; λ the coupled L2 decay) along Δ, over the
        // metric Σ edge·‖Δ‖²_M: with one edge this is c/edge; with per-group edges (per-group rates), the curvature in
        // the metric that puts every group on the same edge.
        double value = ((2 * (after - loss - firstOrder)) + decayTerm) / scaledMetric;
        if (!double.IsFinite(value))
        {
            readings[Indicators.BatchCurvatureToEdge] = value;
            return true;
        }

        _average = double.IsNaN(_average) ? value : (AverageWeight * _average) + ((1 - AverageWeight) * value);
        readings[Indicators.BatchCurvatureToEdge] = value;
        readings[Indicators.BatchCurvatureToEdgeAverage] = _average;
        return true;
    }

    /// <summary>
    /// One parameter's update geometry: the stability edge of its next update (<see cref="UpdateBlock.StabilityEdge"/>,
    /// the edge <see cref="Indicators.SharpnessToEdge"/> is read against), its coupled L2 weight decay (SGD and Adam;
    /// AdamW's is decoupled and in the edge) and, for Adam and AdamW, the second moment (amsgrad: its running maximum)
    /// with its bias correction 1 − β₂ᵗ and ε, for the metric √(v/(1 − β₂ᵗ)) + ε.
    /// </summary>
    private sealed record UpdateGeometry(double Edge, double Decay, Tensor? SecondMoment, double Correction, double Epsilon);

    /// <summary>The geometry of one parameter after its update; null when it cannot be read (no Adam state yet, or options the update map rejects).</summary>
    private static UpdateGeometry? Geometry(OptimizerOptions options, OptimizerState state)
    {
        try
        {
            switch (options, state)
            {
                case (SGD.Options o, SGD.State s):
                    var sgd = OptimizerStateReader.SgdHyper(o);
                    double sgdEdge = UpdateBlock.ForSgd(sgd, firstStep: sgd.Momentum != 0 && s.momentum_buffer is not { IsInvalid: false }).StabilityEdge;
                    return Finite(new UpdateGeometry(sgdEdge, sgd.WeightDecay, null, 1, 0));
                case (Adam.Options o, Adam.State s):
                    return Adam(OptimizerStateReader.AdamHyper(o), s.step, o.amsgrad == true ? s.max_exp_avg_sq : s.exp_avg_sq);
                case (AdamW.Options o, AdamW.State s):
                    return Adam(OptimizerStateReader.AdamWHyper(o), s.step, o.amsgrad == true ? s.max_exp_avg_sq : s.exp_avg_sq);
                default:
                    return null;
            }
        }
        catch (ArgumentException)
        {
            return null; // a hyperparameter out of range (a NaN rate, a momentum ≥ 1): no edge to read against
        }

        static UpdateGeometry? Adam(AdamHyperparameters hyper, long step, Tensor? v) =>
            v is null || v.IsInvalid || step <= 0
                ? null
                : Finite(new UpdateGeometry(
                    UpdateBlock.ForAdam(hyper, step + 1).StabilityEdge, hyper.Decoupled ? 0 : hyper.WeightDecay, v, 1 - Math.Pow(hyper.Beta2, step), hyper.Epsilon));

        static UpdateGeometry? Finite(UpdateGeometry geometry) => double.IsFinite(geometry.Edge) && geometry.Edge > 0 ? geometry : null;
    }

    /// <summary>A float32 or float64 tensor the managed pass can read in place.</summary>
    private static bool HostReadable(Tensor t) => t.dtype is ScalarType.Float32 or ScalarType.Float64 && HostMemory.InPlace(t, t.dtype);

    /// <summary>
    /// The four sums of one parameter over CPU memory, element by element as <see cref="TensorSums"/> computes them
    /// (Δ in <typeparamref name="T"/>, everything after in double). A gradient or second moment that is not a contiguous
    /// CPU tensor of the parameter's type is copied into one first.
    /// </summary>
    private static void HostSums<T>(Parameter parameter, byte[] before, Tensor gradient, UpdateGeometry geometry, Span<double> sums)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        // The spans alias native memory that the tensors keep alive for the whole call.
        var type = parameter.dtype;
        var g = OnHost(gradient, type);
        var v = geometry.SecondMoment is { } secondMoment ? OnHost(secondMoment, type) : null;
        ReadOnlySpan<T> theta = MemoryMarshal.Cast<byte, T>(parameter.bytes);
        ReadOnlySpan<T> start = MemoryMarshal.Cast<byte, T>(before);
        ReadOnlySpan<T> grad = MemoryMarshal.Cast<byte, T>(g.bytes);
        if (grad.Length != theta.Length)
        {
            sums.Fill(double.NaN);
            return;
        }

        double firstOrder = 0, squared = 0, metric = 0, gradientSquared = 0;
        if (v is null)
        {
            for (int k = 0; k < theta.Length; k++)
            {
                double d = double.CreateTruncating(theta[k] - start[k]), gk = double.CreateTruncating(grad[k]);
                firstOrder += d * gk;
                squared += d * d;
                gradientSquared += gk * gk;
            }

            metric = squared;
        }
        else
        {
            ReadOnlySpan<T> second = MemoryMarshal.Cast<byte, T>(v.bytes);
            double correction = geometry.Correction, eps = geometry.Epsilon;
            for (int k = 0; k < theta.Length; k++)
            {
                double d = double.CreateTruncating(theta[k] - start[k]), gk = double.CreateTruncating(grad[k]);
                firstOrder += d * gk;
                squared += d * d;
                metric += d * d * (Math.Sqrt(double.CreateTruncating(second[k]) / correction) + eps);
                gradientSquared += gk * gk;
            }
        }

        sums[0] = firstOrder;
        sums[1] = squared;
        sums[2] = metric;
        sums[3] = gradientSquared;

        static Tensor OnHost(Tensor t, ScalarType type) => HostMemory.InPlace(t, type) ? t : t.to(type, torch.CPU).contiguous();
    }

    /// <summary>The four sums of one parameter by tensor operations, in float64 on the parameter's device.</summary>
    private static Tensor TensorSums(Parameter parameter, Tensor before, Tensor gradient, UpdateGeometry geometry)
    {
        var delta = parameter.sub(before).to(ScalarType.Float64);
        var square = delta.mul(delta);
        var g64 = gradient.to(ScalarType.Float64);
        Tensor metric = square;
        if (geometry.SecondMoment is { } v)
        {
            // Explicit Scalars only (tests/Torch.Tests/ScalarLifetimeTests).
            using var correction = geometry.Correction.ToScalar();
            metric = square.mul(v.to(ScalarType.Float64).div(correction).sqrt().Plus(geometry.Epsilon));
        }

        return torch.stack([delta.mul(g64).sum(), square.sum(), metric.sum(), g64.mul(g64).sum()]);
    }

    private void DisposeCopies()
    {
        foreach (var copy in _before)
        {
            copy?.Dispose();
        }

        _before = [];
        _parameters = [];
        _prepared = false;
    }
}
