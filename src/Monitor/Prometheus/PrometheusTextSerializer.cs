using System.Text;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace SpectralMonitor.Prometheus;

/// <summary>
/// Writes one collection (a batch of OpenTelemetry metrics) as a Prometheus text-format 0.0.4 document. Metrics
/// that map to the same Prometheus name are written as one family under one HELP and one TYPE line; a metric whose
/// type conflicts with the family already written is dropped (and logged once), as the OpenTelemetry compatibility
/// specification requires.
/// </summary>
/// <remarks>Not thread-safe: the exporter calls it under its own lock.</remarks>
internal sealed class PrometheusTextSerializer
{
    private const string ScopeNameLabel = "otel_scope_name";
    private const string ScopeVersionLabel = "otel_scope_version";
    private const string TargetInfoName = "target_info";

    private readonly ILogger logger;
    private readonly bool includeScopeLabels;
    private readonly bool includeTargetInfo;
    private readonly Dictionary<Metric, Family?> families = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<Metric> reported = new(ReferenceEqualityComparer.Instance);
    private readonly List<Label> labels = [];
    private readonly StringBuilder text = new(4096);

    public PrometheusTextSerializer(ILogger logger, bool includeScopeLabels, bool includeTargetInfo)
    {
        this.logger = logger;
        this.includeScopeLabels = includeScopeLabels;
        this.includeTargetInfo = includeTargetInfo;
    }

    /// <summary>Serializes <paramref name="batch"/> (valid only during the export call) to UTF-8 bytes.</summary>
    public byte[] Serialize(in Batch<Metric> batch, Resource? resource)
    {
        var sb = this.text.Clear();
        var order = new List<string>();
        var groups = new Dictionary<string, (Family Family, List<Metric> Metrics)>(StringComparer.Ordinal);
        if (this.includeTargetInfo && resource is not null && resource.Attributes.Any())
        {
            order.Add(TargetInfoName);
            groups[TargetInfoName] = (new Family(TargetInfoName, PrometheusMetricType.Gauge, "Target metadata"), []);
        }

        foreach (var metric in batch)
        {
            var family = this.GetFamily(metric);
            if (family is null)
            {
                continue;
            }

            if (groups.TryGetValue(family.Name, out var group))
            {
                if (group.Family.Type != family.Type || group.Metrics.Count == 0)
                {
                    // Also covers a user metric named target_info, whose family is reserved for the resource.
                    if (this.reported.Add(metric))
                    {
                        PrometheusLog.TypeConflict(this.logger, metric.Name, metric.MeterName, family.Name, group.Family.Type, family.Type);
                    }

                    continue;
                }

                group.Metrics.Add(metric);
            }
            else
            {
                order.Add(family.Name);
                groups[family.Name] = (family, [metric]);
            }
        }

        foreach (var name in order)
        {
            var (family, metrics) = groups[name];
            sb.Append("# HELP ").Append(family.Name).Append(' ');
            PrometheusText.AppendEscapedHelp(sb, family.Help);
            sb.Append('\n');
            sb.Append("# TYPE ").Append(family.Name).Append(' ').Append(TypeKeyword(family.Type)).Append('\n');
            if (name == TargetInfoName && metrics.Count == 0)
            {
                this.WriteTargetInfo(resource!);
                continue;
            }

            foreach (var metric in metrics)
            {
                this.WriteMetric(family, metric);
            }
        }

        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    private static string TypeKeyword(PrometheusMetricType type) => type switch
    {
        PrometheusMetricType.Counter => "counter",
        PrometheusMetricType.Histogram => "histogram",
        _ => "gauge",
    };

    private Family? GetFamily(Metric metric)
    {
        if (this.families.TryGetValue(metric, out var cached))
        {
            return cached;
        }

        PrometheusMetricType? type = metric.MetricType switch
        {
            MetricType.LongSum or MetricType.DoubleSum when metric.Temporality == AggregationTemporality.Cumulative => PrometheusMetricType.Counter,
            MetricType.LongSumNonMonotonic or MetricType.DoubleSumNonMonotonic when metric.Temporality == AggregationTemporality.Cumulative => PrometheusMetricType.Gauge,
            MetricType.LongGauge or MetricType.DoubleGauge => PrometheusMetricType.Gauge,
            MetricType.Histogram when metric.Temporality == AggregationTemporality.Cumulative => PrometheusMetricType.Histogram,
            _ => null,
        };

        Family? family = null;
        if (type is null)
        {
            PrometheusLog.Unsupported(
                this.logger,
                metric.Name,
                metric.MeterName,
                $"{metric.MetricType} with {metric.Temporality} temporality has no Prometheus text-format equivalent");
        }
        else
        {
            var name = PrometheusNaming.MetricFamilyName(metric.Name, metric.Unit, type.Value);
            var help = string.IsNullOrWhiteSpace(metric.Description) ? metric.Name : metric.Description;
            family = new Family(name, type.Value, help);
        }

        this.families[metric] = family;
        return family;
    }

    private void WriteTargetInfo(Resource resource)
    {
        this.labels.Clear();
        foreach (var attribute in resource.Attributes)
        {
            this.labels.Add(new Label(PrometheusNaming.LabelName(attribute.Key), attribute.Key, PrometheusText.AttributeValueToString(attribute.Value)));
        }

        this.NormalizeLabels();
        this.WriteSample(TargetInfoName, null, "1");
    }

    private void WriteMetric(Family family, Metric metric)
    {
        foreach (ref readonly var point in metric.GetMetricPoints())
        {
            this.labels.Clear();
            foreach (var tag in point.Tags)
            {
                this.labels.Add(new Label(PrometheusNaming.LabelName(tag.Key), tag.Key, PrometheusText.AttributeValueToString(tag.Value)));
            }

            this.NormalizeLabels();
            if (this.includeScopeLabels)
            {
                this.labels.Add(new Label(ScopeNameLabel, ScopeNameLabel, metric.MeterName));
                if (!string.IsNullOrEmpty(metric.MeterVersion))
                {
                    this.labels.Add(new Label(ScopeVersionLabel, ScopeVersionLabel, metric.MeterVersion));
                }
            }

            switch (metric.MetricType)
            {
                case MetricType.LongSum or MetricType.LongSumNonMonotonic:
                    this.WriteSample(family.Name, null, PrometheusText.FormatLong(point.GetSumLong()));
                    break;
                case MetricType.DoubleSum or MetricType.DoubleSumNonMonotonic:
                    this.WriteSample(family.Name, null, PrometheusText.FormatDouble(point.GetSumDouble()));
                    break;
                case MetricType.LongGauge:
                    this.WriteSample(family.Name, null, PrometheusText.FormatLong(point.GetGaugeLastValueLong()));
                    break;
                case MetricType.DoubleGauge:
                    this.WriteSample(family.Name, null, PrometheusText.FormatDouble(point.GetGaugeLastValueDouble()));
                    break;
                case MetricType.Histogram:
                    this.WriteHistogram(family.Name, point);
                    break;
                default:
                    break;
            }
        }
    }

    private void WriteHistogram(string name, in MetricPoint point)
    {
        var bucketName = name + "_bucket";
        long cumulative = 0;
        var wroteInf = false;
        foreach (var bucket in point.GetHistogramBuckets())
        {
            cumulative += bucket.BucketCount;
            wroteInf = double.IsPositiveInfinity(bucket.ExplicitBound);
            this.WriteSample(bucketName, PrometheusText.FormatDouble(bucket.ExplicitBound), PrometheusText.FormatLong(cumulative));
        }

        var count = point.GetHistogramCount();
        if (!wroteInf)
        {
            this.WriteSample(bucketName, "+Inf", PrometheusText.FormatLong(count));
        }

        this.WriteSample(name + "_sum", null, PrometheusText.FormatDouble(point.GetHistogramSum()));
        this.WriteSample(name + "_count", null, PrometheusText.FormatLong(count));
    }

    /// <summary>
    /// Sorts labels by name and merges keys that sanitize to the same label name: their values are joined with ';'
    /// in the ordinal order of the original keys, as the compatibility specification requires.
    /// </summary>
    private void NormalizeLabels()
    {
        if (this.labels.Count < 2)
        {
            return;
        }

        this.labels.Sort(static (a, b) =>
        {
            var byName = string.CompareOrdinal(a.Name, b.Name);
            return byName != 0 ? byName : string.CompareOrdinal(a.Key, b.Key);
        });

        var write = 0;
        for (var read = 1; read < this.labels.Count; read++)
        {
            var current = this.labels[read];
            var kept = this.labels[write];
            if (current.Name == kept.Name)
            {
                this.labels[write] = kept with { Value = kept.Value + ";" + current.Value };
            }
            else
            {
                this.labels[++write] = current;
            }
        }

        this.labels.RemoveRange(write + 1, this.labels.Count - write - 1);
    }

    private void WriteSample(string name, string? le, string value)
    {
        var sb = this.text;
        sb.Append(name);
        if (this.labels.Count > 0 || le is not null)
        {
            sb.Append('{');
            var first = true;
            foreach (var label in this.labels)
            {
                if (!first)
                {
                    sb.Append(',');
                }

                first = false;
                sb.Append(label.Name).Append("=\"");
                PrometheusText.AppendEscapedLabelValue(sb, label.Value);
                sb.Append('"');
            }

            if (le is not null)
            {
                if (!first)
                {
                    sb.Append(',');
                }

                sb.Append("le=\"").Append(le).Append('"');
            }

            sb.Append('}');
        }

        sb.Append(' ').Append(value).Append('\n');
    }

    private sealed record Family(string Name, PrometheusMetricType Type, string Help);

    private readonly record struct Label(string Name, string Key, string Value);
}
