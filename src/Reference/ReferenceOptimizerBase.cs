using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Reference;

/// <summary>
/// What the reference optimizers share, written once: the dimension, the hyperparameters with a learning rate the
/// monitor's backoff may set, the step count, and the argument checks of <see cref="Step"/>.
/// </summary>
/// <typeparam name="THyperparameters">The optimizer's hyperparameter record.</typeparam>
public abstract class ReferenceOptimizerBase<THyperparameters> : IReferenceOptimizer
    where THyperparameters : class
{
    /// <summary>Checks the dimension, then stores the (already validated) hyperparameters.</summary>
    private protected ReferenceOptimizerBase(int dimension, Func<THyperparameters> validatedHyperparameters)
    {
        ReferenceOptimizer.CheckDimension(dimension);
        Dimension = dimension;
        Hyperparameters = validatedHyperparameters();
    }

    /// <inheritdoc/>
    public abstract OptimizerKind Kind { get; }

    /// <inheritdoc/>
    public int Dimension { get; }

    /// <summary>The current options (with the current learning rate).</summary>
    public THyperparameters Hyperparameters { get; private set; }

    /// <inheritdoc/>
    public double LearningRate
    {
        get => LearningRateOf(Hyperparameters);
        set
        {
            ReferenceOptimizer.CheckLearningRate(value, nameof(value));
            Hyperparameters = WithLearningRate(Hyperparameters, value);
        }
    }

    /// <inheritdoc/>
    public long StepCount { get; private protected set; }

    /// <inheritdoc/>
    public void Step(Span<double> parameters, ReadOnlySpan<double> gradient)
    {
        ReferenceOptimizer.CheckStepArguments(Dimension, parameters, gradient);
        StepCore(parameters, gradient);
    }

    /// <inheritdoc/>
    public abstract OptimizerSnapshot<double[]> Snapshot();

    /// <summary>The update itself, on arguments of the right length; advances <see cref="StepCount"/>.</summary>
    private protected abstract void StepCore(Span<double> parameters, ReadOnlySpan<double> gradient);

    /// <summary>The learning rate of <paramref name="hyperparameters"/>.</summary>
    private protected abstract double LearningRateOf(THyperparameters hyperparameters);

    /// <summary>A copy of <paramref name="hyperparameters"/> with another learning rate.</summary>
    private protected abstract THyperparameters WithLearningRate(THyperparameters hyperparameters, double learningRate);
}
