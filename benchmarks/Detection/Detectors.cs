using SpectralMonitor.Reference.Monitoring;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>How a detector turns an indicator's series into the value it thresholds.</summary>
internal enum DetectorTransform
{
    /// <summary>The value itself.</summary>
    Value,

    /// <summary>The value over the median of the first five probes (as the monitor's ratio-to-baseline rules).</summary>
    RatioToBaseline,

    /// <summary>The value over its value three probes (15 steps) earlier.</summary>
    Trend,

    /// <summary>EMA z-score of a per-step series (α = 0.97, warm-up 20 steps, as the monitor).</summary>
    ZScore,
}

/// <summary>A threshold detector evaluated offline on a recorded run.</summary>
/// <param name="Name">Name in tables and results.json.</param>
/// <param name="Indicator">The indicator (a probe indicator, or "loss"/"gradient_norm" for z-scores).</param>
/// <param name="Transform">How the thresholded value is formed.</param>
/// <param name="Threshold">The threshold.</param>
/// <param name="Above">Fire at or above (true) or at or below (false).</param>
/// <param name="Family">Group for the figure and the discussion.</param>
internal sealed record Detector(string Name, string Indicator, DetectorTransform Transform, double Threshold, bool Above, string Family)
{
    /// <summary>Baseline probes of ratio-to-baseline detectors (the monitor's default BaselineProbes).</summary>
    public const int BaselineProbes = 5;

    /// <summary>Probes back of trend detectors.</summary>
    public const int TrendWindow = 3;

    /// <summary>EMA weight on the past of the z-scores (the monitor's default StatisticsEwmaAlpha).</summary>
    public const double ZScoreAlpha = 0.97;

    /// <summary>Steps before z-scores are defined (the monitor's default StatisticsWarmupSteps).</summary>
    public const int ZScoreWarmup = 20;

    /// <summary>The detectors of the benchmark (2–3 thresholds for the ratio-type ones).</summary>
    public static IReadOnlyList<Detector> All { get; } =
    [
        new("sharpness_to_edge >= 0.8", Indicators.SharpnessToEdge, DetectorTransform.Value, 0.8, true, "edge"),
        new("sharpness_to_edge >= 0.9", Indicators.SharpnessToEdge, DetectorTransform.Value, 0.9, true, "edge"),
        new("sharpness_to_edge >= 1", Indicators.SharpnessToEdge, DetectorTransform.Value, 1.0, true, "edge"),
        new("oscillatory_radius >= 0.99", Indicators.OscillatoryRadius, DetectorTransform.Value, 0.99, true, "edge"),
        new("oscillatory_radius >= 1", Indicators.OscillatoryRadius, DetectorTransform.Value, 1.0, true, "edge"),
        new("exceptional_point_distance <= 0", Indicators.ExceptionalPointDistance, DetectorTransform.Value, 0, false, "edge"),
        new("top_eigenvector_condition >= 3x baseline", Indicators.TopEigenvectorCondition, DetectorTransform.RatioToBaseline, 3, true, "non-normal (top modes)"),
        new("top_eigenvector_condition >= 10x baseline", Indicators.TopEigenvectorCondition, DetectorTransform.RatioToBaseline, 10, true, "non-normal (top modes)"),
        new("top_eigenvector_condition >= 100x baseline", Indicators.TopEigenvectorCondition, DetectorTransform.RatioToBaseline, 100, true, "non-normal (top modes)"),
        new("eigenvector_condition >= 10x baseline", Indicators.EigenvectorCondition, DetectorTransform.RatioToBaseline, 10, true, "whole operator"),
        new("eigenvector_condition >= 100x baseline", Indicators.EigenvectorCondition, DetectorTransform.RatioToBaseline, 100, true, "whole operator"),
        new("transient_growth >= 3x baseline", Indicators.TransientGrowth, DetectorTransform.RatioToBaseline, 3, true, "non-normal (top modes)"),
        new("transient_growth >= 10x baseline", Indicators.TransientGrowth, DetectorTransform.RatioToBaseline, 10, true, "non-normal (top modes)"),
        new("spectral_radius >= 1", Indicators.SpectralRadius, DetectorTransform.Value, 1.0, true, "whole operator"),
        new("weight_top_singular_value trend >= 1.05 (15 steps)", Indicators.WeightTopSingularValue, DetectorTransform.Trend, 1.05, true, "weights"),
        new("weight_top_singular_value >= 2x baseline", Indicators.WeightTopSingularValue, DetectorTransform.RatioToBaseline, 2, true, "weights"),
        new("gradient_norm_zscore >= 3", Indicators.GradientNorm, DetectorTransform.ZScore, 3, true, "baseline"),
        new("loss_zscore >= 3", Indicators.Loss, DetectorTransform.ZScore, 3, true, "baseline"),
    ];

    /// <summary>The detector's on/off readings on <paramref name="run"/>.</summary>
    public IReadOnlyList<DetectorReading> Evaluate(RunRecord run)
    {
        ArgumentNullException.ThrowIfNull(run);
        if (Transform == DetectorTransform.ZScore)
        {
            var source = Indicator == Indicators.Loss ? run.Losses : run.GradientNorms;
            var z = DetectionScoring.EmaZScores(source, ZScoreAlpha, ZScoreWarmup);
            return DetectionScoring.Threshold([.. z.Select((v, t) => ((long)t, v))], Threshold, Above);
        }

        var series = run.Probes
            .Where(p => p.Status == ProbeStatus.Succeeded)
            .Select(p => (p.Step, p.Indicators.TryGetValue(Indicator, out double v) ? v : double.NaN))
            .ToArray();
        var compared = Transform switch
        {
            DetectorTransform.RatioToBaseline => DetectionScoring.RatioToBaseline(series, BaselineProbes),
            DetectorTransform.Trend => DetectionScoring.Trend(series, TrendWindow),
            _ => series,
        };
        return DetectionScoring.Threshold(compared, Threshold, Above);
    }
}
