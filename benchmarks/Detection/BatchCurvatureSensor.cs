using SpectralMonitor.Examples.Workloads;
using SpectralMonitor.Torch;
using TorchSharp;
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
/// M = I. Adam and AdamW: M = diag(√v̂ + ε) after the update, the preconditioner's metric, so that c is a Rayleigh
/// quotient of P^{1/2} H P^{1/2}. The edge is the probe's, the stability edge of the next update
/// (2(1 + μ)/η; Adam's frozen-preconditioner edge 2(1 + β₁)/((1 − β₁)ηc₁) with its bias correction c₁). The signal
/// is c over the edge (NaN when there was no update or the optimizer is not one of these).</para>
/// <para>It reads through the monitor's own reader (<see cref="BatchCurvatureReader"/>, what
/// <c>TorchSharpProbeOptions.BatchLoss</c> turns on), so the benchmark measures exactly what the monitor reads. Cost per
/// step: one forward pass without autograd, one parameter copy and a few element-wise passes with one host read.</para>
/// </remarks>
internal sealed class BatchCurvatureSensor : IStepSensor
{
    /// <summary>c over the edge, per step.</summary>
    public const string ToEdge = "batch_curvature_to_edge";

    /// <summary>The sensor's own time per step, in milliseconds.</summary>
    public const string SensorMilliseconds = "batch_curvature_ms";

    private readonly System.Diagnostics.Stopwatch _watch = new();
    private readonly Dictionary<string, double> _readings = new(StringComparer.Ordinal);
    private optim.Optimizer? _optimizer;
    private BatchCurvatureReader? _reader;
    private Func<double>? _lossAfter;
    private double _value = double.NaN;
    private double _milliseconds = double.NaN;

    public IReadOnlyList<string> Signals { get; } = [ToEdge, SensorMilliseconds];

    public void Attach(nn.Module<Tensor, Tensor> model, optim.Optimizer optimizer)
    {
        _optimizer = optimizer;
        _reader = new BatchCurvatureReader(() => torch.tensor(_lossAfter!(), ScalarType.Float64));
        _reader.Prepare(optimizer);
    }

    public void AfterUpdate(AppliedUpdate update)
    {
        _watch.Restart();
        _value = double.NaN;
        if (_reader is null || _optimizer is null)
        {
            return;
        }

        try
        {
            _lossAfter = update.BatchLossAfter;
            _readings.Clear();
            if (_reader.TryRead(_optimizer, update.Loss, _readings) && _readings.TryGetValue(Indicators.BatchCurvatureToEdge, out double value))
            {
                _value = value;
            }
        }
        finally
        {
            _reader.Prepare(_optimizer); // the parameters before the next update
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

    public void Dispose() => _reader?.Discard();
}
