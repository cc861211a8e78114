using SpectralMonitor;

#pragma warning disable IDE0130 // OpenTelemetry's convention: builder extensions live in the builder's namespace.
namespace OpenTelemetry.Trace;
#pragma warning restore IDE0130

/// <summary>Registers SpectralMonitor's probe spans with an OpenTelemetry <see cref="TracerProviderBuilder"/>.</summary>
public static class SpectralMonitorTracerProviderBuilderExtensions
{
    /// <summary>Collects one span per probe (ActivitySource <see cref="StabilityMonitor.ActivitySourceName"/>) with the indicators as attributes.</summary>
    public static TracerProviderBuilder AddSpectralMonitorInstrumentation(this TracerProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddSource(StabilityMonitor.ActivitySourceName);
    }
}
