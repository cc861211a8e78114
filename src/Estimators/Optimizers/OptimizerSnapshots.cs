namespace SpectralMonitor.Estimators.Optimizers;

/// <summary>The optimizer families whose update map SpectralMonitor can linearize.</summary>
public enum OptimizerKind
{
    /// <summary><c>torch.optim.SGD</c> (with or without momentum, Nesterov).</summary>
    Sgd,

    /// <summary><c>torch.optim.Adam</c> (L2 weight decay added to the gradient).</summary>
    Adam,

    /// <summary><c>torch.optim.AdamW</c> (decoupled weight decay).</summary>
    AdamW,

    /// <summary><c>torch.optim.RMSprop</c>.</summary>
    RmsProp,
}

/// <summary>What every optimizer's hyperparameters have: a learning rate, the one a monitor's backoff changes.</summary>
/// <typeparam name="TSelf">The hyperparameter record.</typeparam>
public interface IOptimizerHyperparameters<out TSelf>
    where TSelf : IOptimizerHyperparameters<TSelf>
{
    /// <summary>The optimizer family these hyperparameters configure.</summary>
    OptimizerKind Kind { get; }

    /// <summary><c>lr</c>.</summary>
    double LearningRate { get; }

    /// <summary>A copy with another learning rate.</summary>
    /// <param name="learningRate">The new <c>lr</c>.</param>
    TSelf WithLearningRate(double learningRate);
}

/// <summary>Hyperparameters of <c>torch.optim.SGD</c>, with PyTorch's names and defaults.</summary>
/// <param name="LearningRate"><c>lr</c>.</param>
/// <param name="Momentum"><c>momentum</c> μ.</param>
/// <param name="Dampening"><c>dampening</c> τ.</param>
/// <param name="WeightDecay"><c>weight_decay</c> λ (L2, added to the gradient).</param>
/// <param name="Nesterov"><c>nesterov</c>.</param>
/// <param name="Maximize"><c>maximize</c>.</param>
public sealed record SgdHyperparameters(
    double LearningRate,
    double Momentum = 0,
    double Dampening = 0,
    double WeightDecay = 0,
    bool Nesterov = false,
    bool Maximize = false) : IOptimizerHyperparameters<SgdHyperparameters>
{
    /// <inheritdoc/>
    public OptimizerKind Kind => OptimizerKind.Sgd;

    /// <inheritdoc/>
    public SgdHyperparameters WithLearningRate(double learningRate) => this with { LearningRate = learningRate };
}

/// <summary>Hyperparameters of <c>torch.optim.Adam</c> and <c>torch.optim.AdamW</c>.</summary>
/// <param name="LearningRate"><c>lr</c>.</param>
/// <param name="Beta1"><c>betas[0]</c>.</param>
/// <param name="Beta2"><c>betas[1]</c>.</param>
/// <param name="Epsilon"><c>eps</c>.</param>
/// <param name="WeightDecay"><c>weight_decay</c>: L2 for Adam, decoupled for AdamW.</param>
/// <param name="Amsgrad"><c>amsgrad</c>.</param>
/// <param name="Decoupled">True for AdamW (decoupled weight decay).</param>
/// <param name="Maximize"><c>maximize</c>.</param>
public sealed record AdamHyperparameters(
    double LearningRate,
    double Beta1 = 0.9,
    double Beta2 = 0.999,
    double Epsilon = 1e-8,
    double WeightDecay = 0,
    bool Amsgrad = false,
    bool Decoupled = false,
    bool Maximize = false) : IOptimizerHyperparameters<AdamHyperparameters>
{
    /// <inheritdoc/>
    public OptimizerKind Kind => Decoupled ? OptimizerKind.AdamW : OptimizerKind.Adam;

    /// <inheritdoc/>
    public AdamHyperparameters WithLearningRate(double learningRate) => this with { LearningRate = learningRate };
}

/// <summary>Hyperparameters of <c>torch.optim.RMSprop</c>.</summary>
/// <param name="LearningRate"><c>lr</c>.</param>
/// <param name="Alpha"><c>alpha</c> (smoothing constant of the squared-gradient average).</param>
/// <param name="Epsilon"><c>eps</c>.</param>
/// <param name="WeightDecay"><c>weight_decay</c> (L2).</param>
/// <param name="Momentum"><c>momentum</c>.</param>
/// <param name="Centered"><c>centered</c>.</param>
/// <param name="Maximize"><c>maximize</c>.</param>
public sealed record RmsPropHyperparameters(
    double LearningRate,
    double Alpha = 0.99,
    double Epsilon = 1e-8,
    double WeightDecay = 0,
    double Momentum = 0,
    bool Centered = false,
    bool Maximize = false) : IOptimizerHyperparameters<RmsPropHyperparameters>
{
    /// <inheritdoc/>
    public OptimizerKind Kind => OptimizerKind.RmsProp;

    /// <inheritdoc/>
    public RmsPropHyperparameters WithLearningRate(double learningRate) => this with { LearningRate = learningRate };
}

/// <summary>
/// An optimizer's hyperparameters and state at one step, over the flat parameter vector, as a framework adapter
/// reads it. State vectors are in the backend's vector type so that they can stay on the model's device.
/// </summary>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
/// <param name="Kind">The optimizer family.</param>
public abstract record OptimizerSnapshot<TVec>(OptimizerKind Kind)
    where TVec : class;

/// <summary>State of <c>torch.optim.SGD</c>.</summary>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
/// <param name="Hyperparameters">The parameter group's options.</param>
/// <param name="MomentumBuffer"><c>momentum_buffer</c>; null before the first step with momentum (PyTorch then initializes it to the gradient).</param>
public sealed record SgdSnapshot<TVec>(SgdHyperparameters Hyperparameters, TVec? MomentumBuffer)
    : OptimizerSnapshot<TVec>(OptimizerKind.Sgd)
    where TVec : class;

/// <summary>State of <c>torch.optim.Adam</c> / <c>torch.optim.AdamW</c>.</summary>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
/// <param name="Hyperparameters">The parameter group's options.</param>
/// <param name="Step"><c>step</c>: steps taken so far (0 before the first).</param>
/// <param name="ExpAvg"><c>exp_avg</c> (first moment m).</param>
/// <param name="ExpAvgSq"><c>exp_avg_sq</c> (second moment v).</param>
/// <param name="MaxExpAvgSq"><c>max_exp_avg_sq</c> when <c>amsgrad</c>; otherwise null.</param>
public sealed record AdamSnapshot<TVec>(AdamHyperparameters Hyperparameters, long Step, TVec ExpAvg, TVec ExpAvgSq, TVec? MaxExpAvgSq)
    : OptimizerSnapshot<TVec>(Hyperparameters?.Decoupled == true ? OptimizerKind.AdamW : OptimizerKind.Adam)
    where TVec : class;

/// <summary>State of <c>torch.optim.RMSprop</c>.</summary>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
/// <param name="Hyperparameters">The parameter group's options.</param>
/// <param name="Step"><c>step</c>.</param>
/// <param name="SquareAvg"><c>square_avg</c>.</param>
/// <param name="MomentumBuffer"><c>momentum_buffer</c> when momentum &gt; 0; otherwise null.</param>
/// <param name="GradAvg"><c>grad_avg</c> when centered; otherwise null.</param>
public sealed record RmsPropSnapshot<TVec>(RmsPropHyperparameters Hyperparameters, long Step, TVec SquareAvg, TVec? MomentumBuffer, TVec? GradAvg)
    : OptimizerSnapshot<TVec>(OptimizerKind.RmsProp)
    where TVec : class;
