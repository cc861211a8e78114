using System.Text.Json;
using OpenTelemetry.Metrics;

namespace SpectralMonitor.Tests.Prometheus;

/// <summary>Validates the endpoint's payload and the observability assets with <c>promtool</c>.</summary>
public sealed class PromtoolTests
{
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task ServedPayloadPassesPromtoolCheckMetrics()
    {
        var promtool = PrometheusTools.Require("promtool");
        using var test = TestEndpoint.Start(
            o => o with { IncludeScopeLabels = true, IncludeTargetInfo = true },
            b => b.AddView("test.probe.duration", new ExplicitBucketHistogramConfiguration { Boundaries = [0.01, 0.1, 1] }),
            meterVersion: "0.1.0");
        var tag = new KeyValuePair<string, object?>("run", "r\\1 \"quoted\"\nsecond line");
        var group = new KeyValuePair<string, object?>("param.group", 3);
        test.Meter.CreateCounter<long>("test.alerts", "{alert}", "Alerts raised \\ by rule\nper level").Add(2, tag, group);
        test.Meter.CreateCounter<double>("test.cpu.time", "s", "CPU time").Add(1.5, tag);
        var gauge = test.Meter.CreateGauge<double>("test.spectral_radius", null, "Spectral radius of the update map");
        gauge.Record(0.97, tag, new KeyValuePair<string, object?>("mode", "oscillatory"));
        gauge.Record(double.NaN, tag, new KeyValuePair<string, object?>("mode", "total"));
        gauge.Record(double.PositiveInfinity, tag, new KeyValuePair<string, object?>("mode", "monotone"));
        test.Meter.CreateGauge<double>("test.busy", "1", "Busy fraction").Record(0.5, tag);
        var upDown = test.Meter.CreateUpDownCounter<long>("test.queue", "{item}", "Queued probes");
        upDown.Add(3, tag);
        upDown.Add(-5, tag);
        var histogram = test.Meter.CreateHistogram<double>("test.probe.duration", "s", "Probe duration");
        foreach (var value in new[] { 0.005, 0.05, 0.5, 5.0 })
        {
            histogram.Record(value, tag);
        }

        var payload = await test.ScrapeTextAsync();
        var (exitCode, output) = await PrometheusTools.RunAsync(promtool, ["check", "metrics"], payload, null, ToolTimeout);

        Assert.True(exitCode == 0 && output.Trim().Length == 0, $"promtool check metrics exited {exitCode}: {output}\n--- payload ---\n{payload}");
        Assert.Contains("test_alerts_total{otel_scope_name=", payload, StringComparison.Ordinal);
        Assert.Contains("param_group=\"3\",run=\"r\\\\1 \\\"quoted\\\"\\nsecond line\"", payload, StringComparison.Ordinal);
        Assert.Contains("test_cpu_time_seconds_total{", payload, StringComparison.Ordinal);
        Assert.Contains("test_busy{", payload, StringComparison.Ordinal);
        Assert.Contains("test_probe_duration_seconds_bucket{", payload, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AlertRulesPassPromtoolCheckRules()
    {
        var promtool = PrometheusTools.Require("promtool");
        var directory = PrometheusTools.ObservabilityDirectory();

        var (exitCode, output) = await PrometheusTools.RunAsync(promtool, ["check", "rules", "alerts.yml"], null, directory, ToolTimeout);

        Assert.True(exitCode == 0, $"promtool check rules exited {exitCode}: {output}");
        Assert.Contains("SUCCESS", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AlertRuleUnitTestsPass()
    {
        var promtool = PrometheusTools.Require("promtool");
        var directory = PrometheusTools.ObservabilityDirectory();

        var (exitCode, output) = await PrometheusTools.RunAsync(promtool, ["test", "rules", "alerts.test.yml"], null, directory, ToolTimeout);

        Assert.True(exitCode == 0, $"promtool test rules exited {exitCode}: {output}");
        Assert.Contains("SUCCESS", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PrometheusConfigPassesPromtoolCheckConfig()
    {
        var promtool = PrometheusTools.Require("promtool");
        var directory = PrometheusTools.ObservabilityDirectory();

        var (exitCode, output) = await PrometheusTools.RunAsync(promtool, ["check", "config", "prometheus.yml"], null, directory, ToolTimeout);

        Assert.True(exitCode == 0, $"promtool check config exited {exitCode}: {output}");
        var config = await File.ReadAllTextAsync(Path.Combine(directory, "prometheus.yml"), TestContext.Current.CancellationToken);
        Assert.Contains("job_name: spectral-monitor", config, StringComparison.Ordinal);
        Assert.Contains("- alerts.yml", config, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DashboardIsProvisioningReady()
    {
        var directory = PrometheusTools.ObservabilityDirectory();
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(
            Path.Combine(directory, "grafana", "dashboards", "spectral-monitor.json"),
            TestContext.Current.CancellationToken));
        var root = json.RootElement;

        Assert.True(root.GetProperty("schemaVersion").GetInt32() >= 36);
        Assert.False(root.TryGetProperty("id", out var id) && id.ValueKind != JsonValueKind.Null, "A provisioned dashboard must not carry a database id.");
        var variables = root.GetProperty("templating").GetProperty("list").EnumerateArray().Select(v => v.GetProperty("name").GetString()).ToList();
        Assert.Equal(["DS_PROMETHEUS", "run", "optimizer"], variables);

        var expressions = DashboardExpressions.All(root).ToList();
        Assert.NotEmpty(expressions);
        Assert.All(expressions, e => Assert.Equal("${DS_PROMETHEUS}", e.DatasourceUid));
    }
}
