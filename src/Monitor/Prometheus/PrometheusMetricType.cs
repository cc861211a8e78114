namespace SpectralMonitor.Prometheus;

/// <summary>
/// The Prometheus metric family types this endpoint writes (text exposition format 0.0.4).
/// </summary>
public enum PrometheusMetricType
{
    /// <summary>A monotonic sum (OpenTelemetry Counter / ObservableCounter); its name ends in <c>_total</c>.</summary>
    Counter,

    /// <summary>A value that can go up and down (Gauge, ObservableGauge, UpDownCounter, ObservableUpDownCounter).</summary>
    Gauge,

    /// <summary>An explicit-bucket histogram, written as <c>_bucket{le="…"}</c>, <c>_sum</c> and <c>_count</c> series.</summary>
    Histogram,
}
