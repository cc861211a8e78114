using System.Globalization;
using System.Text.RegularExpressions;
using ScottPlot;

namespace SpectralMonitor.Examples.InstabilityDemo;

/// <summary>A data series of a chart.</summary>
/// <param name="Label">Legend text.</param>
/// <param name="Points">(step, value) pairs; non-finite values (and non-positive ones on a log axis) are left out.</param>
/// <param name="Faint">Drawn thin and light (a noisy raw series under its smoothed one).</param>
/// <param name="Color">A hex color (#RRGGBB, upper case, none of the marker colors), or null for the palette's.</param>
internal sealed record ChartSeries(string Label, IReadOnlyList<(double Step, double Value)> Points, bool Faint = false, string? Color = null);

/// <summary>A vertical event line: an alert onset, a backoff or a spike onset.</summary>
/// <param name="Step">Where.</param>
/// <param name="Kind"><c>warning</c>, <c>critical</c>, <c>backoff</c> or <c>spike</c>.</param>
/// <param name="Text">What happened (a tooltip).</param>
internal sealed record ChartMarker(double Step, string Kind, string Text);

/// <summary>A rendered chart: inline SVG markup, how many data points it drew and the colors of its series.</summary>
/// <param name="Svg">The SVG element (no XML declaration), with ids unique to this chart.</param>
/// <param name="Points">Data points drawn.</param>
/// <param name="SeriesColors">Hex colors (as ScottPlot writes them) of the data series, in series order.</param>
/// <param name="Log">Whether the value axis is logarithmic.</param>
internal sealed record RenderedChart(string Svg, int Points, IReadOnlyList<string> SeriesColors, bool Log);

/// <summary>
/// Draws the report's charts with ScottPlot 5 (MIT) as SVG. ScottPlot renders through SkiaSharp's SVG canvas, so it
/// needs SkiaSharp's native library (SkiaSharp.NativeAssets.Linux.NoDependencies, which ScottPlot brings along) but no
/// system fonts package beyond what the machine has; text is emitted as SVG text and drawn by the browser.
/// </summary>
internal static partial class ChartRenderer
{
    /// <summary>Chart width in pixels.</summary>
    public const int Width = 430;

    /// <summary>Chart height in pixels.</summary>
    public const int Height = 230;

    private static readonly string[] Palette = ["#1F2A44", "#009E73", "#CC79A7", "#56B4E9"];
    private static readonly Dictionary<string, string> MarkerColors = new(StringComparer.Ordinal)
    {
        ["warning"] = "#E69F00",
        ["critical"] = "#D7191C",
        ["backoff"] = "#0072B2",
        ["spike"] = "#7F7F7F",
    };

    /// <summary>The color of a marker kind (for the page's legend).</summary>
    public static string MarkerColor(string kind) => MarkerColors[kind];

    /// <summary>Renders one chart.</summary>
    /// <param name="id">A prefix that makes the SVG's ids unique in the page.</param>
    /// <param name="series">The data.</param>
    /// <param name="references">Horizontal reference lines (thresholds).</param>
    /// <param name="markers">Event lines.</param>
    /// <param name="maxStep">Right end of the step axis.</param>
    public static RenderedChart Render(string id, IReadOnlyList<ChartSeries> series, IReadOnlyList<double> references, IReadOnlyList<ChartMarker> markers, double maxStep)
    {
        var finite = series.SelectMany(s => s.Points).Select(p => p.Value).Where(double.IsFinite).ToArray();
        bool log = finite.Length > 0 && finite.All(v => v > 0) && finite.Max() / finite.Min() >= 10;
        double Transform(double v) => log ? Math.Log10(v) : v;

        var plot = new Plot();
        plot.Font.Set("DejaVu Sans");
        plot.Axes.Bottom.Label.Text = "step";
        plot.Axes.Bottom.Label.FontSize = 11;
        plot.Axes.Bottom.TickLabelStyle.FontSize = 10;
        plot.Axes.Left.TickLabelStyle.FontSize = 10;

        foreach (double reference in references.Where(r => !log || r > 0))
        {
            plot.Add.HorizontalLine(Transform(reference), 1, Color.FromHex("#888888"));
        }

        foreach (var marker in markers.Where(m => m.Step >= 0 && m.Step <= maxStep))
        {
            plot.Add.VerticalLine(marker.Step, 1, Color.FromHex(MarkerColors[marker.Kind]).WithAlpha(0.7));
        }

        var colors = new List<string>();
        int points = 0;
        for (int i = 0; i < series.Count; i++)
        {
            var drawn = series[i].Points.Where(p => double.IsFinite(p.Value) && (!log || p.Value > 0)).ToArray();
            string hex = series[i].Color ?? (series[i].Faint ? "#A9B4C8" : Palette[i % Palette.Length]);
            colors.Add(hex);
            if (drawn.Length == 0)
            {
                continue;
            }

            points += drawn.Length;
            var scatter = plot.Add.ScatterLine(drawn.Select(p => p.Step).ToArray(), drawn.Select(p => Transform(p.Value)).ToArray(), Color.FromHex(hex));
            scatter.LineWidth = series[i].Faint ? 1 : 1.5f;
            scatter.MarkerSize = drawn.Length == 1 ? 5 : 0;
        }

        if (log)
        {
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                IntegerTicksOnly = true,
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                LabelFormatter = v => "1e" + Math.Round(v).ToString(CultureInfo.InvariantCulture),
            };
        }

        plot.Axes.SetLimitsX(0, maxStep);
        if (finite.Length == 0)
        {
            plot.Axes.SetLimitsY(0, 1);
        }

        string svg = plot.GetSvgXml(Width, Height);
        svg = XmlDeclaration().Replace(svg, string.Empty);
        svg = svg.Replace("id=\"cl_", $"id=\"{id}_", StringComparison.Ordinal).Replace("url(#cl_", $"url(#{id}_", StringComparison.Ordinal);
        return new RenderedChart(svg.Trim(), points, colors, log);
    }

    [GeneratedRegex(@"^\s*<\?xml[^>]*\?>\s*")]
    private static partial Regex XmlDeclaration();
}
