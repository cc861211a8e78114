using System.Diagnostics.CodeAnalysis;
using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Reference;

/// <summary>
/// An optimizer over a flat double parameter vector that steps exactly like its <c>torch.optim</c> counterpart
/// (PyTorch 1.13 single-tensor code path), so that its trajectory and state can be compared with PyTorch's, and so
/// that one step can be re-run from any state (see <see cref="ReferenceOptimizer.FromSnapshot"/>).
/// </summary>
/// <remarks>Implementations are not thread-safe.</remarks>
public interface IReferenceOptimizer
{
    /// <summary>The optimizer family.</summary>
    OptimizerKind Kind { get; }

    /// <summary>Length of the parameter vector.</summary>
    int Dimension { get; }

    /// <summary>The learning rate used by the next step (the monitor's backoff may change it between steps).</summary>
    /// <exception cref="ArgumentException">Set to a value that is not finite and positive.</exception>
    double LearningRate { get; set; }

    /// <summary>
    /// Steps taken so far: PyTorch's <c>step</c> for Adam and RMSprop. SGD counts its own steps, but torch's SGD has no
    /// step state, so an SGD restored from a snapshot starts counting at 0.
    /// </summary>
    long StepCount { get; }

    /// <summary>Updates <paramref name="parameters"/> in place from <paramref name="gradient"/> and advances the state.</summary>
    /// <param name="parameters">θ, overwritten by the new parameters.</param>
    /// <param name="gradient">∇L(θ) (without weight decay: the optimizer adds it as PyTorch does).</param>
    /// <exception cref="ArgumentException">A length is not <see cref="Dimension"/>.</exception>
    [SuppressMessage("Naming", "CA1716:Identifiers should not match keywords", Justification = "Mirrors torch.optim.Optimizer.step(); VB consumers can escape the name.")]
    void Step(Span<double> parameters, ReadOnlySpan<double> gradient);

    /// <summary>The hyperparameters and a copy of the state (an <see cref="SgdSnapshot{TVec}"/>, <see cref="AdamSnapshot{TVec}"/> or <see cref="RmsPropSnapshot{TVec}"/>).</summary>
    OptimizerSnapshot<double[]> Snapshot();
}
