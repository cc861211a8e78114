// SpectralMonitor inside an ASP.NET Core app: a monitored training loop runs as a hosted service, /metrics serves its
// series through OpenTelemetry's Prometheus exporter for ASP.NET Core, /healthz reports the training state, and
// Ctrl-C (or the host's StopAsync) ends the loop cleanly and disposes the monitor.
using SpectralMonitor.Examples.AspNetCoreHost;

await TrainingHost.Build(args).RunAsync();
