using SpectralMonitor.Torch;
using static TorchSharp.torch;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>
/// The library's optimizer-state statistics (<see cref="OptimizerStepStatisticsReader"/>) as a benchmark step sensor:
/// the benchmark measures exactly what the monitor reads at every step.
/// </summary>
internal sealed class OptimizerStateSensor : IStepSensor
{
    /// <summary>The signal with each read's own wall time in milliseconds (the sensor's cost, per step).</summary>
    public const string ReadMilliseconds = "state_read_ms";

    /// <summary>The signal with the share of coordinates whose |m̂|/(√v̂+ε) is at least 1.</summary>
    public const string SaturatedShare = "state_saturated_share";

    private readonly System.Diagnostics.Stopwatch _watch = new();
    private optim.Optimizer? _optimizer;

    /// <summary>The signal names (prefix "state_").</summary>
    public IReadOnlyList<string> Signals { get; } =
    [
        "state_update_norm_over_lr", "state_update_to_weight", "state_max_layer_update_to_weight",
        "state_epsilon_share", "state_max_layer_epsilon_share", SaturatedShare, "state_max_normalized_update", ReadMilliseconds,
    ];

    public void Attach(nn.Module<Tensor, Tensor> model, optim.Optimizer optimizer) => _optimizer = optimizer;

    public void Read(int step, double learningRate, Span<double> values)
    {
        _watch.Restart();
        var read = _optimizer is null ? null : OptimizerStepStatisticsReader.TryRead(_optimizer, out _);
        values[7] = _watch.Elapsed.TotalMilliseconds;
        if (read is not { } s)
        {
            return;
        }

        values[0] = s.UpdateNormOverLearningRate;
        values[1] = s.UpdateToWeight;
        values[2] = s.MaxLayerUpdateToWeight;
        values[3] = s.EpsilonDominatedShare;
        values[4] = s.MaxLayerEpsilonDominatedShare;
        values[5] = s.SaturatedShare;
        values[6] = s.MaxNormalizedUpdate;
    }

    public void Dispose()
    {
    }
}
