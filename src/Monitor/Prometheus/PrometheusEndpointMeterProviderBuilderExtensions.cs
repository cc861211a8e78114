using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Exporter;
using SpectralMonitor.Prometheus;

namespace OpenTelemetry.Metrics;

/// <summary>Adds the SpectralMonitor Prometheus scrape endpoint to an OpenTelemetry <see cref="MeterProviderBuilder"/>.</summary>
public static class PrometheusEndpointMeterProviderBuilderExtensions
{
    /// <summary>
    /// Serves the provider's metrics for Prometheus at <c>http://127.0.0.1:9464/metrics</c>, through OpenTelemetry's
    /// Prometheus HttpListener exporter, from the moment the provider is built until it is disposed. A failure to
    /// listen is logged and the program continues.
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
    /// port 0). A host that is not loopback is logged as a warning naming the bound address.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="options">Where to listen and how to fail.</param>
    /// <param name="endpoint">The endpoint; it starts listening when the provider is built.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="NotSupportedException"><paramref name="builder"/> is not an SDK builder (it cannot defer configuration to build time).</exception>
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

        // The exporter's options live under a name of this endpoint's own, so other Prometheus exporters in the same
        // provider or service collection keep theirs. The exporter is added in the build phase (ConfigureBuilder
        // runs then), where a failure to listen can be caught instead of failing Build().
        if (builder is not IDeferredMeterProviderBuilder deferred)
        {
            throw new NotSupportedException($"The MeterProviderBuilder ({builder.GetType().Name}) does not support deferred configuration, which the Prometheus endpoint needs.");
        }

        builder.ConfigureServices(services => services.Configure<PrometheusHttpListenerOptions>(created.OptionsName, created.ConfigureExporter));
        return deferred.Configure((services, building) => created.Start(services, building));
    }
}
