using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Estimators.Optimizers;

/// <summary>
/// The frozen-preconditioner Jacobian of one <c>torch.optim.RMSprop</c> step. With <c>K = ±H + λ·I</c>
/// (λ = <c>weight_decay</c>, L2; − for <c>maximize</c>) and <c>P</c> from <see cref="OptimizerPreconditioners.RmsProp{TVec}"/>:
/// <list type="bullet">
/// <item>no momentum: state θ, <c>J = I − η·P·K</c>;</item>
/// <item>momentum μ: state (θ, <c>momentum_buffer</c>), <c>J = [[I − η·P·K, −ημ·I], [P·K, μ·I]]</c>
/// (PyTorch: <c>b' = μb + ĝ/avg</c>, <c>θ' = θ − η·b'</c>).</item>
/// </list>
/// </summary>
/// <remarks>
/// <c>P</c> is the one the next step divides by at zero gradient. Every term by which the true step's <c>P</c> depends on
/// θ (through <c>square_avg</c> and, when centered, <c>grad_avg</c>) is multiplied by the effective gradient, so at a
/// stationary point this operator is the exact Jacobian; elsewhere freezing <c>P</c> is an approximation.
/// </remarks>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
public sealed class RmsPropUpdateOperator<TVec> : UpdateOperator<TVec>
    where TVec : class
{
    private readonly TVec _scratch;
    private readonly bool _hasBuffer;

    /// <summary>Builds the operator from a snapshot taken before the step.</summary>
    /// <param name="snapshot">The optimizer's hyperparameters and state.</param>
    /// <param name="hessian">The symmetric Hessian of the loss at the current parameters (one HVP per application).</param>
    /// <exception cref="ArgumentException">A hyperparameter or state vector is invalid; the message names it.</exception>
    public RmsPropUpdateOperator(RmsPropSnapshot<TVec> snapshot, LinearOperator<TVec> hessian)
        : this(Validated(snapshot, CheckElementwiseHessian(hessian)), hessian, validated: true)
    {
    }

    private RmsPropUpdateOperator(RmsPropSnapshot<TVec> snapshot, LinearOperator<TVec> hessian, bool validated)
        : base(hessian, MakeLayout(snapshot.Hyperparameters))
    {
        System.Diagnostics.Debug.Assert(validated, "Reached only through the validating constructor.");
        var h = snapshot.Hyperparameters;
        _hasBuffer = h.Momentum > 0;
        LearningRate = h.LearningRate;
        Momentum = h.Momentum;
        Curvature = new ShiftedOperator<TVec>(hessian, h.WeightDecay, h.Maximize ? -1 : 1);
        Preconditioner = Own(OptimizerPreconditioners.FrozenRmsProp(snapshot, ElementwiseSpace));
        _scratch = NewVector();
    }

    /// <summary><c>K = ±H + λ·I</c>.</summary>
    public ShiftedOperator<TVec> Curvature { get; }

    /// <summary>The frozen diagonal preconditioner <c>P</c> (owned by this operator; do not modify or release).</summary>
    public TVec Preconditioner { get; }

    /// <summary>η.</summary>
    public double LearningRate { get; }

    /// <summary>μ (0 when the state is θ alone).</summary>
    public double Momentum { get; }

    /// <inheritdoc/>
    protected override void ApplyCore(BlockVector<TVec> x, BlockVector<TVec> y)
    {
        ThrowIfDisposed();
        var s = ElementwiseSpace;
        var k = _scratch;
        Curvature.Apply(x[0], k);
        s.Multiply(Preconditioner, k, k);
        if (!_hasBuffer)
        {
            // y_θ = x_θ − η·P⊙K x_θ
            s.Copy(x[0], y[0]);
            s.Axpy(-LearningRate, k, y[0]);
            return;
        }

        // y_b = μ·x_b + P⊙K x_θ (= δb'), y_θ = x_θ − η·δb'
        s.Copy(x[1], y[1]);
        s.Scale(y[1], Momentum);
        s.Axpy(1, k, y[1]);
        s.Copy(x[0], y[0]);
        s.Axpy(-LearningRate, y[1], y[0]);
    }

    /// <inheritdoc/>
    protected override void ApplyTransposeCore(BlockVector<TVec> x, BlockVector<TVec> y)
    {
        ThrowIfDisposed();
        var s = ElementwiseSpace;
        var w = _scratch;

        // y_θ = x_θ + K P (x_b − η·x_θ)   (x_b = 0 without momentum)
        s.Copy(x[0], w);
        s.Scale(w, -LearningRate);
        if (_hasBuffer)
        {
            s.Axpy(1, x[1], w);
        }

        s.Multiply(Preconditioner, w, w);
        Curvature.Apply(w, y[0]);
        s.Axpy(1, x[0], y[0]);
        if (!_hasBuffer)
        {
            return;
        }

        // y_b = μ·(x_b − η·x_θ)
        s.Copy(x[1], y[1]);
        s.Axpy(-LearningRate, x[0], y[1]);
        s.Scale(y[1], Momentum);
    }

    private static RmsPropSnapshot<TVec> Validated(RmsPropSnapshot<TVec> snapshot, LinearOperator<TVec> hessian)
    {
        RmsPropSettings.Resolve(snapshot, hessian.Space);
        return snapshot;
    }

    internal static UpdateStateLayout MakeLayout(RmsPropHyperparameters h)
    {
        StateBlock[] blocks = h.Momentum > 0 ? [StateBlock.Parameters, StateBlock.MomentumBuffer] : [StateBlock.Parameters];
        return new UpdateStateLayout(blocks, UpdateLinearization.FrozenPreconditioner, UpdateStateLayout.Format(RmsPropSettings.Head(h) + ", frozen P", blocks));
    }
}
