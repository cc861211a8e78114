using System.Globalization;
using System.Security;
using System.Text;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>
/// A hand-written SVG of recall against false alarms per 1,000 steps, one labelled point per detector, coloured by
/// family. The x axis is √-scaled so that the crowd near zero false alarms stays readable.
/// </summary>
internal static class DetectionFigure
{
    private const double Width = 980, Height = 640, Left = 70, Right = 420, Top = 40, Bottom = 60;

    private static readonly Dictionary<string, string> Colours = new(StringComparer.Ordinal)
    {
        ["edge"] = "#1b7837",
        ["non-normal (top modes)"] = "#2166ac",
        ["whole operator"] = "#b2182b",
        ["weights"] = "#8c510a",
        ["baseline"] = "#762a83",
        ["default rules"] = "#000000",
    };

    public static string Render(IReadOnlyList<(string Name, string Family, DetectorMetrics Metrics)> points)
    {
        double maxRate = points.Select(p => p.Metrics.FalseAlarmsPer1000Steps).Where(double.IsFinite).DefaultIfEmpty(1).Max();
        double xMax = NiceCeiling(Math.Max(maxRate, 0.5));
        double plotWidth = Width - Left - Right, plotHeight = Height - Top - Bottom;
        double X(double rate) => Left + (plotWidth * Math.Sqrt(Math.Max(rate, 0) / xMax));
        double Y(double recall) => Top + (plotHeight * (1 - recall));

        var svg = new StringBuilder();
        svg.AppendLine(Invariant($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"11\">"));
        svg.AppendLine(Invariant($"<rect x=\"0\" y=\"0\" width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>"));
        svg.AppendLine(Invariant($"<text x=\"{Left}\" y=\"22\" font-size=\"14\">Detection benchmark: recall (spiking runs warned before the first spike) vs false alarms on stable runs</text>"));
        svg.AppendLine(Invariant($"<rect x=\"{Left}\" y=\"{Top}\" width=\"{plotWidth}\" height=\"{plotHeight}\" fill=\"none\" stroke=\"#444\"/>"));

        foreach (double recall in new[] { 0, 0.25, 0.5, 0.75, 1 })
        {
            svg.AppendLine(Invariant($"<line x1=\"{Left}\" y1=\"{Y(recall):F1}\" x2=\"{Left + plotWidth}\" y2=\"{Y(recall):F1}\" stroke=\"#ddd\"/>"));
            svg.AppendLine(Invariant($"<text x=\"{Left - 8}\" y=\"{Y(recall) + 4:F1}\" text-anchor=\"end\">{recall:F2}</text>"));
        }

        foreach (double tick in XTicks(xMax))
        {
            svg.AppendLine(Invariant($"<line x1=\"{X(tick):F1}\" y1=\"{Top}\" x2=\"{X(tick):F1}\" y2=\"{Top + plotHeight}\" stroke=\"#ddd\"/>"));
            svg.AppendLine(Invariant($"<text x=\"{X(tick):F1}\" y=\"{Top + plotHeight + 16}\" text-anchor=\"middle\">{tick:G3}</text>"));
        }

        svg.AppendLine(Invariant($"<text x=\"{Left + (plotWidth / 2)}\" y=\"{Height - 18}\" text-anchor=\"middle\">false alarms per 1,000 steps on stable runs (√ scale)</text>"));
        svg.AppendLine(Invariant($"<text x=\"18\" y=\"{Top + (plotHeight / 2)}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {Top + (plotHeight / 2)})\">recall</text>"));

        // Detectors that land on the same spot (for example the edge-type ones, which coincide at β = 0.9) share one
        // marker, labelled with all their numbers.
        var placed = points
            .Select((p, i) => (Number: i + 1, p.Family, p.Metrics))
            .Where(p => double.IsFinite(p.Metrics.Recall) && double.IsFinite(p.Metrics.FalseAlarmsPer1000Steps))
            .GroupBy(p => (Math.Round(X(p.Metrics.FalseAlarmsPer1000Steps)), Math.Round(Y(p.Metrics.Recall))));
        foreach (var group in placed)
        {
            var first = group.First();
            string colour = Colours.TryGetValue(first.Family, out var c) ? c : "#666";
            double x = X(first.Metrics.FalseAlarmsPer1000Steps), y = Y(first.Metrics.Recall);
            string shape = first.Family == "default rules"
                ? Invariant($"<rect x=\"{x - 5:F1}\" y=\"{y - 5:F1}\" width=\"10\" height=\"10\" fill=\"{colour}\" fill-opacity=\"0.8\"/>")
                : Invariant($"<circle cx=\"{x:F1}\" cy=\"{y:F1}\" r=\"5\" fill=\"{colour}\" fill-opacity=\"0.75\"/>");
            svg.AppendLine(shape);
            string label = string.Join(",", group.Select(p => p.Number.ToString(CultureInfo.InvariantCulture)));
            svg.AppendLine(Invariant($"<text x=\"{x + 7:F1}\" y=\"{y - 5:F1}\" font-size=\"10\" fill=\"{colour}\">{label}</text>"));
        }

        // Legend: numbered detectors, coloured by family.
        double legendX = Width - Right + 20;
        int index = 0;
        foreach (var (name, family, m) in points)
        {
            index++;
            string colour = Colours.TryGetValue(family, out var c) ? c : "#666";
            double y = Top + 6 + ((index - 1) * 26);
            svg.AppendLine(family == "default rules"
                ? Invariant($"<rect x=\"{legendX - 7:F1}\" y=\"{y - 7:F1}\" width=\"14\" height=\"14\" fill=\"{colour}\" fill-opacity=\"0.8\"/>")
                : Invariant($"<circle cx=\"{legendX:F1}\" cy=\"{y:F1}\" r=\"7\" fill=\"{colour}\" fill-opacity=\"0.75\"/>"));
            svg.AppendLine(Invariant($"<text x=\"{legendX:F1}\" y=\"{y + 3.5:F1}\" text-anchor=\"middle\" font-size=\"8\" fill=\"white\">{index}</text>"));
            svg.AppendLine(Invariant($"<text x=\"{legendX + 12:F1}\" y=\"{y + 4:F1}\">{SecurityElement.Escape(name)}</text>"));
            svg.AppendLine(Invariant($"<text x=\"{legendX + 12:F1}\" y=\"{y + 15:F1}\" font-size=\"9\" fill=\"#555\">recall {Fmt(m.Recall)}, false alarms {Fmt(m.FalseAlarmsPer1000Steps)}/1000, median lead {Fmt(m.MedianLead)}</text>"));
        }

        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    private static string Fmt(double value) => double.IsNaN(value) ? "–" : value.ToString("G3", CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static double NiceCeiling(double value)
    {
        double power = Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (double m in new[] { 1, 2, 2.5, 5, 10 })
        {
            if (m * power >= value)
            {
                return m * power;
            }
        }

        return 10 * power;
    }

    private static IEnumerable<double> XTicks(double xMax)
    {
        // Ticks at 0, and at quarters of the √ axis rounded to two significant digits.
        yield return 0;
        foreach (double f in new[] { 0.0625, 0.25, 0.5625, 1 })
        {
            double t = xMax * f;
            yield return double.Parse(t.ToString("G2", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        }
    }
}
