namespace SpectralMonitor;

/// <summary>
/// The instruments probe readings are exported as, defined once: the probe stages attach them to their readings, and
/// the monitor creates one observable gauge per definition. Names, units and tags are a contract (dashboards and alert
/// rules depend on them): change them only on purpose.
/// </summary>
public static class ProbeMetrics
{
    /// <summary><c>stability.spectral_radius</c>, tagged <c>branch</c> = all, oscillatory or monotone.</summary>
    public static MetricDefinition SpectralRadius { get; } = new("stability.spectral_radius", null, "Spectral radius of the update operator J, whole and split into oscillatory (Re z < 0) and monotone branches.");

    /// <summary><c>stability.eigenvector_condition</c>, tagged <c>scope</c> = all, top or oscillatory.</summary>
    public static MetricDefinition EigenvectorCondition { get; } = new("stability.eigenvector_condition", null, "Eigenvector condition number κ(V) of J over all analysed modes, over the top curvature modes, and over the oscillatory Ritz vectors.");

    /// <summary><c>stability.transient_growth</c>.</summary>
    public static MetricDefinition TransientGrowth { get; } = new("stability.transient_growth", null, "Transient growth max over k ≤ horizon of ‖Jᵏ‖₂.");

    /// <summary><c>stability.kreiss_constant</c>.</summary>
    public static MetricDefinition KreissConstant { get; } = new("stability.kreiss_constant", null, "Kreiss constant of the projected update operator.");

    /// <summary><c>stability.sharpness</c>: λ_max(H̃) for optimizers without an adaptive preconditioner.</summary>
    public static MetricDefinition Sharpness { get; } = new("stability.sharpness", null, "Top Hessian eigenvalue λ_max(H̃) (SGD family).");

    /// <summary><c>stability.preconditioned_sharpness</c>: λ_max(P^½H̃P^½) for Adam and RMSprop.</summary>
    public static MetricDefinition PreconditionedSharpness { get; } = new("stability.preconditioned_sharpness", null, "Top eigenvalue of P^½H̃P^½ (Adam, RMSprop).");

    /// <summary><c>stability.sharpness_threshold</c>: the sharpness at the stability edge.</summary>
    public static MetricDefinition SharpnessThreshold { get; } = new("stability.sharpness_threshold", null, "Stability edge of the sharpness: where the top mode's eigenvalue reaches −1.");

    /// <summary><c>stability.sharpness_to_edge</c>.</summary>
    public static MetricDefinition SharpnessToEdge { get; } = new("stability.sharpness_to_edge", "1", "Sharpness divided by its stability edge.");

    /// <summary><c>stability.commutator_norm</c>.</summary>
    public static MetricDefinition CommutatorNorm { get; } = new("stability.commutator_norm", "1", "Normalized commutator ‖[H̃, P]‖_F / (‖H̃‖_F ‖P‖₂).");

    /// <summary><c>stability.exceptional_point_distance</c>.</summary>
    public static MetricDefinition ExceptionalPointDistance { get; } = new("stability.exceptional_point_distance", "1", "Relative distance of the top curvature mode below the upper exceptional point.");

    /// <summary><c>stability.edge_distance</c>.</summary>
    public static MetricDefinition EdgeDistance { get; } = new("stability.edge_distance", "1", "Relative distance of the top curvature mode below the stability edge.");

    /// <summary><c>stability.weight_top_singular_value</c>, tagged <c>weight</c>.</summary>
    public static MetricDefinition WeightTopSingularValue { get; } = new("stability.weight_top_singular_value", null, "Top singular value of each weight matrix.");

    /// <summary><c>stability.weight_stable_rank</c>, tagged <c>weight</c>.</summary>
    public static MetricDefinition WeightStableRank { get; } = new("stability.weight_stable_rank", null, "Stable rank ‖W‖²_F/‖W‖²₂ of each weight matrix.");

    /// <summary><c>stability.epsilon_mass</c>, tagged <c>vector</c> = curvature or update and <c>factor</c> = c.</summary>
    public static MetricDefinition EpsilonMass { get; } = new("stability.epsilon_mass", "1", "Share of the top preconditioned eigenvector's squared norm on coordinates with √v̂ < c·ε (Adam family).");

    /// <summary><c>stability.epsilon_coordinate_share</c>, tagged <c>factor</c> = c.</summary>
    public static MetricDefinition EpsilonCoordinateShare { get; } = new("stability.epsilon_coordinate_share", "1", "Share of coordinates with √v̂ < c·ε at the probe (Adam family).");

    /// <summary><c>stability.capped_sharpness_to_edge</c>, tagged <c>factor</c> = c.</summary>
    public static MetricDefinition CappedSharpnessToEdge { get; } = new("stability.capped_sharpness_to_edge", "1", "Preconditioned sharpness with √v̂ floored at c·ε, over the stability edge (Adam family).");

    /// <summary>Every probe instrument, in the order the monitor creates them.</summary>
    public static IReadOnlyList<MetricDefinition> All { get; } =
    [
        SpectralRadius, EigenvectorCondition, TransientGrowth, KreissConstant, Sharpness, PreconditionedSharpness,
        SharpnessThreshold, SharpnessToEdge, CommutatorNorm, ExceptionalPointDistance, EdgeDistance,
        WeightTopSingularValue, WeightStableRank, EpsilonMass, EpsilonCoordinateShare, CappedSharpnessToEdge,
    ];
}
