using SpectralMonitor;

#pragma warning disable IDE0130 // OpenTelemetry's convention: builder extensions live in the builder's namespace.
namespace OpenTelemetry.Metrics;
#pragma warning restore IDE0130

/// <summary>Registers SpectralMonitor's metrics with an OpenTelemetry <see cref="MeterProviderBuilder"/>.</summary>
public static class SpectralMonitorMeterProviderBuilderExtensions
{
    /// <summary>Collects every SpectralMonitor instrument (the Meter named <see cref="StabilityMonitor.MeterName"/>).</summary>
    public static MeterProviderBuilder AddSpectralMonitorInstrumentation(this MeterProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddMeter(StabilityMonitor.MeterName);
    }
}
