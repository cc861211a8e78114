using SpectralMonitor.Estimators.Modes;
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

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var sums = new List<Tensor>();
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
                var before = _before[index];
                index++;
                if (parameter.grad is not { IsInvalid: false } gradient)
                {
                    continue;
                }

                if (Geometry(dictionary.Options[g], state) is not var (edge, decay, weight))
                {
                    return false;
                }

                var delta = parameter.sub(before).to(ScalarType.Float64);
                var square = delta.mul(delta);
                var g64 = gradient.to(ScalarType.Float64);
                sums.Add(torch.stack([
                    delta.mul(g64).sum(), square.sum(), (weight is null ? square : square.mul(weight)).sum(), g64.mul(g64).sum()]));
                edges.Add(edge);
                decays.Add(decay);
            }
        }

        if (sums.Count == 0)
        {
            return false;
        }

        // One host read: per parameter gᵀΔ, ‖Δ‖², ‖Δ‖²_M and ‖g‖².
        double[] rows = torch.stack(sums).cpu().data<double>().ToArray();
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
    /// For one parameter after its update: the stability edge of its next update (<see cref="UpdateBlock.StabilityEdge"/>,
    /// the edge <see cref="Indicators.SharpnessToEdge"/> is read against), its coupled L2 weight decay (SGD and Adam;
    /// AdamW's is decoupled and in the edge) and its metric weight √v̂ + ε in float64 (null for SGD, whose metric is the
    /// identity); null when it cannot be read (no Adam state yet, or options the update map rejects).
    /// </summary>
    private static (double Edge, double Decay, Tensor? Metric)? Geometry(OptimizerOptions options, OptimizerState state)
    {
        try
        {
            switch (options, state)
            {
                case (SGD.Options o, SGD.State s):
                    var sgd = OptimizerStateReader.SgdHyper(o);
                    double sgdEdge = UpdateBlock.ForSgd(sgd, firstStep: sgd.Momentum != 0 && s.momentum_buffer is not { IsInvalid: false }).StabilityEdge;
                    return Finite(sgdEdge, sgd.WeightDecay, null);
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

        static (double, double, Tensor?)? Adam(AdamHyperparameters hyper, long step, Tensor? v)
        {
            if (v is null || v.IsInvalid || step <= 0)
            {
                return null;
            }

            // Explicit Scalars only (tests/Torch.Tests/ScalarLifetimeTests).
            using var correction = (1 - Math.Pow(hyper.Beta2, step)).ToScalar();
            var metric = v.to(ScalarType.Float64).div(correction).sqrt().Plus(hyper.Epsilon);
            return Finite(UpdateBlock.ForAdam(hyper, step + 1).StabilityEdge, hyper.Decoupled ? 0 : hyper.WeightDecay, metric);
        }

        static (double, double, Tensor?)? Finite(double edge, double decay, Tensor? metric) =>
            double.IsFinite(edge) && edge > 0 ? (edge, decay, metric) : null;
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
