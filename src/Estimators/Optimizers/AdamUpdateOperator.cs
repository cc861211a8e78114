using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Estimators.Optimizers;

/// <summary>
/// The frozen-preconditioner Jacobian of one <c>torch.optim.Adam</c> / <c>AdamW</c> step. With <c>K = ±H + λ·I</c>
/// (λ = <c>weight_decay</c> for Adam's L2 decay, 0 for AdamW; − for <c>maximize</c>), <c>d = 1 − ηλ</c> for AdamW's
/// decoupled decay (1 for Adam), <c>c₁ = 1/(1 − β₁^(t+1))</c> and <c>P</c> from <see cref="OptimizerPreconditioners.Adam{TVec}"/>:
/// <list type="bullet">
/// <item>β₁ &gt; 0: state (θ, <c>exp_avg</c>), <c>J = [[d·I − ηc₁(1−β₁)·P·K, −ηc₁β₁·P], [(1−β₁)·K, β₁·I]]</c>;</item>
/// <item>β₁ = 0: <c>exp_avg</c> is overwritten by the gradient each step, so the state is θ alone and <c>J = d·I − η·P·K</c>.</item>
/// </list>
/// </summary>
/// <remarks>
/// <c>P</c> and <c>t + 1</c> are those of the step being linearized, evaluated at zero gradient. At a stationary point
/// (zero effective gradient) this operator is exactly the (θ, m) block of the full-state Jacobian, whose remaining
/// block is <c>β₂·I</c> on <c>exp_avg_sq</c> and does not feed back: the full Jacobian is block-triangular and its spectrum
/// is this operator's plus β₂. Away from stationarity the next step's <c>P</c> depends on the gradient and so on θ:
/// use <see cref="AdamFullStateUpdateOperator{TVec}"/> for the exact Jacobian there.
/// </remarks>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
public sealed class AdamUpdateOperator<TVec> : AdamFamilyUpdateOperator<TVec>
    where TVec : class
{
    private readonly bool _hasMoment;

    /// <summary>Builds the operator from a snapshot taken before the step.</summary>
    /// <param name="snapshot">The optimizer's hyperparameters and state.</param>
    /// <param name="hessian">The symmetric Hessian of the loss at the current parameters (one HVP per application).</param>
    /// <exception cref="ArgumentException">A hyperparameter or state vector is invalid; the message names it.</exception>
    public AdamUpdateOperator(AdamSnapshot<TVec> snapshot, LinearOperator<TVec> hessian)
        : this(snapshot, AdamSettings.Resolve(snapshot, CheckElementwiseHessian(hessian).Space), hessian)
    {
    }

    private AdamUpdateOperator(AdamSnapshot<TVec> snapshot, AdamSettings settings, LinearOperator<TVec> hessian)
        : base(hessian, MakeLayout(snapshot.Hyperparameters, settings), settings)
    {
        _hasMoment = settings.Beta1 > 0;
        Preconditioner = Own(OptimizerPreconditioners.FrozenAdam(snapshot, ElementwiseSpace, settings));
    }

    /// <summary>The frozen diagonal preconditioner <c>P</c> (owned by this operator: read it, do not modify or release it).</summary>
    public override TVec Preconditioner { get; }

    /// <inheritdoc/>
    protected override void ApplyCore(BlockVector<TVec> x, BlockVector<TVec> y)
    {
        ThrowIfDisposed();
        var s = ElementwiseSpace;
        var k = Scratch;
        Curvature.Apply(x[0], k);
        if (!_hasMoment)
        {
            // y_θ = d·x_θ − η·P⊙(K x_θ)
            s.Multiply(Preconditioner, k, y[0]);
            s.Scale(y[0], -StepSize);
            s.Axpy(ParameterDecay, x[0], y[0]);
            return;
        }

        // y_m = β₁·x_m + (1−β₁)·K x_θ  (= δm'), then y_θ = d·x_θ − ηc₁·P⊙δm'
        MomentRow(x[1], k, y[1]);
        s.Multiply(Preconditioner, y[1], y[0]);
        s.Scale(y[0], -StepSize);
        s.Axpy(ParameterDecay, x[0], y[0]);
    }

    /// <inheritdoc/>
    protected override void ApplyTransposeCore(BlockVector<TVec> x, BlockVector<TVec> y)
    {
        ThrowIfDisposed();
        var s = ElementwiseSpace;
        var w = Scratch;

        // w = P⊙x_θ
        s.Multiply(Preconditioner, x[0], w);
        if (!_hasMoment)
        {
            // y_θ = d·x_θ − η·K(P⊙x_θ)
            s.Scale(w, -StepSize);
            Curvature.Apply(w, y[0]);
            s.Axpy(ParameterDecay, x[0], y[0]);
            return;
        }

        // y_m = β₁·(x_m − ηc₁·P⊙x_θ)
        s.Copy(x[1], y[1]);
        s.Axpy(-StepSize, w, y[1]);
        s.Scale(y[1], Beta1);

        // y_θ = d·x_θ + K[(1−β₁)·(x_m − ηc₁·P⊙x_θ)]
        s.Scale(w, -StepSize);
        s.Axpy(1, x[1], w);
        s.Scale(w, 1 - Beta1);
        Curvature.Apply(w, y[0]);
        s.Axpy(ParameterDecay, x[0], y[0]);
    }

    internal static UpdateStateLayout MakeLayout(AdamHyperparameters h, AdamSettings settings)
    {
        StateBlock[] blocks = settings.Beta1 > 0 ? [StateBlock.Parameters, StateBlock.ExpAvg] : [StateBlock.Parameters];
        return new UpdateStateLayout(blocks, UpdateLinearization.FrozenPreconditioner, UpdateStateLayout.Format(settings.Head(h) + ", frozen P", blocks));
    }
}
