using Microsoft.Extensions.Logging;

namespace SpectralMonitor.Prometheus;

/// <summary>
/// Where and how the Prometheus scrape endpoint listens. Every property is validated when it is set: an invalid
/// value throws an <see cref="ArgumentException"/> naming the property and the value.
/// </summary>
/// <remarks>
/// The default is <c>http://127.0.0.1:9464/metrics</c> (loopback only; 9464 is the port OpenTelemetry's
/// Prometheus exporters use). Listening beyond loopback must be asked for explicitly (<see cref="Host"/> <c>*</c>,
/// <c>+</c>, <c>0.0.0.0</c> or a non-loopback address or name) and is logged as a warning naming the bound address,
/// because the endpoint has no authentication: expose it only on trusted networks.
/// </remarks>
public sealed record PrometheusEndpointOptions
{
    /// <summary>The default port, 9464.</summary>
    public const int DefaultPort = 9464;

    private readonly string host = "127.0.0.1";
    private readonly int port = DefaultPort;
    private readonly string path = "/metrics";
    private readonly TimeSpan collectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Where to listen: an IPv4 address, a host name (on Linux and macOS the endpoint binds the first address DNS
    /// gives for it, and requests must carry the name in their Host header), a bracketed IPv6 address, or <c>*</c> /
    /// <c>+</c> / <c>0.0.0.0</c> for every interface (0.0.0.0, IPv4, on Linux and macOS) and any Host header.
    /// Default <c>127.0.0.1</c>.
    /// </summary>
    /// <remarks>
    /// On Linux and macOS, <see cref="System.Net.HttpListener"/> (which the exporter uses) rejects IPv6 literals
    /// such as <c>[::1]</c>; the endpoint then reports that cause in <see cref="PrometheusEndpoint.StartupError"/>.
    /// Windows (HTTP.sys) accepts them.
    /// </remarks>
    /// <exception cref="ArgumentException">The value is empty or contains whitespace, <c>/</c>, <c>?</c>, <c>#</c> or <c>:</c> outside brackets.</exception>
    public string Host
    {
        get => this.host;
        init => this.host = ValidateHost(value, nameof(this.Host));
    }

    /// <summary>TCP port, 0..65535; 0 picks a free port (read it back from <see cref="PrometheusEndpoint.Address"/>). Default 9464.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is outside 0..65535.</exception>
    public int Port
    {
        get => this.port;
        init
        {
            if (value is < 0 or > 65535)
            {
                throw new ArgumentOutOfRangeException(nameof(this.Port), value, $"{nameof(this.Port)} must be in 0..65535 (was {value}).");
            }

            this.port = value;
        }
    }

    /// <summary>
    /// Path that serves the metrics; must start with <c>/</c>. The exporter serves this path and every path below it
    /// (<c>/metrics/x</c>); other paths answer 404. Default <c>/metrics</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The value does not start with <c>/</c> or contains whitespace, <c>?</c> or <c>#</c>.</exception>
    public string Path
    {
        get => this.path;
        init => this.path = ValidatePath(value, nameof(this.Path));
    }

    /// <summary>
    /// When <see langword="true"/>, a failure to start listening (for example, the port is in use) throws from
    /// <c>MeterProviderBuilder.Build()</c>. When <see langword="false"/> (default), the failure is logged to
    /// <see cref="Logger"/>, <see cref="PrometheusEndpoint.StartupError"/> holds it and the program continues
    /// without the endpoint.
    /// </summary>
    public bool FailOnStartupError { get; init; }

    /// <summary>
    /// Where the endpoint logs where it listens, a non-loopback binding (warning) and a failure to start. Scrape-time
    /// problems are the exporter's, reported through its EventSource "OpenTelemetry-Exporter-Prometheus". When
    /// <see langword="null"/>, the endpoint uses
    /// the <see cref="ILoggerFactory"/> of the MeterProvider's service provider if there is one, else logs nowhere.
    /// </summary>
    public ILogger? Logger { get; init; }

    /// <summary>
    /// Adds the <c>otel_scope_name</c> (the Meter's name) and, when set, <c>otel_scope_version</c> labels to every
    /// sample, as the OpenTelemetry compatibility specification requires by default (the exporter's
    /// <c>ScopeInfoEnabled</c>). Default <see langword="true"/>.
    /// </summary>
    public bool IncludeScopeLabels { get; init; } = true;

    /// <summary>
    /// Writes the MeterProvider's resource attributes as a <c>target_info</c> series with value 1 (a gauge in the
    /// text format, an info family in OpenMetrics; the exporter's <c>TargetInfoEnabled</c>). Default
    /// <see langword="true"/>.
    /// </summary>
    public bool IncludeTargetInfo { get; init; } = true;

    /// <summary>
    /// How long one scrape may wait for the MeterProvider to collect (the exporter's
    /// <c>ScrapeResponseTimeoutMilliseconds</c>); a timeout answers 408 with an empty body. A scraper's shorter
    /// <c>X-Prometheus-Scrape-Timeout-Seconds</c> header also applies. Default 10 s.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive or exceeds <see cref="int.MaxValue"/> milliseconds.</exception>
    public TimeSpan CollectTimeout
    {
        get => this.collectTimeout;
        init
        {
            if (value <= TimeSpan.Zero || value.TotalMilliseconds > int.MaxValue)
            {
                throw new ArgumentOutOfRangeException(nameof(this.CollectTimeout), value, $"{nameof(this.CollectTimeout)} must be positive and at most int.MaxValue milliseconds (was {value}).");
            }

            this.collectTimeout = value;
        }
    }

    private static string ValidateHost(string value, string paramName)
    {
        if (string.IsNullOrEmpty(value))
        {
            throw new ArgumentException($"{nameof(Host)} must not be empty (was '{value}').", paramName);
        }

        var bracketed = value.StartsWith('[') && value.EndsWith(']') && value.Length > 2;
        foreach (var c in value)
        {
            if (char.IsWhiteSpace(c) || c is '/' or '?' or '#' or '@' || (c == ':' && !bracketed))
            {
                throw new ArgumentException(
                    $"{nameof(Host)} must be a bare host name or address without scheme, port or path (was '{value}'); bracket IPv6 addresses, e.g. '[::1]'.",
                    paramName);
            }
        }

        return value;
    }

    private static string ValidatePath(string value, string paramName)
    {
        if (value is null || !value.StartsWith('/'))
        {
            throw new ArgumentException($"{nameof(Path)} must start with '/' (was '{value}').", paramName);
        }

        foreach (var c in value)
        {
            if (char.IsWhiteSpace(c) || c is '?' or '#')
            {
                throw new ArgumentException($"{nameof(Path)} must not contain whitespace, '?' or '#' (was '{value}').", paramName);
            }
        }

        return value;
    }
}
