using System.Globalization;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using SpectralMonitor.Estimators.Optimizers;
using SpectralMonitor.Prometheus;
using SpectralMonitor.Reference;
using SpectralMonitor.Reference.Monitoring;
using SpectralMonitor.Rules;

namespace SpectralMonitor.Tests.Prometheus;

/// <summary>
/// The endpoint serving a real monitored training run (reference backend, heavy-ball SGD at an unstable learning rate,
/// so that alerts fire): promtool accepts the payload, and a real Prometheus server stores exactly the values the
/// monitor recorded for κ(V), ρ, the loss and the alerts.
/// </summary>
public sealed class MonitoredRunPrometheusTests
{
    private const string Run = "itest-monitored";

    /// <summary>Trains 300 full-batch steps (the first alert comes at step ~185) and keeps the monitor alive.</summary>
    private static (StabilityMonitor Monitor, double LastLoss, int Alerts) TrainMonitored(string runName)
    {
        var data = SyntheticData.Regression(64, 4, 1, seed: 3);
        var architecture = new MlpArchitecture([4, 16, 1], HiddenActivation.Tanh);
        var objective = new MlpObjective(architecture, LossKind.MeanSquaredError);
        var optimizer = new SgdOptimizer(architecture.ParameterCount, new SgdHyperparameters(0.5, 0.9));
        var trainer = new MiniBatchTrainer(objective, data, optimizer, architecture.InitializeParameters(1), 64, 1);
        var monitor = StabilityMonitor.Create(
            new ReferenceProbeTarget(objective, data, () => trainer.Parameters, optimizer),
            new StabilityMonitorOptions { RunName = runName, ProbeInterval = 10, FirstProbeStep = 0, OverheadBudget = 1 });
        int alerts = 0;
        monitor.AlertRaised += (_, a) => alerts += a.Rule == DefaultRules.SharpnessNearEdge.Name ? 1 : 0;
        double loss = double.NaN;
        for (int step = 0; step < 300; step++)
        {
            var result = trainer.Step();
            loss = result.Loss;
            monitor.OnStep(step, result.Loss, result.GradientNorm);
        }

        return (monitor, loss, alerts);
    }

    private static MeterProvider Provider(out PrometheusEndpoint endpoint) =>
        Sdk.CreateMeterProviderBuilder()
            .AddSpectralMonitorInstrumentation()
            .AddSpectralMonitorPrometheusEndpoint(new PrometheusEndpointOptions { Port = 0 }, out endpoint)
            .Build();

    [Fact]
    public async Task PromtoolAcceptsTheScrapeOfAMonitoredRun()
    {
        var promtool = PrometheusTools.Require("promtool");
        using var provider = Provider(out var endpoint);
        var (monitor, _, alerts) = TrainMonitored(Run + "-promtool");
        using (monitor)
        {
            Assert.True(alerts > 0, "the unstable run raised alerts");
            using var client = new HttpClient();
            string payload = await client.GetStringAsync(endpoint.Address, TestContext.Current.CancellationToken);
            var (exitCode, output) = await PrometheusTools.RunAsync(promtool, ["check", "metrics"], payload, null, TimeSpan.FromSeconds(20));
            Assert.True(exitCode == 0 && output.Trim().Length == 0, $"promtool check metrics exited {exitCode}: {output}");
            Assert.Contains("stability_eigenvector_condition{", payload, StringComparison.Ordinal);
            Assert.Contains("stability_alerts_total{", payload, StringComparison.Ordinal);
            Assert.Contains("stability_probe_duration_seconds_bucket{", payload, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task PrometheusStoresTheValuesTheMonitorRecorded()
    {
        var binary = PrometheusTools.Require("prometheus");
        var token = TestContext.Current.CancellationToken;
        using var provider = Provider(out var endpoint);
        var (monitor, lastLoss, alerts) = TrainMonitored(Run);
        using (monitor)
        {
            var probe = monitor.LatestProbe!;
            Assert.Equal(ProbeStatus.Succeeded, probe.Status);
            Assert.True(alerts > 0, "the unstable run raised alerts");

            await using var server = await PrometheusServerTests.PrometheusServer.StartAsync(binary, endpoint.Address!, token);
            string Selector(string extra = "") => $"{{run=\"{Run}\"{extra}}}";

            // The values go through the text format and Prometheus's storage as float64; both round-trip exactly.
            static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
            await server.WaitForValueAsync("stability_eigenvector_condition" + Selector(",scope=\"all\""), Format(probe.Indicators[Indicators.EigenvectorCondition]), token);
            await server.WaitForValueAsync("stability_spectral_radius" + Selector(",branch=\"all\""), Format(probe.Indicators[Indicators.SpectralRadius]), token);
            await server.WaitForValueAsync("stability_spectral_radius" + Selector(",branch=\"oscillatory\""), Format(probe.Indicators[Indicators.OscillatoryRadius]), token);
            await server.WaitForValueAsync("training_loss" + Selector(), Format(lastLoss), token);
            await server.WaitForValueAsync(
                "sum(stability_alerts_total" + Selector($",rule=\"{DefaultRules.SharpnessNearEdge.Name}\"") + ")",
                alerts.ToString(CultureInfo.InvariantCulture),
                token);
        }
    }
}
