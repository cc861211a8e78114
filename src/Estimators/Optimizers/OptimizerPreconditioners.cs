namespace SpectralMonitor.Estimators.Optimizers;

/// <summary>
/// The diagonal preconditioner <c>P</c> that the frozen-preconditioner operators use, computed on the backend.
/// </summary>
/// <remarks>
/// <para><c>P</c> is the one the NEXT step divides by (the step that <c>J</c> linearizes), evaluated at zero gradient:</para>
/// <list type="bullet">
/// <item>Adam/AdamW: <c>P = 1 / (√(u / (1 − β₂^(t+1))) + ε)</c> with <c>u = β₂·exp_avg_sq</c>, or
/// <c>u = max(max_exp_avg_sq, β₂·exp_avg_sq)</c> with amsgrad, and <c>t</c> = the snapshot's <c>step</c>;</item>
/// <item>RMSprop: <c>P = 1 / (√u + ε)</c> with <c>u = α·square_avg</c>, or, centered, <c>u = α·square_avg − (α·grad_avg)²</c>.</item>
/// </list>
/// <para>With a zero (effective) gradient these are exactly the values <c>torch.optim</c> computes in the next step, so the
/// frozen operators are the exact Jacobian there. Away from a stationary point the next step divides by values that also
/// depend on the gradient (<c>v' = β₂v + (1−β₂)g²</c>) and on θ through it: freezing <c>P</c> is then an approximation.
/// The stored <c>exp_avg_sq</c> and <c>step</c> differ from these by the factor β₂ and one step of bias correction.</para>
/// </remarks>
public static class OptimizerPreconditioners
{
    /// <summary>Computes Adam's frozen preconditioner <c>P</c> (see the class remarks) as a new vector of <paramref name="space"/>.</summary>
    /// <typeparam name="TVec">The backend's vector type.</typeparam>
    /// <param name="snapshot">Adam/AdamW state before the step.</param>
    /// <param name="space">The parameter space; the caller owns (and releases) the result.</param>
    /// <exception cref="ArgumentException">The snapshot is invalid; the message names the field.</exception>
    public static TVec Adam<TVec>(AdamSnapshot<TVec> snapshot, IElementwiseVectorSpace<TVec> space)
        where TVec : class
    {
        ArgumentNullException.ThrowIfNull(space);
        var settings = AdamSettings.Resolve(snapshot, space);
        return FrozenAdam(snapshot, space, settings);
    }

    /// <summary>Computes RMSprop's frozen preconditioner <c>P</c> (see the class remarks) as a new vector of <paramref name="space"/>.</summary>
    /// <typeparam name="TVec">The backend's vector type.</typeparam>
    /// <param name="snapshot">RMSprop state before the step.</param>
    /// <param name="space">The parameter space; the caller owns (and releases) the result.</param>
    /// <exception cref="ArgumentException">The snapshot is invalid; the message names the field.</exception>
    public static TVec RmsProp<TVec>(RmsPropSnapshot<TVec> snapshot, IElementwiseVectorSpace<TVec> space)
        where TVec : class
    {
        ArgumentNullException.ThrowIfNull(space);
        RmsPropSettings.Resolve(snapshot, space);
        return FrozenRmsProp(snapshot, space);
    }

    /// <summary>
    /// Computes the bias-corrected second moment <c>v̂ = u / (1 − β₂^(t+1))</c> that Adam's next step divides by at zero
    /// gradient (<c>u</c> as in the class remarks), as a new vector of <paramref name="space"/>: <c>P = 1/(√v̂ + ε)</c>.
    /// Coordinates with <c>√v̂ ≲ ε</c> are the ε-dominated ones, where <c>P ≈ 1/ε</c>.
    /// </summary>
    /// <typeparam name="TVec">The backend's vector type.</typeparam>
    /// <param name="snapshot">Adam/AdamW state before the step.</param>
    /// <param name="space">The parameter space; the caller owns (and releases) the result.</param>
    /// <exception cref="ArgumentException">The snapshot is invalid; the message names the field.</exception>
    public static TVec AdamSecondMoment<TVec>(AdamSnapshot<TVec> snapshot, IElementwiseVectorSpace<TVec> space)
        where TVec : class
    {
        ArgumentNullException.ThrowIfNull(space);
        var settings = AdamSettings.Resolve(snapshot, space);
        var u = NextSecondMoment(snapshot, space, settings);
        space.Scale(u, 1 / settings.BiasCorrection2);
        return u;
    }

    /// <summary>
    /// Computes Adam's frozen preconditioner with <c>√v̂</c> floored: <c>P_floor = 1/(max(√v̂, floor) + ε)</c>, as a new
    /// vector of <paramref name="space"/>. It equals <see cref="Adam"/> on coordinates with <c>√v̂ ≥ floor</c> and caps
    /// the others at <c>1/(floor + ε)</c>: the preconditioner without its ε-dominated coordinates' large entries.
    /// </summary>
    /// <typeparam name="TVec">The backend's vector type.</typeparam>
    /// <param name="snapshot">Adam/AdamW state before the step.</param>
    /// <param name="space">The parameter space; the caller owns (and releases) the result.</param>
    /// <param name="floor">The floor of √v̂: finite and positive (for example 10·ε).</param>
    /// <exception cref="ArgumentException">The snapshot or the floor is invalid; the message names it.</exception>
    public static TVec AdamFloored<TVec>(AdamSnapshot<TVec> snapshot, IElementwiseVectorSpace<TVec> space, double floor)
        where TVec : class
    {
        ArgumentNullException.ThrowIfNull(space);
        if (!double.IsFinite(floor) || floor <= 0)
        {
            throw new ArgumentException($"floor is {floor}; the floor of √v̂ must be finite and positive.", nameof(floor));
        }

        var settings = AdamSettings.Resolve(snapshot, space);
        return FrozenAdam(snapshot, space, settings, floor);
    }

    /// <summary>Adam's P for a validated snapshot, with √v̂ floored at <paramref name="floor"/> (0: none).</summary>
    internal static TVec FrozenAdam<TVec>(AdamSnapshot<TVec> snapshot, IElementwiseVectorSpace<TVec> space, AdamSettings settings, double floor = 0)
        where TVec : class
    {
        var u = NextSecondMoment(snapshot, space, settings);
        if (floor > 0)
        {
            // max(√(u/c₂), f) = √(max(u, f²c₂)/c₂). The constant vector f²c₂ is 1/(√0 + 1/(f²c₂)), with the same
            // operations every element-wise backend has.
            var bound = space.CreateVector();
            space.Clear(bound);
            space.InverseSqrtPlusEpsilon(bound, 1, 1 / (floor * floor * settings.BiasCorrection2), bound);
            space.Maximum(u, bound, u);
            space.Release(bound);
        }

        space.InverseSqrtPlusEpsilon(u, 1 / settings.BiasCorrection2, settings.Epsilon, u);
        SnapshotValidation.DerivedFinite(space, u, settings.Amsgrad && snapshot.MaxExpAvgSq is not null ? snapshot.MaxExpAvgSq : snapshot.ExpAvgSq, settings.Amsgrad ? "AdamSnapshot.ExpAvgSq / MaxExpAvgSq" : "AdamSnapshot.ExpAvgSq", "Adam's preconditioner 1/(√v̂ + ε)");
        return u;
    }

    /// <summary><c>u = β₂·exp_avg_sq</c>, or <c>max(max_exp_avg_sq, β₂·exp_avg_sq)</c> with amsgrad (a new vector).</summary>
    private static TVec NextSecondMoment<TVec>(AdamSnapshot<TVec> snapshot, IElementwiseVectorSpace<TVec> space, AdamSettings settings)
        where TVec : class
    {
        var u = space.CreateVector();
        space.Copy(snapshot.ExpAvgSq, u);
        space.Scale(u, settings.Beta2);
        if (settings.Amsgrad && snapshot.MaxExpAvgSq is not null)
        {
            space.Maximum(snapshot.MaxExpAvgSq, u, u);
        }

        return u;
    }

    /// <summary>RMSprop's P for a validated snapshot.</summary>
    internal static TVec FrozenRmsProp<TVec>(RmsPropSnapshot<TVec> snapshot, IElementwiseVectorSpace<TVec> space)
        where TVec : class
    {
        var h = snapshot.Hyperparameters;
        var u = space.CreateVector();
        space.Copy(snapshot.SquareAvg, u);
        space.Scale(u, h.Alpha);
        if (h.Centered && snapshot.GradAvg is not null)
        {
            var squared = space.CreateVector();
            space.Multiply(snapshot.GradAvg, snapshot.GradAvg, squared);
            space.Axpy(-(h.Alpha * h.Alpha), squared, u);
            space.Release(squared);
        }

        space.InverseSqrtPlusEpsilon(u, 1, h.Epsilon, u);
        SnapshotValidation.DerivedFinite(space, u, snapshot.SquareAvg, h.Centered ? "RmsPropSnapshot.SquareAvg − GradAvg²" : "RmsPropSnapshot.SquareAvg", "RMSprop's preconditioner 1/(√avg + ε)");
        return u;
    }
}

/// <summary>Validated Adam/AdamW coefficients for the step from <c>t</c> to <c>t + 1</c>.</summary>
/// <param name="LearningRate">η.</param>
/// <param name="StepSize">η·c₁ with c₁ = 1/(1 − β₁^(t+1)).</param>
/// <param name="Beta1">β₁.</param>
/// <param name="Beta2">β₂.</param>
/// <param name="Epsilon">ε.</param>
/// <param name="L2">The L2 weight decay added to the gradient (Adam), 0 for AdamW.</param>
/// <param name="Decay">The decoupled factor 1 − ηλ (AdamW), 1 for Adam.</param>
/// <param name="Sign">−1 with maximize, else 1.</param>
/// <param name="BiasCorrection2">1 − β₂^(t+1).</param>
/// <param name="Amsgrad">amsgrad.</param>
/// <param name="NextStep">t + 1.</param>
internal sealed record AdamSettings(
    double LearningRate,
    double StepSize,
    double Beta1,
    double Beta2,
    double Epsilon,
    double L2,
    double Decay,
    double Sign,
    double BiasCorrection2,
    bool Amsgrad,
    long NextStep)
{
    internal string Head(AdamHyperparameters h) =>
        $"{(h.Decoupled ? "AdamW" : "Adam")} (lr {h.LearningRate}, betas ({h.Beta1}, {h.Beta2}), eps {h.Epsilon}, weight_decay {h.WeightDecay}{(h.Amsgrad ? ", amsgrad" : string.Empty)}{(h.Maximize ? ", maximize" : string.Empty)}, step {NextStep - 1} → {NextStep})";

    internal static AdamSettings Resolve<TVec>(AdamSnapshot<TVec> snapshot, IVectorSpace<TVec> space)
        where TVec : class
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var h = snapshot.Hyperparameters ?? throw new ArgumentException("AdamSnapshot.Hyperparameters is null.", SnapshotValidation.SnapshotParameter);
        SnapshotValidation.LearningRate("AdamSnapshot.Hyperparameters.LearningRate", h.LearningRate);
        SnapshotValidation.UnitInterval("AdamSnapshot.Hyperparameters.Beta1", h.Beta1);
        SnapshotValidation.UnitInterval("AdamSnapshot.Hyperparameters.Beta2", h.Beta2);
        SnapshotValidation.Epsilon("AdamSnapshot.Hyperparameters.Epsilon", h.Epsilon);
        SnapshotValidation.NonNegative("AdamSnapshot.Hyperparameters.WeightDecay", h.WeightDecay);
        SnapshotValidation.Step("AdamSnapshot.Step", snapshot.Step);
        SnapshotValidation.Vector(space, snapshot.ExpAvg, "AdamSnapshot.ExpAvg", required: true);
        SnapshotValidation.Vector(space, snapshot.ExpAvgSq, "AdamSnapshot.ExpAvgSq", required: true);

        // PyTorch creates max_exp_avg_sq (zeros) in the first step: before it, null means zeros, and max(0, v') = v'.
        SnapshotValidation.Vector(space, snapshot.MaxExpAvgSq, "AdamSnapshot.MaxExpAvgSq", required: h.Amsgrad && snapshot.Step > 0);
        long next = snapshot.Step + 1;
        double c1 = 1 / (1 - Math.Pow(h.Beta1, next));
        double bc2 = 1 - Math.Pow(h.Beta2, next);
        double l2 = h.Decoupled ? 0 : h.WeightDecay;
        double decay = h.Decoupled ? 1 - (h.LearningRate * h.WeightDecay) : 1;
        return new AdamSettings(h.LearningRate, h.LearningRate * c1, h.Beta1, h.Beta2, h.Epsilon, l2, decay, h.Maximize ? -1 : 1, bc2, h.Amsgrad, next);
    }
}

/// <summary>Validated RMSprop coefficients.</summary>
internal static class RmsPropSettings
{
    internal static string Head(RmsPropHyperparameters h) =>
        $"RMSprop (lr {h.LearningRate}, alpha {h.Alpha}, eps {h.Epsilon}, weight_decay {h.WeightDecay}, momentum {h.Momentum}{(h.Centered ? ", centered" : string.Empty)}{(h.Maximize ? ", maximize" : string.Empty)})";

    internal static void Resolve<TVec>(RmsPropSnapshot<TVec> snapshot, IVectorSpace<TVec> space)
        where TVec : class
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var h = snapshot.Hyperparameters ?? throw new ArgumentException("RmsPropSnapshot.Hyperparameters is null.", SnapshotValidation.SnapshotParameter);
        SnapshotValidation.LearningRate("RmsPropSnapshot.Hyperparameters.LearningRate", h.LearningRate);
        SnapshotValidation.UnitInterval("RmsPropSnapshot.Hyperparameters.Alpha", h.Alpha);
        SnapshotValidation.Epsilon("RmsPropSnapshot.Hyperparameters.Epsilon", h.Epsilon);
        SnapshotValidation.NonNegative("RmsPropSnapshot.Hyperparameters.WeightDecay", h.WeightDecay);
        SnapshotValidation.UnitInterval("RmsPropSnapshot.Hyperparameters.Momentum", h.Momentum);
        SnapshotValidation.Step("RmsPropSnapshot.Step", snapshot.Step);
        SnapshotValidation.Vector(space, snapshot.SquareAvg, "RmsPropSnapshot.SquareAvg", required: true);

        // The buffer's value does not enter J (only μ does); PyTorch creates it as zeros in the first step.
        SnapshotValidation.Vector(space, snapshot.MomentumBuffer, "RmsPropSnapshot.MomentumBuffer", required: false);

        // grad_avg is created (zeros) in the first step: before it, null means zeros.
        SnapshotValidation.Vector(space, snapshot.GradAvg, "RmsPropSnapshot.GradAvg", required: h.Centered && snapshot.Step > 0);
    }
}
