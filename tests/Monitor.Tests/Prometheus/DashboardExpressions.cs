using System.Text.Json;
using System.Text.RegularExpressions;
using SpectralMonitor.Prometheus;

namespace SpectralMonitor.Tests.Prometheus;

/// <summary>Reads the PromQL expressions out of the Grafana dashboard.</summary>
internal static partial class DashboardExpressions
{
    /// <summary>The Prometheus series the exporter produces from the monitor's instruments (README table).</summary>
    public static HashSet<string> KnownSeries()
    {
        (string Name, string? Unit, PrometheusMetricType Type)[] instruments =
        [
            ("training.loss", null, PrometheusMetricType.Gauge),
            ("training.learning_rate", null, PrometheusMetricType.Gauge),
            ("stability.spectral_radius", null, PrometheusMetricType.Gauge),
            ("stability.eigenvector_condition", null, PrometheusMetricType.Gauge),
            ("stability.transient_growth", null, PrometheusMetricType.Gauge),
            ("stability.kreiss_constant", null, PrometheusMetricType.Gauge),
            ("stability.sharpness", null, PrometheusMetricType.Gauge),
            ("stability.preconditioned_sharpness", null, PrometheusMetricType.Gauge),
            ("stability.sharpness_threshold", null, PrometheusMetricType.Gauge),
            ("stability.sharpness_to_edge", "1", PrometheusMetricType.Gauge),
            ("stability.commutator_norm", "1", PrometheusMetricType.Gauge),
            ("stability.exceptional_point_distance", "1", PrometheusMetricType.Gauge),
            ("stability.edge_distance", "1", PrometheusMetricType.Gauge),
            ("stability.weight_top_singular_value", null, PrometheusMetricType.Gauge),
            ("stability.weight_stable_rank", null, PrometheusMetricType.Gauge),
            ("stability.gradient_norm_zscore", null, PrometheusMetricType.Gauge),
            ("stability.loss_zscore", null, PrometheusMetricType.Gauge),
            ("stability.alert_level", null, PrometheusMetricType.Gauge),
            ("stability.backoff_factor", "1", PrometheusMetricType.Gauge),
            ("stability.alerts", "{alert}", PrometheusMetricType.Counter),
            ("stability.backoffs", "{backoff}", PrometheusMetricType.Counter),
            ("stability.probe.hvp_count", "{hvp}", PrometheusMetricType.Counter),
            ("stability.probe.failures", "{probe}", PrometheusMetricType.Counter),
        ];
        var known = instruments.Select(i => PrometheusNaming.MetricFamilyName(i.Name, i.Unit, i.Type)).ToHashSet(StringComparer.Ordinal);
        var histogram = PrometheusNaming.MetricFamilyName("stability.probe.duration", "s", PrometheusMetricType.Histogram);
        known.UnionWith([histogram + "_bucket", histogram + "_sum", histogram + "_count"]);
        return known;
    }

    /// <summary>(datasource uid, expression) for every panel target and annotation query.</summary>
    public static IEnumerable<(string? DatasourceUid, string Expr)> All(JsonElement dashboard)
    {
        foreach (var panel in dashboard.GetProperty("panels").EnumerateArray())
        {
            if (!panel.TryGetProperty("targets", out var targets))
            {
                continue;
            }

            foreach (var target in targets.EnumerateArray())
            {
                yield return (target.GetProperty("datasource").GetProperty("uid").GetString(), target.GetProperty("expr").GetString()!);
            }
        }

        foreach (var annotation in dashboard.GetProperty("annotations").GetProperty("list").EnumerateArray())
        {
            if (annotation.TryGetProperty("expr", out var expr))
            {
                yield return (annotation.GetProperty("datasource").GetProperty("uid").GetString(), expr.GetString()!);
            }
        }
    }

    /// <summary>Metric names in a PromQL expression: identifiers directly followed by a selector '{'.</summary>
    public static IEnumerable<string> MetricNames(string expr)
        => SelectorName().Matches(expr).Select(m => m.Groups[1].Value);

    /// <summary>Substitutes Grafana's variables so Prometheus can evaluate the expression.</summary>
    public static string Concrete(string expr)
        => expr.Replace("$__rate_interval", "1m", StringComparison.Ordinal)
            .Replace("$__interval", "15s", StringComparison.Ordinal)
            .Replace("$run", ".*", StringComparison.Ordinal)
            .Replace("$optimizer", ".*", StringComparison.Ordinal);

    [GeneratedRegex(@"([a-zA-Z_:][a-zA-Z0-9_:]*)\{")]
    private static partial Regex SelectorName();
}
