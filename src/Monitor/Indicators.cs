namespace SpectralMonitor;

/// <summary>
/// Names of the indicators a probe or a step measures. They key <see cref="ProbeResult.Indicators"/>, name the
/// indicator of an <see cref="Rules.AlertRule"/>, and map one-to-one onto the metric instruments.
/// </summary>
public static class Indicators
{
    /// <summary>λ_max of the curvature operator (H̃ for SGD; P^½H̃P^½ for Adam/RMSprop: the preconditioned sharpness).</summary>
    public const string Sharpness = "sharpness";

    /// <summary>The curvature at which the top mode's eigenvalue reaches −1 (2/η, 2(1+μ)/η, 2(1+β₁)/((1−β₁)ηc₁), …).</summary>
    public const string SharpnessEdge = "sharpness_edge";

    /// <summary><see cref="Sharpness"/> / <see cref="SharpnessEdge"/>: 1 at the edge of stability.</summary>
    public const string SharpnessToEdge = "sharpness_to_edge";

    /// <summary>ρ(J) over the analysed modes.</summary>
    public const string SpectralRadius = "spectral_radius";

    /// <summary>ρ_osc: largest |z| with Re z &lt; 0 (reaches 1 at the edge of stability).</summary>
    public const string OscillatoryRadius = "oscillatory_radius";

    /// <summary>ρ_mono: largest |z| with Re z ≥ 0 (above 1 for benign saddle-escape modes).</summary>
    public const string MonotoneRadius = "monotone_radius";

    /// <summary>κ(V) over all analysed modes (the whole-operator quantity).</summary>
    public const string EigenvectorCondition = "eigenvector_condition";

    /// <summary>κ(V) over the top curvature modes.</summary>
    public const string TopEigenvectorCondition = "top_eigenvector_condition";

    /// <summary>κ(V) over the converged oscillatory (Re z &lt; 0) Ritz vectors of J (generic Arnoldi path).</summary>
    public const string OscillatoryEigenvectorCondition = "oscillatory_eigenvector_condition";

    /// <summary>max over k ≤ horizon of ‖Jᵏ‖₂ (mode-resolved or projected).</summary>
    public const string TransientGrowth = "transient_growth";

    /// <summary>Kreiss constant of the projected operator (generic path).</summary>
    public const string KreissConstant = "kreiss_constant";

    /// <summary>(λ_EP+ − λ_max)/λ_EP+: 0 when the top mode reaches the upper exceptional point.</summary>
    public const string ExceptionalPointDistance = "exceptional_point_distance";

    /// <summary>(λ_edge − λ_max)/λ_edge: 0 at the stability edge.</summary>
    public const string EdgeDistance = "edge_distance";

    /// <summary>Normalized commutator ‖[H̃, P]‖_F/(‖H̃‖_F‖P‖₂) (adaptive optimizers).</summary>
    public const string CommutatorNorm = "commutator_norm";

    /// <summary>The largest top singular value over the weight matrices.</summary>
    public const string WeightTopSingularValue = "weight_top_singular_value";

    /// <summary>The smallest stable rank ‖W‖²_F/‖W‖²₂ over the weight matrices.</summary>
    public const string WeightStableRank = "weight_stable_rank";

    /// <summary>Training loss at the step.</summary>
    public const string Loss = "loss";

    /// <summary>Loss z-score against its exponential moving average.</summary>
    public const string LossZScore = "loss_zscore";

    /// <summary>Gradient norm at the step (when the loop reports it).</summary>
    public const string GradientNorm = "gradient_norm";

    /// <summary>Gradient-norm z-score against its exponential moving average.</summary>
    public const string GradientNormZScore = "gradient_norm_zscore";

    /// <summary>‖Δθ‖/η from the optimizer state (Adam: ‖m̂/(√v̂+ε)‖; SGD-momentum: ‖b‖), read by the step sensor.</summary>
    public const string UpdateNormOverLearningRate = "update_norm_over_lr";

    /// <summary>η‖Δθ‖/‖θ‖ over all monitored parameters (update-RMS over weight-RMS), read by the step sensor.</summary>
    public const string UpdateToWeight = "update_to_weight";

    /// <summary>The largest η‖Δθ_l‖/‖θ_l‖ over parameter tensors, read by the step sensor.</summary>
    public const string MaxLayerUpdateToWeight = "max_layer_update_to_weight";

    /// <summary>Share of coordinates whose √v̂ is within a factor of ε (adaptive optimizers), read by the step sensor.</summary>
    public const string EpsilonDominatedShare = "epsilon_dominated_share";

    /// <summary>The largest ε-dominated share over parameter tensors (adaptive optimizers), read by the step sensor.</summary>
    public const string MaxLayerEpsilonDominatedShare = "max_layer_epsilon_dominated_share";

    /// <summary>Share of coordinates with |m̂|/(√v̂+ε) ≥ 1 (adaptive optimizers), read by the step sensor.</summary>
    public const string SaturatedUpdateShare = "saturated_update_share";

    /// <summary>max |m̂|/(√v̂+ε) over coordinates (adaptive optimizers), read by the step sensor.</summary>
    public const string MaxNormalizedUpdate = "max_normalized_update";

    /// <summary>
    /// The largest pre-softmax attention score of a training forward pass over the hooked attention layers, read by the
    /// step sensor when forward hooks are attached (TorchSharp: <c>TorchSharpProbeOptions.ForwardLogits</c>).
    /// </summary>
    public const string AttentionLogitMax = "attention_logit_max";

    /// <summary>
    /// The smallest attention entropy (nats) over heads and hooked layers of a training forward pass (the last query
    /// row's, batch mean); it falls to 0 as attention collapses onto single keys. Read like <see cref="AttentionLogitMax"/>.
    /// </summary>
    public const string AttentionEntropyMin = "attention_entropy_min";

    /// <summary>Mean log-partition log Σ exp z of the training forward's output logits z, read like <see cref="AttentionLogitMax"/>.</summary>
    public const string OutputLogPartition = "output_log_partition";

    /// <summary>max |z| of the training forward's output logits, read like <see cref="AttentionLogitMax"/>.</summary>
    public const string OutputLogitMaxAbs = "output_logit_max_abs";

    /// <summary>
    /// The curvature of the step's own training batch along the update just taken, over the optimizer's stability
    /// edge: c = 2 (L_B(θ + Δ) − L_B(θ) − gᵀΔ) / ‖Δ‖²_M with M = I for SGD and M = diag(√v̂ + ε) for Adam and AdamW,
    /// over the edge <see cref="SharpnessToEdge"/> is read against (2(1 + μ)/η for heavy-ball SGD,
    /// 2(1 + β₁)/((1 − β₁)ηc₁) for Adam with its bias correction c₁ = 1/(1 − β₁ᵗ⁺¹)). Read by a step sensor that can
    /// evaluate the training batch's loss again after the update (TorchSharp: <c>TorchSharpProbeOptions.BatchLoss</c>;
    /// one forward pass per read).
    /// </summary>
    public const string BatchCurvatureToEdge = "batch_curvature_to_edge";

    /// <summary>
    /// <see cref="BatchCurvatureToEdge"/> averaged over its reads: an exponential moving average with weight
    /// <c>0.5</c> on the past, which the opt-in rule <see cref="Rules.DefaultRules.BatchCurvatureRise"/> reads.
    /// </summary>
    public const string BatchCurvatureToEdgeAverage = "batch_curvature_to_edge_average";

    /// <summary>
    /// Share of the top curvature eigenvector's squared norm (the unit eigenvector y of P^½H̃P^½) on ε-dominated
    /// coordinates, √v̂ &lt; c·ε (Adam family; <see cref="ProbeEstimators.EpsilonModes"/>). One indicator per factor c,
    /// named by <see cref="AtEpsilonFactor"/>.
    /// </summary>
    public const string TopModeEpsilonMass = "top_mode_epsilon_mass";

    /// <summary>
    /// The same share for the top eigenvector x = P^½y of the frozen-preconditioner update operator's curvature P·H̃
    /// (the direction the update moves along); per factor c (<see cref="AtEpsilonFactor"/>).
    /// </summary>
    public const string UpdateModeEpsilonMass = "update_mode_epsilon_mass";

    /// <summary>Share of coordinates with √v̂ &lt; c·ε at the probe (Adam family); per factor c (<see cref="AtEpsilonFactor"/>).</summary>
    public const string EpsilonCoordinateShare = "epsilon_coordinate_share";

    /// <summary>
    /// λ_max of P^½H̃P^½ with √v̂ floored at c·ε (P = 1/(max(√v̂, cε) + ε)), over the same stability edge as
    /// <see cref="SharpnessToEdge"/>: the preconditioned sharpness without the ε-dominated coordinates' large P; per
    /// factor c (<see cref="AtEpsilonFactor"/>).
    /// </summary>
    public const string CappedSharpnessToEdge = "capped_sharpness_to_edge";

    /// <summary>The name of an ε-floor indicator at factor <paramref name="factor"/>: <c>top_mode_epsilon_mass_10eps</c>.</summary>
    /// <param name="indicator"><see cref="TopModeEpsilonMass"/>, <see cref="UpdateModeEpsilonMass"/>, <see cref="EpsilonCoordinateShare"/> or <see cref="CappedSharpnessToEdge"/>.</param>
    /// <param name="factor">c (the monitor measures 1, 10 and 100; the capped sharpness at 10 and 100).</param>
    public static string AtEpsilonFactor(string indicator, int factor) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{indicator}_{factor}eps");

    /// <summary>Indicators a step sensor (<see cref="Probing.IStepSensor"/>) may report.</summary>
    public static IReadOnlyList<string> StepSensor { get; } =
    [
        UpdateNormOverLearningRate, UpdateToWeight, MaxLayerUpdateToWeight, EpsilonDominatedShare,
        MaxLayerEpsilonDominatedShare, SaturatedUpdateShare, MaxNormalizedUpdate, AttentionLogitMax, AttentionEntropyMin,
        OutputLogPartition, OutputLogitMaxAbs, BatchCurvatureToEdge, BatchCurvatureToEdgeAverage,
    ];

    /// <summary>Indicators known at every step, without a probe.</summary>
    public static IReadOnlyList<string> StepLevel { get; } = [Loss, LossZScore, GradientNorm, GradientNormZScore];
}
