using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Estimators.Modes;

/// <summary>
/// The update operator J of a first-order optimizer restricted to one eigen-direction of a symmetric curvature
/// operator C (C = H̃ for the SGD family, C = P^½·H̃·P^½ for Adam and RMSprop with a frozen preconditioner):
/// <c>B(λ) = [[D₀ − α·λ, −β], [γ·λ, δ]]</c> for a two-component state (parameter, momentum), or the scalar
/// <c>D₀ − α·λ</c> when the state has one component (<see cref="Size"/> = 1).
/// </summary>
/// <remarks>
/// J is block diagonal in the eigenbasis of C (after the similarity diag(S, S⁻¹) with S = P^½ for the adaptive
/// family), so its spectrum, its eigenvector conditioning and its transient growth follow from the eigenvalues of
/// the symmetric operator C alone. For the adaptive family the eigenvector condition numbers are those of the
/// S-scaled coordinates; in the original coordinates they differ by at most a factor κ(diag(S, S⁻¹)).
/// </remarks>
/// <param name="Size">1 (parameter only) or 2 (parameter and momentum).</param>
/// <param name="D0">Top-left constant: 1, or 1 − η·λ_wd for decoupled weight decay.</param>
/// <param name="Alpha">Coefficient of λ in the top-left entry.</param>
/// <param name="Beta">Minus the top-right entry (momentum feeding the parameter).</param>
/// <param name="Gamma">Coefficient of λ in the bottom-left entry (gradient feeding the momentum).</param>
/// <param name="Delta">Bottom-right entry (momentum decay).</param>
/// <param name="Description">How the block was obtained, for reports.</param>
public sealed record UpdateBlock(int Size, double D0, double Alpha, double Beta, double Gamma, double Delta, string Description)
{
    /// <summary>Whether the block has a momentum component.</summary>
    public bool HasMomentum => Size == 2;

    /// <summary>
    /// The curvature λ at which an eigenvalue of B(λ) reaches −1 (the stability edge; sharpness beyond it diverges),
    /// or +∞ when no positive curvature reaches it.
    /// </summary>
    public double StabilityEdge
    {
        get
        {
            // Size 1: D₀ − αλ = −1. Size 2: the characteristic polynomial at −1, 1 + t + det = 0, is linear in λ.
            double denominator = Size == 1 ? Alpha : (Alpha * (1 + Delta)) - (Beta * Gamma);
            double numerator = Size == 1 ? 1 + D0 : (1 + D0) * (1 + Delta);
            return denominator > 0 ? numerator / denominator : double.PositiveInfinity;
        }
    }

    /// <summary>
    /// The two curvatures at which B(λ) is defective (discriminant zero: an exceptional point), lower first;
    /// NaN for one-component blocks, which are never defective.
    /// </summary>
    public (double Lower, double Upper) ExceptionalPoints
    {
        get
        {
            if (Size == 1 || Alpha == 0)
            {
                return (double.NaN, double.NaN);
            }

            // Δ(λ) = (s − αλ)² − 4(D₀δ + (βγ − αδ)λ) = α²λ² − (2sα + 4(βγ − αδ))λ + s² − 4D₀δ, with s = D₀ + δ.
            double s = D0 + Delta;
            double a = Alpha * Alpha;
            double b = -((2 * s * Alpha) + (4 * ((Beta * Gamma) - (Alpha * Delta))));
            double c = (s * s) - (4 * D0 * Delta);
            double disc = (b * b) - (4 * a * c);
            if (disc < 0)
            {
                return (double.NaN, double.NaN);
            }

            // Stable quadratic roots (no cancellation between −b and √disc).
            double q = -0.5 * (b + (Math.Sign(b == 0 ? 1 : b) * Math.Sqrt(disc)));
            double r1 = q / a;
            double r2 = q != 0 ? c / q : r1;
            return (Math.Min(r1, r2), Math.Max(r1, r2));
        }
    }

    /// <summary>Trace of B(λ).</summary>
    public double Trace(double curvature) => Size == 1 ? D0 - (Alpha * curvature) : D0 - (Alpha * curvature) + Delta;

    /// <summary>Determinant of B(λ) (for one-component blocks, the scalar itself).</summary>
    public double Determinant(double curvature) =>
        Size == 1 ? D0 - (Alpha * curvature) : ((D0 - (Alpha * curvature)) * Delta) + (Beta * Gamma * curvature);

    /// <summary>Discriminant trace² − 4·det of B(λ): zero exactly at an exceptional point; 0 for one-component blocks' single mode is not defined (returns +∞).</summary>
    public double Discriminant(double curvature)
    {
        if (Size == 1)
        {
            return double.PositiveInfinity;
        }

        double t = Trace(curvature);
        return (t * t) - (4 * Determinant(curvature));
    }

    /// <summary>The block B(λ) as a dense matrix (1×1 or 2×2).</summary>
    public double[,] Matrix(double curvature) => Size == 1
        ? new[,] { { D0 - (Alpha * curvature) } }
        : new[,] { { D0 - (Alpha * curvature), -Beta }, { Gamma * curvature, Delta } };

    /// <summary>
    /// The block of an optimizer's update map from its hyperparameters and state (bias corrections use the step the
    /// NEXT update will take, <c>Step + 1</c>, because that is the step whose Jacobian J is).
    /// </summary>
    /// <exception cref="ArgumentException">A hyperparameter is out of range; the message names it.</exception>
    public static UpdateBlock For<TVec>(OptimizerSnapshot<TVec> snapshot)
        where TVec : class
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        return snapshot switch
        {
            SgdSnapshot<TVec> sgd => ForSgd(sgd.Hyperparameters, firstStep: sgd.MomentumBuffer is null),
            AdamSnapshot<TVec> adam => ForAdam(adam.Hyperparameters, adam.Step + 1),
            RmsPropSnapshot<TVec> rms => ForRmsProp(rms.Hyperparameters),
            _ => throw new ArgumentException($"No update block is known for {snapshot.GetType().Name}.", nameof(snapshot)),
        };
    }

    /// <summary>The block of <c>torch.optim.SGD</c> over H̃ = H + λ_wd·I.</summary>
    /// <param name="hyperparameters">The parameter group's options.</param>
    /// <param name="firstStep">True before the first momentum step (the buffer is then set to the gradient, so J acts on θ alone).</param>
    public static UpdateBlock ForSgd(SgdHyperparameters hyperparameters, bool firstStep = false)
    {
        ArgumentNullException.ThrowIfNull(hyperparameters);
        double eta = hyperparameters.LearningRate;
        double mu = hyperparameters.Momentum;
        double tau = hyperparameters.Dampening;
        RequirePositive(eta, "SgdHyperparameters.LearningRate");
        RequireUnitInterval(mu, "SgdHyperparameters.Momentum");
        RequireUnitInterval(tau, "SgdHyperparameters.Dampening", closedAbove: true);
        if (mu == 0)
        {
            return new UpdateBlock(1, 1, eta, 0, 0, 0, "SGD: 1 − ηλ");
        }

        if (firstStep)
        {
            // buf = g (no dampening on the first step); Nesterov steps along g + μ·buf = (1 + μ)·g.
            double gain = hyperparameters.Nesterov ? eta * (1 + mu) : eta;
            return new UpdateBlock(1, 1, gain, 0, 0, 0, "SGD momentum, first step: the buffer starts at the gradient");
        }

        double damp = 1 - tau;
        return hyperparameters.Nesterov
            ? new UpdateBlock(2, 1, eta * (1 + (mu * damp)), eta * mu * mu, damp, mu, "SGD Nesterov: [[1 − η(1+μ(1−τ))λ, −ημ²], [(1−τ)λ, μ]]")
            : new UpdateBlock(2, 1, eta * damp, eta * mu, damp, mu, "SGD heavy ball: [[1 − η(1−τ)λ, −ημ], [(1−τ)λ, μ]]");
    }

    /// <summary>
    /// The block of <c>torch.optim.Adam</c>/<c>AdamW</c> with the preconditioner frozen, over the eigenvalues of
    /// S·H̃·S (Adam: H̃ = H + λ_wd·I; AdamW: H, with 1 − ηλ_wd on the diagonal).
    /// </summary>
    /// <param name="hyperparameters">The parameter group's options.</param>
    /// <param name="step">The step number t of the update being linearized (≥ 1).</param>
    public static UpdateBlock ForAdam(AdamHyperparameters hyperparameters, long step)
    {
        ArgumentNullException.ThrowIfNull(hyperparameters);
        double eta = hyperparameters.LearningRate;
        double b1 = hyperparameters.Beta1;
        RequirePositive(eta, "AdamHyperparameters.LearningRate");
        RequireUnitInterval(b1, "AdamHyperparameters.Beta1");
        RequireUnitInterval(hyperparameters.Beta2, "AdamHyperparameters.Beta2");
        if (step < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(step), step, "The step of the update being linearized must be at least 1.");
        }

        double c1 = 1 / (1 - Math.Pow(b1, step));
        double d0 = hyperparameters.Decoupled ? 1 - (eta * hyperparameters.WeightDecay) : 1;
        string name = hyperparameters.Decoupled ? "AdamW" : "Adam";
        return b1 == 0
            ? new UpdateBlock(1, d0, eta * c1, 0, 0, 0, $"{name}, β₁ = 0: D₀ − ηλ over eigenvalues λ of P^½H̃P^½")
            : new UpdateBlock(2, d0, eta * c1 * (1 - b1), eta * c1 * b1, 1 - b1, b1, $"{name}, frozen P: [[D₀ − ηc₁(1−β₁)λ, −ηc₁β₁], [(1−β₁)λ, β₁]] over eigenvalues λ of P^½H̃P^½");
    }

    /// <summary>The block of <c>torch.optim.RMSprop</c> with the preconditioner frozen, over the eigenvalues of S·H̃·S.</summary>
    /// <param name="hyperparameters">The parameter group's options.</param>
    public static UpdateBlock ForRmsProp(RmsPropHyperparameters hyperparameters)
    {
        ArgumentNullException.ThrowIfNull(hyperparameters);
        double eta = hyperparameters.LearningRate;
        double mu = hyperparameters.Momentum;
        RequirePositive(eta, "RmsPropHyperparameters.LearningRate");
        RequireUnitInterval(mu, "RmsPropHyperparameters.Momentum");
        RequireUnitInterval(hyperparameters.Alpha, "RmsPropHyperparameters.Alpha", closedAbove: true);
        return mu == 0
            ? new UpdateBlock(1, 1, eta, 0, 0, 0, "RMSprop, frozen P: 1 − ηλ over eigenvalues λ of P^½H̃P^½")
            : new UpdateBlock(2, 1, eta, eta * mu, 1, mu, "RMSprop momentum, frozen P: [[1 − ηλ, −ημ], [λ, μ]] over eigenvalues λ of P^½H̃P^½");
    }

    private static void RequirePositive(double value, string name)
    {
        if (!(value > 0) || !double.IsFinite(value))
        {
            throw new ArgumentException($"{name} must be positive and finite; it is {value}.", name);
        }
    }

    private static void RequireUnitInterval(double value, string name, bool closedAbove = false)
    {
        bool ok = value >= 0 && (closedAbove ? value <= 1 : value < 1);
        if (!ok)
        {
            throw new ArgumentException($"{name} must be in [0, 1{(closedAbove ? "]" : ")")}; it is {value}.", name);
        }
    }
}
