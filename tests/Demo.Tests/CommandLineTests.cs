using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace SpectralMonitor.Examples.InstabilityDemo.Tests;

[Collection(QuickRunGroup.Name)]
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
    [InlineData("--runs", "cnn,nonsense")]
    [InlineData("--hold", "-1")]
    [InlineData("--jobs", "2")]
    [InlineData("--frobnicate")]
    [InlineData("--output", "")]
    public void Bad_options_are_usage_errors_with_exit_code_2_and_one_error_line(params string[] args)
    {
        string[] full = args.Contains("--output") ? [.. args, "--no-serve"] : [.. args, "--no-serve", "--output", Path.Combine(_folder, "out")];
        var (code, output, error) = Run(full);

        Assert.Equal(DemoApp.UsageError, code);
        string[] lines = error.Split('\n');

        // One line that says what is wrong (no stack trace), then a blank line and the usage.
        Assert.StartsWith("error: ", lines[0], StringComparison.Ordinal);
        Assert.Equal(string.Empty, lines[1].Trim());
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.Contains("Usage:", error, StringComparison.Ordinal);
        Assert.Contains("--quick", error, StringComparison.Ordinal);
        Assert.Contains("--hold", error, StringComparison.Ordinal);
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
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Contains("cannot be written", error, StringComparison.Ordinal);
        Assert.Contains("Nothing was trained", error, StringComparison.Ordinal);
        Assert.DoesNotContain("[1/", stdout, StringComparison.Ordinal);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void Runs_selects_by_id_and_group_and_steps_overrides_the_count()
    {
        var (code, output, error) = Run("--runs", "cnn-stable", "--runs", "gpt-stable", "--steps", "60", "--no-serve", "--output", _folder);

        Assert.True(code == 0, error);

        // Catalog order, whatever the order on the command line.
        Assert.Contains("[1/2] gpt-stable", output, StringComparison.Ordinal);
        Assert.Contains("[2/2] cnn-stable", output, StringComparison.Ordinal);
        string summary = File.ReadAllText(Path.Combine(_folder, "summary.json"));
        Assert.Equal(2, Regex.Count(summary, "\"stepsRun\": 60"));
        Assert.Equal(
            ["cnn-stable", "cnn-unstable", "cnn-backoff", "cnn-guard"],
            DemoCatalog.Select(["CNN"], out string? unknown).Select(r => r.Id));
        Assert.Null(unknown);
    }

    [Fact]
    public void A_port_in_use_is_reported_and_the_demo_continues()
    {
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        int port = ((IPEndPoint)occupant.LocalEndpoint).Port;

        var (code, output, error) = Run("--runs", "cnn-stable", "--steps", "50", "--port", port.ToString(), "--output", _folder);

        Assert.True(code == 0, error);
        Assert.Contains($"could not listen on 127.0.0.1:{port}", error, StringComparison.Ordinal);
        Assert.Contains("[1/1] cnn-stable", output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_folder, "report.html")));
    }

    [Fact]
    public async Task The_endpoint_serves_the_monitor_metrics_while_training_and_during_hold()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var synchronizedOutput = TextWriter.Synchronized(output);
        using var stop = new CancellationTokenSource();

        // Port 0 picks a free port, printed at start. --hold keeps serving after the report; the test ends the hold.
        // 600 steps (a few seconds) and a 20 ms poll, so that at least one scrape lands while the run trains.
        var demo = Task.Run(() => DemoApp.Run(["--runs", "cnn-unstable", "--steps", "600", "--port", "0", "--hold", "120", "--output", _folder], synchronizedOutput, TextWriter.Synchronized(error), cancellationToken: stop.Token));
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        string duringTraining = string.Empty, duringHold = string.Empty;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (!demo.IsCompleted && DateTime.UtcNow < deadline && duringHold.Length == 0)
        {
            string printed;
            lock (synchronizedOutput)
            {
                printed = output.ToString();
            }

            var address = AddressLine().Match(printed);
            if (address.Success)
            {
                bool holding = printed.Contains("Serving metrics for", StringComparison.Ordinal);
                string scraped = await client.GetStringAsync(new Uri(address.Groups[1].Value), TestContext.Current.CancellationToken);
                if (holding)
                {
                    duringHold = scraped;
                }
                else if (OwnRun().IsMatch(scraped) && scraped.Contains("training_loss", StringComparison.Ordinal))
                {
                    // The run's series appear at its first step, its loss gauge once a step has been recorded: keep
                    // scraping until one scrape during training has both.
                    duringTraining = scraped;
                }
            }

            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        await stop.CancelAsync();
        int code = await demo;
        Assert.True(code == 0, $"exit code {code}; stderr: {error}");
        Assert.Contains("training_loss", duringTraining, StringComparison.Ordinal);
        Assert.Matches(OwnRun(), duringTraining);

        // After the run finished and the report was written, the endpoint still serves its final readings.
        Assert.Matches(OwnRun(), duringHold);
        Assert.Contains("stability_", duringHold, StringComparison.Ordinal);
        Assert.Contains("Stopped serving", output.ToString(), StringComparison.Ordinal);
    }

    // Another test's demo in this process may have a live "cnn-unstable" monitor at the same time: this one then
    // exports as "cnn-unstable-2" (run names are unique per live monitor in a process).
    [GeneratedRegex("run=\"cnn-unstable(-[0-9]+)?\"")]
    private static partial Regex OwnRun();

    [GeneratedRegex(@"Prometheus metrics at (http://\S+/metrics)")]
    private static partial Regex AddressLine();
}
