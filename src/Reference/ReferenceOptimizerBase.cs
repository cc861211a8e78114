using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Reference;

/// <summary>
/// What the reference optimizers share, written once: the dimension, the hyperparameters with a learning rate the
/// monitor's backoff may set, the step count, and the argument checks of <see cref="Step"/>.
/// </summary>
/// <typeparam name="THyperparameters">The optimizer's hyperparameter record.</typeparam>
public abstract class ReferenceOptimizerBase<THyperparameters> : IReferenceOptimizer
    where THyperparameters : class, IOptimizerHyperparameters<THyperparameters>
{
    /// <summary>Checks the dimension, then stores the (already validated) hyperparameters.</summary>
    private protected ReferenceOptimizerBase(int dimension, Func<THyperparameters> validatedHyperparameters)
    {
        ReferenceOptimizer.CheckDimension(dimension);
        Dimension = dimension;
        Hyperparameters = validatedHyperparameters();
    }

    /// <inheritdoc/>
    public OptimizerKind Kind => Hyperparameters.Kind;

    /// <inheritdoc/>
    public int Dimension { get; }

    /// <summary>The current options (with the current learning rate).</summary>
    public THyperparameters Hyperparameters { get; private set; }

    /// <inheritdoc/>
    public double LearningRate
    {
        get => Hyperparameters.LearningRate;
        set
        {
            ReferenceOptimizer.CheckLearningRate(value, nameof(value));
            Hyperparameters = Hyperparameters.WithLearningRate(value);
        }
    }

    /// <inheritdoc/>
    public long StepCount { get; private protected set; }

    /// <inheritdoc/>
    public void Step(Span<double> parameters, ReadOnlySpan<double> gradient)
    {
        ReferenceOptimizer.CheckStepArguments(Dimension, parameters, gradient);
        StepCount++;
        StepCore(parameters, gradient);
    }

    /// <inheritdoc/>
    public abstract OptimizerSnapshot<double[]> Snapshot();

    /// <summary>The gradient the update uses: <c>±g + λθ</c> (sign − for <c>maximize</c>, λ the L2 weight decay), as torch.optim computes it.</summary>
    private protected static double EffectiveGradient(bool maximize, double weightDecay, double gradient, double parameter)
    {
        double g = maximize ? -gradient : gradient;
        return weightDecay != 0 ? g + (weightDecay * parameter) : g;
    }

    /// <summary>The update itself, on arguments of the right length; <see cref="StepCount"/> already counts this step.</summary>
    private protected abstract void StepCore(Span<double> parameters, ReadOnlySpan<double> gradient);

    /// <summary>Checks what every adaptive optimizer's hyperparameters share (learning rate, ε, weight decay).</summary>
    private protected static void CheckAdaptive(double learningRate, double epsilon, double weightDecay, string name)
    {
        ReferenceOptimizer.CheckLearningRate(learningRate, name);
        ReferenceOptimizer.CheckPositive(epsilon, "Epsilon", name);
        ReferenceOptimizer.CheckNonNegative(weightDecay, "WeightDecay", name);
    }
}
