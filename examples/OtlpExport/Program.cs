// Exports SpectralMonitor's metrics and probe spans over OTLP while a monitored reference training runs.
//   dotnet run --project examples/OtlpExport -- [endpoint]      (default http://localhost:4317, OTLP/gRPC)
// Without a collector listening, the exporter reports failed exports through its own diagnostics and the run goes on:
// telemetry never blocks or breaks training.
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using SpectralMonitor;
using SpectralMonitor.Estimators.Optimizers;
using SpectralMonitor.Reference;
using SpectralMonitor.Reference.Monitoring;

var endpoint = new Uri(args.Length > 0 ? args[0] : "http://localhost:4317");
var resource = ResourceBuilder.CreateDefault().AddService("spectral-monitor-otlp-example");

using var meters = Sdk.CreateMeterProviderBuilder()
    .SetResourceBuilder(resource)
    .AddSpectralMonitorInstrumentation()
    .AddOtlpExporter((exporter, reader) =>
    {
        exporter.Endpoint = endpoint;
        exporter.Protocol = OtlpExportProtocol.Grpc;
        reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = 1000;
    })
    .Build();
using var traces = Sdk.CreateTracerProviderBuilder()
    .SetResourceBuilder(resource)
    .AddSpectralMonitorInstrumentation()
    .AddOtlpExporter(exporter => exporter.Endpoint = endpoint)
    .Build();
using var logging = LoggerFactory.Create(builder => builder.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));

// Heavy-ball SGD at a learning rate whose sharpness reaches its edge: the monitor warns, and backs the rate off.
var spec = new RunSpec(
    "otlp-example",
    new MlpArchitecture([4, 16, 1], HiddenActivation.Tanh),
    LossKind.MeanSquaredError,
    SyntheticData.Regression(64, 4, 1, seed: 3),
    new SgdHyperparameters(0.5, 0.9),
    Steps: 500,
    BatchSize: 64,
    Seed: 1);
var options = new StabilityMonitorOptions { RunName = spec.Name, ProbeInterval = 10, OverheadBudget = 1, Backoff = new SpectralMonitor.Backoff.BackoffOptions() };

Console.WriteLine($"Exporting metrics and probe spans over OTLP/gRPC to {endpoint} …");
var record = MonitoredRun.Execute(spec, options, logging);
Console.WriteLine($"{record.Losses.Count} steps, {record.Probes.Count} probes, {record.Alerts.Count} alerts, {record.SpikeOnsets.Count} spikes, final loss {record.FinalLoss:G4}.");
meters.ForceFlush(5000);
traces.ForceFlush(5000);
