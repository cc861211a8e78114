using System.Text;

namespace SpectralMonitor.Prometheus;

/// <summary>
/// Maps OpenTelemetry instrument names, units and attribute keys to Prometheus metric and label names, following
/// the OpenTelemetry specification "Prometheus and OpenMetrics Compatibility" (OTLP metric points to Prometheus):
/// invalid characters (dots included) become <c>_</c> and runs of <c>_</c> collapse to one; the UCUM unit is
/// translated to a word (<c>s</c> → <c>seconds</c>, <c>By</c> → <c>bytes</c>, <c>foo/s</c> → <c>foo_per_second</c>,
/// <c>{annotations}</c> dropped) and appended unless the name already ends with it; unit <c>1</c> becomes
/// <c>ratio</c> on gauges and nothing on other types; counters end in <c>_total</c>.
/// </summary>
/// <remarks>
/// Examples: <c>stability.probe.duration</c> with unit <c>s</c> (histogram) → <c>stability_probe_duration_seconds</c>;
/// <c>stability.alerts</c> with unit <c>{alert}</c> (counter) → <c>stability_alerts_total</c>;
/// <c>stability.spectral_radius</c> without unit (gauge) → <c>stability_spectral_radius</c>, with unit <c>1</c>
/// → <c>stability_spectral_radius_ratio</c>.
/// </remarks>
public static class PrometheusNaming
{
    /// <summary>
    /// The Prometheus metric family name for an instrument: the name of a counter's or gauge's series, and the stem
    /// of a histogram's <c>_bucket</c>, <c>_sum</c> and <c>_count</c> series.
    /// </summary>
    /// <param name="instrumentName">OpenTelemetry instrument name, e.g. <c>stability.probe.duration</c>.</param>
    /// <param name="unit">UCUM unit of the instrument, or <see langword="null"/>/empty for none.</param>
    /// <param name="type">Prometheus type the instrument maps to.</param>
    /// <returns>A name matching <c>[a-zA-Z_:][a-zA-Z0-9_:]*</c>.</returns>
    /// <exception cref="ArgumentException"><paramref name="instrumentName"/> is null or empty.</exception>
    public static string MetricFamilyName(string instrumentName, string? unit, PrometheusMetricType type)
    {
        if (string.IsNullOrEmpty(instrumentName))
        {
            throw new ArgumentException($"The instrument name must not be empty (was '{instrumentName}').", nameof(instrumentName));
        }

        var name = Sanitize(instrumentName, allowColon: true);
        var unitWord = UnitSuffix(unit, type);
        if (unitWord is not null
            && !EndsWithWord(name, unitWord)
            && !(type == PrometheusMetricType.Counter && name.EndsWith("_" + unitWord + "_total", StringComparison.Ordinal)))
        {
            name = CollapseUnderscores(name + "_" + unitWord);
        }

        if (type == PrometheusMetricType.Counter && !EndsWithWord(name, "total"))
        {
            name = CollapseUnderscores(name + "_total");
        }

        return name;
    }

    /// <summary>
    /// The unit word appended to a metric name for <paramref name="unit"/>, or <see langword="null"/> when the unit
    /// adds no suffix (no unit, only annotations such as <c>{alert}</c>, or <c>1</c> on a counter or histogram).
    /// </summary>
    /// <param name="unit">UCUM unit, e.g. <c>s</c>, <c>By</c>, <c>{hvp}/s</c>, <c>1</c>.</param>
    /// <param name="type">Prometheus type the instrument maps to (<c>1</c> means <c>ratio</c> only for gauges).</param>
    /// <returns>The suffix word without a leading underscore, e.g. <c>seconds</c> or <c>per_second</c>.</returns>
    public static string? UnitSuffix(string? unit, PrometheusMetricType type)
    {
        if (string.IsNullOrWhiteSpace(unit))
        {
            return null;
        }

        var stripped = RemoveAnnotations(unit).Trim();
        if (stripped.Length == 0)
        {
            return null;
        }

        if (stripped == "1")
        {
            return type == PrometheusMetricType.Gauge ? "ratio" : null;
        }

        string word;
        var slash = stripped.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0 && slash < stripped.Length - 1)
        {
            var numerator = UnitWord(stripped[..slash].Trim());
            var denominator = PerUnitWord(stripped[(slash + 1)..].Trim());
            word = numerator.Length == 0 ? "per_" + denominator : numerator + "_per_" + denominator;
        }
        else
        {
            word = UnitWord(stripped);
        }

        word = Sanitize(word, allowColon: false).Trim('_');
        return word.Length == 0 ? null : word;
    }

    /// <summary>
    /// The Prometheus label name for an attribute key: characters outside <c>[a-zA-Z0-9_]</c> become <c>_</c>, runs of
    /// <c>_</c> collapse to one (so no label starts with the reserved <c>__</c>), and a leading digit gets a <c>_</c>
    /// prefix.
    /// </summary>
    /// <param name="attributeKey">OpenTelemetry attribute (tag) key, e.g. <c>param.group</c>.</param>
    /// <returns>A name matching <c>[a-zA-Z_][a-zA-Z0-9_]*</c>.</returns>
    public static string LabelName(string attributeKey)
    {
        ArgumentNullException.ThrowIfNull(attributeKey);
        return attributeKey.Length == 0 ? "_" : Sanitize(attributeKey, allowColon: false);
    }

    private static bool EndsWithWord(string name, string word)
        => name == word || name.EndsWith("_" + word, StringComparison.Ordinal);

    /// <summary>Replaces invalid characters by '_', collapses runs of '_', and prefixes a leading digit with '_'.</summary>
    private static string Sanitize(string value, bool allowColon)
    {
        var sb = new StringBuilder(value.Length + 1);
        foreach (var c in value)
        {
            var valid = char.IsAsciiLetterOrDigit(c) || (allowColon && c == ':');
            if (sb.Length == 0 && char.IsAsciiDigit(c))
            {
                sb.Append('_');
            }

            if (valid)
            {
                sb.Append(c);
            }
            else if (sb.Length == 0 || sb[^1] != '_')
            {
                sb.Append('_');
            }
        }

        return sb.ToString();
    }

    private static string CollapseUnderscores(string value)
    {
        var sb = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            if (c != '_' || sb.Length == 0 || sb[^1] != '_')
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    /// <summary>Drops UCUM annotations (text in curly braces); an unclosed brace is kept as text.</summary>
    private static string RemoveAnnotations(string unit)
    {
        var sb = new StringBuilder(unit.Length);
        var open = -1;
        for (var i = 0; i < unit.Length; i++)
        {
            var c = unit[i];
            if (c == '{' && open < 0)
            {
                open = i;
            }
            else if (c == '}' && open >= 0)
            {
                open = -1;
            }
            else if (open < 0)
            {
                sb.Append(c);
            }
        }

        if (open >= 0)
        {
            sb.Append(unit, open, unit.Length - open);
        }

        return sb.ToString();
    }

    /// <summary>UCUM abbreviation → Prometheus base-unit word (plural), as the compatibility specification lists them.</summary>
    private static string UnitWord(string unit) => unit switch
    {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tebibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "%" => "percent",
        "1" => string.Empty,
        _ => unit,
    };

    /// <summary>UCUM denominator of a rate → singular word ("per second").</summary>
    private static string PerUnitWord(string unit) => unit switch
    {
        "s" => "second",
        "m" or "min" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        _ => unit,
    };
}
