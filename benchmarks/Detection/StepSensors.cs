using SpectralMonitor.Examples.Workloads;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>
/// A cheap per-step sensor: attached to a training pass, it reads the model and the optimizer after every step and
/// records one value per named signal. Its values land in <see cref="RecordedRun.StepSignals"/> under
/// <see cref="Signals"/>, where any detector can read them (a threshold, an EMA z-score, a trend): adding a sensor
/// means implementing this interface and listing it in <see cref="StepSensors.Create"/>. The time spent in
/// <see cref="Read"/> is measured and reported as the sensor's cost.
/// </summary>
internal interface IStepSensor : IDisposable
{
    /// <summary>Names of the signals, in the order <see cref="Read"/> fills them.</summary>
    IReadOnlyList<string> Signals { get; }

    /// <summary>Called once before the first step.</summary>
    /// <param name="model">The model.</param>
    /// <param name="optimizer">The optimizer.</param>
    void Attach(nn.Module<Tensor, Tensor> model, optim.Optimizer optimizer);

    /// <summary>Called after each step's update (gradients of the step still in place).</summary>
    /// <param name="step">The step.</param>
    /// <param name="learningRate">The learning rate the step's update used.</param>
    /// <param name="values">One slot per signal (NaN when not measured).</param>
    void Read(int step, double learningRate, Span<double> values);

    /// <summary>Called after each applied update, before <see cref="Read"/>, with the step's batch still alive.</summary>
    /// <param name="update">The update, with a way to evaluate the batch's loss at the updated parameters.</param>
    void AfterUpdate(AppliedUpdate update)
    {
    }

    /// <summary>Training-thread CPU seconds the sensor has spent so far outside <see cref="Read"/> (in forward hooks,
    /// inside the training forward), counted into its cost with the reads' time.</summary>
    double OutsideReadSeconds => 0;
}

/// <summary>The step sensors of the benchmark.</summary>
internal static class StepSensors
{
    /// <summary>New instances of every step sensor (one set per pass).</summary>
    public static IReadOnlyList<IStepSensor> Create() => [new UpdateSizeSensor(), new OptimizerStateSensor(), new LogitSensor(), new BatchCurvatureSensor()];

    /// <summary>The cost a detector of <paramref name="signal"/> is scored at.</summary>
    public static DetectorCost CostOf(string signal) =>
        signal == BatchCurvatureSensor.ToEdge ? DetectorCost.BatchCurvatureSensor : DetectorCost.StepSensor;

    /// <summary>Whether <paramref name="signal"/> is a sensor's own per-step time (its name ends in "_ms"): a cost, not a detector's input.</summary>
    public static bool IsCostSignal(string signal) => signal?.EndsWith("_ms", StringComparison.Ordinal) == true;

    /// <summary>The signals of <see cref="SignalNames"/> that detectors read (all but the cost signals).</summary>
    public static IReadOnlyList<string> DetectableSignalNames() => [.. SignalNames().Where(s => !IsCostSignal(s))];

    /// <summary>The names of every signal the sensors of <see cref="Create"/> record.</summary>
    public static IReadOnlyList<string> SignalNames()
    {
        var sensors = Create();
        try
        {
            return [.. sensors.SelectMany(s => s.Signals)];
        }
        finally
        {
            foreach (var sensor in sensors)
            {
                sensor.Dispose();
            }
        }
    }
}

/// <summary>
/// Size of each update: ‖Δθ‖ / η (for SGD-momentum the momentum buffer's norm, for Adam ‖m̂/(√v̂+ε)‖, which grows
/// when second moments collapse) and ‖Δθ‖ / ‖θ‖. Costs one copy, one subtraction and two norms over the parameters
/// per step.
/// </summary>
internal sealed class UpdateSizeSensor : IStepSensor
{
    /// <summary>‖θ_{t+1} − θ_t‖ / η_t.</summary>
    public const string UpdateNormOverRate = "update_norm_over_lr";

    /// <summary>‖θ_{t+1} − θ_t‖ / ‖θ_{t+1}‖.</summary>
    public const string UpdateToWeight = "update_to_weight";

    private Parameter[] _parameters = [];
    private Tensor[] _previous = [];

    public IReadOnlyList<string> Signals { get; } = [UpdateNormOverRate, UpdateToWeight];

    public void Attach(nn.Module<Tensor, Tensor> model, optim.Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var noGrad = torch.no_grad();
        _parameters = [.. model.parameters()];
        _previous = [.. _parameters.Select(p => p.detach().clone().DetachFromDisposeScope())];
    }

    public void Read(int step, double learningRate, Span<double> values)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        double update = 0, weight = 0;
        for (int i = 0; i < _parameters.Length; i++)
        {
            update += _parameters[i].sub(_previous[i]).square().sum().item<float>();
            weight += _parameters[i].square().sum().item<float>();
            _previous[i].copy_(_parameters[i]);
        }

        values[0] = learningRate > 0 ? Math.Sqrt(update) / learningRate : double.NaN;
        values[1] = weight > 0 ? Math.Sqrt(update / weight) : double.NaN;
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
