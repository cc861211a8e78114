using SpectralMonitor.Reference.Monitoring;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>
/// The two spike definitions every detector is scored under. Both treat a non-finite loss (divergence) as a spike.
/// </summary>
public static class SpikeDefinitions
{
    /// <summary>Name of the library's definition in tables and results.json.</summary>
    public const string LibraryName = "library";

    /// <summary>Name of the material definition in tables and results.json.</summary>
    public const string MaterialName = "material";

    /// <summary>Steps in the short window whose mean loss the material definition follows.</summary>
    public const int Window = 5;

    /// <summary>Steps back over which the material definition's recent minimum is taken.</summary>
    public const int RecentSteps = 100;

    /// <summary>The window mean must reach this multiple of its recent minimum.</summary>
    public const double Factor = 2.0;

    /// <summary>... and rise over it by at least this fraction of the initial loss.</summary>
    public const double MaterialFraction = 0.1;

    /// <summary>Steps without a spike under way before a new onset counts (the short horizon H = 25): a spike whose window mean flickers around the bar counts once.</summary>
    public const int Separation = 25;

    /// <summary>Steps before which nothing counts as a spike (the library's burn-in).</summary>
    public const int BurnIn = Spikes.DefaultBurnIn;

    /// <summary>The library's definition (<see cref="Spikes.Onsets"/>, its defaults: loss over twice the running minimum after 20 steps).</summary>
    public static IReadOnlyList<int> Library(IReadOnlyList<double> losses) => Spikes.Onsets(losses);

    /// <summary>The spike onsets of <paramref name="losses"/> under the definition named <paramref name="definition"/>.</summary>
    public static IReadOnlyList<int> Of(string definition, IReadOnlyList<double> losses) => definition switch
    {
        LibraryName => Library(losses),
        MaterialName => Material(losses),
        _ => throw new ArgumentException($"Unknown spike definition '{definition}'.", nameof(definition)),
    };

    /// <summary>
    /// Material spikes, what a user would call a spike: with m_t the mean loss of steps t−4 … t and r_t the smallest
    /// m over the previous <see cref="RecentSteps"/> steps, a spike is under way at t ≥ <see cref="BurnIn"/> when
    /// m_t ≥ <see cref="Factor"/>·r_t AND m_t − r_t ≥ <see cref="MaterialFraction"/>·L₀ (L₀ the mean of the first
    /// five losses) AND r_t &lt; L₀, or when the loss is not finite. The last condition asks for a run that had learned
    /// something: once a run has blown up above its initial loss, its swings up there are one failure, not new spikes. An onset is a step where a spike is under way after at least
    /// <see cref="Separation"/> steps without one, so a spike whose window mean flickers around the bar counts once. The
    /// absolute bar keeps single noisy mini-batches of a near-zero loss from counting: they double the window mean but
    /// move it by a few hundredths of the initial loss.
    /// </summary>
    public static IReadOnlyList<int> Material(IReadOnlyList<double> losses) =>
        Material(losses, Window, RecentSteps, Factor, MaterialFraction, BurnIn, Separation);

    /// <summary>Material spikes with explicit constants (see <see cref="Material(IReadOnlyList{double})"/>).</summary>
    public static IReadOnlyList<int> Material(IReadOnlyList<double> losses, int window, int recentSteps, double factor, double fraction, int burnIn, int separation)
    {
        ArgumentNullException.ThrowIfNull(losses);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(recentSteps, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(burnIn);
        var onsets = new List<int>();
        if (losses.Count == 0)
        {
            return onsets;
        }

        double initial = losses.Take(window).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average();
        var means = WindowMeans(losses, window);
        int quiet = separation;
        for (int t = 0; t < losses.Count; t++)
        {
            bool under = false;
            if (t >= burnIn)
            {
                if (!double.IsFinite(losses[t]))
                {
                    under = true;
                }
                else
                {
                    double recent = double.PositiveInfinity;
                    for (int s = Math.Max(0, t - recentSteps); s < t; s++)
                    {
                        recent = Math.Min(recent, means[s]);
                    }

                    under = recent < initial && means[t] >= factor * recent && means[t] - recent >= fraction * initial;
                }
            }

            if (under && quiet >= separation)
            {
                onsets.Add(t);
            }

            quiet = under ? 0 : quiet + 1;
        }

        return onsets;
    }

    /// <summary>Mean of the last <paramref name="window"/> finite losses up to each step (fewer at the start).</summary>
    public static double[] WindowMeans(IReadOnlyList<double> losses, int window)
    {
        ArgumentNullException.ThrowIfNull(losses);
        var means = new double[losses.Count];
        for (int t = 0; t < losses.Count; t++)
        {
            double sum = 0;
            int count = 0;
            for (int s = Math.Max(0, t - window + 1); s <= t; s++)
            {
                if (double.IsFinite(losses[s]))
                {
                    sum += losses[s];
                    count++;
                }
            }

            means[t] = count == 0 ? double.NaN : sum / count;
        }

        return means;
    }
}
