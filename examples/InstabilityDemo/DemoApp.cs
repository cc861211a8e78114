using System.CommandLine;
using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using SpectralMonitor.Prometheus;
using SpectralMonitor.Reference.Monitoring;
using SpectralMonitor.Rules;
using Spectre.Console;

namespace SpectralMonitor.Examples.InstabilityDemo;

/// <summary>Settings of one demo invocation, after parsing and validation.</summary>
/// <param name="Seed">Seed of the initial parameters.</param>
/// <param name="Steps">Steps of every run, or null for the catalog's (full or quick) counts.</param>
/// <param name="Output">Folder of report.html and summary.json.</param>
/// <param name="Runs">The runs to train, in order.</param>
/// <param name="Quick">Fewer steps.</param>
/// <param name="Serve">Serve metrics for Prometheus while training.</param>
/// <param name="Port">Port of the Prometheus endpoint (0: any free port).</param>
internal sealed record DemoSettings(int Seed, int? Steps, string Output, IReadOnlyList<DemoRunDefinition> Runs, bool Quick, bool Serve, int Port)
{
    /// <summary>Steps of <paramref name="run"/> under these settings.</summary>
    public int StepsOf(DemoRunDefinition run) => Steps ?? (Quick ? run.QuickSteps : run.FullSteps);
}

/// <summary>The demo's command line, runnable in-process with any writers.</summary>
internal static class DemoApp
{
    /// <summary>Exit code of success.</summary>
    public const int Success = 0;

    /// <summary>Exit code of a bad option or an unusable output folder.</summary>
    public const int UsageError = 2;

    /// <summary>Exit code when cancelled (Ctrl+C).</summary>
    public const int Cancelled = 130;

    /// <summary>Largest <c>--steps</c>.</summary>
    public const int MaxSteps = 100_000;

    /// <summary>Parses <paramref name="args"/>, trains the selected runs and writes the report; returns the exit code.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="output">Where plain progress lines and results go.</param>
    /// <param name="error">Where errors and usage go.</param>
    /// <param name="liveConsole">A terminal console for the live view, or null for plain lines.</param>
    public static int Run(string[] args, TextWriter output, TextWriter error, IAnsiConsole? liveConsole = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);

        var seed = new Option<int>("--seed") { Description = $"Seed of the initial parameters (the runs were tuned for {DemoCatalog.DefaultSeed}).", DefaultValueFactory = _ => DemoCatalog.DefaultSeed };
        var steps = new Option<int?>("--steps") { Description = $"Steps of every run (default {DemoCatalog.FullSteps}, or {DemoCatalog.QuickSteps} with --quick)." };
        var outputFolder = new Option<string>("--output") { Description = "Folder for report.html and summary.json.", DefaultValueFactory = _ => "artifacts" };
        var runs = new Option<string[]>("--runs")
        {
            Description = $"Runs to train, comma-separated or repeated: {string.Join(", ", DemoCatalog.Selectors)} (default all).",
            AllowMultipleArgumentsPerToken = true,
        };
        var quick = new Option<bool>("--quick") { Description = $"Short runs ({DemoCatalog.QuickSteps} steps): a few seconds in all." };
        var noServe = new Option<bool>("--no-serve") { Description = "Do not serve metrics for Prometheus while training." };
        var port = new Option<int>("--port") { Description = "Port of the Prometheus endpoint on 127.0.0.1 (0: any free port).", DefaultValueFactory = _ => PrometheusEndpointOptions.DefaultPort };

        steps.Validators.Add(result =>
        {
            // Tokens, not the typed value: a token that is not an integer is already a parse error of its own.
            if (result.Tokens.Count == 1 && int.TryParse(result.Tokens[0].Value, out int s) && s is < Spikes.DefaultBurnIn or > MaxSteps)
            {
                result.AddError($"--steps must be in [{Spikes.DefaultBurnIn}, {MaxSteps}] (the spike detector ignores the first {Spikes.DefaultBurnIn} steps); got {s}.");
            }
        });
        port.Validators.Add(result =>
        {
            if (result.Tokens.Count == 1 && int.TryParse(result.Tokens[0].Value, out int p) && p is < 0 or > 65535)
            {
                result.AddError($"--port must be in [0, 65535]; got {p}.");
            }
        });
        runs.Validators.Add(result =>
        {
            DemoCatalog.Select(SplitRuns(result.GetValueOrDefault<string[]>()), out string? unknown);
            if (unknown is not null)
            {
                result.AddError($"--runs: unknown run '{unknown}'; choose from {string.Join(", ", DemoCatalog.Selectors)}.");
            }
        });
        outputFolder.Validators.Add(result =>
        {
            if (string.IsNullOrWhiteSpace(result.GetValueOrDefault<string>()))
            {
                result.AddError("--output must name a folder.");
            }
        });

        var root = new RootCommand("Trains small networks into and out of instability with SpectralMonitor attached; writes report.html and summary.json.")
        {
            seed, steps, outputFolder, runs, quick, noServe, port,
        };
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var parseError in parsed.Errors)
            {
                error.WriteLine($"error: {parseError.Message}");
            }

            error.WriteLine();
            root.Parse(["--help"]).Invoke(new InvocationConfiguration { Output = error, Error = error });
            return UsageError;
        }

        root.SetAction((result, cancellationToken) =>
        {
            var settings = new DemoSettings(
                result.GetValue(seed),
                result.GetValue(steps),
                result.GetValue(outputFolder)!,
                DemoCatalog.Select(SplitRuns(result.GetValue(runs)), out _),
                result.GetValue(quick),
                !result.GetValue(noServe),
                result.GetValue(port));
            return Task.FromResult(Execute(settings, output, error, liveConsole, cancellationToken));
        });
        return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error });
    }

    /// <summary>Trains, reports and writes the artifacts for validated settings.</summary>
    public static int Execute(DemoSettings settings, TextWriter output, TextWriter error, IAnsiConsole? liveConsole, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        string folder = Path.GetFullPath(settings.Output);
        if (CheckWritable(folder) is string problem)
        {
            error.WriteLine($"error: --output {settings.Output}: the folder cannot be written ({problem}). Nothing was trained.");
            return UsageError;
        }

        var stopwatch = Stopwatch.StartNew();
        using var telemetry = settings.Serve ? StartTelemetry(settings.Port, output, error) : null;
        if (!settings.Serve)
        {
            output.WriteLine("Prometheus endpoint off (--no-serve).");
        }

        var results = new List<DemoRunResult>();
        RunView view = liveConsole is null ? new PlainRunView(output) : new LiveRunView(liveConsole, output);
        view.Execute(settings, () =>
        {
            for (int i = 0; i < settings.Runs.Count && !cancellationToken.IsCancellationRequested; i++)
            {
                results.Add(Train(settings, i, view, cancellationToken));
            }
        });

        if (cancellationToken.IsCancellationRequested)
        {
            error.WriteLine("cancelled: no report written.");
            return Cancelled;
        }

        var invariants = DemoComparisons.Invariants(results);
        var report = new DemoReport(settings, results, invariants, stopwatch.Elapsed);
        string summaryPath = Path.Combine(folder, "summary.json");
        string reportPath = Path.Combine(folder, "report.html");
        AtomicFile.WriteAllText(summaryPath, SummaryWriter.ToJson(report));
        AtomicFile.WriteAllText(reportPath, HtmlReportWriter.ToHtml(report));

        output.WriteLine();
        output.Write(SummaryWriter.ToText(report));
        output.WriteLine($"Wrote {reportPath}");
        output.WriteLine($"Wrote {summaryPath}");
        output.WriteLine($"Total time {stopwatch.Elapsed.TotalSeconds:F1} s.");
        return Success;
    }

    private static DemoRunResult Train(DemoSettings settings, int index, RunView view, CancellationToken cancellationToken)
    {
        var definition = settings.Runs[index];
        int stepCount = settings.StepsOf(definition);
        var spec = definition.ToSpec(settings.Seed, stepCount);
        var backoffs = new List<BackoffEvent>();
        double rate = definition.LearningRate;
        StabilityMonitor? seen = null;
        view.RunStarted(index, definition, stepCount);

        void OnAlert(object? sender, StabilityAlert alert) => view.Alert(index, alert);

        var record = MonitoredRun.Execute(spec, definition.ToMonitorOptions(), progress: progress =>
        {
            if (progress.Monitor is { } monitor && !ReferenceEquals(monitor, seen))
            {
                // The run creates its monitor; it is first seen after step 0, before any probe (the first is at step 10).
                seen = monitor;
                monitor.AlertRaised += OnAlert;
            }

            if (progress.LearningRate < rate)
            {
                var backoff = new BackoffEvent(progress.Step, rate, progress.LearningRate);
                backoffs.Add(backoff);
                view.Backoff(index, backoff);
            }

            rate = progress.LearningRate;
            view.Progress(index, progress);
        }, cancellationToken: cancellationToken);

        var result = new DemoRunResult(definition, stepCount, record, backoffs);
        view.RunFinished(index, result);
        return result;
    }

    private static MeterProvider StartTelemetry(int port, TextWriter output, TextWriter error)
    {
        var provider = Sdk.CreateMeterProviderBuilder()
            .AddSpectralMonitorInstrumentation()
            .AddSpectralMonitorPrometheusEndpoint(new PrometheusEndpointOptions { Port = port }, out var endpoint)
            .Build();
        if (endpoint.StartupError is { } startupError)
        {
            error.WriteLine($"warning: the Prometheus endpoint could not listen on 127.0.0.1:{port} ({startupError.Message.ReplaceLineEndings(" ")}); continuing without it (choose another --port, or --no-serve).");
        }
        else
        {
            output.WriteLine($"Prometheus metrics at {endpoint.Address} while the runs train.");
        }

        return provider;
    }

    private static string? CheckWritable(string folder)
    {
        try
        {
            Directory.CreateDirectory(folder);
            string probe = Path.Combine(folder, $".write-test-{Environment.ProcessId}-{Guid.NewGuid():N}");
            File.WriteAllText(probe, string.Empty);
            File.Delete(probe);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            return e.Message.ReplaceLineEndings(" ");
        }
    }

    private static string[] SplitRuns(string[]? values) =>
        values is null ? [] : [.. values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))];
}

/// <summary>Writes a file atomically: a temporary file in the same folder, then a rename over the target.</summary>
internal static class AtomicFile
{
    /// <summary>Writes <paramref name="contents"/> (UTF-8, no BOM) to <paramref name="path"/> atomically.</summary>
    public static void WriteAllText(string path, string contents)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string temporary = Path.Combine(folder, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllText(temporary, contents);
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }
}
