using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace SpectralMonitor.Examples.AspNetCoreHost.Tests;

public sealed class AspNetCoreHostTests
{
    /// <summary>The Accept header Prometheus 2.42 sends (it prefers OpenMetrics).</summary>
    private const string PrometheusAccept =
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

    /// <summary>Generous for a loaded 2-core machine: the loop checks for cancellation before every step, and a step with a probe takes milliseconds.</summary>
    private static readonly TimeSpan StopBound = TimeSpan.FromSeconds(5);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task MetricsServesTheMonitorsSeriesInBothFormats()
    {
        await using var host = await RunningHost.StartAsync();
        string[] series = ["stability_spectral_radius{", "stability_sharpness{", "training_loss{"];
        string text = string.Empty;
        await RunningHost.WaitUntilAsync(
            async () =>
            {
                text = await host.Client.GetStringAsync("/metrics", Token);
                return series.All(s => text.Contains(s, StringComparison.Ordinal));
            },
            TimeSpan.FromSeconds(30),
            () => $"{string.Join(", ", series)} on /metrics (last answer: {text})");

        Assert.Contains("run=\"aspnetcore\"", text, StringComparison.Ordinal);
        Assert.Contains("otel_scope_name=\"SpectralMonitor\"", text, StringComparison.Ordinal);
        using var plain = await host.Client.GetAsync("/metrics", Token);
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", plain.Content.Headers.ContentType?.ToString());

        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.TryAddWithoutValidation("Accept", PrometheusAccept);
        using var openMetrics = await host.Client.SendAsync(request, Token);
        var body = await openMetrics.Content.ReadAsStringAsync(Token);
        Assert.True(openMetrics.StatusCode == HttpStatusCode.OK, $"{openMetrics.StatusCode}: {body}");
        Assert.StartsWith("application/openmetrics-text; version=1.0.0", openMetrics.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        Assert.True(body.Contains("stability_spectral_radius{", StringComparison.Ordinal) && body.EndsWith("# EOF\n", StringComparison.Ordinal), body);
    }

    [Fact]
    public async Task TheStatusBeforeTheFirstStepSerializes()
    {
        // Before the first step the loss is NaN, which JSON cannot hold: /healthz must still answer (as "NaN").
        await using var app = TrainingHost.Build([]);
        var json = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
        var initial = new TrainingState().Current;

        var written = JsonDocument.Parse(JsonSerializer.Serialize(initial, json)).RootElement;

        Assert.Equal(TrainingPhase.Starting, initial.Phase);
        Assert.Equal("Starting", written.GetProperty("phase").GetString());
        Assert.Equal("NaN", written.GetProperty("loss").GetString());
        Assert.Equal(-1, written.GetProperty("step").GetInt64());
    }

    [Fact]
    public async Task HealthzReportsTheTrainingState()
    {
        await using var host = await RunningHost.StartAsync();
        JsonElement health = default;
        await RunningHost.WaitUntilAsync(
            async () =>
            {
                using var response = await host.Client.GetAsync("/healthz", Token);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal("application/json; charset=utf-8", response.Content.Headers.ContentType?.ToString());
                health = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Token)).RootElement.Clone();
                return health.GetProperty("probes").GetInt64() > 0;
            },
            TimeSpan.FromSeconds(30),
            "a probe reported by /healthz");

        Assert.Equal("Training", health.GetProperty("phase").GetString());
        Assert.Equal("aspnetcore", health.GetProperty("run").GetString());
        Assert.True(health.GetProperty("step").GetInt64() >= 0);
        Assert.True(double.IsFinite(health.GetProperty("loss").GetDouble()));
        Assert.False(health.GetProperty("monitorDisposed").GetBoolean());
        Assert.Equal(JsonValueKind.Null, health.GetProperty("error").ValueKind);
    }

    [Fact]
    public async Task StoppingTheHostEndsTrainingCleanlyWithinABound()
    {
        await using var host = await RunningHost.StartAsync();
        await RunningHost.WaitUntilAsync(() => Task.FromResult(host.State.Current.Step >= 20), TimeSpan.FromSeconds(30), "20 training steps");
        var service = host.App.Services.GetServices<IHostedService>().OfType<TrainingService>().Single();

        var clock = Stopwatch.StartNew();
        await host.App.StopAsync(Token);
        clock.Stop();

        Assert.True(clock.Elapsed < StopBound, $"StopAsync took {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(service.ExecuteTask!.IsCompletedSuccessfully, $"the training task ended as {service.ExecuteTask.Status}");
        var final = host.State.Current;
        Assert.Equal(TrainingPhase.Stopped, final.Phase);
        Assert.True(final.MonitorDisposed);
        Assert.Null(final.Error);
        var stoppedAt = final.Step;
        await Task.Delay(200, Token);
        Assert.Equal(stoppedAt, host.State.Current.Step);
    }

    [Fact]
    public async Task AFixedNumberOfStepsCompletes()
    {
        await using var host = await RunningHost.StartAsync("--Training:Steps=30");
        await RunningHost.WaitUntilAsync(() => Task.FromResult(host.State.Current.Phase == TrainingPhase.Completed), TimeSpan.FromSeconds(30), "the 30 steps to complete");

        var final = host.State.Current;
        Assert.Equal(29, final.Step);
        Assert.True(final.MonitorDisposed);
        using var response = await host.Client.GetAsync("/healthz", Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task ItListensOnLoopbackUnlessToldOtherwise()
    {
        await using var app = TrainingHost.Build([]);
        Assert.Equal(TrainingHost.DefaultUrl, app.Configuration["urls"]);
        Assert.StartsWith("http://127.0.0.1:", TrainingHost.DefaultUrl, StringComparison.Ordinal);

        // An explicit --urls wins, and what Kestrel binds for it is loopback only.
        await using var host = await RunningHost.StartAsync();
        Assert.Equal("http://127.0.0.1:0", host.App.Configuration["urls"]);
        Assert.Equal("127.0.0.1", host.Address.Host);
    }

    [Fact]
    public async Task TheProcessStopsCleanlyOnATerminationSignal()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "POSIX signals; Windows delivers Ctrl-C to the console instead.");
        var app = Path.Combine(AppContext.BaseDirectory, "aspnetcore-host.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { app, "--urls", "http://127.0.0.1:0", "--Training:StepDelayMilliseconds=1", "--Logging:Console:FormatterName=simple" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not { } line)
            {
                return;
            }

            output.Enqueue(line);
            if (line.Contains("Now listening on: ", StringComparison.Ordinal))
            {
                listening.TrySetResult(new Uri(line[(line.IndexOf("http", StringComparison.Ordinal))..].Trim()));
            }
        };
        process.ErrorDataReceived += (_, e) => output.Enqueue(e.Data ?? string.Empty);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var address = await listening.Task.WaitAsync(TimeSpan.FromSeconds(30), Token);
            using var client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
            await RunningHost.WaitUntilAsync(
                async () => (await client.GetStringAsync("/healthz", Token)).Contains("\"phase\":\"Training\"", StringComparison.Ordinal),
                TimeSpan.FromSeconds(30),
                "the process to report training");

            // SIGTERM is what service managers and `docker stop` send; the host handles it exactly like Ctrl-C (SIGINT).
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync(Token);
            }

            using var bound = new CancellationTokenSource(StopBound + TimeSpan.FromSeconds(5));
            await process.WaitForExitAsync(bound.Token);
            process.WaitForExit();
            var log = string.Join('\n', output);
            Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}\n{log}");
            Assert.Contains("Training Stopped after", log, StringComparison.Ordinal);
            Assert.Contains("the monitor is disposed", log, StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }
}
