namespace SpectralMonitor;

/// <summary>An instrument that probe readings are exported as: name, unit and description (OpenTelemetry conventions).</summary>
/// <param name="Name">Lowercase dotted instrument name, for example <c>stability.spectral_radius</c>.</param>
/// <param name="Unit">UCUM unit (<c>"1"</c> for a ratio), or null when the value has the unit of what it measures.</param>
/// <param name="Description">One sentence for the instrument's description (Prometheus HELP).</param>
public sealed record MetricDefinition(string Name, string? Unit, string Description);

/// <summary>
/// One number a probe measured, typed from the stage that measured it to the instrument that exports it: the
/// indicator the alert rules know it by, and the metric and tags it is exported as.
/// </summary>
/// <param name="Indicator">The indicator name (<see cref="Indicators"/>), or null when no rule reads it (a per-weight value).</param>
/// <param name="Value">The value.</param>
/// <param name="Metric">The instrument, or null when the value is not exported on its own (an aggregate over weights).</param>
/// <param name="Tags">The reading's own tags (for example <c>branch</c>, <c>scope</c>, <c>weight</c>); the monitor adds <c>run</c> and <c>optimizer</c>.</param>
public sealed record ProbeReading(string? Indicator, double Value, MetricDefinition? Metric, IReadOnlyList<KeyValuePair<string, object?>> Tags)
{
    /// <summary>A reading known to the rules as <paramref name="indicator"/> and exported as <paramref name="metric"/> with <paramref name="tags"/>.</summary>
    /// <param name="indicator">The indicator name, or null.</param>
    /// <param name="value">The value.</param>
    /// <param name="metric">The instrument, or null.</param>
    /// <param name="tags">Alternating tag names and values.</param>
    internal static ProbeReading Of(string? indicator, double value, MetricDefinition? metric, params (string Key, object? Value)[] tags) =>
        new(indicator, value, metric, [.. tags.Select(t => new KeyValuePair<string, object?>(t.Key, t.Value))]);
}

/// <summary>Which of the probe's paths produced its operator measures.</summary>
public enum ProbePath
{
    /// <summary>The optimizer is not one the monitor can linearize: curvature and weight measures only.</summary>
    CurvatureOnly,

    /// <summary>The structured path: the mode analysis of J from the symmetric curvature spectrum.</summary>
    Structured,

    /// <summary>The generic path only: Arnoldi on J itself.</summary>
    Generic,

    /// <summary>Both: the structured measures, with the Kreiss constant and oscillatory κ from Arnoldi on J.</summary>
    StructuredAndGeneric,
}

/// <summary>The exported names of <see cref="ProbePath"/> (span attribute and log values, unchanged since they were strings).</summary>
internal static class ProbePaths
{
    internal static string ToTagValue(this ProbePath path) => path switch
    {
        ProbePath.CurvatureOnly => "curvature-only",
        ProbePath.Structured => "structured",
        ProbePath.Generic => "generic",
        _ => "structured+generic",
    };
}
