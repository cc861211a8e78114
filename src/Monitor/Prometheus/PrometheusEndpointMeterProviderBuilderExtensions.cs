using Microsoft.Extensions.Logging;
using SpectralMonitor.Prometheus;

namespace OpenTelemetry.Metrics;

/// <summary>Adds the SpectralMonitor Prometheus scrape endpoint to an OpenTelemetry <see cref="MeterProviderBuilder"/>.</summary>
public static class PrometheusEndpointMeterProviderBuilderExtensions
{
    /// <summary>
    /// Serves the provider's metrics for Prometheus at <c>http://127.0.0.1:9464/metrics</c> from the moment the
    /// provider is built until it is disposed. A failure to listen is logged and the program continues.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder, for chaining.</returns>
    public static MeterProviderBuilder AddSpectralMonitorPrometheusEndpoint(this MeterProviderBuilder builder)
        => builder.AddSpectralMonitorPrometheusEndpoint(new PrometheusEndpointOptions(), out _);

    /// <summary>
    /// Serves the provider's metrics for Prometheus, configured from the defaults by <paramref name="configure"/>,
    /// e.g. <c>o =&gt; o with { Port = 9465 }</c>.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Returns the options to use, given the defaults.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="configure"/> is null or returns null.</exception>
    public static MeterProviderBuilder AddSpectralMonitorPrometheusEndpoint(
        this MeterProviderBuilder builder,
        Func<PrometheusEndpointOptions, PrometheusEndpointOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var options = configure(new PrometheusEndpointOptions())
            ?? throw new ArgumentNullException(nameof(configure), "The configure callback returned null options.");
        return builder.AddSpectralMonitorPrometheusEndpoint(options, out _);
    }

    /// <summary>
    /// Serves the provider's metrics for Prometheus with <paramref name="options"/> and hands back the endpoint,
    /// whose <see cref="PrometheusEndpoint.Address"/> gives the bound URL once the provider is built (useful with
    /// port 0).
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="options">Where to listen and how to fail.</param>
    /// <param name="endpoint">The endpoint; it starts listening when the provider is built.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="options"/> is null.</exception>
    /// <remarks>
    /// With <see cref="PrometheusEndpointOptions.FailOnStartupError"/>, <c>Build()</c> throws an
    /// <see cref="InvalidOperationException"/> naming the address when the endpoint cannot listen.
    /// </remarks>
    public static MeterProviderBuilder AddSpectralMonitorPrometheusEndpoint(
        this MeterProviderBuilder builder,
        PrometheusEndpointOptions options,
        out PrometheusEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        var created = new PrometheusEndpoint(options);
        endpoint = created;
        return builder.AddReader(services =>
        {
            created.UseLoggerFactory(services.GetService(typeof(ILoggerFactory)) as ILoggerFactory);
            created.Start();
            return created.Reader;
        });
    }
}
