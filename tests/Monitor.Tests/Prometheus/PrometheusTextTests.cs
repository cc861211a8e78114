using SpectralMonitor.Prometheus;

namespace SpectralMonitor.Tests.Prometheus;

public sealed class PrometheusTextTests
{
    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("back\\slash", "back\\\\slash")]
    [InlineData("say \"hi\"", "say \\\"hi\\\"")]
    [InlineData("two\nlines", "two\\nlines")]
    [InlineData("tab\tand\rcr", "tab\tand\rcr")]
    [InlineData("\\\"\n", "\\\\\\\"\\n")]
    public void LabelValuesEscapeBackslashQuoteAndNewline(string value, string expected)
        => Assert.Equal(expected, PrometheusText.EscapeLabelValue(value));

    [Theory]
    [InlineData("Top eigenvalue of H", "Top eigenvalue of H")]
    [InlineData("a \"quoted\" word", "a \"quoted\" word")]
    [InlineData("c:\\path\nnext", "c:\\\\path\\nnext")]
    public void HelpEscapesBackslashAndNewlineOnly(string help, string expected)
        => Assert.Equal(expected, PrometheusText.EscapeHelp(help));

    [Theory]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "+Inf")]
    [InlineData(double.NegativeInfinity, "-Inf")]
    [InlineData(0.0, "0")]
    [InlineData(-2.5, "-2.5")]
    [InlineData(0.1, "0.1")]
    [InlineData(1e-5, "1E-05")]
    [InlineData(1.7976931348623157e308, "1.7976931348623157E+308")]
    public void SpecialValuesAreSpelledAsPrometheusExpects(double value, string expected)
        => Assert.Equal(expected, PrometheusText.FormatDouble(value));

    [Fact]
    public void FormattedDoublesRoundTrip()
    {
        // Exact round trip (tolerance 0): Prometheus parses with Go's ParseFloat, which reads the shortest
        // round-trip spelling back to the same double.
        var random = new Random(42);
        for (var i = 0; i < 1000; i++)
        {
            var value = (random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-300, 300));
            Assert.Equal(value, double.Parse(PrometheusText.FormatDouble(value), System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("", false)]
    [InlineData("gzip", true)]
    [InlineData("GZIP", true)]
    [InlineData("deflate, gzip;q=0.5", true)]
    [InlineData("gzip;q=0", false)]
    [InlineData("gzip; q=0.0, identity", false)]
    [InlineData("br, identity", false)]
    [InlineData("*", true)]
    [InlineData("*;q=0", false)]
    [InlineData("gzip;q=0, *", false)]
    [InlineData("x-gzip", true)]
    public void AcceptEncodingIsNegotiated(string? header, bool expected)
        => Assert.Equal(expected, PrometheusEndpoint.AcceptsGzip(header));

    [Theory]
    [InlineData(true, "true")]
    [InlineData(42L, "42")]
    [InlineData(0.25, "0.25")]
    [InlineData("text", "text")]
    public void AttributeValuesBecomeStrings(object value, string expected)
        => Assert.Equal(expected, PrometheusText.AttributeValueToString(value));

    [Fact]
    public void ArrayAttributesBecomeJsonArrays()
        => Assert.Equal("[\"a\\\"b\",1,true]", PrometheusText.AttributeValueToString(new object[] { "a\"b", 1, true }));

    [Fact]
    public void OptionsDefaultToLoopback9464Metrics()
    {
        var options = new PrometheusEndpointOptions();
        Assert.Equal("127.0.0.1", options.Host);
        Assert.Equal(9464, options.Port);
        Assert.Equal("/metrics", options.Path);
        Assert.False(options.FailOnStartupError);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(65536)]
    public void PortOutOfRangeIsRejected(int port)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new PrometheusEndpointOptions { Port = port });
        Assert.Equal("Port", error.ParamName);
        Assert.Contains(port.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("metrics")]
    [InlineData("")]
    [InlineData("/me trics")]
    [InlineData("/metrics?x=1")]
    public void InvalidPathIsRejected(string path)
    {
        var error = Assert.Throws<ArgumentException>(() => new PrometheusEndpointOptions { Path = path });
        Assert.Equal("Path", error.ParamName);
        Assert.Contains($"'{path}'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("http://host")]
    [InlineData("host:9464")]
    [InlineData("a b")]
    public void InvalidHostIsRejected(string host)
    {
        var error = Assert.Throws<ArgumentException>(() => new PrometheusEndpointOptions { Host = host });
        Assert.Equal("Host", error.ParamName);
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("[::1]")]
    [InlineData("*")]
    [InlineData("0.0.0.0")]
    public void ValidHostsAreAccepted(string host)
        => Assert.Equal(host, new PrometheusEndpointOptions { Host = host }.Host);

    [Fact]
    public void NonPositiveCollectTimeoutIsRejected()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new PrometheusEndpointOptions { CollectTimeout = TimeSpan.Zero });
        Assert.Equal("CollectTimeout", error.ParamName);
    }
}
