using System.CommandLine;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using SpectralMonitor.Examples.Workloads;
using SpectralMonitor.Prometheus;
using Spectre.Console;

namespace SpectralMonitor.Examples.InstabilityDemo;

/// <summary>Settings of one demo invocation, after parsing and validation.</summary>
/// <param name="Seed">Seed of the initial weights, batch order and probe batch.</param>
/// <param name="Steps">Steps of every run, or null for the catalog's (full or quick) counts.</param>
/// <param name="Output">Folder of report.html and summary.json.</param>
/// <param name="Runs">The runs to train, in order.</param>
/// <param name="Quick">Fewer steps.</param>
/// <param name="Serve">Serve metrics for Prometheus while training.</param>
/// <param name="Port">Port of the Prometheus endpoint (0: any free port).</param>
/// <param name="HoldSeconds">Seconds to keep serving metrics after the report is written.</param>
internal sealed record DemoSettings(int Seed, int? Steps, string Output, IReadOnlyList<DemoRunDefinition> Runs, bool Quick, bool Serve, int Port, int HoldSeconds = 0)
{
    /// <summary>Steps of <paramref name="run"/> under these settings.</summary>
    public int StepsOf(DemoRunDefinition run) => Steps ?? (Quick ? run.QuickSteps : run.FullSteps);
}

/// <summary>The demo's command line, runnable in-process with any writers.</summary>
internal static class DemoApp
{
    /// <summary>Exit code of success.</summary>
    public const int Success = 0;

    /// <summary>Exit code when a run failed.</summary>
    public const int Failure = 1;

    /// <summary>Exit code of a bad option or an unusable output folder.</summary>
    public const int UsageError = 2;

    /// <summary>Exit code when cancelled (Ctrl+C).</summary>
    public const int Cancelled = 130;

    /// <summary>Fewest <c>--steps</c> (the spike definition needs its burn-in).</summary>
    public const int MinSteps = LossSpikes.DefaultBurnIn;

    /// <summary>Largest <c>--steps</c>.</summary>
    public const int MaxSteps = 100_000;

    /// <summary>Largest <c>--hold</c>, in seconds (one day).</summary>
    public const int MaxHoldSeconds = 86_400;

    /// <summary>Parses <paramref name="args"/>, trains the selected runs and writes the report; returns the exit code.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="output">Where plain progress lines and results go.</param>
    /// <param name="error">Where errors and usage go.</param>
    /// <param name="liveConsole">A terminal console for the live view, or null for plain lines.</param>
    /// <param name="cancellationToken">Stops training (no report) or ends <c>--hold</c> early; Ctrl+C does the same.</param>
    public static int Run(string[] args, TextWriter output, TextWriter error, IAnsiConsole? liveConsole = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);

        var seed = new Option<int>("--seed") { Description = $"Seed of the initial weights, batch order and probe batch (the runs were tuned for {DemoCatalog.DefaultSeed}).", DefaultValueFactory = _ => DemoCatalog.DefaultSeed };
        var steps = new Option<int?>("--steps") { Description = $"Steps of every run (default {DemoCatalog.GptFullSteps}; with --quick {DemoCatalog.GptQuickSteps} for the GPT, {DemoCatalog.CnnQuickSteps} for the CNN)." };
        var outputFolder = new Option<string>("--output") { Description = "Folder for report.html and summary.json.", DefaultValueFactory = _ => "artifacts" };
        var runs = new Option<string[]>("--runs")
        {
            Description = $"Runs to train, comma-separated or repeated: {string.Join(", ", DemoCatalog.Selectors)} (default all).",
            AllowMultipleArgumentsPerToken = true,
        };
        var quick = new Option<bool>("--quick") { Description = "Shorter runs that still contain every first spike (about a third of the time)." };
        var noServe = new Option<bool>("--no-serve") { Description = "Do not serve metrics for Prometheus." };
        var port = new Option<int>("--port") { Description = "Port of the Prometheus endpoint on 127.0.0.1 (0: any free port).", DefaultValueFactory = _ => PrometheusEndpointOptions.DefaultPort };
        var hold = new Option<int>("--hold") { Description = "Keep serving metrics this many seconds after training (Ctrl+C ends it early).", DefaultValueFactory = _ => 0 };

        steps.Validators.Add(result => RangeCheck(result, "--steps", MinSteps, MaxSteps, $" (the spike definition ignores the first {LossSpikes.DefaultBurnIn} steps)"));
        port.Validators.Add(result => RangeCheck(result, "--port", 0, 65535, string.Empty));
        hold.Validators.Add(result => RangeCheck(result, "--hold", 0, MaxHoldSeconds, string.Empty));
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

        var root = new RootCommand("Trains a character-level GPT and a digits CNN (TorchSharp) into and out of instability with SpectralMonitor attached; writes report.html and summary.json.")
        {
            seed, steps, outputFolder, runs, quick, noServe, port, hold,
        };
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // One line that says what is wrong, then the usage.
            error.WriteLine($"error: {string.Join(" ", parsed.Errors.Select(e => e.Message.ReplaceLineEndings(" ")))}");
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
                result.GetValue(port),
                result.GetValue(hold));
            return Task.FromResult(Execute(settings, output, error, liveConsole, cancellationToken));
        });
        return parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancellationToken).GetAwaiter().GetResult();
    }

    /// <summary>Trains, reports and writes the artifacts for validated settings.</summary>
    public static int Execute(DemoSettings settings, TextWriter output, TextWriter error, IAnsiConsole? liveConsole, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        string folder = Path.GetFullPath(settings.Output);
        if (CheckWritable(folder) is string problem)
        {
            error.WriteLine($"error: --output {settings.Output}: the folder cannot be written ({problem}). Nothing was trained.");
            return UsageError;
        }

        var stopwatch = Stopwatch.StartNew();

        // Every monitor's Meter comes from this factory and lives until the demo ends, so that the endpoint keeps
        // serving the final readings of finished runs (during --hold too).
        using var meters = new DemoMeterFactory();
        using var telemetry = settings.Serve ? StartTelemetry(settings.Port, output, error) : null;
        if (!settings.Serve)
        {
            output.WriteLine("Prometheus endpoint off (--no-serve).");
        }

        var data = new WorkloadData();
        var results = new DemoRunResult?[settings.Runs.Count];
        var failures = new List<string>();
        RunView view = liveConsole is null ? new PlainRunView(output) : new LiveRunView(liveConsole, output);
        // The runs train one after another on this thread. TorchSharp 0.107 passes temporary Scalars (an optimizer's
        // learning rate, say) to native code without keeping them alive; a garbage collection started by another
        // thread can run their finalizers while the native call still reads them, which corrupts the Scalar
        // (docs/reliability.md, "Other threads that allocate"). Two runs on two threads crashed that way inside AdamW
        // and SGD, so there is no --jobs.
        view.Execute(settings, () =>
        {
            for (int index = 0; index < settings.Runs.Count && !cancellationToken.IsCancellationRequested; index++)
            {
                try
                {
                    results[index] = Train(settings, index, view, data, meters, cancellationToken);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // A run that fails (a libtorch error, say) is reported; the other runs go on.
                    failures.Add($"run {settings.Runs[index].Id} failed: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
                }
            }
        });

        if (failures.Count > 0)
        {
            foreach (string failure in failures)
            {
                error.WriteLine($"error: {failure}");
            }

            error.WriteLine("No report written.");
            return Failure;
        }

        if (cancellationToken.IsCancellationRequested || results.Any(r => r is null))
        {
            error.WriteLine("cancelled: no report written.");
            return Cancelled;
        }

        var finished = results.Select(r => r!).ToArray();
        var invariants = DemoComparisons.Invariants(finished);
        var report = new DemoReport(settings, finished, invariants, stopwatch.Elapsed);
        string summaryPath = Path.Combine(folder, "summary.json");
        string reportPath = Path.Combine(folder, "report.html");
        output.WriteLine("Rendering the report ...");
        var rendering = Stopwatch.StartNew();
        AtomicFile.WriteAllText(summaryPath, SummaryWriter.ToJson(report));
        AtomicFile.WriteAllText(reportPath, HtmlReportWriter.ToHtml(report));
        output.WriteLine(FormattableString.Invariant($"Rendered in {rendering.Elapsed.TotalSeconds:F1} s."));

        output.WriteLine();
        output.Write(SummaryWriter.ToText(report));
        output.WriteLine($"Wrote {reportPath}");
        output.WriteLine($"Wrote {summaryPath}");
        output.WriteLine(FormattableString.Invariant($"Total time {stopwatch.Elapsed.TotalSeconds:F1} s (training {report.Elapsed.TotalSeconds:F1} s)."));

        if (telemetry is not null && settings.HoldSeconds > 0)
        {
            output.WriteLine($"Serving metrics for {settings.HoldSeconds} more seconds (Ctrl+C to stop) ...");
            output.Flush();
            if (cancellationToken.WaitHandle.WaitOne(TimeSpan.FromSeconds(settings.HoldSeconds)))
            {
                output.WriteLine("Stopped serving (cancelled).");
            }
        }

        return Success;
    }

    private static DemoRunResult Train(DemoSettings settings, int index, RunView view, WorkloadData data, IMeterFactory meters, CancellationToken cancellationToken)
    {
        var definition = settings.Runs[index];
        int stepCount = settings.StepsOf(definition);
        var spec = definition.ToSpec(settings.Seed, stepCount);
        var backoffs = new List<BackoffEvent>();
        double factor = 1;
        view.RunStarted(index, definition, stepCount);

        var trace = WorkloadRunner.Run(spec, definition.ToMonitorOptions(), report =>
        {
            foreach (var alert in report.AlertChanges.Where(a => a.IsRaised))
            {
                view.Alert(index, alert);
            }

            double now = report.Monitor?.BackoffFactor ?? 1;
            if (now < factor)
            {
                var backoff = new BackoffEvent(report.Step, factor, now, spec.ScheduledLearningRate(report.Step + 1) * now);
                backoffs.Add(backoff);
                view.Backoff(index, backoff);
            }

            factor = now;
            view.Progress(index, report);
        }, data, meterFactory: meters, torchThreads: 1, cancellationToken: cancellationToken);

        var result = new DemoRunResult(definition, stepCount, trace, backoffs);
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

    private static void RangeCheck(System.CommandLine.Parsing.OptionResult result, string name, int low, int high, string why)
    {
        // Tokens, not the typed value: a token that is not an integer is already a parse error of its own.
        if (result.Tokens.Count == 1 && int.TryParse(result.Tokens[0].Value, out int value) && (value < low || value > high))
        {
            result.AddError($"{name} must be in [{low}, {high}]{why}; got {value}.");
        }
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

/// <summary>
/// Creates a new <see cref="Meter"/> for every monitor (no caching, unlike the default factory, so that every run
/// registers its own instruments) and disposes them all at the end of the demo, not when a run's monitor is disposed.
/// </summary>
internal sealed class DemoMeterFactory : IMeterFactory
{
    private readonly List<Meter> _meters = [];
    private readonly Lock _gate = new();

    /// <inheritdoc/>
    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options);
        lock (_gate)
        {
            _meters.Add(meter);
        }

        return meter;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var meter in _meters)
            {
                meter.Dispose();
            }

            _meters.Clear();
        }
    }
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
