namespace SpectralMonitor.Reference.Monitoring;

/// <summary>
/// The one definition of a loss spike used by the tests, the detection benchmark and the demo: after a burn-in, a
/// spike starts at a step whose loss exceeds <c>factor</c> times the running minimum of the loss so far (or is not
/// finite), and lasts until the loss is back below that level.
/// </summary>
public static class Spikes
{
    /// <summary>Default burn-in (steps before which nothing counts as a spike).</summary>
    public const int DefaultBurnIn = 20;

    /// <summary>Default factor over the running minimum.</summary>
    public const double DefaultFactor = 2.0;

    /// <summary>The steps at which spikes start.</summary>
    /// <param name="losses">Loss per step.</param>
    /// <param name="burnIn">Steps before which nothing counts.</param>
    /// <param name="factor">Threshold over the running minimum (&gt; 1).</param>
    public static IReadOnlyList<int> Onsets(IReadOnlyList<double> losses, int burnIn = DefaultBurnIn, double factor = DefaultFactor)
    {
        ArgumentNullException.ThrowIfNull(losses);
        ArgumentOutOfRangeException.ThrowIfNegative(burnIn);
        if (!(factor > 1))
        {
            throw new ArgumentOutOfRangeException(nameof(factor), factor, "The spike factor must exceed 1.");
        }

        var onsets = new List<int>();
        double runningMin = double.PositiveInfinity;
        bool inSpike = false;
        for (int t = 0; t < losses.Count; t++)
        {
            double loss = losses[t];
            bool spiking = t >= burnIn && (!double.IsFinite(loss) || loss > factor * runningMin);
            if (spiking && !inSpike)
            {
                onsets.Add(t);
            }

            inSpike = spiking;
            if (double.IsFinite(loss))
            {
                runningMin = Math.Min(runningMin, loss);
            }
        }

        return onsets;
    }
}
