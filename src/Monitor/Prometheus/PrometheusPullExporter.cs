using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace SpectralMonitor.Prometheus;

/// <summary>
/// Pull-mode metric exporter: each collection the reader runs (one per scrape) is serialized at once into an
/// immutable UTF-8 text-format document, because OpenTelemetry's metric points are valid only during the export
/// call. The endpoint serves the latest complete document, never a partly written one.
/// </summary>
/// <remarks>
/// A pull-only exporter is exported to only through <see cref="Collect"/>, which the
/// <see cref="BaseExportingMetricReader"/> sets; <c>MeterProvider.ForceFlush</c> and the reader's own
/// <c>Collect</c> do not export to it.
/// </remarks>
[ExportModes(ExportModes.Pull)]
internal sealed class PrometheusPullExporter : BaseExporter<Metric>, IPullMetricExporter
{
    private readonly PrometheusTextSerializer serializer;
    private readonly ILogger logger;
    private readonly bool includeTargetInfo;
    private readonly object gate = new();
    private byte[]? latest;

    public PrometheusPullExporter(ILogger logger, bool includeScopeLabels, bool includeTargetInfo)
    {
        this.logger = logger;
        this.includeTargetInfo = includeTargetInfo;
        this.serializer = new PrometheusTextSerializer(logger, includeScopeLabels, includeTargetInfo);
    }

    /// <summary>Raised once when the reader (and so the MeterProvider) shuts the exporter down.</summary>
    public event EventHandler? ShuttingDown;

    /// <summary>Runs one collection (set by the reader; <see langword="null"/> once the reader is disposed).</summary>
    public Func<int, bool>? Collect { get; set; }

    /// <summary>The document written by the most recent successful export, or <see langword="null"/> before the first.</summary>
    public byte[]? Latest => Volatile.Read(ref this.latest);

    /// <inheritdoc/>
    public override ExportResult Export(in Batch<Metric> batch)
    {
        try
        {
            byte[] document;
            lock (this.gate)
            {
                var resource = this.includeTargetInfo ? this.ParentProvider?.GetResource() : null;
                document = this.serializer.Serialize(batch, resource);
            }

            Volatile.Write(ref this.latest, document);
            return ExportResult.Success;
        }
        catch (Exception exception) when (exception is InvalidOperationException or ArgumentException or FormatException or OverflowException)
        {
            PrometheusLog.SerializeFailed(this.logger, exception);
            return ExportResult.Failure;
        }
    }

    /// <inheritdoc/>
    protected override bool OnShutdown(int timeoutMilliseconds)
    {
        this.RaiseShuttingDown();
        return true;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            this.RaiseShuttingDown();
        }

        base.Dispose(disposing);
    }

    private void RaiseShuttingDown() => Interlocked.Exchange(ref this.ShuttingDown, null)?.Invoke(this, EventArgs.Empty);
}
