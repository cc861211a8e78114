using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SpectralMonitor.Cli;

/// <summary>Writes an <see cref="AnalysisReport"/> as one JSON object or as a readable table.</summary>
internal static class ReportWriter
{
    /// <summary>
    /// One JSON object; ±∞ and NaN are written as the strings "Infinity", "-Infinity", "NaN". κ(V) = ∞ means defective and
    /// Kreiss = ∞ means ρ ≥ 1; for ρ, transient growth and the numerical abscissa and radius (finite for every finite
    /// matrix) ∞ means that the value exceeds the largest double, 1.8e308.
    /// </summary>
    public static string ToJson(AnalysisReport report)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteNumber("n", report.N);
            WriteDouble(writer, "spectralRadius", report.SpectralRadius);
            WriteDouble(writer, "eigenvectorCondition", report.EigenvectorCondition);
            writer.WriteNumber("ritzCount", report.RitzCount);
            WriteDouble(writer, "transientGrowth", report.TransientGrowth);
            writer.WriteNumber("transientArgmax", report.TransientArgmax);
            WriteDouble(writer, "kreissConstant", report.KreissConstant);
            WriteDouble(writer, "numericalAbscissa", report.NumericalAbscissa);
            WriteDouble(writer, "numericalRadius", report.NumericalRadius);
            writer.WriteNumber("matvecs", report.Matvecs);
            writer.WriteBoolean("converged", report.Converged);
            writer.WriteString("method", report.Method);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>A two-column table, one measure per line.</summary>
    public static string ToTable(AnalysisReport report, string path)
    {
        var rows = new List<(string Name, string Value)>
        {
            ("matrix", ConsoleText.Printable(path)),
            ("n", report.N.ToString(CultureInfo.InvariantCulture)),
            ("method", report.Method),
            ("spectral radius", Finite(report.SpectralRadius)),
            ("eigenvector condition κ(V)", Annotated(report.EigenvectorCondition, "defective")),
            ("eigenvectors used", report.RitzCount.ToString(CultureInfo.InvariantCulture)),
            ("transient growth max ‖Aᵏ‖", Finite(report.TransientGrowth)),
            ("  attained at k", report.TransientArgmax.ToString(CultureInfo.InvariantCulture)),
            ("Kreiss constant", Annotated(report.KreissConstant, "ρ ≥ 1")),
            ("numerical abscissa", Finite(report.NumericalAbscissa)),
            ("numerical radius", Finite(report.NumericalRadius)),
            ("matvecs", report.Matvecs.ToString(CultureInfo.InvariantCulture)),
            ("converged", report.Converged ? "yes" : "no"),
        };
        int width = rows.Max(r => r.Name.Length);
        var builder = new StringBuilder();
        foreach (var (name, value) in rows)
        {
            builder.Append(name.PadRight(width + 2)).Append(value).Append('\n');
        }

        if (report.Method == "krylov")
        {
            builder.Append("(krylov: growth, Kreiss, numerical abscissa and radius are of the projected Arnoldi matrix)\n");
        }

        return builder.ToString();
    }

    /// <summary>A measure that is finite for every finite matrix: an infinity can only mean it exceeds the double range.</summary>
    private static string Finite(double value) =>
        double.IsInfinity(value) ? $"{Format(value)} (beyond the double range)" : Format(value);

    private static string Annotated(double value, string meaningOfInfinity) =>
        double.IsPositiveInfinity(value) ? $"{Format(value)} ({meaningOfInfinity})" : Format(value);

    private static string Format(double value) =>
        double.IsNaN(value) ? "NaN"
        : double.IsPositiveInfinity(value) ? "Infinity"
        : double.IsNegativeInfinity(value) ? "-Infinity"
        : value.ToString("G8", CultureInfo.InvariantCulture);

    private static void WriteDouble(Utf8JsonWriter writer, string name, double value)
    {
        if (double.IsFinite(value))
        {
            writer.WriteNumber(name, value);
        }
        else
        {
            writer.WriteString(name, Format(value));
        }
    }
}
