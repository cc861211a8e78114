using SpectralMonitor.Rules;

namespace SpectralMonitor.Probing;

/// <summary>What one step reported, with its z-scores and, for a non-finite signal, the Critical alert it raises.</summary>
/// <param name="Loss">The loss.</param>
/// <param name="LossZScore">The loss z-score against its EMA (NaN while warming up).</param>
/// <param name="GradientNormZScore">The gradient-norm z-score (NaN without a gradient norm or while warming up).</param>
/// <param name="Indicators">The step-level indicators (<see cref="SpectralMonitor.Indicators.StepLevel"/>) present.</param>
/// <param name="NonFinite">The Critical <c>non_finite</c> alert, or null when both signals are finite.</param>
/// <param name="NewEpisode">Whether <paramref name="NonFinite"/> starts an episode (the previous step reported was finite): logged once per episode.</param>
internal sealed record StepObservation(
    double Loss,
    double LossZScore,
    double GradientNormZScore,
    Dictionary<string, double> Indicators,
    StabilityAlert? NonFinite,
    bool NewEpisode);

/// <summary>
/// The per-step signals: loss and gradient-norm z-scores against exponential moving averages, and episodes of
/// consecutive non-finite steps. Used on the training thread only.
/// </summary>
internal sealed class StepStatistics(StabilityMonitorOptions options)
{
    private readonly EmaZScore _loss = new(options.StatisticsEwmaAlpha, options.StatisticsWarmupSteps);
    private readonly EmaZScore _gradient = new(options.StatisticsEwmaAlpha, options.StatisticsWarmupSteps);
    private bool _previousNonFinite;

    public StepObservation Observe(long step, double loss, double? gradientNorm)
    {
        double lossZ = _loss.Update(loss);
        double gradientZ = gradientNorm is double g ? _gradient.Update(g) : double.NaN;
        var indicators = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            [Indicators.Loss] = loss,
            [Indicators.LossZScore] = lossZ,
        };
        if (gradientNorm is double gn)
        {
            indicators[Indicators.GradientNorm] = gn;
            indicators[Indicators.GradientNormZScore] = gradientZ;
        }

        if (double.IsFinite(loss) && (gradientNorm is not double gf || double.IsFinite(gf)))
        {
            _previousNonFinite = false;
            return new StepObservation(loss, lossZ, gradientZ, indicators, null, false);
        }

        // Episodes are consecutive reports, whatever their step numbers (which may restart or skip).
        var previous = _previousNonFinite ? AlertLevel.Critical : AlertLevel.Ok;
        _previousNonFinite = true;
        double gradient = gradientNorm ?? double.NaN;
        var alert = new StabilityAlert(step, AlertLevel.Critical, previous, "non_finite", Indicators.Loss, loss, loss, double.NaN, indicators, $"Non-finite training signal at step {step}: loss {loss}, gradient norm {gradient}.");
        return new StepObservation(loss, lossZ, gradientZ, indicators, alert, previous == AlertLevel.Ok);
    }
}
