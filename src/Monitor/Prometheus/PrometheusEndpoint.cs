using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;

namespace SpectralMonitor.Prometheus;

/// <summary>
/// The Prometheus scrape endpoint of a MeterProvider, served by OpenTelemetry's own exporter
/// (<c>OpenTelemetry.Exporter.Prometheus.HttpListener</c>): it tells where the endpoint really listens, or why it
/// could not.
/// </summary>
/// <remarks>
/// Create it with <c>MeterProviderBuilder.AddSpectralMonitorPrometheusEndpoint(options, out var endpoint)</c>. It
/// starts listening when the provider is built and stops when the provider is disposed (the provider owns the
/// exporter). Each scrape makes the provider collect; what is served (formats, status codes, caching) is the
/// exporter's behaviour, described in examples/observability/README.md.
/// </remarks>
public sealed class PrometheusEndpoint
{
    /// <summary>How many free ports to try when <see cref="PrometheusEndpointOptions.Port"/> is 0 and another process takes the one found first.</summary>
    private const int FreePortAttempts = 10;

    private readonly object gate = new();
    private ILogger logger;
    private HttpListener? listener;
    private HttpListener? candidate;
    private string prefix = string.Empty;
    private Uri? address;

    internal PrometheusEndpoint(PrometheusEndpointOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.Options = options;
        this.logger = options.Logger ?? NullLogger.Instance;
        this.OptionsName = "SpectralMonitor.Prometheus." + Guid.NewGuid().ToString("N");
    }

    /// <summary>The options the endpoint was created with.</summary>
    public PrometheusEndpointOptions Options { get; }

    /// <summary>
    /// The URL Prometheus should scrape, with the real port (also when <see cref="PrometheusEndpointOptions.Port"/>
    /// was 0) and the real bound address: <c>0.0.0.0</c> for <c>*</c>, <c>+</c> and <c>0.0.0.0</c>, the configured
    /// name for a host name (requests must carry it in their Host header). <see langword="null"/> before the
    /// MeterProvider is built, after a startup failure, and once the provider is disposed.
    /// </summary>
    public Uri? Address
    {
        get
        {
            lock (this.gate)
            {
                return this.listener is { IsListening: true } ? this.address : null;
            }
        }
    }

    /// <summary>Whether the endpoint is accepting scrapes.</summary>
    public bool IsListening
    {
        get
        {
            lock (this.gate)
            {
                return this.listener is { IsListening: true };
            }
        }
    }

    /// <summary>
    /// Why the endpoint could not start listening, naming the address and the real cause (also logged, or thrown
    /// from <c>Build()</c> when <see cref="PrometheusEndpointOptions.FailOnStartupError"/> is set);
    /// <see langword="null"/> otherwise.
    /// </summary>
    public Exception? StartupError { get; private set; }

    /// <summary>The name under which this endpoint's exporter options are registered (unique per endpoint).</summary>
    internal string OptionsName { get; }

    /// <summary>Copies the options into the exporter's options; runs when the provider resolves them.</summary>
    internal void ConfigureExporter(PrometheusHttpListenerOptions exporter)
    {
        // Host and Port only feed the exporter's default prefix, which ConfigureListener replaces; they must merely be valid.
        exporter.Host = "127.0.0.1";
        exporter.Port = PrometheusEndpointOptions.DefaultPort;
        exporter.ScrapeEndpointPath = this.Options.Path;
        exporter.ScopeInfoEnabled = this.Options.IncludeScopeLabels;
        exporter.TargetInfoEnabled = this.Options.IncludeTargetInfo;
        exporter.ScrapeResponseTimeoutMilliseconds = (int)this.Options.CollectTimeout.TotalMilliseconds;
        exporter.ConfigureHttpListener = (_, created) => this.ConfigureListener(created);
    }

    /// <summary>
    /// Registers the exporter with the provider under construction and starts it. On failure, throws when
    /// <see cref="PrometheusEndpointOptions.FailOnStartupError"/> is set, else logs the failure and records it in
    /// <see cref="StartupError"/>; the provider is built without the endpoint either way.
    /// </summary>
    /// <param name="services">The provider's services (for the logger factory).</param>
    /// <param name="builder">The provider's builder in its build phase, where readers are added at once.</param>
    /// <exception cref="InvalidOperationException">Listening failed and the options make that fatal; the message names the address and the cause.</exception>
    internal void Start(IServiceProvider services, MeterProviderBuilder builder)
    {
        if (this.Options.Logger is null && services.GetService(typeof(ILoggerFactory)) is ILoggerFactory factory)
        {
            this.logger = factory.CreateLogger("SpectralMonitor.Prometheus");
        }

        var options = this.Options;
        var requested = $"http://{options.Host}:{options.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}{options.Path}";
        PrometheusBinding binding;
        try
        {
            binding = PrometheusBinding.Resolve(options.Host);
        }
        catch (SocketException exception)
        {
            this.Fail(requested, $"the host name '{options.Host}' does not resolve ({exception.Message})", exception);
            return;
        }

        var port = options.Port;
        Exception? failure = null;
        for (var attempt = 0; attempt < (options.Port == 0 ? FreePortAttempts : 1); attempt++)
        {
            try
            {
                port = options.Port == 0 ? binding.FindFreePort() : options.Port;
            }
            catch (SocketException exception)
            {
                failure = exception;
                break;
            }

            lock (this.gate)
            {
                this.prefix = binding.Prefix(port, options.Path);
            }

            try
            {
                // In the build phase this adds the reader at once, so a failure to listen surfaces here, not from Build().
                builder.AddPrometheusHttpListener(this.OptionsName, configure: null);
                failure = null;
                break;
            }
            catch (InvalidOperationException exception) when (exception.InnerException is not null)
            {
                failure = exception.InnerException;
                if (!PrometheusBinding.IsAddressInUse(failure))
                {
                    break;
                }
            }
        }

        if (failure is not null)
        {
            this.Fail(options.Port == 0 ? requested : binding.Address(port, options.Path).ToString(), binding.Explain(failure, port), failure);
            return;
        }

        Uri bound;
        lock (this.gate)
        {
            this.listener = this.candidate;
            this.address = bound = binding.Address(port, options.Path);
        }

        var where = binding.DescribeBound(port);
        PrometheusLog.Listening(this.logger, bound, where);
        if (!binding.IsLoopback)
        {
            PrometheusLog.NotLoopback(this.logger, bound, where, options.Host);
        }
    }

    private void ConfigureListener(HttpListener created)
    {
        lock (this.gate)
        {
            created.Prefixes.Clear();
            created.Prefixes.Add(this.prefix);
            this.candidate = created;
        }
    }

    private void Fail(string address, string reason, Exception cause)
    {
        var error = new InvalidOperationException($"The Prometheus endpoint could not listen on {address}: {reason}.", cause);
        this.StartupError = error;
        if (this.Options.FailOnStartupError)
        {
            throw error;
        }

        PrometheusLog.StartFailed(this.logger, address, reason, cause);
    }
}
