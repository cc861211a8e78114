namespace SpectralMonitor.Estimators.Optimizers;

/// <summary>Builds the right update operator (or preconditioned curvature) for any optimizer snapshot.</summary>
public static class UpdateOperators
{
    /// <summary>
    /// Returns the linearized update operator <c>J</c> of the next step of the optimizer described by <paramref name="snapshot"/>;
    /// its <see cref="UpdateOperator{TVec}.Layout"/> says which state blocks it acts on, in which order.
    /// </summary>
    /// <remarks>
    /// <list type="table">
    /// <listheader><term>optimizer</term><description>operator and state</description></listheader>
    /// <item><term>SGD</term><description><see cref="SgdUpdateOperator{TVec}"/>: θ, or (θ, momentum_buffer); exact for either <paramref name="linearization"/>.</description></item>
    /// <item><term>Adam/AdamW, frozen</term><description><see cref="AdamUpdateOperator{TVec}"/>: (θ, exp_avg), or θ when β₁ = 0.</description></item>
    /// <item><term>Adam/AdamW, full state</term><description><see cref="AdamFullStateUpdateOperator{TVec}"/>: (θ, exp_avg, exp_avg_sq); needs <paramref name="gradient"/>.</description></item>
    /// <item><term>RMSprop, frozen</term><description><see cref="RmsPropUpdateOperator{TVec}"/>: θ, or (θ, momentum_buffer).</description></item>
    /// </list>
    /// </remarks>
    /// <typeparam name="TVec">The backend's vector type.</typeparam>
    /// <param name="snapshot">The optimizer state before the step.</param>
    /// <param name="hessian">The symmetric Hessian of the loss at the current parameters.</param>
    /// <param name="linearization">Frozen preconditioner (default) or full state.</param>
    /// <param name="gradient">The loss gradient (<c>param.grad</c>); required for Adam with <see cref="UpdateLinearization.FullState"/>, otherwise unused.</param>
    /// <param name="parameters">The current parameters; required for full-state Adam with L2 weight decay, otherwise unused.</param>
    /// <exception cref="ArgumentException">An input is invalid, or the combination is not available (RMSprop full state); the message names it.</exception>
    public static UpdateOperator<TVec> Create<TVec>(
        OptimizerSnapshot<TVec> snapshot,
        LinearOperator<TVec> hessian,
        UpdateLinearization linearization = UpdateLinearization.FrozenPreconditioner,
        TVec? gradient = null,
        TVec? parameters = null)
        where TVec : class
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        CheckLinearization(linearization);
        switch (snapshot)
        {
            case SgdSnapshot<TVec> sgd:
                return new SgdUpdateOperator<TVec>(sgd, hessian);
            case AdamSnapshot<TVec> adam when linearization == UpdateLinearization.FullState:
                if (gradient is null)
                {
                    throw new ArgumentException("gradient is null; the full-state Adam operator needs the current gradient (δv' = β₂δv + 2(1−β₂)·g⊙(H̃δθ)).", nameof(gradient));
                }

                return new AdamFullStateUpdateOperator<TVec>(adam, hessian, gradient, parameters);
            case AdamSnapshot<TVec> adam:
                return new AdamUpdateOperator<TVec>(adam, hessian);
            case RmsPropSnapshot<TVec> when linearization == UpdateLinearization.FullState:
                throw new ArgumentException("linearization is FullState, which is not available for RMSprop; use FrozenPreconditioner (exact at a stationary point).", nameof(linearization));
            case RmsPropSnapshot<TVec> rms:
                return new RmsPropUpdateOperator<TVec>(rms, hessian);
            default:
                throw new ArgumentException($"snapshot is a {snapshot.GetType().Name} (kind {snapshot.Kind}), for which no update operator is known.", nameof(snapshot));
        }
    }

    /// <summary>
    /// Returns the symmetric preconditioned curvature <c>S·K·S</c> (<c>S = P^½</c>) of the optimizer's frozen-preconditioner
    /// operator: Adam <c>P</c> with <c>K = ±H + λI</c> (λ = 0 for AdamW), RMSprop likewise, and SGD with <c>P = I</c>
    /// (then it is <c>K</c> itself). Its top eigenvalue is the preconditioned sharpness.
    /// </summary>
    /// <typeparam name="TVec">The backend's vector type.</typeparam>
    /// <param name="snapshot">The optimizer state before the step.</param>
    /// <param name="hessian">The symmetric Hessian of the loss at the current parameters.</param>
    /// <exception cref="ArgumentException">An input is invalid; the message names it.</exception>
    public static PreconditionedHessianOperator<TVec> CreatePreconditionedHessian<TVec>(OptimizerSnapshot<TVec> snapshot, LinearOperator<TVec> hessian)
        where TVec : class
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var space = SnapshotValidation.ElementwiseSpace(hessian);
        TVec p;
        double shift;
        double sign;
        switch (snapshot)
        {
            case SgdSnapshot<TVec> sgd:
                // P = I: the curvature itself, with no preconditioner vectors and no element-wise products.
                SgdUpdateOperator<TVec>.Resolve(sgd, hessian);
                return new PreconditionedHessianOperator<TVec>(hessian, sgd.Hyperparameters.WeightDecay, sgd.Hyperparameters.Maximize ? -1 : 1);
            case AdamSnapshot<TVec> adam:
                var settings = AdamSettings.Resolve(adam, space);
                p = OptimizerPreconditioners.FrozenAdam(adam, space, settings);
                shift = settings.L2;
                sign = settings.Sign;
                break;
            case RmsPropSnapshot<TVec> rms:
                RmsPropSettings.Resolve(rms, space);
                p = OptimizerPreconditioners.FrozenRmsProp(rms, space);
                shift = rms.Hyperparameters.WeightDecay;
                sign = rms.Hyperparameters.Maximize ? -1 : 1;
                break;
            default:
                throw new ArgumentException($"snapshot is a {snapshot.GetType().Name} (kind {snapshot.Kind}), for which no preconditioner is known.", nameof(snapshot));
        }

        // The operator takes P over and roots it in place (no copy); it releases P, also when it throws.
        return new PreconditionedHessianOperator<TVec>(hessian, p, shift, sign, takeOwnership: true);
    }

    /// <summary>
    /// Returns Adam's symmetric preconditioned curvature <c>S·K·S</c> with <c>√v̂</c> floored at <paramref name="floor"/>
    /// (<c>P = 1/(max(√v̂, floor) + ε)</c>, <see cref="OptimizerPreconditioners.AdamFloored"/>): the operator of
    /// <see cref="CreatePreconditionedHessian"/> with the ε-dominated coordinates' preconditioner capped. Its top
    /// eigenvalue over the same stability edge says how much of the preconditioned sharpness those coordinates carry.
    /// </summary>
    /// <typeparam name="TVec">The backend's vector type.</typeparam>
    /// <param name="snapshot">The Adam/AdamW state before the step.</param>
    /// <param name="hessian">The symmetric Hessian of the loss at the current parameters.</param>
    /// <param name="floor">The floor of √v̂: finite and positive.</param>
    /// <exception cref="ArgumentException">An input is invalid; the message names it.</exception>
    public static PreconditionedHessianOperator<TVec> CreateFlooredPreconditionedHessian<TVec>(AdamSnapshot<TVec> snapshot, LinearOperator<TVec> hessian, double floor)
        where TVec : class
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var space = SnapshotValidation.ElementwiseSpace(hessian);
        if (!double.IsFinite(floor) || floor <= 0)
        {
            throw new ArgumentException($"floor is {floor}; the floor of √v̂ must be finite and positive.", nameof(floor));
        }

        var settings = AdamSettings.Resolve(snapshot, space);
        var p = OptimizerPreconditioners.FrozenAdam(snapshot, space, settings, floor);
        try
        {
            return new PreconditionedHessianOperator<TVec>(hessian, p, settings.L2, settings.Sign);
        }
        finally
        {
            space.Release(p);
        }
    }

    private static void CheckLinearization(UpdateLinearization linearization)
    {
        if (linearization is not UpdateLinearization.FrozenPreconditioner and not UpdateLinearization.FullState)
        {
            throw new ArgumentException($"linearization is {linearization}, which is not a defined value.", nameof(linearization));
        }
    }
}
