using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using SpectralMonitor.Prometheus;

namespace SpectralMonitor.Tests.Prometheus;

/// <summary>
/// End to end: a real Prometheus server (on loopback, temporary config and storage, random free ports) scrapes the
/// endpoint every second while a background loop updates a gauge and a counter; the test then queries the
/// server's HTTP API for the recorded values.
/// </summary>
public sealed class PrometheusServerTests
{
    /// <summary>Upper bound on every wait, keeping the whole test well under 30 s.</summary>
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task PrometheusScrapesTheEndpointAndServesTheRecordedValues()
    {
        var binary = PrometheusTools.Require("prometheus");
        var token = TestContext.Current.CancellationToken;
        using var test = TestEndpoint.Start(o => o with { IncludeScopeLabels = true, IncludeTargetInfo = true });
        const string run = "run \"1\" \\ a";
        var tags = new KeyValuePair<string, object?>[] { new("run", run), new("optimizer", "adam") };
        var gauge = test.Meter.CreateGauge<double>("itest.spectral_radius", null, "Test gauge");
        var counter = test.Meter.CreateCounter<long>("itest.steps", "{step}", "Test counter");
        var histogram = test.Meter.CreateHistogram<double>("itest.probe.duration", "s", "Test histogram");

        await using var server = await PrometheusServer.StartAsync(binary, test.Address, token);
        using var stop = new CancellationTokenSource();
        long steps = 0;
        var writer = Task.Run(
            async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    steps++;
                    counter.Add(1, tags);
                    gauge.Record(0.5 + (steps % 10 * 0.01), tags);
                    histogram.Record(0.002 * (steps % 5), tags);
                    await Task.Delay(20, CancellationToken.None);
                }
            },
            CancellationToken.None);

        try
        {
            // Let Prometheus scrape a few times while the values move.
            await server.WaitForAsync("up{job=\"itest\"} == 1", token);
            await server.WaitForAsync("count_over_time(itest_steps_total[1m]) >= 2", token);
        }
        finally
        {
            await stop.CancelAsync();
            await writer;
        }

        // Freeze the values; the next scrapes must report exactly these.
        gauge.Record(0.875, tags);
        const string finalGauge = "0.875";
        var finalSteps = steps.ToString(CultureInfo.InvariantCulture);
        var selector = "{run=\"run \\\"1\\\" \\\\ a\",optimizer=\"adam\"}";

        var radius = await server.WaitForValueAsync("itest_spectral_radius" + selector, finalGauge, token);
        var total = await server.WaitForValueAsync("itest_steps_total" + selector, finalSteps, token);
        var count = await server.WaitForValueAsync("itest_probe_duration_seconds_count" + selector, finalSteps, token);

        Assert.Equal(run, radius.GetProperty("metric").GetProperty("run").GetString());
        Assert.Equal(test.Meter.Name, total.GetProperty("metric").GetProperty("otel_scope_name").GetString());
        Assert.Equal("itest", count.GetProperty("metric").GetProperty("job").GetString());
        await server.WaitForAsync("target_info{job=\"itest\"} == 1", token);

        // Every expression of the Grafana dashboard is valid PromQL for this server.
        var directory = PrometheusTools.ObservabilityDirectory();
        using var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(directory, "grafana", "dashboards", "spectral-monitor.json"), token));
        foreach (var (_, expr) in DashboardExpressions.All(dashboard.RootElement))
        {
            var concrete = DashboardExpressions.Concrete(expr);
            var answer = await server.QueryAsync(concrete, token);
            Assert.True(answer.Status == "success", $"Dashboard expression rejected by Prometheus: {concrete}\n{answer.Raw}");
        }
    }

    /// <summary>A Prometheus server process in a temporary directory; disposal kills it and deletes the directory.</summary>
    internal sealed class PrometheusServer : IAsyncDisposable
    {
        private readonly Process process;
        private readonly string directory;
        private readonly HttpClient client;
        private readonly StringBuilder log = new();

        private PrometheusServer(Process process, string directory, Uri api)
        {
            this.process = process;
            this.directory = directory;
            this.client = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(5) };
        }

        public static async Task<PrometheusServer> StartAsync(string binary, Uri target, CancellationToken token)
        {
            var directory = Directory.CreateTempSubdirectory("spectral-prometheus-").FullName;
            var port = PrometheusBinding.Resolve("127.0.0.1").FindFreePort();
            var config = $"""
                global:
                  scrape_interval: 1s
                  scrape_timeout: 1s
                scrape_configs:
                  - job_name: itest
                    scrape_interval: 1s
                    scrape_timeout: 1s
                    metrics_path: {target.AbsolutePath}
                    static_configs:
                      - targets: ["{target.Host}:{target.Port}"]
                """;
            var configFile = Path.Combine(directory, "prometheus.yml");
            await File.WriteAllTextAsync(configFile, config, token);
            var start = new ProcessStartInfo(binary)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = directory,
            };
            start.ArgumentList.Add($"--config.file={configFile}");
            start.ArgumentList.Add($"--storage.tsdb.path={Path.Combine(directory, "data")}");
            start.ArgumentList.Add($"--web.listen-address=127.0.0.1:{port}");
            var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {binary}.");
            var server = new PrometheusServer(process, directory, new Uri($"http://127.0.0.1:{port}/"));
            process.OutputDataReceived += (_, e) => server.Append(e.Data);
            process.ErrorDataReceived += (_, e) => server.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            try
            {
                await server.WaitUntilAsync(
                    async () =>
                    {
                        using var response = await server.client.GetAsync("-/ready", token);
                        return response.StatusCode == HttpStatusCode.OK;
                    },
                    "Prometheus to become ready",
                    token);
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }

            return server;
        }

        public async Task<(string Status, JsonElement Result, string Raw)> QueryAsync(string query, CancellationToken token)
        {
            using var response = await this.client.GetAsync("api/v1/query?query=" + Uri.EscapeDataString(query), token);
            var raw = await response.Content.ReadAsStringAsync(token);
            using var json = JsonDocument.Parse(raw);
            var status = json.RootElement.GetProperty("status").GetString() ?? string.Empty;
            var result = status == "success" ? json.RootElement.GetProperty("data").GetProperty("result").Clone() : default;
            return (status, result, raw);
        }

        /// <summary>Waits until <paramref name="query"/> returns at least one sample.</summary>
        public Task WaitForAsync(string query, CancellationToken token)
            => this.WaitUntilAsync(
                async () =>
                {
                    var (status, result, _) = await this.QueryAsync(query, token);
                    return status == "success" && result.GetArrayLength() > 0;
                },
                $"'{query}' to return a sample",
                token);

        /// <summary>Waits until <paramref name="query"/> returns exactly one sample whose value is <paramref name="value"/>.</summary>
        public async Task<JsonElement> WaitForValueAsync(string query, string value, CancellationToken token)
        {
            JsonElement sample = default;
            string last = "(nothing)";
            await this.WaitUntilAsync(
                async () =>
                {
                    var (status, result, raw) = await this.QueryAsync(query, token);
                    last = raw;
                    if (status != "success" || result.GetArrayLength() != 1)
                    {
                        return false;
                    }

                    sample = result[0];
                    return sample.GetProperty("value")[1].GetString() == value;
                },
                $"'{query}' to equal {value} (last answer: {last})",
                token);
            return sample;
        }

        public async ValueTask DisposeAsync()
        {
            this.client.Dispose();
            try
            {
                if (!this.process.HasExited)
                {
                    this.process.Kill(entireProcessTree: true);
                    using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await this.process.WaitForExitAsync(cancel.Token);
                }
            }
            finally
            {
                this.process.Dispose();
                Directory.Delete(this.directory, recursive: true);
            }
        }

        private void Append(string? line)
        {
            if (line is not null)
            {
                lock (this.log)
                {
                    this.log.AppendLine(line);
                }
            }
        }

        private async Task WaitUntilAsync(Func<Task<bool>> condition, string what, CancellationToken token)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < WaitLimit)
            {
                if (this.process.HasExited)
                {
                    Assert.Fail($"Prometheus exited with {this.process.ExitCode} while waiting for {what}:\n{this.Log()}");
                }

                try
                {
                    if (await condition())
                    {
                        return;
                    }
                }
                catch (HttpRequestException)
                {
                    // Not listening yet.
                }

                await Task.Delay(200, token);
            }

            Assert.Fail($"Timed out after {WaitLimit.TotalSeconds} s waiting for {what}.\nPrometheus log:\n{this.Log()}");
        }

        private string Log()
        {
            lock (this.log)
            {
                return this.log.ToString();
            }
        }
    }
}
