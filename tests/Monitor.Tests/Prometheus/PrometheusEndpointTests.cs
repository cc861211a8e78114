using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using SpectralMonitor.Prometheus;

namespace SpectralMonitor.Tests.Prometheus;

/// <summary>
/// What the endpoint serves now that OpenTelemetry's HttpListener exporter writes the payload: these tests pin the
/// exporter behaviour that the alert rules, the dashboard and the README rely on, so that an exporter upgrade that
/// changes it fails here first.
/// </summary>
public sealed class PrometheusEndpointTests
{
    /// <summary>The Accept header Prometheus 2.42 sends: it prefers OpenMetrics.</summary>
    internal const string PrometheusAccept =
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

    private const string TextContentType = "text/plain; version=0.0.4; charset=utf-8";

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CounterIsServedWithTypeHelpTotalSuffixAndEscapedLabels()
    {
        using var test = TestEndpoint.Start();
        var counter = test.Meter.CreateCounter<long>("test.requests", "{request}", "Requests \\ handled\nper path");
        counter.Add(3, new KeyValuePair<string, object?>("path", "/a\"b\\c\nd"));

        var text = await test.ScrapeTextAsync();

        // The annotation unit {request} adds no suffix; the counter gets _total; backslash, quote and newline are escaped.
        Assert.Equal(
            "# TYPE test_requests_total counter\n"
            + "# HELP test_requests_total Requests \\\\ handled\\nper path\n"
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
        foreach (var value in values)
        {
            histogram.Record(value, new KeyValuePair<string, object?>("run", "r1"));
        }

        var text = await test.ScrapeTextAsync();

        // The sum 56.05 is the double sum of the recorded values, written in its shortest round-trip form.
        Assert.Equal(
            "# TYPE test_probe_duration_seconds histogram\n"
            + "# HELP test_probe_duration_seconds Probe wall time\n"
            + "test_probe_duration_seconds_bucket{run=\"r1\",le=\"0.1\"} 1\n"
            + "test_probe_duration_seconds_bucket{run=\"r1\",le=\"1\"} 3\n"
            + "test_probe_duration_seconds_bucket{run=\"r1\",le=\"10\"} 4\n"
            + "test_probe_duration_seconds_bucket{run=\"r1\",le=\"+Inf\"} 5\n"
            + $"test_probe_duration_seconds_sum{{run=\"r1\"}} {values.Sum().ToString("R", CultureInfo.InvariantCulture)}\n"
            + "test_probe_duration_seconds_count{run=\"r1\"} 5\n",
            text);
    }

    [Fact]
    public async Task GaugesKeepTheirNamesAndSpecialValues()
    {
        using var test = TestEndpoint.Start();
        var gauge = test.Meter.CreateGauge<double>("test.radius", null, "Spectral radius");
        gauge.Record(double.NaN, new KeyValuePair<string, object?>("mode", "nan"));
        gauge.Record(double.PositiveInfinity, new KeyValuePair<string, object?>("mode", "pos"));
        gauge.Record(double.NegativeInfinity, new KeyValuePair<string, object?>("mode", "neg"));
        var upDown = test.Meter.CreateUpDownCounter<long>("test.queue.depth", "{item}", "Queue depth");
        upDown.Add(5);
        upDown.Add(-7);
        test.Meter.CreateObservableGauge("test.busy", () => 0.25, "1", "Busy fraction");

        var text = await test.ScrapeTextAsync();

        // Samples without labels are written with empty braces, "name{} value", which the text format allows.
        Assert.Contains("# TYPE test_radius gauge\n", text, StringComparison.Ordinal);
        Assert.Contains("test_radius{mode=\"nan\"} NaN\n", text, StringComparison.Ordinal);
        Assert.Contains("test_radius{mode=\"pos\"} +Inf\n", text, StringComparison.Ordinal);
        Assert.Contains("test_radius{mode=\"neg\"} -Inf\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE test_queue_depth gauge\n# HELP test_queue_depth Queue depth\ntest_queue_depth{} -2\n", text, StringComparison.Ordinal);

        // Unlike the hand-written endpoint it replaces, the exporter adds no _ratio suffix for the unit "1".
        Assert.Contains("# TYPE test_busy gauge\n# HELP test_busy Busy fraction\ntest_busy{} 0.25\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("_ratio", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GaugeValuesRoundTripExactly()
    {
        using var test = TestEndpoint.Start();
        var random = new Random(42);
        var values = Enumerable.Range(0, 200).Select(_ => (random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-300, 300))).ToArray();
        test.Meter.CreateObservableGauge("test.value", () => values.Select((v, i) => new Measurement<double>(v, new KeyValuePair<string, object?>("i", i))));

        var text = await test.ScrapeTextAsync();

        // Exact (tolerance 0): Prometheus parses with Go's ParseFloat, so the written spelling must read back to the same double.
        var parsed = text.Split('\n')
            .Where(l => l.StartsWith("test_value{", StringComparison.Ordinal))
            .ToDictionary(
                l => int.Parse(l[(l.IndexOf('"', StringComparison.Ordinal) + 1)..l.IndexOf("\"}", StringComparison.Ordinal)], CultureInfo.InvariantCulture),
                l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
        Assert.Equal(values.Length, parsed.Count);
        for (var i = 0; i < values.Length; i++)
        {
            Assert.Equal(values[i], parsed[i]);
        }
    }

    [Fact]
    public async Task ScopeLabelsAndTargetInfoFollowTheOptions()
    {
        using var with = TestEndpoint.Start(o => o with { IncludeScopeLabels = true, IncludeTargetInfo = true }, meterVersion: "1.2.3");
        with.Meter.CreateCounter<long>("test.ticks").Add(1);
        using var without = TestEndpoint.Start(o => o with { IncludeScopeLabels = false, IncludeTargetInfo = false });
        without.Meter.CreateCounter<long>("test.ticks").Add(1);

        var on = await with.ScrapeTextAsync();
        var off = await without.ScrapeTextAsync();

        Assert.StartsWith("# TYPE target_info gauge\n# HELP target_info Target metadata\ntarget_info{", on, StringComparison.Ordinal);
        Assert.Contains("service_name=\"unknown_service", on, StringComparison.Ordinal);
        Assert.Contains($"test_ticks_total{{otel_scope_name=\"{with.Meter.Name}\",otel_scope_version=\"1.2.3\"}} 1\n", on, StringComparison.Ordinal);
        Assert.DoesNotContain("target_info", off, StringComparison.Ordinal);
        Assert.Contains("test_ticks_total{} 1\n", off, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PlainRequestsGetTheTextFormatWithoutCompression()
    {
        using var test = TestEndpoint.Start();
        test.Meter.CreateCounter<long>("test.ticks").Add(1);

        using var request = new HttpRequestMessage(HttpMethod.Get, test.Address);
        request.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip");
        using var response = await test.Client.SendAsync(request, Token);
        var body = await response.Content.ReadAsStringAsync(Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(TextContentType, response.Content.Headers.ContentType?.ToString());

        // The exporter never compresses (the hand-written endpoint did gzip); Prometheus accepts identity encoding.
        Assert.Empty(response.Content.Headers.ContentEncoding);
        Assert.StartsWith("# TYPE test_ticks_total counter\n", body, StringComparison.Ordinal);
        Assert.DoesNotContain("# EOF", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PrometheusGetsOpenMetricsWithCreatedSamplesAndEof()
    {
        using var test = TestEndpoint.Start(o => o with { IncludeTargetInfo = true });
        test.Meter.CreateCounter<long>("test.ticks", "{tick}", "Ticks").Add(2);

        using var request = new HttpRequestMessage(HttpMethod.Get, test.Address);
        request.Headers.TryAddWithoutValidation("Accept", PrometheusAccept);
        using var response = await test.Client.SendAsync(request, Token);
        var body = await response.Content.ReadAsStringAsync(Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("application/openmetrics-text; version=1.0.0; charset=utf-8", response.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        Assert.Contains("# TYPE test_ticks counter\n# HELP test_ticks Ticks\ntest_ticks_total{} 2\n", body, StringComparison.Ordinal);
        Assert.Contains("test_ticks_created{} ", body, StringComparison.Ordinal);
        Assert.Contains("# TYPE target info\n", body, StringComparison.Ordinal);
        Assert.EndsWith("# EOF\n", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HeadAnswersHeadersWithoutBody()
    {
        using var test = TestEndpoint.Start();
        test.Meter.CreateCounter<long>("test.ticks", null, "Ticks").Add(1);

        using var request = new HttpRequestMessage(HttpMethod.Head, test.Address);
        using var response = await test.Client.SendAsync(request, Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(TextContentType, response.Content.Headers.ContentType?.ToString());
        Assert.Empty(await response.Content.ReadAsByteArrayAsync(Token));
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    public async Task OtherMethodsAreServedLikeGet(string method)
    {
        // The exporter does not check the method (the hand-written endpoint answered 405); the README says so.
        using var test = TestEndpoint.Start();
        test.Meter.CreateCounter<long>("test.ticks").Add(1);

        using var request = new HttpRequestMessage(new HttpMethod(method), test.Address);
        using var response = await test.Client.SendAsync(request, Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("test_ticks_total{} 1\n", await response.Content.ReadAsStringAsync(Token), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/metric")]
    [InlineData("/favicon.ico")]
    public async Task PathsOutsideTheScrapePathAnswer404(string path)
    {
        using var test = TestEndpoint.Start();

        using var response = await test.Client.GetAsync(new Uri(test.Address, path), Token);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task TheScrapePathAndPathsBelowItAreServed()
    {
        using var test = TestEndpoint.Start(o => o with { Path = "/spectral" });
        test.Meter.CreateCounter<long>("test.ticks", null, "Ticks").Add(1);

        Assert.EndsWith("/spectral", test.Address.AbsoluteUri, StringComparison.Ordinal);
        Assert.Contains("test_ticks_total{} 1\n", await test.ScrapeTextAsync(), StringComparison.Ordinal);
        using var below = await test.Client.GetAsync(new Uri(test.Address, "/spectral/anything"), Token);
        Assert.Equal(HttpStatusCode.OK, below.StatusCode);
        using var other = await test.Client.GetAsync(new Uri(test.Address, "/metrics"), Token);
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
    }

    [Fact]
    public async Task ACollectionSlowerThanTheTimeoutAnswers408()
    {
        using var test = TestEndpoint.Start(o => o with { CollectTimeout = TimeSpan.FromMilliseconds(200) });
        test.Meter.CreateObservableGauge("test.slow", () =>
        {
            Thread.Sleep(1000);
            return 1.0;
        });

        using var response = await test.Client.GetAsync(test.Address, Token);

        Assert.Equal(HttpStatusCode.RequestTimeout, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync(Token));
    }

    [Fact]
    public async Task ConcurrentScrapesEachSeeOneCompleteCollection()
    {
        using var test = TestEndpoint.Start();
        var counter = test.Meter.CreateCounter<long>("test.steps", null, "Steps");
        var histogram = test.Meter.CreateHistogram<double>("test.latency", "s", "Latency");

        // Measured once before the first scrape: a collection with no metrics at all is answered 200 with an empty body.
        counter.Add(1);
        histogram.Record(0);
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
            var count = lines.Single(l => l.StartsWith("test_latency_seconds_count{} ", StringComparison.Ordinal));
            Assert.Equal(inf.Split(' ')[1], count.Split(' ')[1]);
        }
    }

    [Fact]
    public void PortInUseIsLoggedWithItsCauseAndTheProgramContinues()
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

        Assert.False(endpoint.IsListening);
        Assert.Null(endpoint.Address);
        var error = Assert.IsType<InvalidOperationException>(endpoint.StartupError);
        Assert.Contains($"http://127.0.0.1:{port}/metrics", error.Message, StringComparison.Ordinal);
        Assert.Contains("already in use", error.Message, StringComparison.Ordinal);
        var entry = Assert.Single(logger.Entries, e => e.Id.Id == 5101);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Error, entry.Level);
        Assert.Contains($"127.0.0.1:{port}", entry.Message, StringComparison.Ordinal);
        Assert.Contains("the program continues", entry.Message, StringComparison.Ordinal);
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
        Assert.Contains("already in use", error.Message, StringComparison.Ordinal);
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
        AssertPortIsFree(IPAddress.Loopback, address.Port);
        test.Dispose();
    }

    [Fact]
    public async Task EndpointStartsOnlyWhenTheProviderIsBuiltOnARealPortForPortZero()
    {
        using var meter = new Meter("test.prometheus." + Guid.NewGuid().ToString("N"));
        var logger = new ListLogger();
        var builder = Sdk.CreateMeterProviderBuilder()
            .AddMeter(meter.Name)
            .AddSpectralMonitorPrometheusEndpoint(new PrometheusEndpointOptions { Port = 0, Logger = logger }, out var endpoint);
        Assert.Null(endpoint.Address);
        Assert.False(endpoint.IsListening);

        using var provider = builder.Build();

        Assert.True(endpoint.IsListening);
        Assert.NotNull(endpoint.Address);
        Assert.Equal("127.0.0.1", endpoint.Address.Host);
        Assert.NotEqual(0, endpoint.Address.Port);
        Assert.Equal("/metrics", endpoint.Address.AbsolutePath);
        Assert.Null(endpoint.StartupError);
        using var client = new HttpClient();
        using var response = await client.GetAsync(endpoint.Address, Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var entry = Assert.Single(logger.Entries, e => e.Id.Id == 5100);
        Assert.Contains($"127.0.0.1:{endpoint.Address.Port}", entry.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(logger.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning);
    }

    [Fact]
    public async Task TwoEndpointsInOneProviderKeepTheirOwnOptions()
    {
        using var meter = new Meter("test.prometheus." + Guid.NewGuid().ToString("N"));
        using var provider = Sdk.CreateMeterProviderBuilder()
            .AddMeter(meter.Name)
            .AddSpectralMonitorPrometheusEndpoint(new PrometheusEndpointOptions { Port = 0, Path = "/one", IncludeTargetInfo = false }, out var one)
            .AddSpectralMonitorPrometheusEndpoint(new PrometheusEndpointOptions { Port = 0, Path = "/two", IncludeTargetInfo = true }, out var two)
            .Build();
        meter.CreateCounter<long>("test.ticks").Add(1);
        using var client = new HttpClient();

        var first = await client.GetStringAsync(one.Address, Token);
        var second = await client.GetStringAsync(two.Address, Token);

        Assert.NotEqual(one.Address!.Port, two.Address!.Port);
        Assert.DoesNotContain("target_info", first, StringComparison.Ordinal);
        Assert.Contains("target_info", second, StringComparison.Ordinal);
        Assert.Contains("test_ticks_total", first, StringComparison.Ordinal);
        Assert.Contains("test_ticks_total", second, StringComparison.Ordinal);
    }

    private static void AssertPortIsFree(IPAddress address, int port)
    {
        // The exporter closes the listener's socket when the provider is disposed, so the port must be bindable at once.
        using var probe = new TcpListener(address, port);
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
