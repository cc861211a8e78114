using SpectralMonitor.Probing;

namespace SpectralMonitor.Backoff;

/// <summary>What <see cref="StabilityMonitor.BeforeUpdate"/> tells the loop to do with the step's update.</summary>
public enum UpdateDecision
{
    /// <summary>Call <c>optimizer.step()</c> as usual.</summary>
    Apply,

    /// <summary>Do not call <c>optimizer.step()</c> for this step: the spike guard judged it a spike onset.</summary>
    Skip,
}

/// <summary>The guard's verdict on one step.</summary>
/// <param name="Triggered">The step is a spike onset (see <see cref="SpikeGuardOptions"/>).</param>
/// <param name="Decision">Apply or skip the update.</param>
/// <param name="LossZScore">The loss z-score against the accepted steps (NaN while warming up, +∞ when not finite).</param>
/// <param name="GradientNormZScore">The gradient-norm z-score (NaN without a gradient norm or while warming up).</param>
/// <param name="Factor">The guard's learning-rate factor from this step on (1 = none).</param>
internal readonly record struct GuardVerdict(bool Triggered, UpdateDecision Decision, double LossZScore, double GradientNormZScore, double Factor);

/// <summary>
/// The reactive spike guard's state machine (<see cref="SpikeGuardOptions"/>): EMA z-scores of the loss and gradient
/// norm over accepted steps, the skip decision, and the guard's learning-rate factor (cut per trigger, held for the
/// cooldown, then recovered geometrically to its ceiling: 1, lowered by each repeat episode when
/// <see cref="SpikeGuardOptions.RepeatCeilingFactor"/> is below 1). Used on the training thread only.
/// </summary>
internal sealed class SpikeGuard(SpikeGuardOptions options)
{
    private readonly EmaZScore _loss = new(options.EwmaAlpha, options.WarmupSteps);
    private readonly EmaZScore _gradient = new(options.EwmaAlpha, options.WarmupSteps);
    private double _firstLoss = double.NaN;
    private long _calls;
    private long _lastTrigger;
    private int _consecutive;

    /// <summary>The level the factor recovers to (1 until a repeat episode lowers it).</summary>
    public double Ceiling { get; private set; } = 1;

    /// <summary>Episodes so far: runs of triggers less than the cooldown apart.</summary>
    public long Episodes { get; private set; }

    /// <summary>The guard's learning-rate factor (1 = none).</summary>
    public double Factor { get; private set; } = 1;

    /// <summary>Updates skipped so far.</summary>
    public long Skipped { get; private set; }

    /// <summary>Steps that triggered so far.</summary>
    public long Triggers { get; private set; }

    /// <summary>Judges one step from its loss and gradient norm (before its update).</summary>
    public GuardVerdict Observe(double loss, double? gradientNorm)
    {
        _calls++;
        bool finite = double.IsFinite(loss) && (gradientNorm is not double g || double.IsFinite(g));
        if (double.IsNaN(_firstLoss) && double.IsFinite(loss))
        {
            _firstLoss = Math.Abs(loss);
        }

        double lossZ = Score(_loss, loss);
        double gradientZ = gradientNorm is double gn ? Score(_gradient, gn) : double.NaN;
        bool lossSpike = lossZ >= options.LossZScore && loss - _loss.Mean >= options.MinimumLossRise * _firstLoss;
        bool gradientSpike = options.GradientNormZScore is double threshold && gradientZ >= threshold;
        bool triggered = !finite || lossSpike || gradientSpike;
        if (!triggered)
        {
            _consecutive = 0;
            Accept(loss, gradientNorm);
            if (Factor < Ceiling && _calls - _lastTrigger > options.CooldownSteps)
            {
                Factor = Math.Min(Ceiling, Factor * options.RecoveryRate);
            }

            return new GuardVerdict(false, UpdateDecision.Apply, lossZ, gradientZ, Factor);
        }

        if (Triggers == 0 || _calls - _lastTrigger > options.CooldownSteps)
        {
            Episodes++;
            if (Episodes > 1)
            {
                Ceiling = Math.Max(options.MinimumFactor, Ceiling * options.RepeatCeilingFactor);
            }
        }

        Triggers++;
        _lastTrigger = _calls;
        Factor = Math.Max(options.MinimumFactor, Math.Min(Ceiling, Factor * options.BackoffFactor));
        bool skip = options.SkipUpdate && (!finite || ++_consecutive <= options.MaxConsecutiveSkips);
        if (skip)
        {
            Skipped++;
        }
        else
        {
            // Applied although it triggered (skipping off, or too many skips in a row): the new level is accepted.
            _consecutive = 0;
            Accept(loss, gradientNorm);
        }

        return new GuardVerdict(true, skip ? UpdateDecision.Skip : UpdateDecision.Apply, lossZ, gradientZ, Factor);
    }

    /// <summary>The z-score, with a zero-variance history (a perfectly constant signal) making any change infinite rather than 0.</summary>
    private static double Score(EmaZScore statistic, double value)
    {
        double z = statistic.Score(value);
        return z == 0 && value != statistic.Mean ? (value > statistic.Mean ? double.PositiveInfinity : double.NegativeInfinity) : z;
    }

    private void Accept(double loss, double? gradientNorm)
    {
        _loss.Add(loss);
        if (gradientNorm is double g)
        {
            _gradient.Add(g);
        }
    }
}
