using SpectralMonitor.Prometheus;

namespace SpectralMonitor.Tests.Prometheus;

public sealed class PrometheusNamingTests
{
    [Theory]
    [InlineData("stability.spectral_radius", null, PrometheusMetricType.Gauge, "stability_spectral_radius")]
    [InlineData("stability.probe.duration", "s", PrometheusMetricType.Histogram, "stability_probe_duration_seconds")]
    [InlineData("process.memory", "By", PrometheusMetricType.Gauge, "process_memory_bytes")]
    [InlineData("probe.latency", "ms", PrometheusMetricType.Histogram, "probe_latency_milliseconds")]
    [InlineData("stability.alerts", "{alert}", PrometheusMetricType.Counter, "stability_alerts_total")]
    [InlineData("stability.probe.hvp_count", "{hvp}", PrometheusMetricType.Counter, "stability_probe_hvp_count_total")]
    [InlineData("stability.backoffs", null, PrometheusMetricType.Counter, "stability_backoffs_total")]
    [InlineData("cpu.utilization", "1", PrometheusMetricType.Gauge, "cpu_utilization_ratio")]
    [InlineData("items.processed", "1", PrometheusMetricType.Counter, "items_processed_total")]
    [InlineData("items.sizes", "1", PrometheusMetricType.Histogram, "items_sizes")]
    [InlineData("throughput", "By/s", PrometheusMetricType.Gauge, "throughput_bytes_per_second")]
    [InlineData("hvp.rate", "{hvp}/s", PrometheusMetricType.Gauge, "hvp_rate_per_second")]
    [InlineData("disk.usage", "%", PrometheusMetricType.Gauge, "disk_usage_percent")]
    [InlineData("request.duration_seconds", "s", PrometheusMetricType.Histogram, "request_duration_seconds")]
    [InlineData("cpu.time_seconds_total", "s", PrometheusMetricType.Counter, "cpu_time_seconds_total")]
    [InlineData("requests_total", null, PrometheusMetricType.Counter, "requests_total")]
    [InlineData("cpu.time", "s", PrometheusMetricType.Counter, "cpu_time_seconds_total")]
    [InlineData("temperature", "Cel", PrometheusMetricType.Gauge, "temperature_celsius")]
    [InlineData("odd-name/with..chars", null, PrometheusMetricType.Gauge, "odd_name_with_chars")]
    [InlineData("9lives", null, PrometheusMetricType.Gauge, "_9lives")]
    [InlineData("a__b", null, PrometheusMetricType.Gauge, "a_b")]
    [InlineData("ns:metric", null, PrometheusMetricType.Gauge, "ns:metric")]
    [InlineData("weird.unit", "kg.m", PrometheusMetricType.Gauge, "weird_unit_kg_m")]
    public void MetricFamilyNameFollowsTheOpenTelemetryMapping(string name, string? unit, PrometheusMetricType type, string expected)
        => Assert.Equal(expected, PrometheusNaming.MetricFamilyName(name, unit, type));

    [Theory]
    [InlineData("run", "run")]
    [InlineData("param.group", "param_group")]
    [InlineData("__reserved", "_reserved")]
    [InlineData("1st", "_1st")]
    [InlineData("a-b/c:d", "a_b_c_d")]
    [InlineData("ünïcode", "_n_code")]
    [InlineData("", "_")]
    public void LabelNameIsSanitized(string key, string expected)
        => Assert.Equal(expected, PrometheusNaming.LabelName(key));

    [Fact]
    public void EmptyInstrumentNameIsRejectedWithTheParameterName()
    {
        var error = Assert.Throws<ArgumentException>(() => PrometheusNaming.MetricFamilyName("", "s", PrometheusMetricType.Gauge));
        Assert.Equal("instrumentName", error.ParamName);
    }

    /// <summary>
    /// The table in examples/observability/README.md, which alerts.yml and the dashboard rely on: the monitor's
    /// instruments (src/Monitor/Telemetry/MonitorInstruments.cs) with their units.
    /// </summary>
    [Theory]
    [InlineData("training.loss", null, PrometheusMetricType.Gauge, "training_loss")]
    [InlineData("training.learning_rate", null, PrometheusMetricType.Gauge, "training_learning_rate")]
    [InlineData("stability.spectral_radius", null, PrometheusMetricType.Gauge, "stability_spectral_radius")]
    [InlineData("stability.eigenvector_condition", null, PrometheusMetricType.Gauge, "stability_eigenvector_condition")]
    [InlineData("stability.transient_growth", null, PrometheusMetricType.Gauge, "stability_transient_growth")]
    [InlineData("stability.kreiss_constant", null, PrometheusMetricType.Gauge, "stability_kreiss_constant")]
    [InlineData("stability.sharpness", null, PrometheusMetricType.Gauge, "stability_sharpness")]
    [InlineData("stability.preconditioned_sharpness", null, PrometheusMetricType.Gauge, "stability_preconditioned_sharpness")]
    [InlineData("stability.sharpness_threshold", null, PrometheusMetricType.Gauge, "stability_sharpness_threshold")]
    [InlineData("stability.sharpness_to_edge", "1", PrometheusMetricType.Gauge, "stability_sharpness_to_edge_ratio")]
    [InlineData("stability.commutator_norm", "1", PrometheusMetricType.Gauge, "stability_commutator_norm_ratio")]
    [InlineData("stability.exceptional_point_distance", "1", PrometheusMetricType.Gauge, "stability_exceptional_point_distance_ratio")]
    [InlineData("stability.edge_distance", "1", PrometheusMetricType.Gauge, "stability_edge_distance_ratio")]
    [InlineData("stability.weight_top_singular_value", null, PrometheusMetricType.Gauge, "stability_weight_top_singular_value")]
    [InlineData("stability.weight_stable_rank", null, PrometheusMetricType.Gauge, "stability_weight_stable_rank")]
    [InlineData("stability.gradient_norm_zscore", null, PrometheusMetricType.Gauge, "stability_gradient_norm_zscore")]
    [InlineData("stability.loss_zscore", null, PrometheusMetricType.Gauge, "stability_loss_zscore")]
    [InlineData("stability.alert_level", null, PrometheusMetricType.Gauge, "stability_alert_level")]
    [InlineData("stability.backoff_factor", "1", PrometheusMetricType.Gauge, "stability_backoff_factor_ratio")]
    [InlineData("stability.alerts", "{alert}", PrometheusMetricType.Counter, "stability_alerts_total")]
    [InlineData("stability.backoffs", "{backoff}", PrometheusMetricType.Counter, "stability_backoffs_total")]
    [InlineData("stability.probe.hvp_count", "{hvp}", PrometheusMetricType.Counter, "stability_probe_hvp_count_total")]
    [InlineData("stability.probe.failures", "{probe}", PrometheusMetricType.Counter, "stability_probe_failures_total")]
    [InlineData("stability.probe.duration", "s", PrometheusMetricType.Histogram, "stability_probe_duration_seconds")]
    public void DesignInstrumentsMapToTheSeriesTheAssetsUse(string name, string? unit, PrometheusMetricType type, string expected)
        => Assert.Equal(expected, PrometheusNaming.MetricFamilyName(name, unit, type));
}
