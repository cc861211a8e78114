using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Reference;

/// <summary>Factories for the reference optimizers, and the hyperparameter checks they share.</summary>
public static class ReferenceOptimizer
{
    /// <summary>Creates a fresh optimizer (empty state, step 0) for the given hyperparameters.</summary>
    /// <param name="dimension">Length of the parameter vector.</param>
    /// <param name="hyperparameters">An <see cref="SgdHyperparameters"/>, <see cref="AdamHyperparameters"/> or <see cref="RmsPropHyperparameters"/>.</param>
    /// <returns>The optimizer.</returns>
    /// <exception cref="ArgumentException">Unknown hyperparameter type, or invalid values.</exception>
    public static IReferenceOptimizer Create(int dimension, object hyperparameters) => hyperparameters switch
    {
        SgdHyperparameters sgd => new SgdOptimizer(dimension, sgd),
        AdamHyperparameters adam => new AdamOptimizer(dimension, adam),
        RmsPropHyperparameters rmsProp => new RmsPropOptimizer(dimension, rmsProp),
        null => throw new ArgumentNullException(nameof(hyperparameters)),
        _ => throw new ArgumentException($"hyperparameters of type {hyperparameters.GetType().Name} are not SGD, Adam or RMSprop hyperparameters.", nameof(hyperparameters)),
    };

    /// <summary>
    /// Creates an optimizer whose hyperparameters and state are copied from <paramref name="snapshot"/>, so that a step
    /// can be re-run from a (possibly perturbed) state, for example to difference one step with respect to (θ, m, v).
    /// </summary>
    /// <param name="snapshot">The state to restore; its vectors are copied.</param>
    /// <param name="dimension">Length of the parameter vector (needed when the snapshot holds no vector yet).</param>
    /// <returns>The optimizer.</returns>
    /// <exception cref="ArgumentException">Unknown snapshot type, invalid hyperparameters, or state vectors of the wrong length.</exception>
    public static IReferenceOptimizer FromSnapshot(OptimizerSnapshot<double[]> snapshot, int dimension) => snapshot switch
    {
        SgdSnapshot<double[]> sgd => new SgdOptimizer(dimension, sgd),
        AdamSnapshot<double[]> adam => new AdamOptimizer(dimension, adam),
        RmsPropSnapshot<double[]> rmsProp => new RmsPropOptimizer(dimension, rmsProp),
        null => throw new ArgumentNullException(nameof(snapshot)),
        _ => throw new ArgumentException($"snapshot of type {snapshot.GetType().Name} is not an SGD, Adam or RMSprop snapshot.", nameof(snapshot)),
    };

    internal static void CheckDimension(int dimension)
    {
        if (dimension <= 0)
        {
            throw new ArgumentException($"dimension = {dimension} must be positive.", nameof(dimension));
        }
    }

    internal static void CheckLearningRate(double value, string name)
    {
        if (!(value > 0) || !double.IsFinite(value))
        {
            throw new ArgumentException($"LearningRate = {value} must be finite and positive.", name);
        }
    }

    internal static void CheckNonNegative(double value, string field, string name)
    {
        if (!(value >= 0) || !double.IsFinite(value))
        {
            throw new ArgumentException($"{field} = {value} must be finite and non-negative.", name);
        }
    }

    internal static void CheckPositive(double value, string field, string name)
    {
        if (!(value > 0) || !double.IsFinite(value))
        {
            throw new ArgumentException($"{field} = {value} must be finite and positive.", name);
        }
    }

    internal static void CheckUnitInterval(double value, string field, string name)
    {
        if (!(value >= 0 && value < 1))
        {
            throw new ArgumentException($"{field} = {value} must be in [0, 1).", name);
        }
    }

    internal static void CheckStep(long step, string name)
    {
        if (step < 0)
        {
            throw new ArgumentException($"Step = {step} must be non-negative.", name);
        }
    }

    /// <summary>Copies a state vector of a snapshot, or zeros when it is absent and absence is allowed.</summary>
    internal static double[] CopyState(double[]? source, int dimension, string field, bool allowMissing, string name)
    {
        if (source is null)
        {
            if (!allowMissing)
            {
                throw new ArgumentException($"{field} is missing from the snapshot.", name);
            }

            return new double[dimension];
        }

        if (source.Length != dimension)
        {
            throw new ArgumentException($"{field} has length {source.Length}; the optimizer has dimension {dimension}.", name);
        }

        return (double[])source.Clone();
    }

    internal static void CheckStepArguments(int dimension, ReadOnlySpan<double> parameters, ReadOnlySpan<double> gradient)
    {
        if (parameters.Length != dimension)
        {
            throw new ArgumentException($"parameters has length {parameters.Length}; the optimizer has dimension {dimension}.", nameof(parameters));
        }

        if (gradient.Length != dimension)
        {
            throw new ArgumentException($"gradient has length {gradient.Length}; the optimizer has dimension {dimension}.", nameof(gradient));
        }
    }
}
