using System.Globalization;
using System.Net;
using System.Text;
using SpectralMonitor.Rules;

namespace SpectralMonitor.Examples.InstabilityDemo;

/// <summary>
/// Writes <c>report.html</c>: one self-contained file (inline CSS, inline SVG, one small inline script; nothing is
/// fetched), with a chart per quantity and run, alert/backoff/spike markers, and the comparison tables.
/// </summary>
/// <remarks>
/// Every chart is an <c>&lt;svg class="chart" data-points="N"&gt;</c> where N counts the data points drawn. The inline
/// script at the end of the page recounts, in the browser, the vertices of every drawn series whose box is not empty,
/// stores the count in <c>data-drawn</c> and sets <c>data-charts="ok"</c> on the body when every chart drew all of its
/// points (a headless browser's DOM dump shows both).
/// </remarks>
internal static class HtmlReportWriter
{
    private const int Width = 420;
    private const int Height = 210;
    private const int Left = 58;
    private const int Right = 12;
    private const int Top = 26;
    private const int Bottom = 30;
    private static readonly string[] Palette = ["#1f2a44", "#009e73", "#cc79a7", "#56b4e9"];

    /// <summary>The charts of a run: title, series (label, indicator or step-level source), reference lines.</summary>
    private static readonly ChartSpec[] ProbeCharts =
    [
        new("Sharpness and its stability edge", [Indicators.Sharpness, Indicators.SharpnessEdge], []),
        new("Sharpness / edge", [Indicators.SharpnessToEdge], [0.9, 1]),
        new("Spectral radius ρ(J): whole, oscillatory, monotone", [Indicators.SpectralRadius, Indicators.OscillatoryRadius, Indicators.MonotoneRadius], [1]),
        new("Eigenvector condition κ(V): all modes, top modes", [Indicators.EigenvectorCondition, Indicators.TopEigenvectorCondition], []),
        new("Transient growth max‖Jᵏ‖", [Indicators.TransientGrowth], [1]),
        new("Distance to the exceptional point / to the edge", [Indicators.ExceptionalPointDistance, Indicators.EdgeDistance], [0]),
        new("Weights: top singular value, stable rank", [Indicators.WeightTopSingularValue, Indicators.WeightStableRank], []),
        new("Kreiss constant", [Indicators.KreissConstant], []),
        new("Commutator ‖[H̃, P]‖ (normalized)", [Indicators.CommutatorNorm], []),
    ];

    /// <summary>The whole page.</summary>
    public static string ToHtml(DemoReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>SpectralMonitor instability demo</title>\n");
        html.Append("<style>\n").Append(Css).Append("</style>\n</head>\n<body>\n");
        html.Append("<h1>SpectralMonitor instability demo</h1>\n");
        var s = report.Settings;
        html.Append(CultureInfo.InvariantCulture, $"<p class=\"meta\">Seed {s.Seed} (data seed {DemoCatalog.DataSeed}), {(s.Quick ? "quick" : "full")} run, full-batch training on {DemoCatalog.SampleCount} samples, a probe every {DemoCatalog.ProbeInterval} steps, default alert rules ({Escape(string.Join(", ", DefaultRules.All.Select(r => r.Name)))}). Total time {report.Elapsed.TotalSeconds:F1} s.</p>\n");
        html.Append("<p class=\"legend\"><span class=\"key warning\"></span>warning alert <span class=\"key critical\"></span>critical alert <span class=\"key backoff\"></span>learning-rate backoff <span class=\"key spike\"></span>loss spike onset</p>\n");

        AppendRunTable(html, report);
        AppendInvariants(html, report);
        AppendComparisons(html, report);

        foreach (var result in report.Results)
        {
            AppendRun(html, result);
        }

        html.Append("<script>\n").Append(CheckScript).Append("</script>\n</body>\n</html>\n");
        return html.ToString();
    }

    private static void AppendRunTable(StringBuilder html, DemoReport report)
    {
        html.Append("<h2>Runs</h2>\n<table>\n<tr><th>run</th><th>network</th><th>optimizer</th><th>lr</th><th>backoff</th><th>steps</th><th>spikes</th><th>first spike</th><th>first alert</th><th>lead (steps)</th><th>backoffs</th><th>final loss</th></tr>\n");
        foreach (var r in report.Results)
        {
            var d = r.Definition;
            html.Append(CultureInfo.InvariantCulture, $"<tr class=\"{d.Role.ToString().ToLowerInvariant()}\"><td><a href=\"#{d.Id}\">{d.Id}</a></td><td>{Escape(d.NetworkLabel)}</td><td>{d.Optimizer}</td><td>{Number(d.LearningRate)}</td><td>{(d.Backoff ? "on" : "off")}</td><td>{r.Record.Losses.Count}</td><td>{r.SpikeOnsets.Count}</td><td>{Maybe(r.FirstSpikeStep)}</td><td>{Maybe(r.FirstAlertStep)}</td><td>{Maybe(r.LeadSteps)}</td><td>{r.Backoffs.Count}</td><td>{Number(r.Record.FinalLoss)}{(r.Record.Diverged ? " (diverged)" : string.Empty)}</td></tr>\n");
        }

        html.Append("</table>\n<p class=\"note\">Lead = first spike − first alert (positive: the alert came first).</p>\n");
    }

    private static void AppendInvariants(StringBuilder html, DemoReport report)
    {
        if (report.Invariants.Count == 0)
        {
            return;
        }

        html.Append("<h2>Invariants</h2>\n<ul class=\"invariants\">\n");
        foreach (var check in report.Invariants)
        {
            html.Append(CultureInfo.InvariantCulture, $"<li class=\"{(check.Holds ? "ok" : "failed")}\">{(check.Holds ? "✔" : "✘")} {Escape(check.Name)} <span class=\"note\">({Escape(check.Detail)})</span></li>\n");
        }

        html.Append("</ul>\n");
    }

    private static void AppendComparisons(StringBuilder html, DemoReport report)
    {
        var groups = report.Results.GroupBy(r => r.Definition.Group).ToArray();
        bool any = false;
        foreach (var group in groups)
        {
            var stable = group.FirstOrDefault(r => r.Definition.Role == RunRole.Stable);
            var unstable = group.FirstOrDefault(r => r.Definition.Role == RunRole.Unstable);
            if (stable is null || unstable is null)
            {
                continue;
            }

            if (!any)
            {
                html.Append("<h2>Stable against unstable</h2>\n<p class=\"note\">Over every successful probe of each run. Ratios are unstable ÷ stable.</p>\n");
                any = true;
            }

            var backoff = group.FirstOrDefault(r => r.Definition.Role == RunRole.Backoff);
            html.Append(CultureInfo.InvariantCulture, $"<h3>{Escape(group.Key)}: lr {Number(stable.Definition.LearningRate)} against lr {Number(unstable.Definition.LearningRate)} ({Escape(stable.Definition.NetworkLabel)}, {stable.Definition.Optimizer})</h3>\n");
            html.Append("<table>\n<tr><th>indicator</th><th>stable median</th><th>stable max</th><th>unstable median</th><th>unstable max</th><th>ratio of medians</th><th>ratio of maxima</th>");
            html.Append(backoff is null ? "</tr>\n" : "<th>with backoff: median</th><th>max</th></tr>\n");
            var names = stable.IndicatorNames.Union(unstable.IndicatorNames, StringComparer.Ordinal).Order(StringComparer.Ordinal);
            foreach (string name in names)
            {
                var a = stable.Statistics(name);
                var b = unstable.Statistics(name);
                html.Append(CultureInfo.InvariantCulture, $"<tr><td>{Escape(name)}</td><td>{Number(a.Median)}</td><td>{Number(a.Max)}</td><td>{Number(b.Median)}</td><td>{Number(b.Max)}</td><td class=\"ratio\">{Ratio(b.Median, a.Median)}</td><td class=\"ratio\">{Ratio(b.Max, a.Max)}</td>");
                if (backoff is not null)
                {
                    var c = backoff.Statistics(name);
                    html.Append(CultureInfo.InvariantCulture, $"<td>{Number(c.Median)}</td><td>{Number(c.Max)}</td>");
                }

                html.Append("</tr>\n");
            }

            html.Append(CultureInfo.InvariantCulture, $"</table>\n<p class=\"note\">Lead time of the first alert before the first spike: {LeadText(unstable)} (unstable run); {LeadText(stable)} (stable run){(backoff is null ? string.Empty : $"; {LeadText(backoff)} (backoff run)")}.</p>\n");
        }
    }

    private static string LeadText(DemoRunResult r) => (r.FirstSpikeStep, r.FirstAlertStep) switch
    {
        (int s, long a) => $"{s - a} steps (alert at {a}, spike at {s})",
        (int s, null) => $"no alert before the spike at {s}",
        (null, long a) => $"no spike (first alert at {a})",
        _ => "no spike and no alert",
    };

    private static void AppendRun(StringBuilder html, DemoRunResult result)
    {
        var d = result.Definition;
        var record = result.Record;
        html.Append(CultureInfo.InvariantCulture, $"<section id=\"{d.Id}\">\n<h2>{Escape(d.Title)}</h2>\n<p class=\"note\">{Escape(RunView.Outcome(result))}</p>\n<div class=\"charts\">\n");
        var markers = Markers(result);
        double steps = Math.Max(result.Steps - 1, 1);
        var perStep = new (string Title, string Label, IReadOnlyList<double> Values)[]
        {
            ("Training loss", "loss", record.Losses),
            ("Learning rate", "learning rate", record.LearningRates),
            ("Gradient norm", "gradient norm", record.GradientNorms),
        };
        foreach (var (title, label, values) in perStep)
        {
            var points = values.Select((v, i) => ((double)i, v)).ToArray();
            AppendChart(html, title, [new Series(label, points)], [], markers, steps);
        }

        foreach (var spec in ProbeCharts)
        {
            var series = spec.Indicators
                .Select(name => new Series(name, result.Series(name)))
                .Where(s => s.Points.Any(p => double.IsFinite(p.Value)))
                .ToArray();
            if (series.Length > 0)
            {
                AppendChart(html, spec.Title, series, spec.References, markers, steps);
            }
        }

        html.Append("</div>\n</section>\n");
    }

    private static List<Marker> Markers(DemoRunResult result)
    {
        var markers = new List<Marker>();
        markers.AddRange(result.SpikeOnsets.Select(s => new Marker(s, "spike", $"loss spike starts at step {s}")));
        markers.AddRange(result.Backoffs.Select(b => new Marker(b.Step, "backoff", $"backoff at step {b.Step}: lr {RunView.Format(b.From)} → {RunView.Format(b.To)}")));
        markers.AddRange(result.Record.Alerts.Where(a => a.IsRaised).Select(a => new Marker(
            a.Step,
            a.Level == AlertLevel.Critical ? "critical" : "warning",
            $"{a.Level} alert at step {a.Step}: {a.Rule} ({a.Indicator} = {RunView.Format(a.Value)})")));
        return markers;
    }

    private static void AppendChart(StringBuilder html, string title, IReadOnlyList<Series> series, IReadOnlyList<double> references, IReadOnlyList<Marker> markers, double maxStep)
    {
        var finite = series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.Value)).Select(p => p.Value).ToArray();
        bool log = finite.Length > 0 && finite.All(v => v > 0) && finite.Max() / finite.Min() >= 10;
        var shown = references.Where(r => !log || r > 0).ToArray();
        var axis = log ? Axis.Log(finite) : Axis.Linear([.. finite, .. shown]);
        double plotWidth = Width - Left - Right;
        double plotHeight = Height - Top - Bottom;
        double X(double step) => Left + (plotWidth * step / maxStep);
        double Y(double value) => Top + (plotHeight * (1 - axis.Fraction(value)));

        var drawn = series.Select(s => s.Points.Where(p => double.IsFinite(p.Value) && (!log || p.Value > 0)).ToArray()).ToArray();
        int count = drawn.Sum(d => d.Length);
        html.Append(CultureInfo.InvariantCulture, $"<figure><svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" data-points=\"{count}\" data-scale=\"{(log ? "log" : "linear")}\" role=\"img\" aria-label=\"{Escape(title)}\">\n");
        html.Append(CultureInfo.InvariantCulture, $"<title>{Escape(title)}</title>\n");
        html.Append(CultureInfo.InvariantCulture, $"<rect class=\"plot\" x=\"{Left}\" y=\"{Top}\" width=\"{plotWidth}\" height=\"{plotHeight}\"/>\n");

        foreach (double tick in axis.Ticks)
        {
            double y = Y(tick);
            html.Append(CultureInfo.InvariantCulture, $"<line class=\"grid\" x1=\"{Left}\" x2=\"{Left + plotWidth}\" y1=\"{F(y)}\" y2=\"{F(y)}\"/><text class=\"tick\" x=\"{Left - 4}\" y=\"{F(y + 3)}\" text-anchor=\"end\">{Escape(axis.Label(tick))}</text>\n");
        }

        foreach (double tick in Axis.Linear([0, maxStep], includeZero: true).Ticks.Where(t => t >= 0 && t <= maxStep))
        {
            double x = X(tick);
            html.Append(CultureInfo.InvariantCulture, $"<line class=\"grid\" x1=\"{F(x)}\" x2=\"{F(x)}\" y1=\"{Top}\" y2=\"{Top + plotHeight}\"/><text class=\"tick\" x=\"{F(x)}\" y=\"{Top + plotHeight + 13}\" text-anchor=\"middle\">{tick.ToString("0", CultureInfo.InvariantCulture)}</text>\n");
        }

        html.Append(CultureInfo.InvariantCulture, $"<text class=\"axis\" x=\"{Left + (plotWidth / 2)}\" y=\"{Height - 3}\" text-anchor=\"middle\">step</text>\n");
        foreach (double reference in shown)
        {
            double y = Y(reference);
            html.Append(CultureInfo.InvariantCulture, $"<line class=\"reference\" x1=\"{Left}\" x2=\"{Left + plotWidth}\" y1=\"{F(y)}\" y2=\"{F(y)}\"><title>reference {Number(reference)}</title></line>\n");
        }

        foreach (var marker in markers.Where(m => m.Step >= 0 && m.Step <= maxStep))
        {
            double x = X(marker.Step);
            html.Append(CultureInfo.InvariantCulture, $"<line class=\"marker {marker.Kind}\" x1=\"{F(x)}\" x2=\"{F(x)}\" y1=\"{Top}\" y2=\"{Top + plotHeight}\"><title>{Escape(marker.Text)}</title></line>\n");
        }

        double legendX = Left + 6;
        for (int i = 0; i < drawn.Length; i++)
        {
            string color = Palette[i % Palette.Length];
            var points = drawn[i];
            if (points.Length == 1)
            {
                html.Append(CultureInfo.InvariantCulture, $"<circle class=\"series\" cx=\"{F(X(points[0].Step))}\" cy=\"{F(Y(points[0].Value))}\" r=\"2.5\" fill=\"{color}\"/>\n");
            }
            else if (points.Length > 1)
            {
                html.Append(CultureInfo.InvariantCulture, $"<polyline class=\"series\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.4\" points=\"");
                foreach (var (step, value) in points)
                {
                    html.Append(CultureInfo.InvariantCulture, $"{F(X(step))},{F(Y(value))} ");
                }

                html.Append("\"/>\n");
            }

            html.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(legendX)}\" y=\"8\" width=\"10\" height=\"3\" fill=\"{color}\"/><text class=\"key\" x=\"{F(legendX + 14)}\" y=\"13\">{Escape(series[i].Label)}</text>\n");

            // About 5.6 px per character at the 10 px legend font, then a gap.
            legendX += 14 + (series[i].Label.Length * 5.6) + 14;
        }

        html.Append(CultureInfo.InvariantCulture, $"</svg><figcaption>{Escape(title)}{(log ? " (log scale)" : string.Empty)}</figcaption></figure>\n");
    }

    private static string F(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    private static string Number(double value) => double.IsNaN(value) ? "–" : value.ToString("G4", CultureInfo.InvariantCulture);

    private static string Ratio(double numerator, double denominator) =>
        denominator != 0 && double.IsFinite(numerator) && double.IsFinite(denominator) ? (numerator / denominator).ToString("G3", CultureInfo.InvariantCulture) + "×" : "–";

    private static string Maybe(long? value) => value is long v ? v.ToString(CultureInfo.InvariantCulture) : "–";

    private static string Escape(string text) => WebUtility.HtmlEncode(text);

    private const string Css = """
        body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem 2rem; color: #1f2a44; background: #fff; }
        h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
        h2 { font-size: 1.15rem; margin-top: 1.8rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
        h3 { font-size: 1rem; margin-bottom: 0.3rem; }
        table { border-collapse: collapse; font-size: 0.82rem; margin: 0.4rem 0; }
        th, td { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: right; }
        th { background: #f3f5f9; }
        td:first-child, th:first-child { text-align: left; }
        tr.stable td:first-child { border-left: 4px solid #009e73; }
        tr.unstable td:first-child { border-left: 4px solid #d55e00; }
        tr.backoff td:first-child { border-left: 4px solid #0072b2; }
        td.ratio { font-weight: 600; }
        .meta, .note { color: #555; font-size: 0.85rem; }
        .legend { font-size: 0.85rem; }
        .key { display: inline-block; width: 18px; height: 0; margin: 0 0.3rem 0.2rem 0.8rem; vertical-align: middle; border-top: 2px solid; }
        .key.warning { border-color: #e69f00; } .key.critical { border-color: #d7191c; }
        .key.backoff { border-top-style: dashed; border-color: #0072b2; } .key.spike { border-top-style: dotted; border-color: #7f7f7f; }
        ul.invariants { list-style: none; padding-left: 0.5rem; font-size: 0.9rem; }
        li.ok { color: #006d4f; } li.failed { color: #b2182b; font-weight: 600; }
        .charts { display: flex; flex-wrap: wrap; gap: 0.6rem; }
        figure { margin: 0; }
        figcaption { font-size: 0.78rem; color: #444; text-align: center; }
        svg.chart { background: #fff; }
        svg.chart rect.plot { fill: #fbfcfe; stroke: #c8ccd4; }
        svg.chart line.grid { stroke: #eceef2; }
        svg.chart text { font-size: 10px; fill: #444; }
        svg.chart text.key { font-size: 10px; fill: #1f2a44; }
        svg.chart line.reference { stroke: #888; stroke-dasharray: 2 3; }
        svg.chart line.marker { stroke-width: 1; opacity: 0.75; }
        svg.chart line.marker.warning { stroke: #e69f00; }
        svg.chart line.marker.critical { stroke: #d7191c; }
        svg.chart line.marker.backoff { stroke: #0072b2; stroke-dasharray: 4 2; }
        svg.chart line.marker.spike { stroke: #7f7f7f; stroke-dasharray: 1 2; }

        """;

    private const string CheckScript = """
        (function () {
          var ok = true;
          var charts = document.querySelectorAll('svg.chart');
          charts.forEach(function (svg) {
            var drawn = 0;
            svg.querySelectorAll('.series').forEach(function (shape) {
              var box = shape.getBBox();
              if (box.width > 0 || box.height > 0) {
                drawn += shape.points ? shape.points.numberOfItems : 1;
              }
            });
            svg.setAttribute('data-drawn', String(drawn));
            if (drawn === 0 || drawn !== Number(svg.getAttribute('data-points'))) { ok = false; }
          });
          document.body.setAttribute('data-charts', charts.length > 0 && ok ? 'ok' : 'failed');
        })();

        """;

    private sealed record ChartSpec(string Title, IReadOnlyList<string> Indicators, IReadOnlyList<double> References);

    private sealed record Series(string Label, IReadOnlyList<(double Step, double Value)> Points);

    private sealed record Marker(double Step, string Kind, string Text);

    /// <summary>A value axis: linear with round ticks, or logarithmic with ticks at powers of ten.</summary>
    private sealed class Axis
    {
        private readonly double _low;
        private readonly double _high;
        private readonly bool _log;

        private Axis(double low, double high, bool log, IReadOnlyList<double> ticks)
        {
            _low = low;
            _high = high;
            _log = log;
            Ticks = ticks;
        }

        public IReadOnlyList<double> Ticks { get; }

        public static Axis Linear(IReadOnlyList<double> values, bool includeZero = false)
        {
            double low = values.Count == 0 ? 0 : values.Min();
            double high = values.Count == 0 ? 1 : values.Max();
            if (includeZero)
            {
                low = Math.Min(low, 0);
            }

            if (high - low <= Math.Abs(high) * 1e-12)
            {
                double pad = high == 0 ? 1 : Math.Abs(high) * 0.1;
                low -= pad;
                high += pad;
            }

            double step = NiceStep((high - low) / 4);
            double first = Math.Ceiling(low / step) * step;
            var ticks = new List<double>();
            for (double t = first; t <= high + (step * 1e-9); t += step)
            {
                ticks.Add(Math.Abs(t) < step * 1e-9 ? 0 : t);
            }

            double margin = includeZero ? 0 : (high - low) * 0.05;
            return new Axis(low - margin, high + margin, log: false, ticks);
        }

        public static Axis Log(IReadOnlyList<double> values)
        {
            double low = Math.Floor(Math.Log10(values.Min()));
            double high = Math.Ceiling(Math.Log10(values.Max()));
            if (high <= low)
            {
                high = low + 1;
            }

            int every = (int)Math.Ceiling((high - low) / 6);
            var ticks = new List<double>();
            for (double e = low; e <= high; e += every)
            {
                ticks.Add(Math.Pow(10, e));
            }

            return new Axis(low, high, log: true, ticks);
        }

        public double Fraction(double value)
        {
            double v = _log ? Math.Log10(value) : value;
            return Math.Clamp((v - _low) / (_high - _low), -0.02, 1.02);
        }

        public string Label(double value) => _log
            ? "1e" + Math.Round(Math.Log10(value)).ToString(CultureInfo.InvariantCulture)
            : value.ToString("G3", CultureInfo.InvariantCulture);

        private static double NiceStep(double rough)
        {
            double magnitude = Math.Pow(10, Math.Floor(Math.Log10(rough)));
            double normalized = rough / magnitude;
            double nice = normalized < 1.5 ? 1 : normalized < 3.5 ? 2 : normalized < 7.5 ? 5 : 10;
            return nice * magnitude;
        }
    }
}
