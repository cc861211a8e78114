using System.Globalization;
using System.Net;
using System.Text;
using SpectralMonitor.Examples.Workloads;
using SpectralMonitor.Rules;

namespace SpectralMonitor.Examples.InstabilityDemo;

/// <summary>
/// Writes <c>report.html</c>: one self-contained file (inline CSS, inline SVG charts drawn by ScottPlot, one small
/// inline script; nothing is fetched), with the runs table, the invariants, what the monitor raised and when, its
/// cost, the stable-against-unstable comparison per group and every run's charts.
/// </summary>
/// <remarks>
/// Every chart is a <c>&lt;figure class="chart" data-points="N" data-series="#RRGGBB,…"&gt;</c> around ScottPlot's
/// SVG, where N counts the data points drawn and the colors name the data series. The inline script counts, in the
/// browser, the vertices of every laid-out data path (and single-point markers) of those colors, stores the count in
/// <c>data-drawn</c> and sets <c>data-charts="ok"</c> on the body when every chart drew all of its points.
/// </remarks>
internal static class HtmlReportWriter
{
    /// <summary>The probe charts of a run: title, indicators, reference lines.</summary>
    private static readonly (string Title, string[] Indicators, double[] References)[] ProbeCharts =
    [
        ("Sharpness and its stability edge", [Indicators.Sharpness, Indicators.SharpnessEdge], []),
        ("Sharpness / edge (rules: warning 0.9, critical 1)", [Indicators.SharpnessToEdge], [0.9, 1]),
        ("Spectral radius ρ(J): whole, oscillatory, monotone", [Indicators.SpectralRadius, Indicators.OscillatoryRadius, Indicators.MonotoneRadius], [1]),
        ("Eigenvector condition κ(V): all modes, top modes", [Indicators.EigenvectorCondition, Indicators.TopEigenvectorCondition], []),
        ("Transient growth max‖Jᵏ‖", [Indicators.TransientGrowth], [1]),
        ("Distance to the exceptional point / to the edge", [Indicators.ExceptionalPointDistance, Indicators.EdgeDistance], [0]),
        ("Weights: top singular value, stable rank", [Indicators.WeightTopSingularValue, Indicators.WeightStableRank], []),
        ("Kreiss constant", [Indicators.KreissConstant], []),
        ("Commutator ‖[H̃, P]‖ (normalized)", [Indicators.CommutatorNorm], []),
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
        html.Append(CultureInfo.InvariantCulture, $"<p class=\"meta\">TorchSharp, float32 on the CPU, one torch thread, one run at a time. Seed {s.Seed}, {(s.Quick ? "quick" : "full")} run, training wall time {report.Elapsed.TotalSeconds:F1} s. The monitor is attached with <code>optimizer.AttachSpectralMonitor(model, probeLoss: …)</code> and its default rules ({Escape(string.Join(", ", DefaultRules.All.Select(r => r.Name)))}) and estimators, a probe every N steps as listed (halved while an indicator rises), no overhead budget stretching. Spikes: {Escape(LossSpikes.Describe())}.</p>\n");
        html.Append(CultureInfo.InvariantCulture, $"<p class=\"legend\">Event lines on every chart: <span class=\"key\" style=\"border-color:{ChartRenderer.MarkerColor("warning")}\"></span>warning alert <span class=\"key\" style=\"border-color:{ChartRenderer.MarkerColor("critical")}\"></span>critical alert <span class=\"key\" style=\"border-color:{ChartRenderer.MarkerColor("backoff")}\"></span>learning-rate cut (alert backoff or spike guard) <span class=\"key\" style=\"border-color:{ChartRenderer.MarkerColor("spike")}\"></span>loss spike onset; grey horizontal lines are thresholds.</p>\n");

        int chart = 0;
        AppendRunTable(html, report);
        AppendOverview(html, report, ref chart);
        AppendInvariants(html, report);
        AppendAlarms(html, report);
        AppendCost(html, report);
        AppendComparisons(html, report);

        foreach (var result in report.Results)
        {
            AppendRun(html, result, ref chart);
        }

        html.Append("<script>\n").Append(CheckScript).Append("</script>\n</body>\n</html>\n");
        return html.ToString();
    }

    private static void AppendRunTable(StringBuilder html, DemoReport report)
    {
        html.Append("<h2>Runs</h2>\n<table>\n<tr><th>run</th><th>model and data</th><th>optimizer</th><th>lr</th><th>warm-up</th><th>backoff</th><th>spike guard</th><th>steps</th><th>spikes</th><th>first spike</th><th>alerts raised</th><th>first alert</th><th>warned (steps)</th><th>backoffs</th><th>updates skipped</th><th>final loss</th></tr>\n");
        foreach (var r in report.Results)
        {
            var d = r.Definition;
            html.Append(CultureInfo.InvariantCulture, $"<tr class=\"{d.Role.ToString().ToLowerInvariant()}\"><td><a href=\"#{d.Id}\">{d.Id}</a></td><td>{Escape(d.ModelLabel)} ({r.Trace.ParameterCount:N0} parameters)</td><td>{Escape(d.OptimizerLabel)}</td><td>{Number(d.LearningRate)}</td><td>{d.WarmupSteps}</td><td>{(d.Backoff ? "on" : "off")}</td><td>{(d.SpikeGuard ? "on" : "off")}</td><td>{r.Trace.Losses.Count}</td><td>{r.SpikeOnsets.Count}</td><td>{Maybe(r.FirstSpikeStep)}</td><td>{r.RaisedAlerts.Count}</td><td>{Maybe(r.FirstAlertStep)}</td><td>{Maybe(r.LeadSteps)}</td><td>{r.Backoffs.Count}</td><td>{r.Trace.SkippedUpdates}</td><td>{Number(r.Trace.FinalLoss)}{(r.Trace.Diverged ? " (diverged)" : string.Empty)}</td></tr>\n");
        }

        html.Append(CultureInfo.InvariantCulture, $"</table>\n<p class=\"note\">Warned = first spike − the last alert onset within the {DemoRunResult.WarningHorizon} steps before it (– when no alert was raised in that window).</p>\n");
    }

    private static void AppendOverview(StringBuilder html, DemoReport report, ref int chart)
    {
        var groups = report.Results.GroupBy(r => r.Definition.Group).ToArray();
        html.Append(CultureInfo.InvariantCulture, $"<h2>Overview</h2>\n<p class=\"note\">Per group: the {LossSpikes.DefaultWindow}-step mean loss of each run (grey lines: spike onsets), the sharpness against its stability edge at every probe (grey lines: the rules' thresholds 0.9 and 1), and the alert level in force (0 OK, 1 warning, 2 critical).</p>\n<div class=\"charts\">\n");
        foreach (var group in groups)
        {
            var runs = group.ToArray();
            double maxStep = Math.Max(runs.Max(r => r.Steps) - 1, 1);
            var spikes = runs.SelectMany(r => r.SpikeOnsets.Select(s => new ChartMarker(s, "spike", $"{r.Definition.Id}: spike at step {s}"))).ToList();
            AppendChart(html, ref chart, $"{group.Key}: {LossSpikes.DefaultWindow}-step mean loss", [.. runs.Select(r => new ChartSeries(r.Definition.Id, MovingMean(r.Trace.Losses, LossSpikes.DefaultWindow), Color: RoleColor(r.Definition.Role)))], [], spikes, maxStep);
            AppendChart(html, ref chart, $"{group.Key}: sharpness / edge", [.. runs.Select(r => new ChartSeries(r.Definition.Id, r.Series(Indicators.SharpnessToEdge), Color: RoleColor(r.Definition.Role)))], [0.9, 1], [], maxStep);
            AppendChart(html, ref chart, $"{group.Key}: alert level in force", [.. runs.Select(r => new ChartSeries(r.Definition.Id, LevelSeries(r), Color: RoleColor(r.Definition.Role)))], [], [], maxStep);
        }

        html.Append("</div>\n");
    }

    private static (double, double)[] LevelSeries(DemoRunResult result)
    {
        // A step function from the per-step level: a point at the start, two where the level changes, one at the end.
        var levels = result.Trace.AlertLevels;
        var points = new List<(double, double)>();
        for (int t = 0; t < levels.Count; t++)
        {
            double level = (double)levels[t];
            if (t == 0 || t == levels.Count - 1)
            {
                points.Add((t, level));
            }
            else if (levels[t] != levels[t - 1])
            {
                points.Add((t, (double)levels[t - 1]));
                points.Add((t, level));
            }
        }

        return [.. points];
    }

    private static string RoleColor(RunRole role) => role switch
    {
        RunRole.Stable => "#009E73",
        RunRole.Unstable => "#D55E00",
        RunRole.Guard => "#CC79A7",
        _ => "#56B4E9",
    };

    private static void AppendInvariants(StringBuilder html, DemoReport report)
    {
        if (report.Invariants.Count == 0)
        {
            return;
        }

        html.Append("<h2>Invariants</h2>\n<p class=\"note\">What the demo promises about the training runs. The alarms are not among them: they are shown below as they came.</p>\n<ul class=\"invariants\">\n");
        foreach (var check in report.Invariants)
        {
            html.Append(CultureInfo.InvariantCulture, $"<li class=\"{(check.Holds ? "ok" : "failed")}\">{(check.Holds ? "✔" : "✘")} {Escape(check.Name)} <span class=\"note\">({Escape(check.Detail)})</span></li>\n");
        }

        html.Append("</ul>\n");
    }

    private static void AppendAlarms(StringBuilder html, DemoReport report)
    {
        html.Append("<h2>What the monitor raised</h2>\n<ul class=\"facts\">\n");
        foreach (var r in report.Results)
        {
            string alerts = r.RaisedAlerts.Count == 0
                ? "no alert"
                : $"{r.RaisedAlerts.Count} alert onset(s) at steps {string.Join(", ", r.RaisedAlerts.Select(a => a.Step).Distinct().Take(12))}{(r.RaisedAlerts.Select(a => a.Step).Distinct().Count() > 12 ? ", …" : string.Empty)}; an alert was in force {r.AlarmTimeFraction * 100:F0}% of the steps";
            string spikes = r.FirstSpikeStep is int spike
                ? r.LeadSteps is long lead
                    ? $"first spike at step {spike}, {lead} steps after the last alert onset before it{(r.AlertActiveAtFirstSpike ? " (an alert was still in force at the spike)" : " (the alerts had cleared by the spike)")}"
                    : $"first spike at step {spike}, with no alert onset in the {DemoRunResult.WarningHorizon} steps before it{(r.AlertActiveAtFirstSpike ? " (an earlier alert was still in force)" : string.Empty)}"
                : "no spike";
            html.Append(CultureInfo.InvariantCulture, $"<li><b>{r.Definition.Id}</b> ({r.Definition.Role.ToString().ToLowerInvariant()}): {Escape(alerts)}; {Escape(spikes)}.</li>\n");
        }

        html.Append("</ul>\n<p class=\"note\">An alarm on a stable run is a false alarm. The default rules fire when the (preconditioned) sharpness reaches its stability edge; Adam-type optimizers can sit at or past that edge while training well, so on such runs the rules are known to alarm without a spike following.</p>\n");
    }

    private static void AppendCost(StringBuilder html, DemoReport report)
    {
        html.Append("<h2>What the monitor cost</h2>\n<table>\n<tr><th>run</th><th>parameters</th><th>probe every</th><th>probe batch</th><th>probes</th><th>failed</th><th>HVPs</th><th>mean step (ms)</th><th>mean probe (ms)</th><th>training (s)</th><th>probes (s)</th><th>probe / training time</th></tr>\n");
        foreach (var r in report.Results)
        {
            var t = r.Trace;
            double meanProbe = t.Probes.Count > 0 ? t.Probes.Average(p => p.Duration.TotalMilliseconds) : double.NaN;
            double ratio = t.TrainingTime > TimeSpan.Zero ? t.ProbeTime / t.TrainingTime : double.NaN;
            html.Append(CultureInfo.InvariantCulture, $"<tr><td>{r.Definition.Id}</td><td>{t.ParameterCount:N0}</td><td>{r.Definition.ProbeInterval}</td><td>{r.Definition.ProbeBatchSize}</td><td>{t.Probes.Count}</td><td>{t.Probes.Count(p => p.Status != ProbeStatus.Succeeded)}</td><td>{t.Probes.Sum(p => p.HvpCount)}</td><td>{t.MeanStepTime.TotalMilliseconds:F2}</td><td>{meanProbe:F0}</td><td>{t.TrainingTime.TotalSeconds:F1}</td><td>{t.ProbeTime.TotalSeconds:F1}</td><td>{ratio:P0}</td></tr>\n");
        }

        html.Append("</table>\n<p class=\"note\">Wall times of this run on this machine, with the other runs training beside it. A probe evaluates Hessian-vector products on the probe batch by double backward; the demo probes densely to show the indicators over time, far above the library's default 5% budget.</p>\n");
    }

    private static void AppendComparisons(StringBuilder html, DemoReport report)
    {
        bool any = false;
        foreach (var group in report.Results.GroupBy(r => r.Definition.Group))
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
            html.Append(CultureInfo.InvariantCulture, $"<h3>{Escape(group.Key)}: lr {Number(stable.Definition.LearningRate)} against lr {Number(unstable.Definition.LearningRate)} ({Escape(stable.Definition.ModelLabel)}, {Escape(stable.Definition.OptimizerLabel)})</h3>\n");
            html.Append("<table>\n<tr><th>indicator</th><th>stable median</th><th>stable max</th><th>unstable median</th><th>unstable max</th><th>ratio of medians</th><th>ratio of maxima</th>");
            html.Append(backoff is null ? "</tr>\n" : "<th>with backoff: median</th><th>max</th></tr>\n");
            foreach (string name in stable.IndicatorNames.Union(unstable.IndicatorNames, StringComparer.Ordinal).Order(StringComparer.Ordinal))
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

            html.Append("</table>\n");
        }
    }

    private static void AppendRun(StringBuilder html, DemoRunResult result, ref int chart)
    {
        var d = result.Definition;
        var trace = result.Trace;
        html.Append(CultureInfo.InvariantCulture, $"<section id=\"{d.Id}\">\n<h2>{Escape(d.Title)}</h2>\n<p class=\"note\">{Escape(RunView.Outcome(result))}</p>\n<div class=\"charts\">\n");
        var markers = Markers(result);
        double maxStep = Math.Max(result.Steps - 1, 1);
        var losses = trace.Losses.Select((v, i) => ((double)i, v)).ToArray();
        var smoothed = MovingMean(trace.Losses, LossSpikes.DefaultWindow);
        AppendChart(html, ref chart, $"Training loss: per batch, and its {LossSpikes.DefaultWindow}-step mean", [new("loss", losses, Faint: true), new($"{LossSpikes.DefaultWindow}-step mean", smoothed)], [], markers, maxStep);
        AppendChart(html, ref chart, "Learning rate", [new("learning rate", [.. trace.LearningRates.Select((v, i) => ((double)i, v))])], [], markers, maxStep);
        AppendChart(html, ref chart, "Gradient norm", [new("gradient norm", [.. trace.GradientNorms.Select((v, i) => ((double)i, v))])], [], markers, maxStep);
        foreach (var (title, indicators, references) in ProbeCharts)
        {
            var series = indicators
                .Select(name => new ChartSeries(name, result.Series(name)))
                .Where(s => s.Points.Any(p => double.IsFinite(p.Value)))
                .ToArray();
            if (series.Length > 0)
            {
                AppendChart(html, ref chart, title, series, references, markers, maxStep);
            }
        }

        html.Append("</div>\n</section>\n");
    }

    private static (double, double)[] MovingMean(IReadOnlyList<double> values, int window)
    {
        var points = new List<(double, double)>();
        for (int t = window - 1; t < values.Count; t++)
        {
            double sum = 0;
            for (int k = t - window + 1; k <= t; k++)
            {
                sum += values[k];
            }

            points.Add((t, sum / window));
        }

        return [.. points];
    }

    private static List<ChartMarker> Markers(DemoRunResult result)
    {
        var markers = new List<ChartMarker>();
        markers.AddRange(result.SpikeOnsets.Select(s => new ChartMarker(s, "spike", $"loss spike starts at step {s}")));
        markers.AddRange(result.Backoffs.Select(b => new ChartMarker(b.Step, "backoff", $"backoff at step {b.Step}: factor {RunView.Format(b.FromFactor)} → {RunView.Format(b.ToFactor)}")));
        markers.AddRange(result.RaisedAlerts.Select(a => new ChartMarker(
            a.Step,
            a.Level == AlertLevel.Critical ? "critical" : "warning",
            $"{a.Level} alert at step {a.Step}: {a.Rule} ({a.Indicator} = {RunView.Format(a.Value)})")));
        return markers;
    }

    private static void AppendChart(StringBuilder html, ref int chart, string title, ChartSeries[] series, double[] references, List<ChartMarker> markers, double maxStep)
    {
        var rendered = ChartRenderer.Render($"c{chart++}", series, references, markers, maxStep);
        html.Append(CultureInfo.InvariantCulture, $"<figure class=\"chart\" data-points=\"{rendered.Points}\" data-series=\"{string.Join(",", rendered.SeriesColors)}\" data-scale=\"{(rendered.Log ? "log" : "linear")}\" title=\"{Escape(string.Join("; ", markers.Select(m => m.Text).Take(40)))}\">\n");
        html.Append(rendered.Svg).Append('\n');
        html.Append("<figcaption>").Append(Escape(title)).Append(rendered.Log ? " (log scale)" : string.Empty).Append("<br>");
        for (int i = 0; i < series.Length; i++)
        {
            html.Append(CultureInfo.InvariantCulture, $"<span class=\"swatch\" style=\"background:{rendered.SeriesColors[i]}\"></span>{Escape(series[i].Label)} ");
        }

        html.Append("</figcaption></figure>\n");
    }

    private static string Number(double value) => double.IsNaN(value) ? "–" : value.ToString("G4", CultureInfo.InvariantCulture);

    private static string Ratio(double numerator, double denominator) =>
        denominator != 0 && double.IsFinite(numerator) && double.IsFinite(denominator) ? (numerator / denominator).ToString("G3", CultureInfo.InvariantCulture) + "×" : "–";

    private static string Maybe(long? value) => value is long v ? v.ToString(CultureInfo.InvariantCulture) : "–";

    private static string Escape(string text) => WebUtility.HtmlEncode(text);

    private const string Css = """
        body { font-family: "DejaVu Sans", system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem 2rem; color: #1f2a44; background: #fff; }
        h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
        h2 { font-size: 1.15rem; margin-top: 1.8rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
        h3 { font-size: 1rem; margin-bottom: 0.3rem; }
        table { border-collapse: collapse; font-size: 0.8rem; margin: 0.4rem 0; }
        th, td { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: right; }
        th { background: #f3f5f9; }
        td:first-child, th:first-child, td:nth-child(2) { text-align: left; }
        tr.stable td:first-child { border-left: 4px solid #009e73; }
        tr.unstable td:first-child { border-left: 4px solid #d55e00; }
        tr.backoff td:first-child { border-left: 4px solid #0072b2; }
        tr.guard td:first-child { border-left: 4px solid #cc79a7; }
        td.ratio { font-weight: 600; }
        .meta, .note { color: #555; font-size: 0.85rem; }
        .legend, ul.facts { font-size: 0.85rem; }
        .key { display: inline-block; width: 18px; height: 0; margin: 0 0.3rem 0.2rem 0.8rem; vertical-align: middle; border-top: 2px solid; }
        .swatch { display: inline-block; width: 12px; height: 3px; margin: 0 0.25rem 0.2rem 0.5rem; vertical-align: middle; }
        ul.invariants { list-style: none; padding-left: 0.5rem; font-size: 0.9rem; }
        li.ok { color: #006d4f; } li.failed { color: #b2182b; font-weight: 600; }
        .charts { display: flex; flex-wrap: wrap; gap: 0.6rem; }
        figure { margin: 0; }
        figcaption { font-size: 0.76rem; color: #444; text-align: center; max-width: 430px; }
        code { font-size: 0.8rem; }

        """;

    private const string CheckScript = """
        (function () {
          var ok = true;
          var charts = document.querySelectorAll('figure.chart');
          charts.forEach(function (figure) {
            var colors = (figure.getAttribute('data-series') || '').split(',');
            var drawn = 0;
            figure.querySelectorAll('svg g[clip-path] > path, svg g[clip-path] > ellipse').forEach(function (shape) {
              var color = shape.tagName === 'ellipse' ? shape.getAttribute('fill') : shape.getAttribute('stroke');
              if (colors.indexOf(color) < 0) { return; }
              var box = shape.getBBox();
              if (!(box.width > 0 || box.height > 0)) { return; }
              drawn += shape.tagName === 'ellipse' ? 1 : (shape.getAttribute('d').match(/[ML]/g) || []).length;
            });
            figure.setAttribute('data-drawn', String(drawn));
            if (drawn === 0 || drawn !== Number(figure.getAttribute('data-points'))) { ok = false; }
          });
          document.body.setAttribute('data-charts', charts.length > 0 && ok ? 'ok' : 'failed');
        })();

        """;
}
