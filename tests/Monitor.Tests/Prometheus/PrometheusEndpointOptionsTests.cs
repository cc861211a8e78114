using SpectralMonitor.Prometheus;

namespace SpectralMonitor.Tests.Prometheus;

public sealed class PrometheusEndpointOptionsTests
{
    [Fact]
    public void OptionsDefaultToLoopback9464Metrics()
    {
        var options = new PrometheusEndpointOptions();
        Assert.Equal("127.0.0.1", options.Host);
        Assert.Equal(9464, options.Port);
        Assert.Equal("/metrics", options.Path);
        Assert.False(options.FailOnStartupError);
        Assert.True(options.IncludeScopeLabels);
        Assert.True(options.IncludeTargetInfo);
        Assert.Equal(TimeSpan.FromSeconds(10), options.CollectTimeout);
        Assert.Null(options.Logger);
        Assert.Equal(9464, PrometheusEndpointOptions.DefaultPort);
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
