using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OpenTelemetry.Metrics;

namespace SpectralMonitor.Prometheus;

/// <summary>
/// A Prometheus scrape endpoint fed by an OpenTelemetry MeterProvider: every GET (or HEAD) of
/// <see cref="PrometheusEndpointOptions.Path"/> makes the provider collect once and answers the result in the text
/// exposition format 0.0.4 (gzip when the request's Accept-Encoding allows it). Scrapes are serialized, so two
/// concurrent scrapes never interleave and each sees one complete collection.
/// </summary>
/// <remarks>
/// Create it with <c>MeterProviderBuilder.AddSpectralMonitorPrometheusEndpoint(options, out var endpoint)</c>; it
/// starts listening when the provider is built and stops when the provider or the endpoint is disposed, whichever
/// comes first. Other paths answer 404, other methods 405.
/// </remarks>
public sealed class PrometheusEndpoint : IDisposable
{
    /// <summary>How many free ports to try when <see cref="PrometheusEndpointOptions.Port"/> is 0 and another process takes the one found.</summary>
    private const int FreePortAttempts = 10;

    private readonly PrometheusPullExporter exporter;
    private readonly SemaphoreSlim scrapeGate = new(1, 1);
    private readonly object stateGate = new();
    private ILogger logger;
    private HttpListener? listener;
    private int started;
    private bool disposed;

    internal PrometheusEndpoint(PrometheusEndpointOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.Options = options;
        this.logger = options.Logger ?? NullLogger.Instance;
        this.exporter = new PrometheusPullExporter(new DeferredLogger(this), options.IncludeScopeLabels, options.IncludeTargetInfo);
        this.exporter.ShuttingDown += (_, _) => this.Stop();
        this.Reader = new BaseExportingMetricReader(this.exporter);
    }

    /// <summary>The options the endpoint was created with.</summary>
    public PrometheusEndpointOptions Options { get; }

    /// <summary>
    /// The URL Prometheus should scrape (with the actual port when <see cref="PrometheusEndpointOptions.Port"/> was 0),
    /// or <see langword="null"/> before the MeterProvider is built, after a startup failure, and after disposal.
    /// Wildcard hosts (<c>*</c>, <c>+</c>, <c>0.0.0.0</c>) are reported as <c>localhost</c>.
    /// </summary>
    public Uri? Address { get; private set; }

    /// <summary>Whether the endpoint is accepting scrapes.</summary>
    public bool IsListening
    {
        get
        {
            lock (this.stateGate)
            {
                return this.listener is { IsListening: true };
            }
        }
    }

    /// <summary>Why the endpoint could not start listening (logged, or thrown when <see cref="PrometheusEndpointOptions.FailOnStartupError"/> is set); <see langword="null"/> otherwise.</summary>
    public Exception? StartupError { get; private set; }

    /// <summary>The pull reader to register with the MeterProvider.</summary>
    internal MetricReader Reader { get; }

    /// <summary>Stops listening and frees the port. The MeterProvider keeps running; disposing it also stops the endpoint.</summary>
    public void Dispose()
    {
        lock (this.stateGate)
        {
            if (this.disposed)
            {
                return;
            }

            this.disposed = true;
        }

        this.Stop();
    }

    /// <summary>Uses <paramref name="factory"/> for logging when the options named no logger.</summary>
    internal void UseLoggerFactory(ILoggerFactory? factory)
    {
        if (this.Options.Logger is null && factory is not null)
        {
            this.logger = factory.CreateLogger("SpectralMonitor.Prometheus");
        }
    }

    /// <summary>
    /// Starts listening. On failure, throws when <see cref="PrometheusEndpointOptions.FailOnStartupError"/> is set,
    /// else logs the failure and records it in <see cref="StartupError"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">Listening failed and the options make that fatal; the message names the address.</exception>
    internal void Start()
    {
        if (Interlocked.Exchange(ref this.started, 1) == 1)
        {
            return;
        }

        var options = this.Options;
        var prefixHost = options.Host is "*" or "+" or "0.0.0.0" ? "*" : options.Host;
        var reportHost = prefixHost == "*" ? "localhost" : options.Host;
        HttpListener? bound = null;
        var port = options.Port;
        Exception? failure = null;
        for (var attempt = 0; attempt < (options.Port == 0 ? FreePortAttempts : 1) && bound is null; attempt++)
        {
            try
            {
                if (options.Port == 0)
                {
                    port = FindFreePort(options.Host);
                }

                var candidate = new HttpListener { IgnoreWriteExceptions = true };
                candidate.Prefixes.Add($"http://{prefixHost}:{port}/");
                try
                {
                    candidate.Start();
                    bound = candidate;
                }
                catch
                {
                    candidate.Close();
                    throw;
                }
            }
            catch (Exception exception) when (exception is HttpListenerException or SocketException or ArgumentException)
            {
                failure = exception;
            }
        }

        if (bound is null)
        {
            var address = $"http://{reportHost}:{(options.Port == 0 ? "0 (any free port)" : port.ToString(System.Globalization.CultureInfo.InvariantCulture))}{options.Path}";
            var error = new InvalidOperationException(
                $"The Prometheus endpoint could not listen on {address}: {failure?.Message} (is another process using the port?)",
                failure);
            this.StartupError = error;
            if (options.FailOnStartupError)
            {
                throw error;
            }

            PrometheusLog.StartFailed(this.logger, address, error);
            return;
        }

        lock (this.stateGate)
        {
            if (this.disposed)
            {
                bound.Close();
                return;
            }

            this.listener = bound;
            this.Address = new Uri($"http://{reportHost}:{port}{options.Path}");
            _ = Task.Run(() => this.AcceptLoopAsync(bound));
        }

        PrometheusLog.Listening(this.logger, this.Address);
    }

    /// <summary>
    /// Collects once and returns the text-format document, or <see langword="null"/> when the MeterProvider did not
    /// collect (not built yet, shut down, or timed out). Concurrent calls run one at a time.
    /// </summary>
    internal async Task<byte[]?> ScrapeAsync(CancellationToken cancellationToken)
    {
        await this.scrapeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var timeoutMs = (int)this.Options.CollectTimeout.TotalMilliseconds;
            if (this.exporter.Collect is not { } collect || !collect(timeoutMs))
            {
                PrometheusLog.CollectFailed(this.logger, timeoutMs);
                return null;
            }

            return this.exporter.Latest;
        }
        finally
        {
            this.scrapeGate.Release();
        }
    }

    /// <summary>Whether an Accept-Encoding header value admits gzip (explicitly or through <c>*</c>) with a non-zero quality.</summary>
    internal static bool AcceptsGzip(string? acceptEncoding)
    {
        if (string.IsNullOrWhiteSpace(acceptEncoding))
        {
            return false;
        }

        double? gzip = null;
        double? any = null;
        foreach (var entry in acceptEncoding.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = entry.Split(';', StringSplitOptions.TrimEntries);
            var quality = 1.0;
            for (var i = 1; i < parts.Length; i++)
            {
                if (parts[i].StartsWith("q=", StringComparison.OrdinalIgnoreCase)
                    && double.TryParse(parts[i].AsSpan(2), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var q))
                {
                    quality = q;
                }
            }

            if (parts[0].Equals("gzip", StringComparison.OrdinalIgnoreCase) || parts[0].Equals("x-gzip", StringComparison.OrdinalIgnoreCase))
            {
                gzip = quality;
            }
            else if (parts[0] == "*")
            {
                any = quality;
            }
        }

        return (gzip ?? any ?? 0) > 0;
    }

    private static int FindFreePort(string host)
    {
        var address = IPAddress.TryParse(host.Trim('[', ']'), out var parsed) ? parsed
            : host is "*" or "+" ? IPAddress.Any
            : IPAddress.Loopback;
        var probe = new TcpListener(address, 0);
        probe.Start();
        try
        {
            return ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        finally
        {
            probe.Stop();
        }
    }

    private static byte[] Gzip(byte[] document)
    {
        using var buffer = new MemoryStream(document.Length / 4 + 64);
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(document);
        }

        return buffer.ToArray();
    }

    private void Stop()
    {
        HttpListener? toClose;
        Uri? address;
        lock (this.stateGate)
        {
            toClose = this.listener;
            address = this.Address;
            this.listener = null;
            this.Address = null;
        }

        if (toClose is null)
        {
            return;
        }

        try
        {
            toClose.Stop();
        }
        finally
        {
            toClose.Close();
        }

        if (address is not null)
        {
            PrometheusLog.Stopped(this.logger, address);
        }
    }

    private async Task AcceptLoopAsync(HttpListener listening)
    {
        while (listening.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listening.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => this.HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        try
        {
            var method = request.HttpMethod;
            if (!string.Equals(request.Url?.AbsolutePath, this.Options.Path, StringComparison.Ordinal))
            {
                await WritePlainAsync(response, HttpStatusCode.NotFound, $"Not found. Metrics are served at {this.Options.Path}\n", method).ConfigureAwait(false);
                return;
            }

            if (method is not ("GET" or "HEAD"))
            {
                response.AddHeader("Allow", "GET, HEAD");
                await WritePlainAsync(response, HttpStatusCode.MethodNotAllowed, "Method not allowed: use GET or HEAD\n", method).ConfigureAwait(false);
                return;
            }

            var document = await this.ScrapeAsync(CancellationToken.None).ConfigureAwait(false);
            if (document is null)
            {
                await WritePlainAsync(response, HttpStatusCode.ServiceUnavailable, "Metrics collection failed or timed out\n", method).ConfigureAwait(false);
                return;
            }

            var gzip = AcceptsGzip(request.Headers["Accept-Encoding"]);
            var body = gzip ? Gzip(document) : document;
            response.StatusCode = (int)HttpStatusCode.OK;
            response.ContentType = PrometheusText.ContentType;
            response.AddHeader("Vary", "Accept-Encoding");
            if (gzip)
            {
                response.AddHeader("Content-Encoding", "gzip");
            }

            response.ContentLength64 = body.Length;
            if (method == "GET")
            {
                await response.OutputStream.WriteAsync(body).ConfigureAwait(false);
            }
        }
        catch (Exception exception) when (exception is HttpListenerException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            PrometheusLog.RequestFailed(this.logger, request.RemoteEndPoint, exception);
        }
        finally
        {
            try
            {
                response.Close();
            }
            catch (Exception exception) when (exception is HttpListenerException or IOException or ObjectDisposedException or InvalidOperationException)
            {
                PrometheusLog.RequestFailed(this.logger, request.RemoteEndPoint, exception);
            }
        }
    }

    private static async Task WritePlainAsync(HttpListenerResponse response, HttpStatusCode status, string message, string method)
    {
        var body = System.Text.Encoding.UTF8.GetBytes(message);
        response.StatusCode = (int)status;
        response.ContentType = "text/plain; charset=utf-8";
        response.ContentLength64 = body.Length;
        if (method != "HEAD")
        {
            await response.OutputStream.WriteAsync(body).ConfigureAwait(false);
        }
    }

    /// <summary>Lets the exporter log through the endpoint's logger, which is known only once the provider is built.</summary>
    private sealed class DeferredLogger(PrometheusEndpoint owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => owner.logger.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => owner.logger.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => owner.logger.Log(logLevel, eventId, state, exception, formatter);
    }
}
