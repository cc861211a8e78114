namespace SpectralMonitor.Examples.Workloads;

/// <summary>
/// Loss spikes that a person would call spikes on mini-batch training curves. A single noisy mini-batch of a loss near
/// zero is not one; a rise of the smoothed loss to at least twice its minimum so far, by a material part of the
/// initial loss, is.
/// </summary>
/// <remarks>
/// With m(t) the mean of the <c>window</c> losses ending at step t and m* its minimum over the steps before t, a spike
/// starts at the first step t ≥ <c>burnIn</c> where m(t) ≥ <c>factor</c>·m* and m(t) − m* ≥ <c>minimumRise</c>·m(w−1)
/// (m(w−1) is the first full window, the initial loss), or where the loss is not finite. It lasts until either
/// condition fails. Why these defaults (window 10, factor 2, rise 0.1 of the initial loss, burn-in 50), from the
/// demo's traces: the digits CNN at a stable learning rate ends near 1e-3 with single batches up to 0.5 (raw per-step
/// factors of 100 and more), while its smoothed loss never rises by more than 0.05 after step 50; at lr 0.2 the
/// smoothed loss climbs from 0.16 to 0.58 within 30 steps and then collapses to chance (2.3). The char-GPT's stable runs
/// fall smoothly; the unstable ones jump from 3.1 to 10–250. A rise of 0.1 × initial loss is 0.23 nats for the digits and
/// 0.42 nats for the text.
/// </remarks>
public static class LossSpikes
{
    /// <summary>Default smoothing window (steps).</summary>
    public const int DefaultWindow = 10;

    /// <summary>Default factor over the minimum so far.</summary>
    public const double DefaultFactor = 2;

    /// <summary>Default least rise, as a fraction of the initial (first-window) loss.</summary>
    public const double DefaultMinimumRise = 0.1;

    /// <summary>Default burn-in: steps before which nothing counts.</summary>
    public const int DefaultBurnIn = 50;

    /// <summary>A one-line description of the definition with the given constants.</summary>
    public static string Describe(int window = DefaultWindow, double factor = DefaultFactor, double minimumRise = DefaultMinimumRise, int burnIn = DefaultBurnIn) =>
        FormattableString.Invariant($"{window}-step mean loss ≥ {factor}× its minimum so far and higher by ≥ {minimumRise} × the initial loss, after step {burnIn} (or a non-finite loss)");

    /// <summary>The steps at which material spikes start.</summary>
    /// <param name="losses">Loss per step.</param>
    /// <param name="window">Steps in the moving mean, at least 1.</param>
    /// <param name="factor">Factor over the minimum so far, above 1.</param>
    /// <param name="minimumRise">Least rise as a fraction of the initial loss, at least 0.</param>
    /// <param name="burnIn">Steps before which nothing counts (at least <paramref name="window"/> − 1 is used).</param>
    public static IReadOnlyList<int> Onsets(IReadOnlyList<double> losses, int window = DefaultWindow, double factor = DefaultFactor, double minimumRise = DefaultMinimumRise, int burnIn = DefaultBurnIn)
    {
        ArgumentNullException.ThrowIfNull(losses);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(burnIn);
        if (!(factor > 1) || !(minimumRise >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(factor), "The factor must exceed 1 and the minimum rise must be non-negative.");
        }

        var onsets = new List<int>();
        double sum = 0;
        int nonFinite = 0;
        double initial = double.NaN;
        double minimum = double.PositiveInfinity;
        bool inSpike = false;
        for (int t = 0; t < losses.Count; t++)
        {
            Add(losses[t], +1);
            if (t >= window)
            {
                Add(losses[t - window], -1);
            }

            if (t < window - 1)
            {
                continue;
            }

            double mean = nonFinite > 0 ? double.NaN : sum / window;
            if (t == window - 1)
            {
                initial = mean;
            }

            bool spiking = t >= burnIn && (!double.IsFinite(losses[t]) || !double.IsFinite(mean)
                || (mean >= factor * minimum && mean - minimum >= minimumRise * Math.Abs(initial)));
            if (spiking && !inSpike)
            {
                onsets.Add(t);
            }

            inSpike = spiking;
            if (double.IsFinite(mean))
            {
                minimum = Math.Min(minimum, mean);
            }
        }

        return onsets;

        void Add(double value, int sign)
        {
            if (double.IsFinite(value))
            {
                sum += sign * value;
            }
            else
            {
                nonFinite += sign;
            }
        }
    }
}
