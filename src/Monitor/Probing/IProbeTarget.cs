using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Probing;

/// <summary>
/// What the monitor drives: a training framework's model and optimizer, seen through framework-neutral contracts.
/// The CPU reference backend and the TorchSharp adapter implement it.
/// </summary>
/// <typeparam name="TVec">The backend's vector type (parameter-sized vectors).</typeparam>
public interface IProbeTarget<TVec>
    where TVec : class
{
    /// <summary>The optimizer's name for metric tags (for example "sgd", "adam").</summary>
    string OptimizerName { get; }

    /// <summary>The learning-rate controller, or null when the monitor must not change learning rates.</summary>
    ILearningRateController? LearningRates { get; }

    /// <summary>
    /// Opens a probe at the current parameters: fixes the probe batch, builds what the Hessian-vector products need.
    /// Called on the training thread between steps; the returned context is disposed when the probe ends.
    /// </summary>
    /// <param name="cancellationToken">Cancelled when the probe times out or the monitor is disposed.</param>
    IProbeContext<TVec> BeginProbe(CancellationToken cancellationToken);
}

/// <summary>One probe's view of the model: curvature, optimizer state and weights at fixed parameters.</summary>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
public interface IProbeContext<TVec> : IDisposable
    where TVec : class
{
    /// <summary>Hessian-vector products of the probe-batch loss at the current parameters (without weight decay: the monitor adds it).</summary>
    LinearOperator<TVec> Hessian { get; }

    /// <summary>The optimizer's hyperparameters and state, or null when the optimizer is not one the monitor can linearize.</summary>
    OptimizerSnapshot<TVec>? Optimizer { get; }

    /// <summary>Why <see cref="Optimizer"/> is null (for the one-time log line), otherwise null.</summary>
    string? OptimizerUnavailableReason { get; }

    /// <summary>The weight matrices whose singular values are tracked (may be empty).</summary>
    IReadOnlyList<IWeightMatrix> Weights { get; }
}

/// <summary>A weight matrix W (rows × columns) applied through products with host vectors, so it may stay on its device.</summary>
public interface IWeightMatrix : IHostMatrix
{
    /// <summary>The parameter's name (a metric tag: keep it stable and short).</summary>
    string Name { get; }

    /// <summary>The squared Frobenius norm ‖W‖²_F.</summary>
    double FrobeniusNormSquared();
}
