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
/// c = 2 (L_B(θ′) − L − gᵀΔ) / ‖Δ‖²_M. SGD: M = I, edge 2(1 + μ)/η. Adam and AdamW: M = diag(√v̂ + ε) after the update,
/// edge 2(1 + β₁)/((1 − β₁)η). η is the parameter group's rate when the sensor reads, the rate of the next step if a
/// scheduler changed it in between.</para>
/// <para>Cost per read: a copy of the parameters (at <see cref="Prepare"/>), a few element-wise passes over them, one
/// host read and the forward pass of the batch-loss closure. Holds one copy of the parameters from a prepare to its
/// read, the step in between.</para>
/// </remarks>
internal sealed class BatchCurvatureReader
{
    /// <summary>Weight on the past of the average over reads (<see cref="Indicators.BatchCurvatureToEdgeAverage"/>).</summary>
    public const double AverageWeight = 0.5;

    private readonly Func<Tensor> _batchLoss;
    private Parameter[] _parameters = [];
    private Tensor[] _before = [];
    private double _average = double.NaN;

    /// <param name="batchLoss">The loss of the step's training batch at the current parameters.</param>
    public BatchCurvatureReader(Func<Tensor> batchLoss) => _batchLoss = batchLoss;

    /// <summary>
    /// Copies the parameters the optimizer updates (before the next update). The copies live until the next
    /// <see cref="TryRead"/> or <see cref="Prepare"/>, which free them.
    /// </summary>
    public void Prepare(optim.Optimizer optimizer)
    {
        DisposeCopies();
        using var noGrad = torch.no_grad();
        _parameters = [.. optimizer.ParamGroups.OfType<ParamGroup>().SelectMany(g => g.Parameters)];
        _before = [.. _parameters.Select(p => p.detach().clone().DetachFromDisposeScope())];
    }

    /// <summary>
    /// Writes <see cref="Indicators.BatchCurvatureToEdge"/> and its average into <paramref name="readings"/>; false (and
    /// nothing written) when the read was not prepared, the optimizer is not SGD, Adam or AdamW, its groups disagree on
    /// the edge, no parameter has a nonzero gradient, or the update was zero. A non-finite reading (a non-finite loss
    /// after the update) is written alone and leaves the average as it was. Frees the prepared copy.
    /// </summary>
    /// <param name="optimizer">The optimizer that took the update.</param>
    /// <param name="loss">The batch loss before the update.</param>
    /// <param name="readings">Where the readings go.</param>
    public bool TryRead(optim.Optimizer optimizer, double loss, IDictionary<string, double> readings)
    {
        try
        {
            return _before.Length > 0 && double.IsFinite(loss) && Read(optimizer, loss, readings);
        }
        finally
        {
            DisposeCopies();
        }
    }

    private bool Read(optim.Optimizer optimizer, double loss, IDictionary<string, double> readings)
    {
        var groups = optimizer.ParamGroups.OfType<ParamGroup>().ToArray();
        var dictionary = ((OptimizerHelper)optimizer).state_dict();
        if (optimizer is not (SGD or Adam or AdamW) || groups.Length != dictionary.Options.Count
            || !groups.SelectMany(g => g.Parameters).SequenceEqual(_parameters))
        {
            return false;
        }

        double? edge = null;
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var sums = new List<Tensor>();
        int index = 0;
        bool anyGradient = false;
        for (int g = 0; g < groups.Length; g++)
        {
            var options = dictionary.Options[g];
            double rate = options.LearningRate ?? double.NaN;
            double? groupEdge = options switch
            {
                SGD.Options sgd => 2 * (1 + (sgd.momentum ?? 0)) / rate,
                Adam.Options a => 2 * (1 + (a.beta1 ?? 0.9)) / ((1 - (a.beta1 ?? 0.9)) * rate),
                AdamW.Options w => 2 * (1 + (w.beta1 ?? 0.9)) / ((1 - (w.beta1 ?? 0.9)) * rate),
                _ => null,
            };
            if (groupEdge is not double e || !double.IsFinite(e) || e <= 0 || (edge is double known && Math.Abs(known - e) > 1e-12 * known))
            {
                return false;
            }

            edge = e;
            foreach (var parameter in groups[g].Parameters)
            {
                if (index >= dictionary.State.Count)
                {
                    return false;
                }

                var state = dictionary.State[index];
                var delta = parameter.sub(_before[index]).to(ScalarType.Float64);
                index++;
                if (parameter.grad is not { IsInvalid: false } gradient)
                {
                    continue;
                }

                anyGradient = true;
                var weight = Metric(state, options);
                if (weight is null && optimizer is not SGD)
                {
                    return false;
                }

                var square = delta.mul(delta);
                var g64 = gradient.to(ScalarType.Float64);
                sums.Add(torch.stack([delta.mul(g64).sum(), (weight is null ? square : square.mul(weight)).sum(), g64.mul(g64).sum()]));
            }
        }

        if (!anyGradient || edge is not double stabilityEdge)
        {
            return false;
        }

        double[] totals = torch.stack(sums).sum(dim: 0L).cpu().data<double>().ToArray();
        double firstOrder = totals[0], metric = totals[1], gradientSquared = totals[2];
        if (!(metric > 0) || !(gradientSquared > 0))
        {
            return false; // no update, or the gradients were zeroed before the read
        }

        // The closure's tensors belong to this read's dispose scope.
        double after = _batchLoss().to(ScalarType.Float64).item<double>();

        double value = 2 * (after - loss - firstOrder) / metric / stabilityEdge;
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

    /// <summary>√v̂ + ε of an Adam or AdamW parameter after its update, in float64; null for SGD or without state.</summary>
    private static Tensor? Metric(OptimizerState state, OptimizerOptions options)
    {
        (Tensor? v, long step) = state switch
        {
            Adam.State a => (a.exp_avg_sq, a.step),
            AdamW.State w => (w.exp_avg_sq, w.step),
            _ => (null, 0),
        };
        if (v is null || v.IsInvalid || step <= 0)
        {
            return null;
        }

        var (beta2, eps) = options switch
        {
            Adam.Options a => (a.beta2 ?? 0.999, a.eps ?? 1e-8),
            AdamW.Options w => (w.beta2 ?? 0.999, w.eps ?? 1e-8),
            _ => (0.999, 1e-8),
        };
        // Explicit Scalars only (tests/Torch.Tests/ScalarLifetimeTests).
        using var correction = (1 - Math.Pow(beta2, step)).ToScalar();
        return v.to(ScalarType.Float64).div(correction).sqrt().Plus(eps);
    }

    /// <summary>Frees a prepared copy that will not be read.</summary>
    public void Discard() => DisposeCopies();

    private void DisposeCopies()
    {
        foreach (var copy in _before)
        {
            copy.Dispose();
        }

        _before = [];
        _parameters = [];
    }
}
