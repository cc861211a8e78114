using System.Diagnostics.Metrics;
using System.Net;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using SpectralMonitor.Prometheus;

namespace SpectralMonitor.Tests.Prometheus;

/// <summary>
/// A MeterProvider that listens to one private Meter (unique name, so parallel tests never see each other's
/// instruments) and serves it through the endpoint on a free loopback port, without scope labels and target_info
/// unless a test asks for them.
/// </summary>
internal sealed class TestEndpoint : IDisposable
{
    private TestEndpoint(Meter meter, MeterProvider provider, PrometheusEndpoint endpoint, HttpClient client)
    {
        this.Meter = meter;
        this.Provider = provider;
        this.Endpoint = endpoint;
        this.Client = client;
    }

    public Meter Meter { get; }

    public MeterProvider Provider { get; }

    public PrometheusEndpoint Endpoint { get; }

    /// <summary>Client without automatic decompression, so tests see the bytes on the wire.</summary>
    public HttpClient Client { get; }

    public Uri Address => this.Endpoint.Address ?? throw new InvalidOperationException("The endpoint is not listening.");

    public static TestEndpoint Start(
        Func<PrometheusEndpointOptions, PrometheusEndpointOptions>? configure = null,
        Action<MeterProviderBuilder>? configureProvider = null,
        string? meterVersion = null)
    {
        var meter = new Meter("test.prometheus." + Guid.NewGuid().ToString("N"), meterVersion);
        var options = new PrometheusEndpointOptions { Port = 0, IncludeTargetInfo = false, IncludeScopeLabels = false };
        options = configure?.Invoke(options) ?? options;
        var builder = Sdk.CreateMeterProviderBuilder().AddMeter(meter.Name);
        configureProvider?.Invoke(builder);
        var provider = builder.AddSpectralMonitorPrometheusEndpoint(options, out var endpoint).Build();
        var client = new HttpClient(new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None })
        {
            Timeout = TimeSpan.FromSeconds(20),
        };
        return new TestEndpoint(meter, provider, endpoint, client);
    }

    /// <summary>Scrapes in the classic text format (no Accept header), as curl or promtool would.</summary>
    public async Task<string> ScrapeTextAsync()
    {
        using var response = await this.Client.GetAsync(this.Address, TestContext.Current.CancellationToken);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
    }

    public void Dispose()
    {
        this.Client.Dispose();
        this.Provider.Dispose();
        this.Meter.Dispose();
    }
}
