namespace SpectralMonitor.Rules;

/// <summary>
/// The default rule set: the sharpness against its stability edge, the oscillatory branch of ρ(J), and the collapse of
/// the attention entropy where forward hooks on the attention scores are attached. What they are worth is measured by
/// the detection benchmark on TorchSharp workloads (benchmarks/RESULTS.md, "Detection"; the README quotes it): the
/// edge rules, read by the sparse probes of the default options, warn almost nothing; read every few steps they warn a
/// share of Adam/AdamW spikes at low precision, and none of the SGD-momentum collapses of those workloads, which come
/// with the sharpness below its edge: treat them as a diagnostic of where training sits against its edge. The attention
/// rule warned the GPT blow-ups of a warm-up to too high a rate; it says nothing about models without attention.
/// <para>The two edge rules apply to SGD (with or without momentum) only (<see cref="SgdOnly"/>). Adam, AdamW and RMSprop
/// train at or past their preconditioned edge while healthy: on the benchmark's dense probes the edge rules alarmed
/// half the stable Adam/AdamW runs, and the learning-rate backoff acting on them cut the rate of healthy AdamW runs for
/// almost the whole run at a cost of 7–26% of their final loss (benchmarks/Detection/BACKOFF.md). For those optimizers
/// the indicators are still measured and published; a rule of your own without <see cref="AlertRule.Optimizers"/> (for
/// example <c>DefaultRules.SharpnessNearEdge with { Optimizers = null }</c>) alerts on them.</para>
/// </summary>
public static class DefaultRules
{
    /// <summary>The optimizers the edge rules apply to: <c>sgd</c> (the optimizer name of SGD with or without momentum).</summary>
    public static IReadOnlyList<string> SgdOnly { get; } = Array.AsReadOnly(["sgd"]);

    /// <summary>The adaptive optimizers of the TorchSharp adapter: <c>adam</c>, <c>adamw</c>, <c>rmsprop</c>.</summary>
    public static IReadOnlyList<string> AdaptiveOnly { get; } = Array.AsReadOnly(["adam", "adamw", "rmsprop"]);

    /// <summary>Sharpness (preconditioned for adaptive optimizers) approaching its stability edge.</summary>
    public static AlertRule SharpnessNearEdge { get; } = new(
        "sharpness_near_edge",
        Indicators.SharpnessToEdge,
        RuleComparison.Absolute,
        Warning: 0.9,
        Critical: 1.0,
        Description: "The top curvature mode is within 10% of the stability edge (Warning) or past it (Critical).",
        Optimizers: SgdOnly);

    /// <summary>
    /// The oscillatory branch of J reaching the unit circle. Its hysteresis is 1%, not the default 5%: below the edge
    /// the oscillating pair of a momentum method (heavy ball, Adam's first moment) has modulus exactly √μ (√β₁) over a
    /// wide range of curvature, 0.9487 for μ = 0.9, and a 5% band (clearing below 0.9405) would hold a Warning there
    /// for the rest of the run. With 1% it clears below 0.9801, that is for every momentum up to 0.96.
    /// </summary>
    public static AlertRule OscillatoryRadius { get; } = new(
        "oscillatory_radius",
        Indicators.OscillatoryRadius,
        RuleComparison.Absolute,
        Warning: 0.99,
        Critical: 1.0,
        Hysteresis: 0.01,
        Description: "An oscillating mode of the update operator no longer decays (ρ_osc ≥ 1: the edge of stability).",
        Optimizers: SgdOnly);

    /// <summary>
    /// Opt-in (not in <see cref="All"/>): transient growth max‖Jᵏ‖ rising to 3× its baseline (median of the first
    /// probes). On the detection benchmark's dense probes a rise of the transient growth over its baseline warned a
    /// large share of spikes but also alarmed on most stable runs (benchmarks/RESULTS.md, "Detection").
    /// </summary>
    public static AlertRule TransientGrowthRise { get; } = new(
        "transient_growth_rise",
        Indicators.TransientGrowth,
        RuleComparison.RatioToBaseline,
        Warning: 3,
        Critical: 10,
        Description: "Transient amplification of perturbations grew to 3× (Warning) or 10× (Critical) its early-training level.");

    /// <summary>
    /// Opt-in (not in <see cref="All"/>), for Adam, AdamW and RMSprop, and only where probes come often: the top
    /// curvature mode's eigenvector condition κ(V) rising to 3× (Warning) or 10× (Critical) its baseline (median of the
    /// first <see cref="StabilityMonitorOptions.BaselineProbes"/> probes), without hysteresis or cooldown. It is the
    /// most precise probe indicator the detection benchmark found for the Adam family: with a probe every 10 steps, on
    /// held-out seeds, it warned 18 of 46 spikes (median lead 68 steps) with precision 0.61 and alarmed 1 of 8 stable
    /// runs, the threshold chosen on a tune seed (benchmarks/RESULTS.md, "Detection": the offline detector
    /// <c>top_eigenvector_condition / baseline ≥ 3</c>, which this rule reproduces). At the default overhead budget a
    /// run of a thousand steps gets no probe, so the rule sees nothing there.
    /// </summary>
    public static AlertRule TopModeConditionRise { get; } = new(
        "top_mode_condition_rise",
        Indicators.TopEigenvectorCondition,
        RuleComparison.RatioToBaseline,
        Warning: 3,
        Critical: 10,
        Hysteresis: 0,
        CooldownSteps: 0,
        Description: "The top curvature mode's eigenvector condition κ(V) rose to 3× (Warning) or 10× (Critical) its early-training level: the update map's top mode is turning non-normal.",
        Optimizers: AdaptiveOnly);

    /// <summary>
    /// Attention collapsing onto single keys: the smallest head entropy of the training forward at or below 0.01 nats
    /// (Warning) or 0.001 (Critical). It reads <see cref="Indicators.AttentionEntropyMin"/>, which exists only where forward
    /// hooks on the attention scores are attached (TorchSharp: <c>TorchSharpProbeOptions.ForwardLogits</c>); without them
    /// the rule never fires. Wortsman et al. (2023) found attention-logit growth and entropy collapse to precede
    /// transformer instabilities; on the detection benchmark's small GPT the entropy fell below 0.01 about 50 steps before
    /// each held-out blow-up of a warm-up to too high a learning rate, and on no stable run (benchmarks/Detection/LOGITS.md,
    /// threshold chosen on the tune seed).
    /// </summary>
    public static AlertRule AttentionEntropyCollapse { get; } = new(
        "attention_entropy_collapse",
        Indicators.AttentionEntropyMin,
        RuleComparison.Absolute,
        Warning: 0.01,
        Critical: 0.001,
        Above: false,
        Description: "An attention head puts almost all its weight on one key (entropy ≤ 0.01 nats: Warning; ≤ 0.001: Critical): attention logits are running away.");

    /// <summary>
    /// Opt-in (not in <see cref="All"/>), and only where the step sensor can evaluate the training batch's loss again
    /// after the update (TorchSharp: <c>TorchSharpProbeOptions.BatchLoss</c>): the curvature of each step's own batch
    /// along the update it just took, averaged over the sensor's reads
    /// (<see cref="Indicators.BatchCurvatureToEdgeAverage"/>), at or above 0.1 of the optimizer's edge (Warning) or 0.2
    /// (Critical); it clears below half its threshold and raises nothing in the first 20 steps the monitor watches
    /// (<see cref="AlertRule.WarmupSteps"/>: the first reads sit high on healthy runs too). On the detection benchmark's
    /// held-out seeds this rule, read every 5 steps (budget off), warned 33 of 46 Adam/AdamW spikes at a median lead of
    /// 55 steps with precision 0.54, and alarmed 2 of 8 stable runs, at +6.5% CPU; at the default 5% budget, reads come
    /// every few dozen steps: 9 of 46, precision 0.42, 1 of 8 stable runs alarmed. The threshold and the warm-up were
    /// chosen offline on a tune seed and the Critical level is not tuned (benchmarks/Detection/WARNINGS.md). On
    /// SGD-momentum it warned 0–8 of 19. Each read costs a forward pass on the training batch.
    /// </summary>
    public static AlertRule BatchCurvatureRise { get; } = new(
        "batch_curvature_rise",
        Indicators.BatchCurvatureToEdgeAverage,
        RuleComparison.Absolute,
        Warning: 0.1,
        Critical: 0.2,
        Hysteresis: 0.5,
        Description: "The curvature of the training batches along their own updates rose to 0.1 (Warning) or 0.2 (Critical) of the optimizer's stability edge, averaged over the sensor's reads.",
        WarmupSteps: 20);

    /// <summary>Every default rule.</summary>
    public static IReadOnlyList<AlertRule> All { get; } = [SharpnessNearEdge, OscillatoryRadius, AttentionEntropyCollapse];
}
