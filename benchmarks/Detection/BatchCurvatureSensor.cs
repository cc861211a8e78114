using SpectralMonitor.Examples.Workloads;
using SpectralMonitor.Estimators.Optimizers;
using SpectralMonitor.Torch;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>
/// The curvature of each step's own mini-batch loss along the update the optimizer just took, over the optimizer's
/// stability edge: one more forward pass on the training batch after the update, no gradient (issue 15; the screen
/// behind it is screens/batch_sharpness.py, after Andreyev and Beneventano's "Edge of Stochastic Stability").
/// </summary>
/// <remarks>
/// <para>With Δ = θ_{t+1} − θ_t and g the batch gradient at θ_t, the batch loss's change less its first-order part is
/// half the curvature along Δ (plus cubic terms): c = 2 (L_B(θ_{t+1}) − L_B(θ_t) − gᵀΔ) / ‖Δ‖²_M. SGD-momentum:
/// M = I, edge 2(1 + μ)/η. Adam and AdamW: M = diag(√v̂ + ε) after the update, the preconditioner's metric, so that c
/// is a Rayleigh quotient of P^{1/2} H P^{1/2}, and the frozen-preconditioner edge 2(1 + β₁)/((1 − β₁)η). The signal
/// is c over the edge (NaN when there was no update or the optimizer is not one of these).</para>
/// <para>Cost per step: one forward pass without autograd, one parameter copy and two dot products (Adam: a read of
/// the second moments too).</para>
/// </remarks>
internal sealed class BatchCurvatureSensor : IStepSensor
{
    /// <summary>c over the edge, per step.</summary>
    public const string ToEdge = "batch_curvature_to_edge";

    /// <summary>The sensor's own time per step, in milliseconds.</summary>
    public const string SensorMilliseconds = "batch_curvature_ms";

    private readonly System.Diagnostics.Stopwatch _watch = new();
    private Parameter[] _parameters = [];
    private Tensor[] _previous = [];
    private FlatParameterView? _view;
    private optim.Optimizer? _optimizer;
    private double _value = double.NaN;
    private double _milliseconds = double.NaN;

    public IReadOnlyList<string> Signals { get; } = [ToEdge, SensorMilliseconds];

    public void Attach(nn.Module<Tensor, Tensor> model, optim.Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        _optimizer = optimizer;
        _view = FlatParameterView.FromModule(model);
        _parameters = [.. _view.Parameters];
        using var noGrad = no_grad();
        _previous = [.. _parameters.Select(p => p.detach().clone())];
    }

    public void AfterUpdate(AppliedUpdate update)
    {
        _watch.Restart();
        _value = double.NaN;
        try
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            double firstOrder = 0;
            var delta = new Tensor[_parameters.Length];
            for (int i = 0; i < _parameters.Length; i++)
            {
                delta[i] = _parameters[i].sub(_previous[i]).to(ScalarType.Float64);
                if (_parameters[i].grad is { } g)
                {
                    firstOrder += delta[i].mul(g.to(ScalarType.Float64)).sum().item<double>();
                }
            }

            var snapshot = _optimizer is null || _view is null ? null : OptimizerStateReader.TryRead(_optimizer, _view, out _);
            double metric, edge;
            switch (snapshot)
            {
                case SgdSnapshot<Tensor> sgd:
                    metric = delta.Sum(d => d.square().sum().item<double>());
                    edge = 2 * (1 + sgd.Hyperparameters.Momentum) / update.LearningRate;
                    break;
                case AdamSnapshot<Tensor> adam:
                    var h = adam.Hyperparameters;
                    double correction = 1 - Math.Pow(h.Beta2, adam.Step);
                    var secondMoments = _view!.Split(adam.ExpAvgSq);
                    metric = delta.Select((d, i) => d.square().mul(secondMoments[i].to(ScalarType.Float64).div(correction).sqrt().add(h.Epsilon)).sum().item<double>()).Sum();
                    edge = 2 * (1 + h.Beta1) / ((1 - h.Beta1) * update.LearningRate);
                    break;
                default:
                    return;
            }

            double after = update.BatchLossAfter();
            double curvature = 2 * (after - update.Loss - firstOrder) / metric;
            _value = metric > 0 && edge > 0 ? curvature / edge : double.NaN;
        }
        finally
        {
            using (no_grad())
            {
                for (int i = 0; i < _parameters.Length; i++)
                {
                    _previous[i].copy_(_parameters[i]);
                }
            }

            _milliseconds = _watch.Elapsed.TotalMilliseconds;
        }
    }

    public void Read(int step, double learningRate, Span<double> values)
    {
        values[0] = _value;
        values[1] = _milliseconds;
        _value = double.NaN;
        _milliseconds = double.NaN;
    }

    public void Dispose()
    {
        foreach (var tensor in _previous)
        {
            tensor.Dispose();
        }

        _previous = [];
    }
}
