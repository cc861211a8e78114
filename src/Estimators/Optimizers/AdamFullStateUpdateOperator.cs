using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Estimators.Optimizers;

/// <summary>
/// The exact Jacobian of one <c>torch.optim.Adam</c> / <c>AdamW</c> step (without amsgrad) on the full state
/// (θ, <c>exp_avg</c>, <c>exp_avg_sq</c>), linearized at the snapshot and the current gradient.
/// </summary>
/// <remarks>
/// <para>The step, with <c>t</c> = the snapshot's <c>step</c>, effective gradient <c>ĝ = ±g + λθ</c> (λ = L2 decay for
/// Adam, 0 for AdamW), <c>c₁ = 1/(1−β₁^(t+1))</c>, <c>b₂ = 1−β₂^(t+1)</c> and <c>d = 1 − ηλ</c> for AdamW (1 for Adam):
/// <c>m' = β₁m + (1−β₁)ĝ</c>, <c>v' = β₂v + (1−β₂)ĝ²</c>, <c>θ' = d·θ − ηc₁·m' ⊙ p(v')</c>, <c>p(u) = 1/(√(u/b₂) + ε)</c>.
/// Every quantity is the one the NEXT step uses (v', t + 1), which is what makes this the exact Jacobian of the map
/// state_t → state_{t+1}. With <c>K = ±H + λI</c> (one HVP), <c>P = diag(p(v'))</c>, <c>G = diag(2(1−β₂)ĝ)</c> and
/// <c>Q = diag(−ηc₁·m' ⊙ p'(v')) = diag(ηc₁·m' ⊙ p(v')² / (2√(b₂v')))</c>:</para>
/// <code>
/// δm' = β₁δm + (1−β₁)·Kδθ
/// δv' = β₂δv + G·Kδθ
/// δθ' = d·δθ − ηc₁·P·δm' + Q·δv'
/// </code>
/// <para>Where <c>v'</c> is exactly zero (a coordinate that has never seen a gradient, so that <c>m'</c> is zero too),
/// <c>√</c> is not differentiable; the ∂P/∂v term of such coordinates is taken as its limit 0 (they carry no update).
/// A coordinate with <c>v' = 0</c> but <c>m' ≠ 0</c> is rejected.</para>
/// </remarks>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
public sealed class AdamFullStateUpdateOperator<TVec> : AdamFamilyUpdateOperator<TVec>
    where TVec : class
{
    /// <summary>
    /// Guard added to <c>√(b₂v')</c> so that coordinates with <c>v' = m' = 0</c> give <c>0·(1/guard) = 0</c> instead of
    /// <c>0·∞</c>. It is representable in single precision, and its relative effect is below 1e-12 for any
    /// <c>v' ≥ 1e-33</c>, far smaller than a gradient whose square survives the moving average.
    /// </summary>
    private const double ZeroGuard = 1e-30;

    private readonly TVec _gradientCoupling;
    private readonly TVec _secondMomentCoupling;

    /// <summary>Builds the operator from a snapshot taken before the step and the gradient of that step.</summary>
    /// <param name="snapshot">The optimizer's hyperparameters and state (amsgrad is not supported here).</param>
    /// <param name="hessian">The symmetric Hessian of the loss at the current parameters (one HVP per application).</param>
    /// <param name="gradient">The loss gradient at the current parameters, as in <c>param.grad</c> (before maximize and weight decay).</param>
    /// <param name="parameters">The current parameters θ; required when L2 weight decay (Adam, not AdamW) is non-zero, otherwise unused.</param>
    /// <exception cref="ArgumentException">An input is invalid or the Jacobian is undefined; the message names the field.</exception>
    public AdamFullStateUpdateOperator(AdamSnapshot<TVec> snapshot, LinearOperator<TVec> hessian, TVec gradient, TVec? parameters = null)
        : this(snapshot, Resolve(snapshot, CheckElementwiseHessian(hessian), gradient, parameters), hessian, gradient, parameters)
    {
    }

    private AdamFullStateUpdateOperator(AdamSnapshot<TVec> snapshot, AdamSettings settings, LinearOperator<TVec> hessian, TVec gradient, TVec? parameters)
        : base(hessian, MakeLayout(snapshot.Hyperparameters, settings), settings)
    {
        var s = ElementwiseSpace;
        Beta2 = settings.Beta2;

        // ĝ = ±g + λθ
        var effective = s.CreateVector();
        s.Copy(gradient, effective);
        s.Scale(effective, settings.Sign);
        if (settings.L2 != 0)
        {
            s.Axpy(settings.L2, parameters!, effective);
        }

        var nextMoment = s.CreateVector();
        var nextSecond = s.CreateVector();
        try
        {
            // m' = β₁m + (1−β₁)ĝ, v' = β₂v + (1−β₂)ĝ²
            s.Copy(snapshot.ExpAvg, nextMoment);
            s.Scale(nextMoment, settings.Beta1);
            s.Axpy(1 - settings.Beta1, effective, nextMoment);
            s.Multiply(effective, effective, nextSecond);
            s.Scale(nextSecond, 1 - settings.Beta2);
            s.Axpy(settings.Beta2, snapshot.ExpAvgSq, nextSecond);

            RejectMomentWithoutSecondMoment(nextMoment, nextSecond);
            Preconditioner = NewVector();
            s.InverseSqrtPlusEpsilon(nextSecond, 1 / settings.BiasCorrection2, settings.Epsilon, Preconditioner);
            SnapshotValidation.DerivedFinite(s, Preconditioner, snapshot.ExpAvgSq, "AdamSnapshot.ExpAvgSq", "Adam's preconditioner 1/(√v̂' + ε)");

            _secondMomentCoupling = SecondMomentCoupling(nextMoment, nextSecond, settings);
            if (!double.IsFinite(s.Dot(_secondMomentCoupling, _secondMomentCoupling)))
            {
                throw new ArgumentException("The full-state Adam Jacobian is undefined: the next exp_avg_sq (β₂·ExpAvgSq + (1−β₂)·ĝ²) is zero or vanishingly small where the next exp_avg is not, and √ is not differentiable at 0.", nameof(snapshot));
            }

            // G = 2(1−β₂)ĝ
            _gradientCoupling = NewVector();
            s.Copy(effective, _gradientCoupling);
            s.Scale(_gradientCoupling, 2 * (1 - settings.Beta2));
        }
        finally
        {
            s.Release(effective);
            s.Release(nextMoment);
            s.Release(nextSecond);
        }
    }

    /// <summary>
    /// Q = (ηc₁/2)·m' ⊙ (1/√(b₂v')) ⊙ P ⊙ P, multiplied in this order so that m' = 0 meets the guarded reciprocal first
    /// (<see cref="Preconditioner"/> must be set).
    /// </summary>
    private TVec SecondMomentCoupling(TVec nextMoment, TVec nextSecond, AdamSettings settings)
    {
        var s = ElementwiseSpace;
        var q = NewVector();
        s.InverseSqrtPlusEpsilon(nextSecond, settings.BiasCorrection2, ZeroGuard, q);
        s.Multiply(nextMoment, q, q);
        s.Multiply(Preconditioner, q, q);
        s.Multiply(Preconditioner, q, q);
        s.Scale(q, settings.StepSize / 2);
        return q;
    }

    /// <summary><c>P = p(v')</c>, the preconditioner the next step divides by (owned by this operator; do not modify or release).</summary>
    public override TVec Preconditioner { get; }

    /// <summary>β₂.</summary>
    public double Beta2 { get; }

    /// <inheritdoc/>
    protected override void ApplyCore(BlockVector<TVec> x, BlockVector<TVec> y)
    {
        ThrowIfDisposed();
        var s = ElementwiseSpace;
        var k = Scratch;
        Curvature.Apply(x[0], k);

        // δm' = β₁δm + (1−β₁)·Kδθ
        MomentRow(x[1], k, y[1]);

        // δv' = β₂δv + G⊙Kδθ
        s.Multiply(_gradientCoupling, k, y[2]);
        s.Axpy(Beta2, x[2], y[2]);

        // δθ' = d·δθ − ηc₁·P⊙δm' + Q⊙δv'
        s.Multiply(Preconditioner, y[1], y[0]);
        s.Scale(y[0], -StepSize);
        s.Multiply(_secondMomentCoupling, y[2], k);
        s.Axpy(1, k, y[0]);
        s.Axpy(ParameterDecay, x[0], y[0]);
    }

    /// <inheritdoc/>
    protected override void ApplyTransposeCore(BlockVector<TVec> x, BlockVector<TVec> y)
    {
        ThrowIfDisposed();
        var s = ElementwiseSpace;
        var w = Scratch;

        // r_m = x_m − ηc₁·P⊙x_θ and r_v = x_v + Q⊙x_θ, kept in y_m and y_v until scaled at the end.
        s.Multiply(Preconditioner, x[0], y[1]);
        s.Scale(y[1], -StepSize);
        s.Axpy(1, x[1], y[1]);
        s.Multiply(_secondMomentCoupling, x[0], y[2]);
        s.Axpy(1, x[2], y[2]);

        // y_θ = d·x_θ + K[(1−β₁)·r_m + G⊙r_v]
        s.Multiply(_gradientCoupling, y[2], w);
        s.Axpy(1 - Beta1, y[1], w);
        Curvature.Apply(w, y[0]);
        s.Axpy(ParameterDecay, x[0], y[0]);

        // y_m = β₁·r_m, y_v = β₂·r_v
        s.Scale(y[1], Beta1);
        s.Scale(y[2], Beta2);
    }

    /// <summary>
    /// On CPU arrays, finds a coordinate with <c>v' = 0</c> but <c>m' ≠ 0</c> exactly (other backends rely on the
    /// overflow of the guarded coefficient, which the finiteness check below catches).
    /// </summary>
    private static void RejectMomentWithoutSecondMoment(TVec nextMoment, TVec nextSecond, string parameterName = SnapshotValidation.SnapshotParameter)
    {
        int index = -1;
        if (nextMoment is double[] md && nextSecond is double[] vd)
        {
            index = FirstZeroWithNonZero(vd, md);
        }
        else if (nextMoment is float[] mf && nextSecond is float[] vf)
        {
            index = FirstZeroWithNonZero(vf, mf);
        }

        if (index >= 0)
        {
            throw new ArgumentException($"The full-state Adam Jacobian is undefined at index {index}: the next exp_avg_sq (β₂·ExpAvgSq + (1−β₂)·ĝ²) is zero where the next exp_avg is not, and √ is not differentiable at 0.", parameterName);
        }
    }

    private static int FirstZeroWithNonZero<T>(T[] second, T[] moment)
        where T : System.Numerics.INumberBase<T>
    {
        for (int i = 0; i < second.Length; i++)
        {
            if (T.IsZero(second[i]) && !T.IsZero(moment[i]))
            {
                return i;
            }
        }

        return -1;
    }

    internal static AdamSettings Resolve(AdamSnapshot<TVec> snapshot, LinearOperator<TVec> hessian, TVec gradient, TVec? parameters)
    {
        var settings = AdamSettings.Resolve(snapshot, hessian.Space);
        if (settings.Amsgrad)
        {
            throw new ArgumentException("AdamSnapshot.Hyperparameters.Amsgrad is true: the full-state operator does not model amsgrad (its max is not differentiable where it switches); use the frozen-preconditioner operator.", SnapshotValidation.SnapshotParameter);
        }

        SnapshotValidation.Vector(hessian.Space, gradient, "gradient", required: true, parameterName: nameof(gradient));
        SnapshotValidation.Vector(hessian.Space, parameters, "parameters", required: settings.L2 != 0, parameterName: nameof(parameters));
        return settings;
    }

    internal static UpdateStateLayout MakeLayout(AdamHyperparameters h, AdamSettings settings)
    {
        StateBlock[] blocks = [StateBlock.Parameters, StateBlock.ExpAvg, StateBlock.ExpAvgSq];
        return new UpdateStateLayout(blocks, UpdateLinearization.FullState, UpdateStateLayout.Format(settings.Head(h) + ", full state, exact Jacobian", blocks));
    }
}
