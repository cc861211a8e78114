using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using SpectralMonitor.Rules;

namespace SpectralMonitor.Tests.Prometheus;

/// <summary>
/// The endpoint serving real monitored training runs (<see cref="MonitoredReferenceRuns"/>): promtool accepts the
/// payload, a real Prometheus server stores exactly the values the monitors recorded, and the dashboard, the alert
/// rules and the README's series table name only series these runs export.
/// </summary>
public sealed partial class MonitoredRunPrometheusTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PromtoolAcceptsTheScrapeOfAMonitoredRun()
    {
        var promtool = PrometheusTools.Require("promtool");
        using var runs = MonitoredReferenceRuns.Train("itest-promtool");
        Assert.True(runs.Runs[0].EdgeAlerts > 0, "the unstable run raised alerts");

        // No Accept header: the classic text format 0.0.4, the one promtool check metrics reads.
        using var client = new HttpClient();
        string payload = await client.GetStringAsync(runs.Address, Token);
        var (exitCode, output) = await PrometheusTools.RunAsync(promtool, ["check", "metrics"], payload, null, TimeSpan.FromSeconds(20));

        Assert.True(exitCode == 0 && output.Trim().Length == 0, $"promtool check metrics exited {exitCode}: {output}");
        Assert.Contains("stability_eigenvector_condition{", payload, StringComparison.Ordinal);
        Assert.Contains("stability_alerts_total{", payload, StringComparison.Ordinal);
        Assert.Contains("stability_probe_duration_seconds_bucket{", payload, StringComparison.Ordinal);
        Assert.Contains("otel_scope_name=\"SpectralMonitor\"", payload, StringComparison.Ordinal);
        Assert.StartsWith("# TYPE target_info gauge", payload, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PrometheusStoresTheValuesTheMonitorRecorded()
    {
        var binary = PrometheusTools.Require("prometheus");
        using var runs = MonitoredReferenceRuns.Train("itest-stored");
        var (sgd, adam, failing, sensed) = (runs.Runs[0], runs.Runs[1], runs.Runs[2], runs.Runs[3]);
        var probe = sgd.Monitor.LatestProbe!;
        Assert.Equal(ProbeStatus.Succeeded, probe.Status);
        Assert.True(sgd.EdgeAlerts > 0, "the unstable run raised alerts");
        Assert.True(sgd.Backoffs > 0, "the unstable run backed off");
        Assert.Equal(1, failing.FailedProbes);
        Assert.True(sensed.Monitor.SkippedUpdates >= 1, "the spike guard skipped the non-finite step");

        // Prometheus scrapes with its own Accept header, so this goes through the exporter's OpenMetrics output.
        await using var server = await PrometheusServerTests.PrometheusServer.StartAsync(binary, runs.Address, Token);
        static string Selector(TrainedRun run, string extra = "") => $"{{run=\"{run.Name}\"{extra}}}";

        // The values go through the exposition format and Prometheus's storage as float64; both round-trip exactly.
        static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
        await server.WaitForValueAsync("stability_eigenvector_condition" + Selector(sgd, ",scope=\"all\""), Format(probe.Indicators[Indicators.EigenvectorCondition]), Token);
        await server.WaitForValueAsync("stability_spectral_radius" + Selector(sgd, ",branch=\"all\""), Format(probe.Indicators[Indicators.SpectralRadius]), Token);
        await server.WaitForValueAsync("stability_spectral_radius" + Selector(sgd, ",branch=\"oscillatory\""), Format(probe.Indicators[Indicators.OscillatoryRadius]), Token);
        await server.WaitForValueAsync("stability_sharpness_to_edge" + Selector(sgd), Format(probe.Indicators[Indicators.SharpnessToEdge]), Token);
        await server.WaitForValueAsync("training_loss" + Selector(sgd), Format(sgd.LastLoss), Token);
        await server.WaitForValueAsync("training_loss" + Selector(adam), Format(adam.LastLoss), Token);
        await server.WaitForValueAsync(
            "stability_preconditioned_sharpness" + Selector(adam),
            Format(adam.Monitor.LatestProbe!.Indicators[Indicators.Sharpness]),
            Token);
        await server.WaitForValueAsync(
            "sum(stability_alerts_total" + Selector(sgd, $",rule=\"{DefaultRules.SharpnessNearEdge.Name}\"") + ")",
            sgd.EdgeAlerts.ToString(CultureInfo.InvariantCulture),
            Token);
        await server.WaitForValueAsync("sum(stability_backoffs_total" + Selector(sgd) + ")", sgd.Backoffs.ToString(CultureInfo.InvariantCulture), Token);
        await server.WaitForValueAsync("stability_probe_failures_total" + Selector(failing), "1", Token);
        await server.WaitForValueAsync(
            "stability_attention_entropy_min" + Selector(sensed),
            Format(sensed.SensorReadings[Indicators.AttentionEntropyMin]),
            Token);
        await server.WaitForValueAsync("stability_update_to_weight" + Selector(sensed), Format(sensed.SensorReadings[Indicators.UpdateToWeight]), Token);
        await server.WaitForValueAsync(
            "sum(stability_alerts_total" + Selector(sensed, $",rule=\"{DefaultRules.AttentionEntropyCollapse.Name}\"") + ")",
            "1",
            Token);
        await server.WaitForValueAsync(
            "stability_spike_guard_triggers_total" + Selector(sensed, ",decision=\"skipped\""),
            sensed.Monitor.SkippedUpdates.ToString(CultureInfo.InvariantCulture),
            Token);
    }

    [Fact]
    public async Task DashboardAlertRulesAndSeriesTableNameOnlySeriesAMonitoredRunExports()
    {
        using var runs = MonitoredReferenceRuns.Train("itest-series");
        using var client = new HttpClient();

        // What Prometheus stores comes from the OpenMetrics answer it negotiates; curl and promtool get the text format.
        using var request = new HttpRequestMessage(HttpMethod.Get, runs.Address);
        request.Headers.TryAddWithoutValidation("Accept", PrometheusEndpointTests.PrometheusAccept);
        using var response = await client.SendAsync(request, Token);
        var exported = DashboardExpressions.ExportedNames(await response.Content.ReadAsStringAsync(Token), runs.Names);
        var text = DashboardExpressions.ExportedNames(await client.GetStringAsync(runs.Address, Token), runs.Names);
        Assert.Subset(exported, text);

        var directory = PrometheusTools.ObservabilityDirectory();
        using var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(directory, "grafana", "dashboards", "spectral-monitor.json"), Token));
        var dashboardNames = DashboardExpressions.All(dashboard.RootElement).SelectMany(e => DashboardExpressions.MetricNames(e.Expr)).ToHashSet(StringComparer.Ordinal);
        Assert.True(dashboardNames.Count >= 15, $"the dashboard's expressions name {dashboardNames.Count} series: {string.Join(", ", dashboardNames)}");
        foreach (var name in dashboardNames)
        {
            Assert.True(exported.Contains(name), $"The dashboard uses '{name}', which the monitored runs do not export. Exported: {string.Join(", ", exported.Order(StringComparer.Ordinal))}");
        }

        var (rules, recorded) = DashboardExpressions.Rules(await File.ReadAllTextAsync(Path.Combine(directory, "alerts.yml"), Token));
        Assert.True(rules.Count >= 6, $"alerts.yml has {rules.Count} expressions");
        foreach (var name in rules.SelectMany(DashboardExpressions.MetricNames))
        {
            Assert.True(exported.Contains(name) || recorded.Contains(name), $"alerts.yml uses '{name}', which neither the monitored runs export nor a recording rule defines.");
        }

        // The README's table lists exactly the monitor's series (target_info and the OpenMetrics _created samples aside).
        var readme = await File.ReadAllTextAsync(Path.Combine(directory, "README.md"), Token);
        var section = readme[readme.IndexOf("## Series", StringComparison.Ordinal)..];
        section = section[..section.IndexOf("\n## ", 1, StringComparison.Ordinal)];
        var table = section.Split('\n')
            .Where(l => l.StartsWith("| `", StringComparison.Ordinal))
            .SelectMany(l => BacktickedName().Matches(l.Split('|')[4]).Select(m => m.Groups[1].Value))
            .ToHashSet(StringComparer.Ordinal);
        var monitorSeries = exported.Where(n => !n.EndsWith("_created", StringComparison.Ordinal)).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(monitorSeries.Order(StringComparer.Ordinal), table.Order(StringComparer.Ordinal));
    }

    [GeneratedRegex("`([a-z_]+)`")]
    private static partial Regex BacktickedName();
}
