using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Estimators.Optimizers;

/// <summary>
/// The exact Jacobian of one <c>torch.optim.SGD</c> step. With <c>K = ±H + λ·I</c> (sign − for <c>maximize</c>,
/// λ = <c>weight_decay</c>, added to the gradient as PyTorch does), <c>J</c> has the form
/// <c>[[I − a·K, −c·I], [e·K, μ·I]]</c> on (θ, <c>momentum_buffer</c>), or <c>I − a·K</c> on θ alone:
/// <list type="bullet">
/// <item>no momentum: state θ, <c>a = η</c>;</item>
/// <item>momentum μ with a buffer, dampening τ: state (θ, b), <c>a = η(1−τ)</c>, <c>c = ημ</c>, <c>e = 1−τ</c>;</item>
/// <item>Nesterov with a buffer: state (θ, b), <c>a = η(1 + μ(1−τ))</c>, <c>c = ημ²</c>, <c>e = 1−τ</c>;</item>
/// <item>momentum before the first step (<c>momentum_buffer</c> is null: PyTorch sets <c>buf = d_p</c>, without dampening):
/// there is no buffer to perturb, so the state is θ alone and <c>a = η</c> (Nesterov: <c>a = η(1+μ)</c>). The step also
/// creates the buffer <c>b' = K·δθ</c>, which is not part of this square operator.</item>
/// </list>
/// </summary>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
public sealed class SgdUpdateOperator<TVec> : UpdateOperator<TVec>
    where TVec : class
{
    private readonly TVec _scratch;
    private readonly bool _hasBuffer;

    /// <summary>Builds the operator from a snapshot taken before the step.</summary>
    /// <param name="snapshot">The optimizer's hyperparameters and state.</param>
    /// <param name="hessian">The symmetric Hessian of the loss at the current parameters (one HVP per application).</param>
    /// <exception cref="ArgumentException">A hyperparameter or state vector is invalid; the message names it.</exception>
    public SgdUpdateOperator(SgdSnapshot<TVec> snapshot, LinearOperator<TVec> hessian)
        : this(Resolve(snapshot, CheckHessian(hessian)), hessian)
    {
    }

    private SgdUpdateOperator(Settings settings, LinearOperator<TVec> hessian)
        : base(hessian, settings.Layout)
    {
        _hasBuffer = settings.HasBuffer;
        ParameterGradientCoefficient = settings.A;
        ParameterBufferCoefficient = settings.C;
        BufferGradientCoefficient = settings.E;
        BufferDecay = settings.Mu;
        Curvature = new ShiftedOperator<TVec>(hessian, settings.WeightDecay, settings.Sign);
        _scratch = NewVector();
    }

    /// <summary><c>K = ±H + λ·I</c>, the Jacobian of the gradient SGD uses (one HVP per application).</summary>
    public ShiftedOperator<TVec> Curvature { get; }

    /// <summary><c>a</c> in <c>J_θθ = I − a·K</c>.</summary>
    public double ParameterGradientCoefficient { get; }

    /// <summary><c>c</c> in <c>J_θb = −c·I</c> (0 when the state is θ alone).</summary>
    public double ParameterBufferCoefficient { get; }

    /// <summary><c>e</c> in <c>J_bθ = e·K</c> (0 when the state is θ alone).</summary>
    public double BufferGradientCoefficient { get; }

    /// <summary>μ in <c>J_bb = μ·I</c> (0 when the state is θ alone).</summary>
    public double BufferDecay { get; }

    /// <inheritdoc/>
    protected override void ApplyCore(BlockVector<TVec> x, BlockVector<TVec> y)
    {
        ThrowIfDisposed();
        var s = ParameterSpace;
        var k = _scratch;
        Curvature.Apply(x[0], k);

        // y_θ = x_θ − a·K x_θ − c·x_b
        s.Copy(x[0], y[0]);
        s.Axpy(-ParameterGradientCoefficient, k, y[0]);
        if (!_hasBuffer)
        {
            return;
        }

        s.Axpy(-ParameterBufferCoefficient, x[1], y[0]);

        // y_b = e·K x_θ + μ·x_b
        s.Copy(x[1], y[1]);
        s.Scale(y[1], BufferDecay);
        s.Axpy(BufferGradientCoefficient, k, y[1]);
    }

    /// <inheritdoc/>
    protected override void ApplyTransposeCore(BlockVector<TVec> x, BlockVector<TVec> y)
    {
        ThrowIfDisposed();
        var s = ParameterSpace;
        var w = _scratch;

        // y_θ = x_θ + K(−a·x_θ + e·x_b)
        s.Copy(x[0], w);
        s.Scale(w, -ParameterGradientCoefficient);
        if (_hasBuffer)
        {
            s.Axpy(BufferGradientCoefficient, x[1], w);
        }

        Curvature.Apply(w, y[0]);
        s.Axpy(1, x[0], y[0]);
        if (!_hasBuffer)
        {
            return;
        }

        // y_b = −c·x_θ + μ·x_b
        s.Copy(x[1], y[1]);
        s.Scale(y[1], BufferDecay);
        s.Axpy(-ParameterBufferCoefficient, x[0], y[1]);
    }

    internal static Settings Resolve(SgdSnapshot<TVec> snapshot, LinearOperator<TVec> hessian)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var h = snapshot.Hyperparameters ?? throw new ArgumentException("SgdSnapshot.Hyperparameters is null.", SnapshotValidation.SnapshotParameter);
        SnapshotValidation.LearningRate("SgdSnapshot.Hyperparameters.LearningRate", h.LearningRate);
        SnapshotValidation.UnitInterval("SgdSnapshot.Hyperparameters.Momentum", h.Momentum);
        SnapshotValidation.Finite("SgdSnapshot.Hyperparameters.Dampening", h.Dampening);
        SnapshotValidation.NonNegative("SgdSnapshot.Hyperparameters.WeightDecay", h.WeightDecay);
        if (h.Nesterov && (h.Momentum <= 0 || h.Dampening != 0))
        {
            throw new ArgumentException($"SgdSnapshot.Hyperparameters: Nesterov momentum requires a momentum and zero dampening (as torch.optim.SGD); momentum is {h.Momentum}, dampening is {h.Dampening}.", SnapshotValidation.SnapshotParameter);
        }

        bool present = SnapshotValidation.Vector(hessian.Space, snapshot.MomentumBuffer, "SgdSnapshot.MomentumBuffer", required: false);
        return Settings.From(h, hasBuffer: h.Momentum > 0 && present);
    }

    /// <summary>The resolved coefficients of <c>[[I − a·K, −c·I], [e·K, μ·I]]</c>.</summary>
    internal sealed record Settings(double A, double C, double E, double Mu, double WeightDecay, double Sign, bool HasBuffer, UpdateStateLayout Layout)
    {
        internal static Settings From(SgdHyperparameters h, bool hasBuffer)
        {
            double eta = h.LearningRate;
            double mu = h.Momentum;
            double tau = h.Dampening;
            double sign = h.Maximize ? -1 : 1;
            string head = $"SGD (lr {eta}, momentum {mu}, dampening {tau}, weight_decay {h.WeightDecay}{(h.Nesterov ? ", nesterov" : string.Empty)}{(h.Maximize ? ", maximize" : string.Empty)})";
            if (mu == 0)
            {
                return new Settings(eta, 0, 0, 0, h.WeightDecay, sign, false, MakeLayout([StateBlock.Parameters], head));
            }

            if (!hasBuffer)
            {
                double a = h.Nesterov ? eta * (1 + mu) : eta;
                return new Settings(a, 0, 0, 0, h.WeightDecay, sign, false, MakeLayout([StateBlock.Parameters], head + " first step, momentum_buffer not yet created"));
            }

            StateBlock[] blocks = [StateBlock.Parameters, StateBlock.MomentumBuffer];
            return h.Nesterov
                ? new Settings(eta * (1 + (mu * (1 - tau))), eta * mu * mu, 1 - tau, mu, h.WeightDecay, sign, true, MakeLayout(blocks, head))
                : new Settings(eta * (1 - tau), eta * mu, 1 - tau, mu, h.WeightDecay, sign, true, MakeLayout(blocks, head));
        }

        private static UpdateStateLayout MakeLayout(StateBlock[] blocks, string head) =>
            new(blocks, UpdateLinearization.FullState, UpdateStateLayout.Format(head + ", exact Jacobian", blocks));
    }
}
