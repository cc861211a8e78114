namespace SpectralMonitor.Examples.Workloads;

/// <summary>
/// Material loss spikes: what a person would call a spike on a mini-batch training curve. The demo and the detection
/// benchmark both count spikes with this one definition.
/// </summary>
/// <remarks>
/// With m_t the mean of the finite losses of steps t − 4 … t and r_t the smallest m over the previous 100 steps, a spike
/// is under way at t ≥ 20 when m_t ≥ 2·r_t AND m_t − r_t ≥ 0.1·L₀ (L₀ the mean of the first five losses) AND r_t &lt; L₀,
/// or when the loss is not finite. An onset is a step where a spike is under way after at least 25 steps without one,
/// so a spike whose window mean flickers around the bar counts once.
/// <para>Why these constants, from the detection benchmark's traces (its report has a calibration table):</para>
/// <list type="bullet">
/// <item>The absolute bar 0.1·L₀ (0.23 nats on the digits, 0.43 on the text) keeps single noisy mini-batches of a loss
/// near zero from counting: they double the window mean, but on stable digits runs the largest such rise below the bar
/// was 0.1·L₀ while the median was 0.013·L₀ (CNN) and 0.05·L₀ (MLP). A relative test alone (the loss over twice its
/// running minimum) counts 40–160 "spikes" on every stable digits run.</item>
/// <item>The 100-step minimum, rather than the minimum so far, lets a run that recovered from one spike spike again.
/// </item>
/// <item>r_t &lt; L₀ asks for a run that had learned something: once a run has blown up above its initial loss, its swings
/// up there are one failure, not new spikes.</item>
/// <item>The 20-step burn-in skips the first steps, where the loss falls fastest and the minimum is not yet meaningful.
/// </item>
/// </list>
/// </remarks>
public static class LossSpikes
{
    /// <summary>Steps in the short window whose mean loss is followed.</summary>
    public const int DefaultWindow = 5;

    /// <summary>Steps back over which the recent minimum of the window mean is taken.</summary>
    public const int DefaultRecentSteps = 100;

    /// <summary>The window mean must reach this multiple of its recent minimum.</summary>
    public const double DefaultFactor = 2;

    /// <summary>... and rise over it by at least this fraction of the initial loss.</summary>
    public const double DefaultMinimumRise = 0.1;

    /// <summary>Steps before which nothing counts.</summary>
    public const int DefaultBurnIn = 20;

    /// <summary>Steps without a spike under way before a new onset counts.</summary>
    public const int DefaultSeparation = 25;

    /// <summary>A one-line description of the definition with its default constants.</summary>
    public static string Describe() => FormattableString.Invariant(
        $"{DefaultWindow}-step mean loss ≥ {DefaultFactor}× its minimum over the previous {DefaultRecentSteps} steps, higher by ≥ {DefaultMinimumRise} × the initial loss, that minimum below the initial loss, after step {DefaultBurnIn}, {DefaultSeparation} quiet steps between onsets (or a non-finite loss)");

    /// <summary>The steps at which material spikes start, with the default constants.</summary>
    /// <param name="losses">Loss per step.</param>
    public static IReadOnlyList<int> Onsets(IReadOnlyList<double> losses) =>
        Onsets(losses, DefaultWindow, DefaultRecentSteps, DefaultFactor, DefaultMinimumRise, DefaultBurnIn, DefaultSeparation);

    /// <summary>The steps at which material spikes start, with explicit constants (see the remarks of <see cref="LossSpikes"/>).</summary>
    /// <param name="losses">Loss per step.</param>
    /// <param name="window">Steps in the moving mean, at least 1.</param>
    /// <param name="recentSteps">Steps back over which the recent minimum is taken, at least 1.</param>
    /// <param name="factor">Factor over the recent minimum.</param>
    /// <param name="minimumRise">Least rise over the recent minimum, as a fraction of the initial loss.</param>
    /// <param name="burnIn">Steps before which nothing counts, at least 0.</param>
    /// <param name="separation">Steps without a spike under way before a new onset counts.</param>
    public static IReadOnlyList<int> Onsets(IReadOnlyList<double> losses, int window, int recentSteps, double factor, double minimumRise, int burnIn, int separation)
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
            bool under = t >= burnIn && (!double.IsFinite(losses[t]) || Rose(means, t, recentSteps, factor, minimumRise, initial));
            if (under && quiet >= separation)
            {
                onsets.Add(t);
            }

            quiet = under ? 0 : quiet + 1;
        }

        return onsets;
    }

    /// <summary>Mean of the finite losses of the last <paramref name="window"/> steps up to each step (fewer at the start; NaN when none is finite).</summary>
    /// <param name="losses">Loss per step.</param>
    /// <param name="window">Steps in the window, at least 1.</param>
    public static double[] WindowMeans(IReadOnlyList<double> losses, int window)
    {
        ArgumentNullException.ThrowIfNull(losses);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
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

    /// <summary>Whether the window mean at <paramref name="t"/> rose materially over its recent minimum, from below the initial loss.</summary>
    private static bool Rose(double[] means, int t, int recentSteps, double factor, double minimumRise, double initial)
    {
        double recent = double.PositiveInfinity;
        for (int s = Math.Max(0, t - recentSteps); s < t; s++)
        {
            recent = Math.Min(recent, means[s]);
        }

        return recent < initial && means[t] >= factor * recent && means[t] - recent >= minimumRise * initial;
    }
}
