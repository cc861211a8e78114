using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Reference;

/// <summary>
/// <c>torch.optim.Adam</c> and, with <see cref="AdamHyperparameters.Decoupled"/>, <c>torch.optim.AdamW</c> (PyTorch 1.13,
/// single-tensor path): <c>t ← t+1</c>; Adam adds <c>λθ</c> to the gradient, AdamW scales <c>θ ← (1−ηλ)θ</c> first;
/// <c>m ← β₁m + (1−β₁)g</c>, <c>v ← β₂v + (1−β₂)g²</c>, (amsgrad: <c>v̂ ← max(v̂, v)</c>);
/// <c>θ ← θ − (η/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε)</c>.
/// </summary>
public sealed class AdamOptimizer : ReferenceOptimizerBase<AdamHyperparameters>
{
    private readonly double[] _expAvg;
    private readonly double[] _expAvgSq;
    private readonly double[]? _maxExpAvgSq;

    /// <summary>Creates the optimizer with an empty state.</summary>
    /// <param name="dimension">Length of the parameter vector.</param>
    /// <param name="hyperparameters">The options.</param>
    /// <exception cref="ArgumentException">A value is invalid; the message names the field.</exception>
    public AdamOptimizer(int dimension, AdamHyperparameters hyperparameters)
        : base(dimension, () => Validated(hyperparameters, nameof(hyperparameters)))
    {
        _expAvg = new double[dimension];
        _expAvgSq = new double[dimension];
        _maxExpAvgSq = hyperparameters.Amsgrad ? new double[dimension] : null;
    }

    /// <summary>Creates the optimizer from a snapshot (hyperparameters, step and moments are copied).</summary>
    /// <param name="dimension">Length of the parameter vector.</param>
    /// <param name="snapshot">The state. <c>MaxExpAvgSq</c> may be null with amsgrad only at step 0 (then zeros).</param>
    /// <exception cref="ArgumentException">Invalid hyperparameters or step, or a state vector missing or of the wrong length.</exception>
    public AdamOptimizer(int dimension, AdamSnapshot<double[]> snapshot)
        : this(dimension, (snapshot ?? throw new ArgumentNullException(nameof(snapshot))).Hyperparameters)
    {
        ReferenceOptimizer.CheckStep(snapshot.Step, nameof(snapshot));
        StepCount = snapshot.Step;
        _expAvg = ReferenceOptimizer.CopyState(snapshot.ExpAvg, dimension, nameof(snapshot.ExpAvg), allowMissing: false, nameof(snapshot));
        _expAvgSq = ReferenceOptimizer.CopyState(snapshot.ExpAvgSq, dimension, nameof(snapshot.ExpAvgSq), allowMissing: false, nameof(snapshot));
        if (Hyperparameters.Amsgrad)
        {
            _maxExpAvgSq = ReferenceOptimizer.CopyState(snapshot.MaxExpAvgSq, dimension, nameof(snapshot.MaxExpAvgSq), allowMissing: snapshot.Step == 0, nameof(snapshot));
        }
    }

    /// <summary><c>exp_avg</c> (m).</summary>
    public ReadOnlySpan<double> ExpAvg => _expAvg;

    /// <summary><c>exp_avg_sq</c> (v).</summary>
    public ReadOnlySpan<double> ExpAvgSq => _expAvgSq;

    /// <summary><c>max_exp_avg_sq</c> (empty unless amsgrad).</summary>
    public ReadOnlySpan<double> MaxExpAvgSq => _maxExpAvgSq;

    /// <inheritdoc/>
    private protected override void StepCore(Span<double> parameters, ReadOnlySpan<double> gradient)
    {
        var hp = Hyperparameters;
        double lr = hp.LearningRate;
        double beta1 = hp.Beta1;
        double beta2 = hp.Beta2;

        // Scalars exactly as torch computes them in Python double precision.
        double step = StepCount;
        double biasCorrection1 = 1 - Math.Pow(beta1, step);
        double biasCorrection2 = 1 - Math.Pow(beta2, step);
        double stepSize = lr / biasCorrection1;
        double biasCorrection2Sqrt = Math.Sqrt(biasCorrection2);
        double decay = 1 - (lr * hp.WeightDecay);
        for (int i = 0; i < parameters.Length; i++)
        {
            if (hp.Decoupled)
            {
                parameters[i] *= decay;
            }

            double g = EffectiveGradient(hp.Maximize, hp.Decoupled ? 0 : hp.WeightDecay, gradient[i], parameters[i]);

            double m = (_expAvg[i] * beta1) + ((1 - beta1) * g);
            double v = (_expAvgSq[i] * beta2) + ((1 - beta2) * g * g);
            _expAvg[i] = m;
            _expAvgSq[i] = v;
            if (_maxExpAvgSq is not null)
            {
                v = Math.Max(_maxExpAvgSq[i], v);
                _maxExpAvgSq[i] = v;
            }

            double denominator = (Math.Sqrt(v) / biasCorrection2Sqrt) + hp.Epsilon;
            parameters[i] += -stepSize * m / denominator;
        }
    }

    /// <inheritdoc/>
    public override OptimizerSnapshot<double[]> Snapshot() =>
        new AdamSnapshot<double[]>(Hyperparameters, StepCount, (double[])_expAvg.Clone(), (double[])_expAvgSq.Clone(), (double[]?)_maxExpAvgSq?.Clone());

    private static AdamHyperparameters Validated(AdamHyperparameters hp, string name)
    {
        ArgumentNullException.ThrowIfNull(hp, name);
        CheckAdaptive(hp.LearningRate, hp.Epsilon, hp.WeightDecay, name);
        ReferenceOptimizer.CheckUnitInterval(hp.Beta1, nameof(hp.Beta1), name);
        ReferenceOptimizer.CheckUnitInterval(hp.Beta2, nameof(hp.Beta2), name);

        return hp;
    }
}
