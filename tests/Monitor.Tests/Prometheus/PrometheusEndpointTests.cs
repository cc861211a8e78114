using System.Diagnostics.Metrics;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using SpectralMonitor.Prometheus;

namespace SpectralMonitor.Tests.Prometheus;

public sealed class PrometheusEndpointTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CounterIsServedWithHelpTypeTotalSuffixAndEscapedLabels()
    {
        using var test = TestEndpoint.Start();
        var counter = test.Meter.CreateCounter<long>("test.requests", "{request}", "Requests \\ handled\nper path");
        counter.Add(3, new KeyValuePair<string, object?>("path", "/a\"b\\c\nd"));

        var text = await test.ScrapeTextAsync();

        Assert.Equal(
            "# HELP test_requests_total Requests \\\\ handled\\nper path\n"
            + "# TYPE test_requests_total counter\n"
            + "test_requests_total{path=\"/a\\\"b\\\\c\\nd\"} 3\n",
            text);
    }

    [Fact]
    public async Task HistogramBucketsAreCumulativeWithInfSumAndCount()
    {
        using var test = TestEndpoint.Start(configureProvider: b => b.AddView(
            "test.probe.duration",
            new ExplicitBucketHistogramConfiguration { Boundaries = [0.1, 1, 10] }));
        var histogram = test.Meter.CreateHistogram<double>("test.probe.duration", "s", "Probe wall time");
        double[] values = [0.05, 0.5, 0.5, 5, 50];
        var sum = 0.0;
        foreach (var value in values)
        {
            histogram.Record(value, new KeyValuePair<string, object?>("run", "r1"));
            sum += value;
        }

        var text = await test.ScrapeTextAsync();

        Assert.Equal(
            "# HELP test_probe_duration_seconds Probe wall time\n"
            + "# TYPE test_probe_duration_seconds histogram\n"
            + "test_probe_duration_seconds_bucket{run=\"r1\",le=\"0.1\"} 1\n"
            + "test_probe_duration_seconds_bucket{run=\"r1\",le=\"1\"} 3\n"
            + "test_probe_duration_seconds_bucket{run=\"r1\",le=\"10\"} 4\n"
            + "test_probe_duration_seconds_bucket{run=\"r1\",le=\"+Inf\"} 5\n"
            + $"test_probe_duration_seconds_sum{{run=\"r1\"}} {PrometheusText.FormatDouble(sum)}\n"
            + "test_probe_duration_seconds_count{run=\"r1\"} 5\n",
            text);
    }

    [Fact]
    public async Task GaugesAndUpDownCountersAreGaugesWithSpecialValues()
    {
        using var test = TestEndpoint.Start();
        var gauge = test.Meter.CreateGauge<double>("test.radius", null, "Spectral radius");
        gauge.Record(double.NaN, new KeyValuePair<string, object?>("mode", "nan"));
        gauge.Record(double.PositiveInfinity, new KeyValuePair<string, object?>("mode", "pos"));
        gauge.Record(double.NegativeInfinity, new KeyValuePair<string, object?>("mode", "neg"));
        var upDown = test.Meter.CreateUpDownCounter<long>("test.queue.depth", "{item}", "Queue depth");
        upDown.Add(5);
        upDown.Add(-7);
        var ratio = test.Meter.CreateObservableGauge("test.busy", () => 0.25, "1", "Busy fraction");

        var text = await test.ScrapeTextAsync();

        Assert.Contains("# TYPE test_radius gauge\n", text, StringComparison.Ordinal);
        Assert.Contains("test_radius{mode=\"nan\"} NaN\n", text, StringComparison.Ordinal);
        Assert.Contains("test_radius{mode=\"pos\"} +Inf\n", text, StringComparison.Ordinal);
        Assert.Contains("test_radius{mode=\"neg\"} -Inf\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE test_queue_depth gauge\ntest_queue_depth -2\n", text, StringComparison.Ordinal);
        Assert.Contains("# HELP test_busy_ratio Busy fraction\n# TYPE test_busy_ratio gauge\ntest_busy_ratio 0.25\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ScopeLabelsAndTargetInfoAreWrittenWhenEnabled()
    {
        using var test = TestEndpoint.Start(o => o with { IncludeScopeLabels = true, IncludeTargetInfo = true }, meterVersion: "1.2.3");
        test.Meter.CreateCounter<long>("test.ticks").Add(1);

        var text = await test.ScrapeTextAsync();

        Assert.StartsWith("# HELP target_info Target metadata\n# TYPE target_info gauge\ntarget_info{", text, StringComparison.Ordinal);
        Assert.Contains("service_name=\"unknown_service", text, StringComparison.Ordinal);
        Assert.Contains(
            $"test_ticks_total{{otel_scope_name=\"{test.Meter.Name}\",otel_scope_version=\"1.2.3\"}} 1\n",
            text,
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task FamiliesAreWrittenOnceAndConflictingTypesAreDropped()
    {
        var logger = new ListLogger();
        using var test = TestEndpoint.Start(o => o with { Logger = logger });
        test.Meter.CreateGauge<long>("merge.me", null, "First").Record(1, new KeyValuePair<string, object?>("k", "a"));
        test.Meter.CreateGauge<long>("merge_me", null, "Second").Record(2, new KeyValuePair<string, object?>("k", "b"));
        test.Meter.CreateCounter<long>("conflict").Add(1);
        test.Meter.CreateGauge<long>("conflict.total").Record(5);
        test.Meter.CreateGauge<long>("labels").Record(
            7,
            new KeyValuePair<string, object?>("a_b", "2"),
            new KeyValuePair<string, object?>("a.b", "1"));

        var text = await test.ScrapeTextAsync();
        _ = await test.ScrapeTextAsync();

        Assert.Contains("# HELP merge_me First\n# TYPE merge_me gauge\nmerge_me{k=\"a\"} 1\nmerge_me{k=\"b\"} 2\n", text, StringComparison.Ordinal);
        Assert.Single(Occurrences(text, "# TYPE merge_me "));
        Assert.Contains("# TYPE conflict_total counter\nconflict_total 1\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("conflict_total 5", text, StringComparison.Ordinal);
        Assert.Single(Occurrences(text, "# TYPE conflict_total "));
        Assert.Single(logger.Entries, e => e.Id.Id == 5105 && e.Message.Contains("conflict.total", StringComparison.Ordinal));
        Assert.Contains("labels{a_b=\"1;2\"} 7\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ResponseHasTheTextFormatContentType()
    {
        using var test = TestEndpoint.Start();
        test.Meter.CreateCounter<long>("test.ticks").Add(1);

        using var response = await test.Client.GetAsync(test.Address, Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Null(response.Content.Headers.ContentEncoding.FirstOrDefault());
    }

    [Fact]
    public async Task GzipIsUsedWhenAcceptedAndDecompressesToThePlainDocument()
    {
        using var test = TestEndpoint.Start();
        test.Meter.CreateCounter<long>("test.ticks", null, "Ticks").Add(41);
        var plain = await test.ScrapeTextAsync();

        using var request = new HttpRequestMessage(HttpMethod.Get, test.Address);
        request.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip");
        using var response = await test.Client.SendAsync(request, Token);
        var compressed = await response.Content.ReadAsByteArrayAsync(Token);

        Assert.Equal("gzip", Assert.Single(response.Content.Headers.ContentEncoding));
        Assert.Equal(0x1f, compressed[0]);
        Assert.Equal(0x8b, compressed[1]);
        using var gzip = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        Assert.Equal(plain, await reader.ReadToEndAsync(Token));
    }

    [Fact]
    public async Task HeadAnswersHeadersWithoutBody()
    {
        using var test = TestEndpoint.Start();
        test.Meter.CreateCounter<long>("test.ticks", null, "Ticks").Add(1);
        var getLength = Encoding.UTF8.GetByteCount(await test.ScrapeTextAsync());

        using var request = new HttpRequestMessage(HttpMethod.Head, test.Address);
        using var response = await test.Client.SendAsync(request, Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Equal(getLength, response.Content.Headers.ContentLength);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync(Token));
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/metric")]
    [InlineData("/metrics/extra")]
    [InlineData("/favicon.ico")]
    public async Task OtherPathsAnswer404(string path)
    {
        using var test = TestEndpoint.Start();

        using var response = await test.Client.GetAsync(new Uri(test.Address, path), Token);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task ConfiguredPathIsServed()
    {
        using var test = TestEndpoint.Start(o => o with { Path = "/spectral" });
        test.Meter.CreateCounter<long>("test.ticks", null, "Ticks").Add(1);

        Assert.EndsWith("/spectral", test.Address.AbsoluteUri, StringComparison.Ordinal);
        Assert.Contains("test_ticks_total 1\n", await test.ScrapeTextAsync(), StringComparison.Ordinal);
        using var response = await test.Client.GetAsync(new Uri(test.Address, "/metrics"), Token);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    public async Task OtherMethodsAnswer405WithAllow(string method)
    {
        using var test = TestEndpoint.Start();

        using var request = new HttpRequestMessage(new HttpMethod(method), test.Address);
        using var response = await test.Client.SendAsync(request, Token);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal("GET, HEAD", string.Join(", ", response.Content.Headers.Allow));
    }

    [Fact]
    public async Task ConcurrentScrapesEachSeeOneCompleteCollection()
    {
        using var test = TestEndpoint.Start();
        var counter = test.Meter.CreateCounter<long>("test.steps", null, "Steps");
        var histogram = test.Meter.CreateHistogram<double>("test.latency", "s", "Latency");
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(
            () =>
            {
                var i = 0;
                while (!stop.IsCancellationRequested)
                {
                    counter.Add(1);
                    histogram.Record(i++ % 7);
                }
            },
            Token);

        var scrapes = await Task.WhenAll(Enumerable.Range(0, 24).Select(_ => test.ScrapeTextAsync()));
        await stop.CancelAsync();
        await writer;

        foreach (var text in scrapes)
        {
            Assert.EndsWith("\n", text, StringComparison.Ordinal);
            Assert.Single(Occurrences(text, "# TYPE test_steps_total counter\n"));
            Assert.Single(Occurrences(text, "# TYPE test_latency_seconds histogram\n"));
            var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var inf = lines.Single(l => l.StartsWith("test_latency_seconds_bucket{le=\"+Inf\"}", StringComparison.Ordinal));
            var count = lines.Single(l => l.StartsWith("test_latency_seconds_count ", StringComparison.Ordinal));
            Assert.Equal(inf.Split(' ')[1], count.Split(' ')[1]);
        }
    }

    [Fact]
    public void PortInUseIsLoggedAndTheProgramContinues()
    {
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        var port = ((IPEndPoint)occupant.LocalEndpoint).Port;
        var logger = new ListLogger();
        using var meter = new Meter("test.prometheus." + Guid.NewGuid().ToString("N"));

        using var provider = Sdk.CreateMeterProviderBuilder()
            .AddMeter(meter.Name)
            .AddSpectralMonitorPrometheusEndpoint(new PrometheusEndpointOptions { Port = port, Logger = logger }, out var endpoint)
            .Build();
        using var _ = endpoint;

        Assert.False(endpoint.IsListening);
        Assert.Null(endpoint.Address);
        var error = Assert.IsType<InvalidOperationException>(endpoint.StartupError);
        Assert.Contains($"http://127.0.0.1:{port}/metrics", error.Message, StringComparison.Ordinal);
        var entry = Assert.Single(logger.Entries, e => e.Id.Id == 5101);
        Assert.Equal(LogLevel.Error, entry.Level);
        Assert.Contains($"127.0.0.1:{port}", entry.Message, StringComparison.Ordinal);
        meter.CreateCounter<long>("still.works").Add(1);
    }

    [Fact]
    public void PortInUseThrowsAtBuildWhenFatal()
    {
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        var port = ((IPEndPoint)occupant.LocalEndpoint).Port;
        var builder = Sdk.CreateMeterProviderBuilder()
            .AddSpectralMonitorPrometheusEndpoint(new PrometheusEndpointOptions { Port = port, FailOnStartupError = true }, out var endpoint);

        var error = Assert.Throws<InvalidOperationException>(() => builder.Build());

        Assert.Contains($"http://127.0.0.1:{port}/metrics", error.Message, StringComparison.Ordinal);
        Assert.False(endpoint.IsListening);
    }

    [Fact]
    public async Task DisposingTheProviderStopsTheListenerAndFreesThePort()
    {
        var test = TestEndpoint.Start();
        var address = test.Address;
        Assert.True(test.Endpoint.IsListening);
        Assert.Equal(HttpStatusCode.OK, (await test.Client.GetAsync(address, Token)).StatusCode);

        test.Provider.Dispose();

        Assert.False(test.Endpoint.IsListening);
        Assert.Null(test.Endpoint.Address);
        AssertPortIsFree(address.Port);
        test.Dispose();
    }

    [Fact]
    public async Task DisposingTheEndpointAloneFreesThePort()
    {
        using var test = TestEndpoint.Start();
        var port = test.Address.Port;

        test.Endpoint.Dispose();

        Assert.False(test.Endpoint.IsListening);
        AssertPortIsFree(port);
        Assert.NotNull(await test.Endpoint.ScrapeAsync(Token));
    }

    [Fact]
    public async Task EndpointStartsOnlyWhenTheProviderIsBuilt()
    {
        using var meter = new Meter("test.prometheus." + Guid.NewGuid().ToString("N"));
        var builder = Sdk.CreateMeterProviderBuilder()
            .AddMeter(meter.Name)
            .AddSpectralMonitorPrometheusEndpoint(new PrometheusEndpointOptions { Port = 0 }, out var endpoint);
        Assert.Null(endpoint.Address);

        using var provider = builder.Build();
        using var _ = endpoint;

        Assert.NotNull(endpoint.Address);
        Assert.Equal("127.0.0.1", endpoint.Address.Host);
        Assert.NotEqual(0, endpoint.Address.Port);
        Assert.Equal("/metrics", endpoint.Address.AbsolutePath);
        Assert.NotNull(await endpoint.ScrapeAsync(Token));
    }

    private static void AssertPortIsFree(int port)
    {
        // The listener closes its socket synchronously, so the port must be bindable at once.
        using var probe = new TcpListener(IPAddress.Loopback, port);
        probe.Start();
    }

    private static IEnumerable<int> Occurrences(string text, string value)
    {
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + 1, StringComparison.Ordinal))
        {
            yield return i;
        }
    }
}
