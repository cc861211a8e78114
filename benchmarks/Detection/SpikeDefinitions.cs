using SpectralMonitor.Examples.Workloads;
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
    public const int Window = LossSpikes.DefaultWindow;

    /// <summary>Steps back over which the material definition's recent minimum is taken.</summary>
    public const int RecentSteps = LossSpikes.DefaultRecentSteps;

    /// <summary>The window mean must reach this multiple of its recent minimum.</summary>
    public const double Factor = LossSpikes.DefaultFactor;

    /// <summary>... and rise over it by at least this fraction of the initial loss.</summary>
    public const double MaterialFraction = LossSpikes.DefaultMinimumRise;

    /// <summary>Steps without a spike under way before a new onset counts (the short horizon H = 25): a spike whose window mean flickers around the bar counts once.</summary>
    public const int Separation = LossSpikes.DefaultSeparation;

    /// <summary>Steps before which nothing counts as a spike (the library's burn-in).</summary>
    public const int BurnIn = LossSpikes.DefaultBurnIn;

    /// <summary>The library's definition (<see cref="Spikes.Onsets"/>, its defaults: loss over twice the running minimum after 20 steps).</summary>
    public static IReadOnlyList<int> Library(IReadOnlyList<double> losses) => Spikes.Onsets(losses);

    /// <summary>The spike onsets of <paramref name="losses"/> under the definition named <paramref name="definition"/>.</summary>
    public static IReadOnlyList<int> Of(string definition, IReadOnlyList<double> losses) => definition switch
    {
        LibraryName => Library(losses),
        MaterialName => Material(losses),
        _ => throw new ArgumentException($"Unknown spike definition '{definition}'.", nameof(definition)),
    };

    /// <summary>Material spikes, what a user would call a spike: <see cref="LossSpikes.Onsets(IReadOnlyList{double})"/>, the one definition the demo uses too (its remarks justify the constants).</summary>
    public static IReadOnlyList<int> Material(IReadOnlyList<double> losses) => LossSpikes.Onsets(losses);

    /// <summary>Material spikes with explicit constants (<see cref="LossSpikes.Onsets(IReadOnlyList{double}, int, int, double, double, int, int)"/>).</summary>
    public static IReadOnlyList<int> Material(IReadOnlyList<double> losses, int window, int recentSteps, double factor, double fraction, int burnIn, int separation) =>
        LossSpikes.Onsets(losses, window, recentSteps, factor, fraction, burnIn, separation);

    /// <summary>Mean of the last <paramref name="window"/> finite losses up to each step (<see cref="LossSpikes.WindowMeans"/>).</summary>
    public static double[] WindowMeans(IReadOnlyList<double> losses, int window) => LossSpikes.WindowMeans(losses, window);
}
