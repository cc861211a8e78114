namespace SpectralMonitor.Reference;

/// <summary>The training loss of an <see cref="MlpObjective"/>.</summary>
public enum LossKind
{
    /// <summary>
    /// Mean squared error averaged over every output of every sample, as <c>torch.nn.MSELoss()</c>
    /// (reduction 'mean'): <c>L = Σₙₖ (yₙₖ − tₙₖ)² / (N·K)</c>. Needs regression targets.
    /// </summary>
    MeanSquaredError,

    /// <summary>
    /// Softmax cross-entropy averaged over the batch, as <c>torch.nn.CrossEntropyLoss()</c> with integer class
    /// targets: <c>L = Σₙ (logsumexp(yₙ) − yₙ[cₙ]) / N</c>. Needs class labels.
    /// </summary>
    CrossEntropy,
}
