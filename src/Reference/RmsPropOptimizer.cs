using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Reference;

/// <summary>
/// <c>torch.optim.RMSprop</c> (PyTorch 1.13, single-tensor path): <c>g ← ±g + λθ</c>; <c>s ← αs + (1−α)g²</c>;
/// centered: <c>ḡ ← αḡ + (1−α)g</c>, <c>a = √(s − ḡ²) + ε</c>, otherwise <c>a = √s + ε</c>; with momentum μ:
/// <c>b ← μb + g/a</c>, <c>θ ← θ − ηb</c>; without: <c>θ ← θ − ηg/a</c>.
/// </summary>
public sealed class RmsPropOptimizer : ReferenceOptimizerBase<RmsPropHyperparameters>
{
    private readonly double[] _squareAvg;
    private readonly double[]? _momentumBuffer;
    private readonly double[]? _gradAvg;

    /// <summary>Creates the optimizer with an empty state.</summary>
    /// <param name="dimension">Length of the parameter vector.</param>
    /// <param name="hyperparameters">The options.</param>
    /// <exception cref="ArgumentException">A value is invalid; the message names the field.</exception>
    public RmsPropOptimizer(int dimension, RmsPropHyperparameters hyperparameters)
        : base(dimension, () => Validated(hyperparameters, nameof(hyperparameters)))
    {
        _squareAvg = new double[dimension];
        _momentumBuffer = hyperparameters.Momentum > 0 ? new double[dimension] : null;
        _gradAvg = hyperparameters.Centered ? new double[dimension] : null;
    }

    /// <summary>Creates the optimizer from a snapshot (hyperparameters, step and buffers are copied).</summary>
    /// <param name="dimension">Length of the parameter vector.</param>
    /// <param name="snapshot">The state. Buffers required by the options may be null only at step 0 (then zeros).</param>
    /// <exception cref="ArgumentException">Invalid hyperparameters or step, or a state vector missing or of the wrong length.</exception>
    public RmsPropOptimizer(int dimension, RmsPropSnapshot<double[]> snapshot)
        : this(dimension, (snapshot ?? throw new ArgumentNullException(nameof(snapshot))).Hyperparameters)
    {
        ReferenceOptimizer.CheckStep(snapshot.Step, nameof(snapshot));
        StepCount = snapshot.Step;
        bool fresh = snapshot.Step == 0;
        _squareAvg = ReferenceOptimizer.CopyState(snapshot.SquareAvg, dimension, nameof(snapshot.SquareAvg), allowMissing: false, nameof(snapshot));
        if (_momentumBuffer is not null)
        {
            _momentumBuffer = ReferenceOptimizer.CopyState(snapshot.MomentumBuffer, dimension, nameof(snapshot.MomentumBuffer), fresh, nameof(snapshot));
        }

        if (_gradAvg is not null)
        {
            _gradAvg = ReferenceOptimizer.CopyState(snapshot.GradAvg, dimension, nameof(snapshot.GradAvg), fresh, nameof(snapshot));
        }
    }

    /// <summary><c>square_avg</c>.</summary>
    public ReadOnlySpan<double> SquareAvg => _squareAvg;

    /// <summary><c>momentum_buffer</c> (empty without momentum).</summary>
    public ReadOnlySpan<double> MomentumBuffer => _momentumBuffer;

    /// <summary><c>grad_avg</c> (empty unless centered).</summary>
    public ReadOnlySpan<double> GradAvg => _gradAvg;

    /// <inheritdoc/>
    private protected override void StepCore(Span<double> parameters, ReadOnlySpan<double> gradient)
    {
        var hp = Hyperparameters;
        double lr = hp.LearningRate;
        double alpha = hp.Alpha;
        for (int i = 0; i < parameters.Length; i++)
        {
            double g = EffectiveGradient(hp.Maximize, hp.WeightDecay, gradient[i], parameters[i]);

            double s = (_squareAvg[i] * alpha) + ((1 - alpha) * g * g);
            _squareAvg[i] = s;
            double average;
            if (_gradAvg is not null)
            {
                double mean = (_gradAvg[i] * alpha) + ((1 - alpha) * g);
                _gradAvg[i] = mean;
                average = Math.Sqrt(s + (-mean * mean));
            }
            else
            {
                average = Math.Sqrt(s);
            }

            average += hp.Epsilon;
            if (_momentumBuffer is not null)
            {
                double b = (_momentumBuffer[i] * hp.Momentum) + (g / average);
                _momentumBuffer[i] = b;
                parameters[i] += -lr * b;
            }
            else
            {
                parameters[i] += -lr * g / average;
            }
        }
    }

    /// <inheritdoc/>
    public override OptimizerSnapshot<double[]> Snapshot() =>
        new RmsPropSnapshot<double[]>(Hyperparameters, StepCount, (double[])_squareAvg.Clone(), (double[]?)_momentumBuffer?.Clone(), (double[]?)_gradAvg?.Clone());

    private static RmsPropHyperparameters Validated(RmsPropHyperparameters hp, string name)
    {
        ArgumentNullException.ThrowIfNull(hp, name);
        CheckAdaptive(hp.LearningRate, hp.Epsilon, hp.WeightDecay, name);
        ReferenceOptimizer.CheckUnitInterval(hp.Alpha, nameof(hp.Alpha), name);
        ReferenceOptimizer.CheckNonNegative(hp.Momentum, nameof(hp.Momentum), name);

        return hp;
    }
}
