using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using SpectralMonitor.Prometheus;

namespace SpectralMonitor.Tests.Prometheus;

/// <summary>
/// Where the endpoint really listens, and what it says about it (issue 14, item 8): a wildcard host used to bind
/// every interface while the log said "listening on http://localhost:…", and <c>[::1]</c> failed with "(is another
/// process using the port?)". Reachability is checked only inside the loopback range: 127.0.0.2 reaches a socket
/// bound to 0.0.0.0 but not one bound to 127.0.0.1, which tells the two bindings apart without leaving the machine.
/// </summary>
public sealed class PrometheusEndpointHostTests
{
    private static readonly IPAddress OtherLoopback = IPAddress.Parse("127.0.0.2");

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("*")]
    [InlineData("+")]
    [InlineData("0.0.0.0")]
    public async Task AWildcardHostBindsEveryInterfaceAndIsLoggedAsAnUnauthenticatedWarning(string host)
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "HTTP.sys needs a URL reservation for wildcard prefixes; the managed listener's binding is what this test checks.");
        var logger = new ListLogger();
        using var provider = Build(new PrometheusEndpointOptions { Host = host, Port = 0, Logger = logger }, out var endpoint);

        Assert.True(endpoint.IsListening, endpoint.StartupError?.Message);
        var address = endpoint.Address!;
        Assert.Equal($"http://0.0.0.0:{address.Port}/metrics", address.AbsoluteUri);
        var listening = Assert.Single(logger.Entries, e => e.Id.Id == 5100);
        Assert.Equal(LogLevel.Information, listening.Level);
        Assert.Contains($"0.0.0.0:{address.Port} (every IPv4 interface)", listening.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("localhost", listening.Message, StringComparison.Ordinal);
        var warning = Assert.Single(logger.Entries, e => e.Id.Id == 5108);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains($"0.0.0.0:{address.Port}", warning.Message, StringComparison.Ordinal);
        Assert.Contains("no authentication", warning.Message, StringComparison.Ordinal);
        Assert.Contains($"'{host}'", warning.Message, StringComparison.Ordinal);

        // Bound to every interface: an address other than 127.0.0.1 reaches it.
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var response = await client.GetAsync(new Uri($"http://{OtherLoopback}:{address.Port}/metrics"), Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public void TheDefaultHostBindsLoopbackOnlyWithoutAWarning()
    {
        var logger = new ListLogger();
        using var provider = Build(new PrometheusEndpointOptions { Port = 0, Logger = logger }, out var endpoint);

        var port = endpoint.Address!.Port;
        Assert.Equal($"http://127.0.0.1:{port}/metrics", endpoint.Address.AbsoluteUri);
        Assert.Contains($"bound to 127.0.0.1:{port})", Assert.Single(logger.Entries).Message, StringComparison.Ordinal);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var refused = Assert.Throws<SocketException>(() => socket.Connect(OtherLoopback, port));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Fact]
    public async Task AHostNameBindsTheAddressItResolvesTo()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "HTTP.sys routes host names by Host header instead of binding an address.");
        var resolved = Dns.GetHostAddresses("localhost")[0];
        var logger = new ListLogger();
        using var provider = Build(new PrometheusEndpointOptions { Host = "localhost", Port = 0, Logger = logger }, out var endpoint);

        Assert.True(endpoint.IsListening, endpoint.StartupError?.Message);
        var port = endpoint.Address!.Port;
        Assert.Equal($"http://localhost:{port}/metrics", endpoint.Address.AbsoluteUri);
        Assert.Contains($"bound to {new IPEndPoint(resolved, port)})", Assert.Single(logger.Entries).Message, StringComparison.Ordinal);
        using var client = new HttpClient();
        using var response = await client.GetAsync(endpoint.Address, Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task IPv6LoopbackListensOrFailsWithItsRealCause()
    {
        var logger = new ListLogger();
        using var provider = Build(new PrometheusEndpointOptions { Host = "[::1]", Port = 0, Logger = logger }, out var endpoint);

        if (OperatingSystem.IsWindows())
        {
            Assert.True(endpoint.IsListening, endpoint.StartupError?.Message);
            using var client = new HttpClient();
            using var response = await client.GetAsync(endpoint.Address, Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return;
        }

        // The managed HttpListener of Linux and macOS rejects IPv6 literals; the port has nothing to do with it.
        Assert.False(endpoint.IsListening);
        var message = Assert.IsType<InvalidOperationException>(endpoint.StartupError).Message;
        Assert.Contains("does not accept IPv6 address literals such as [::1]", message, StringComparison.Ordinal);
        Assert.DoesNotContain("another process", message, StringComparison.Ordinal);
        Assert.DoesNotContain("in use", message, StringComparison.Ordinal);
        var failed = Assert.Single(logger.Entries, e => e.Id.Id == 5101);
        Assert.Contains("IPv6 address literals", failed.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("192.0.2.1", 9, "http://192.0.2.1:9/metrics: 192.0.2.1 is not an address of this machine")] // TEST-NET-1 (RFC 5737): binding fails locally, no packet is sent
    [InlineData("spectral-monitor.invalid", 0, "the host name 'spectral-monitor.invalid' does not resolve")] // .invalid never resolves (RFC 2606)
    public void AHostThatCannotBeBoundSaysWhy(string host, int port, string expected)
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "HTTP.sys registers prefixes without resolving or binding their host.");

        using var provider = Build(new PrometheusEndpointOptions { Host = host, Port = port, Logger = new ListLogger() }, out var endpoint);

        Assert.False(endpoint.IsListening);
        Assert.Null(endpoint.Address);
        Assert.Contains(expected, Assert.IsType<InvalidOperationException>(endpoint.StartupError).Message, StringComparison.Ordinal);
    }

    private static MeterProvider Build(PrometheusEndpointOptions options, out PrometheusEndpoint endpoint)
        => Sdk.CreateMeterProviderBuilder().AddSpectralMonitorPrometheusEndpoint(options, out endpoint).Build();
}
