using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace SpectralMonitor.Examples.InstabilityDemo.Tests;

public sealed partial class CommandLineTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("instability-demo-cli-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = DemoApp.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("--steps", "many")]
    [InlineData("--steps", "5")]
    [InlineData("--port", "70000")]
    [InlineData("--port", "-1")]
    [InlineData("--seed", "x")]
    [InlineData("--runs", "sgd,nonsense")]
    [InlineData("--frobnicate")]
    [InlineData("--output", "")]
    public void Bad_options_are_usage_errors_with_exit_code_2(params string[] args)
    {
        string[] full = args.Contains("--output") ? [.. args, "--no-serve"] : [.. args, "--no-serve", "--output", Path.Combine(_folder, "out")];
        var (code, output, error) = Run(full);

        Assert.Equal(DemoApp.UsageError, code);
        Assert.Contains("error:", error, StringComparison.Ordinal);
        Assert.Contains("Usage:", error, StringComparison.Ordinal);
        Assert.Contains("--quick", error, StringComparison.Ordinal);
        Assert.DoesNotContain("[1/", output, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unwritable_output_folder_is_an_error_before_any_training()
    {
        // A folder below a regular file cannot be created, whoever runs the test (root included).
        string file = Path.Combine(_folder, "a-file");
        File.WriteAllText(file, "not a folder");
        string output = Path.Combine(file, "artifacts");

        var (code, stdout, error) = Run("--quick", "--no-serve", "--output", output);

        Assert.Equal(DemoApp.UsageError, code);
        Assert.Contains("cannot be written", error, StringComparison.Ordinal);
        Assert.Contains("Nothing was trained", error, StringComparison.Ordinal);
        Assert.DoesNotContain("[1/", stdout, StringComparison.Ordinal);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void Runs_selects_by_id_and_group_and_steps_overrides_the_count()
    {
        var (code, output, error) = Run("--runs", "sgd-stable", "--runs", "adam-stable", "--steps", "60", "--no-serve", "--output", _folder);

        Assert.True(code == 0, error);
        Assert.Contains("[1/2] sgd-stable", output, StringComparison.Ordinal);
        Assert.Contains("[2/2] adam-stable", output, StringComparison.Ordinal);
        string summary = File.ReadAllText(Path.Combine(_folder, "summary.json"));
        Assert.Contains("\"stepsRun\": 60", summary, StringComparison.Ordinal);
        Assert.Equal(
            ["sgd-stable", "sgd-unstable", "sgd-backoff"],
            DemoCatalog.Select(["SGD"], out string? unknown).Select(r => r.Id));
        Assert.Null(unknown);
    }

    [Fact]
    public void A_port_in_use_is_reported_and_the_demo_continues()
    {
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        int port = ((IPEndPoint)occupant.LocalEndpoint).Port;

        var (code, output, error) = Run("--runs", "sgd-stable", "--steps", "40", "--port", port.ToString(), "--output", _folder);

        Assert.True(code == 0, error);
        Assert.Contains($"could not listen on 127.0.0.1:{port}", error, StringComparison.Ordinal);
        Assert.Contains("[1/1] sgd-stable", output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_folder, "report.html")));
    }

    [Fact]
    public async Task The_endpoint_serves_the_monitor_metrics_while_the_runs_train()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var synchronizedOutput = TextWriter.Synchronized(output);

        // Long enough (a few seconds) to be scraped while it trains; port 0 picks a free port, printed at start.
        var demo = Task.Run(() => DemoApp.Run(["--runs", "sgd-unstable", "--steps", "4000", "--port", "0", "--output", _folder], synchronizedOutput, TextWriter.Synchronized(error)));
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        string scraped = string.Empty;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!demo.IsCompleted && DateTime.UtcNow < deadline && !scraped.Contains("stability_spectral_radius", StringComparison.Ordinal))
        {
            string printed;
            lock (synchronizedOutput)
            {
                printed = output.ToString();
            }

            var address = AddressLine().Match(printed);
            if (address.Success)
            {
                scraped = await client.GetStringAsync(new Uri(address.Groups[1].Value), TestContext.Current.CancellationToken);
            }

            await Task.Delay(50, TestContext.Current.CancellationToken);
        }

        Assert.Equal(0, await demo);
        Assert.Contains("stability_spectral_radius", scraped, StringComparison.Ordinal);
        Assert.Contains("training_loss", scraped, StringComparison.Ordinal);
        Assert.Contains("run=\"sgd-unstable\"", scraped, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"Prometheus metrics at (http://\S+/metrics)")]
    private static partial Regex AddressLine();
}
