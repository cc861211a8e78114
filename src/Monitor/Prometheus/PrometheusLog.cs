using Microsoft.Extensions.Logging;

namespace SpectralMonitor.Prometheus;

/// <summary>
/// Structured log messages of the Prometheus endpoint (EventId range 5100–5199). Scrape-time problems (collection
/// timeouts, oversized responses) are reported by the exporter itself, through its EventSource
/// "OpenTelemetry-Exporter-Prometheus".
/// </summary>
internal static partial class PrometheusLog
{
    [LoggerMessage(EventId = 5100, Level = LogLevel.Information, Message = "Prometheus endpoint listening on {Address} (bound to {Bound})")]
    public static partial void Listening(ILogger logger, Uri address, string bound);

    [LoggerMessage(EventId = 5101, Level = LogLevel.Error, Message = "Prometheus endpoint could not listen on {Address}: {Reason}; the program continues without it")]
    public static partial void StartFailed(ILogger logger, string address, string reason, Exception exception);

    [LoggerMessage(EventId = 5108, Level = LogLevel.Warning, Message = "Prometheus endpoint {Address} is bound to {Bound}, not to loopback (Host '{Host}'): it has no authentication, so anyone who can reach this machine on that port can read the training metrics")]
    public static partial void NotLoopback(ILogger logger, Uri address, string bound, string host);
}
