using System.Globalization;
using System.Text;

namespace SpectralMonitor.Prometheus;

/// <summary>
/// Lexical rules of the Prometheus text exposition format 0.0.4: value spelling and escaping of HELP text and
/// label values.
/// </summary>
internal static class PrometheusText
{
    /// <summary>The Content-Type of a text-format 0.0.4 response.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>
    /// Writes a sample value as Go's <c>strconv.ParseFloat</c> reads it: <c>NaN</c>, <c>+Inf</c>, <c>-Inf</c>, or the
    /// shortest invariant round-trip spelling (e.g. <c>0.1</c>, <c>1E-05</c>).
    /// </summary>
    public static string FormatDouble(double value)
    {
        if (double.IsNaN(value))
        {
            return "NaN";
        }

        if (double.IsPositiveInfinity(value))
        {
            return "+Inf";
        }

        if (double.IsNegativeInfinity(value))
        {
            return "-Inf";
        }

        return value.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>Writes an integer sample value.</summary>
    public static string FormatLong(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Appends a label value with backslash, double quote and line feed escaped.</summary>
    public static void AppendEscapedLabelValue(StringBuilder sb, string value) => AppendEscaped(sb, value, escapeQuotes: true);

    /// <summary>Appends HELP text with backslash and line feed escaped (double quotes are literal in HELP).</summary>
    public static void AppendEscapedHelp(StringBuilder sb, string help) => AppendEscaped(sb, help, escapeQuotes: false);

    private static void AppendEscaped(StringBuilder sb, string text, bool escapeQuotes)
    {
        foreach (var c in text)
        {
            switch (c)
            {
                case '\\':
                    sb.Append("\\\\");
                    break;
                case '"' when escapeQuotes:
                    sb.Append("\\\"");
                    break;
                case '\n':
                    sb.Append("\\n");
                    break;
                default:
                    sb.Append(c);
                    break;
            }
        }
    }

    /// <summary>Label value escaping as a string (tests and diagnostics).</summary>
    public static string EscapeLabelValue(string value)
    {
        var sb = new StringBuilder(value.Length + 8);
        AppendEscapedLabelValue(sb, value);
        return sb.ToString();
    }

    /// <summary>HELP escaping as a string (tests and diagnostics).</summary>
    public static string EscapeHelp(string help)
    {
        var sb = new StringBuilder(help.Length + 8);
        AppendEscapedHelp(sb, help);
        return sb.ToString();
    }

    /// <summary>
    /// Converts an attribute value to the label value string the OpenTelemetry attribute specification prescribes:
    /// strings as they are, booleans lower-case, numbers invariant, arrays as JSON arrays.
    /// </summary>
    public static string AttributeValueToString(object? value) => value switch
    {
        null => string.Empty,
        string s => s,
        bool b => b ? "true" : "false",
        double d => FormatJsonNumber(d),
        float f => FormatJsonNumber(f),
        IFormattable formattable when value is not Array => formattable.ToString(null, CultureInfo.InvariantCulture),
        Array array => ArrayToJson(array),
        _ => value.ToString() ?? string.Empty,
    };

    private static string FormatJsonNumber(double d)
        => double.IsFinite(d) ? d.ToString("R", CultureInfo.InvariantCulture) : FormatDouble(d);

    private static string ArrayToJson(Array array)
    {
        var sb = new StringBuilder("[");
        var first = true;
        foreach (var element in array)
        {
            if (!first)
            {
                sb.Append(',');
            }

            first = false;
            switch (element)
            {
                case null:
                    sb.Append("null");
                    break;
                case string s:
                    AppendJsonString(sb, s);
                    break;
                case double d when !double.IsFinite(d):
                    AppendJsonString(sb, FormatDouble(d));
                    break;
                case float f when !float.IsFinite(f):
                    AppendJsonString(sb, FormatDouble(f));
                    break;
                default:
                    sb.Append(AttributeValueToString(element));
                    break;
            }
        }

        return sb.Append(']').ToString();
    }

    private static void AppendJsonString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"':
                    sb.Append("\\\"");
                    break;
                case '\\':
                    sb.Append("\\\\");
                    break;
                case '\n':
                    sb.Append("\\n");
                    break;
                case '\r':
                    sb.Append("\\r");
                    break;
                case '\t':
                    sb.Append("\\t");
                    break;
                default:
                    if (c < ' ')
                    {
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        sb.Append('"');
    }
}
