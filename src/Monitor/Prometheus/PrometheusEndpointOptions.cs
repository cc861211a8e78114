using Microsoft.Extensions.Logging;

namespace SpectralMonitor.Prometheus;

/// <summary>
/// Where and how the Prometheus scrape endpoint listens. Every property is validated when it is set: an invalid
/// value throws an <see cref="ArgumentException"/> naming the property and the value.
/// </summary>
/// <remarks>
/// The default is <c>http://127.0.0.1:9464/metrics</c> (loopback only; 9464 is the port OpenTelemetry's
/// Prometheus exporters use). Use <see cref="Host"/> <c>*</c> to listen on every interface (the endpoint has no
/// authentication: expose it only on trusted networks).
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
    /// Host part of the listening prefix: an IPv4 address, a bracketed IPv6 address (<c>[::1]</c>), a host name
    /// such as <c>localhost</c> (requests must then carry that name in their Host header), or <c>*</c> / <c>+</c> /
    /// <c>0.0.0.0</c> for every interface and any Host header. Default <c>127.0.0.1</c>.
    /// </summary>
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

    /// <summary>Path that serves the metrics; must start with <c>/</c>. Every other path answers 404. Default <c>/metrics</c>.</summary>
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
    /// Where the endpoint logs startup, shutdown and scrape failures. When <see langword="null"/>, the endpoint uses
    /// the <see cref="ILoggerFactory"/> of the MeterProvider's service provider if there is one, else logs nowhere.
    /// </summary>
    public ILogger? Logger { get; init; }

    /// <summary>
    /// Adds the <c>otel_scope_name</c> (the Meter's name) and, when set, <c>otel_scope_version</c> labels to every
    /// sample, as the OpenTelemetry compatibility specification requires by default. Default <see langword="true"/>.
    /// </summary>
    public bool IncludeScopeLabels { get; init; } = true;

    /// <summary>
    /// Writes the MeterProvider's resource attributes as a <c>target_info</c> gauge with value 1 (the OpenTelemetry
    /// compatibility specification's fallback for the OpenMetrics info type). Default <see langword="true"/>.
    /// </summary>
    public bool IncludeTargetInfo { get; init; } = true;

    /// <summary>How long one scrape may wait for the MeterProvider to collect; a timeout answers 503. Default 10 s.</summary>
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
