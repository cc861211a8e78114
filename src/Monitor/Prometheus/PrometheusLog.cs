using Microsoft.Extensions.Logging;

namespace SpectralMonitor.Prometheus;

/// <summary>Structured log messages of the Prometheus endpoint (EventId range 5100–5199).</summary>
internal static partial class PrometheusLog
{
    [LoggerMessage(EventId = 5100, Level = LogLevel.Information, Message = "Prometheus endpoint listening on {Address}")]
    public static partial void Listening(ILogger logger, Uri address);

    [LoggerMessage(EventId = 5101, Level = LogLevel.Error, Message = "Prometheus endpoint could not listen on {Address}; the program continues without it")]
    public static partial void StartFailed(ILogger logger, string address, Exception exception);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Information, Message = "Prometheus endpoint on {Address} stopped")]
    public static partial void Stopped(ILogger logger, Uri address);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Warning, Message = "Prometheus scrape failed: the MeterProvider did not collect within {TimeoutMs} ms or is shut down")]
    public static partial void CollectFailed(ILogger logger, int timeoutMs);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Warning, Message = "Prometheus serialization failed")]
    public static partial void SerializeFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 5105, Level = LogLevel.Warning, Message = "Metric '{Instrument}' of meter '{Meter}' is not exported: its Prometheus name {Name} is already a {ExistingType}, it would be a {Type}")]
    public static partial void TypeConflict(ILogger logger, string instrument, string meter, string name, PrometheusMetricType existingType, PrometheusMetricType type);

    [LoggerMessage(EventId = 5106, Level = LogLevel.Warning, Message = "Metric '{Instrument}' of meter '{Meter}' is not exported: {Reason}")]
    public static partial void Unsupported(ILogger logger, string instrument, string meter, string reason);

    [LoggerMessage(EventId = 5107, Level = LogLevel.Debug, Message = "Prometheus request from {Remote} ended with an I/O error")]
    public static partial void RequestFailed(ILogger logger, System.Net.IPEndPoint? remote, Exception exception);
}
