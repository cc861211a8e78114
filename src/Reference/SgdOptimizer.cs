using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Reference;

/// <summary>
/// <c>torch.optim.SGD</c> (PyTorch 1.13, single-tensor path): <c>d = ±g + λθ</c>; with momentum μ the buffer is
/// initialized to <c>d</c> on the first step and updated as <c>b ← μb + (1−τ)d</c> afterwards; the step direction is
/// <c>b</c>, or <c>d + μb</c> with Nesterov; <c>θ ← θ − η·direction</c>.
/// </summary>
public sealed class SgdOptimizer : ReferenceOptimizerBase<SgdHyperparameters>
{
    private readonly double[] _buffer;
    private bool _hasBuffer;

    /// <summary>Creates the optimizer with an empty state.</summary>
    /// <param name="dimension">Length of the parameter vector.</param>
    /// <param name="hyperparameters">The options.</param>
    /// <exception cref="ArgumentException">A value is invalid; the message names the field.</exception>
    public SgdOptimizer(int dimension, SgdHyperparameters hyperparameters)
        : base(dimension, () => Validated(hyperparameters, nameof(hyperparameters)))
    {
        _buffer = new double[dimension];
    }

    /// <summary>Creates the optimizer from a snapshot (hyperparameters and momentum buffer are copied).</summary>
    /// <param name="dimension">Length of the parameter vector.</param>
    /// <param name="snapshot">The state; a null buffer means "before the first momentum step".</param>
    /// <exception cref="ArgumentException">Invalid hyperparameters or a buffer of the wrong length.</exception>
    public SgdOptimizer(int dimension, SgdSnapshot<double[]> snapshot)
        : this(dimension, (snapshot ?? throw new ArgumentNullException(nameof(snapshot))).Hyperparameters)
    {
        if (snapshot.MomentumBuffer is not null)
        {
            ReferenceOptimizer.CopyState(snapshot.MomentumBuffer, dimension, nameof(snapshot.MomentumBuffer), allowMissing: false, nameof(snapshot)).CopyTo(_buffer, 0);
            _hasBuffer = true;
        }
    }

    /// <summary>The momentum buffer (empty before the first step with momentum, or without momentum).</summary>
    public ReadOnlySpan<double> MomentumBuffer => _hasBuffer ? _buffer : [];

    /// <inheritdoc/>
    private protected override void StepCore(Span<double> parameters, ReadOnlySpan<double> gradient)
    {
        var hp = Hyperparameters;
        double lr = hp.LearningRate;
        double momentum = hp.Momentum;
        bool useMomentum = momentum != 0;
        for (int i = 0; i < parameters.Length; i++)
        {
            double d = EffectiveGradient(hp.Maximize, hp.WeightDecay, gradient[i], parameters[i]);

            if (useMomentum)
            {
                double b = _hasBuffer ? (_buffer[i] * momentum) + ((1 - hp.Dampening) * d) : d;
                _buffer[i] = b;
                d = hp.Nesterov ? d + (momentum * b) : b;
            }

            parameters[i] += -lr * d;
        }

        _hasBuffer |= useMomentum;
    }

    /// <inheritdoc/>
    public override OptimizerSnapshot<double[]> Snapshot() =>
        new SgdSnapshot<double[]>(Hyperparameters, _hasBuffer ? (double[])_buffer.Clone() : null);

    private static SgdHyperparameters Validated(SgdHyperparameters hp, string name)
    {
        ArgumentNullException.ThrowIfNull(hp, name);
        ReferenceOptimizer.CheckLearningRate(hp.LearningRate, name);
        ReferenceOptimizer.CheckNonNegative(hp.Momentum, nameof(hp.Momentum), name);
        ReferenceOptimizer.CheckNonNegative(hp.WeightDecay, nameof(hp.WeightDecay), name);
        if (!double.IsFinite(hp.Dampening))
        {
            throw new ArgumentException($"Dampening = {hp.Dampening} must be finite.", name);
        }

        if (hp.Nesterov && (hp.Momentum <= 0 || hp.Dampening != 0))
        {
            throw new ArgumentException($"Nesterov needs Momentum > 0 and Dampening = 0; got Momentum = {hp.Momentum}, Dampening = {hp.Dampening}.", name);
        }

        return hp;
    }
}
