using System.Diagnostics.Metrics;
using System.Globalization;
using System.Runtime.InteropServices;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using SpectralMonitor.Estimators.Optimizers;
using SpectralMonitor.Prometheus;
using SpectralMonitor.Reference;
using SpectralMonitor.Reference.Monitoring;

namespace SpectralMonitor.Benchmarks.Load;

/// <summary>
/// Scrape load (<c>dotnet run -c Release --project benchmarks -- load</c>): while a monitored reference training
/// runs with dense probing (so the gauges change every few steps), five paced clients scrape the loopback Prometheus
/// endpoint (OpenTelemetry's HttpListener exporter behind <c>AddSpectralMonitorPrometheusEndpoint</c>) at 10 requests
/// per second each (50 in total) for 20 seconds. Reports requests, errors, latency
/// percentiles and payload size, and the training step rate while scraped as a ratio to the same training unscraped,
/// measured side by side: unscraped, scraped, unscraped again (both ratios). The MeterProvider and the endpoint live
/// through all three phases, so the only difference between them is the scraping. Each phase is the same run from
/// the same seed, so equal step counts mean equal work. Because wall-clock rates on a shared machine mostly measure
/// the CPU share the phase got, it also reports load-independent costs (<see cref="PhaseCost"/>): the training
/// thread's CPU time per step and the CPU time per scrape.
/// </summary>
internal static class LoadBenchmark
{
    private static readonly TimeSpan PhaseDuration = TimeSpan.FromSeconds(20);

    private static readonly ScrapeLoadSettings Settings = new(
        Clients: 5,
        RequestsPerSecondPerClient: 10,
        Duration: PhaseDuration,
        RequestTimeout: TimeSpan.FromSeconds(5),
        ValidateEvery: 100);

    /// <summary>Runs the benchmark; exit code 0 when there were no errors and every checked payload had the expected shape.</summary>
    public static int Run()
    {
        // The overhead benchmark's model (32→64→64→10 tanh, 6,922 parameters, 2,048 samples, batches of 128, probe
        // batch 256), with SGD + momentum instead of Adam: stability_sharpness is the SGD family's gauge (Adam reports
        // stability_preconditioned_sharpness instead), and the payload check asks for it. Steps is only an upper
        // bound: every phase ends by time.
        var data = SyntheticData.Classification(2048, 32, 10, seed: 17, separation: 1.0);
        var spec = new RunSpec(
            "load 32-64-64-10",
            new MlpArchitecture([32, 64, 64, 10], HiddenActivation.Tanh),
            LossKind.CrossEntropy,
            data,
            new SgdHyperparameters(0.05, Momentum: 0.9),
            Steps: 100_000,
            BatchSize: 128,
            Seed: 1,
            ProbeBatchSize: 256);
        var options = new StabilityMonitorOptions { RunName = "load", ProbeInterval = 5, OverheadBudget = 1 };

        // Counts the MeterProvider's collections: its callback runs once per collection. The exporter serves scrapes that
        // arrive within 300 ms of a collection from that collection's cached response, so collections < scrapes.
        long collections = 0;
        using var collectionMeter = new Meter("SpectralMonitor.Benchmarks.Load");
        collectionMeter.CreateObservableGauge("load.collections", () => Interlocked.Increment(ref collections), description: "Collections of the MeterProvider so far.");

        using var provider = Sdk.CreateMeterProviderBuilder()
            .AddSpectralMonitorInstrumentation()
            .AddMeter(collectionMeter.Name)
            .AddSpectralMonitorPrometheusEndpoint(new PrometheusEndpointOptions { Host = "127.0.0.1", Port = 0, FailOnStartupError = true }, out var endpoint)
            .Build();
        var address = endpoint.Address ?? throw new InvalidOperationException("The Prometheus endpoint is not listening after Build().");

        Console.WriteLine($"load: {spec.Architecture} ({spec.Architecture.ParameterCount} parameters), {data.Count} samples, batch {spec.BatchSize}, probe batch {spec.ProbeBatchSize}, SGD lr 0.05 momentum 0.9; monitor ProbeInterval {options.ProbeInterval}, OverheadBudget {options.OverheadBudget}.");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"scrapes: {Settings.Clients} clients × {Settings.RequestsPerSecondPerClient} rps (paced, one request in flight per client) = {Settings.TotalRate} rps for {PhaseDuration.TotalSeconds} s on {address}, identity encoding, timeout {Settings.RequestTimeout.TotalSeconds} s; payload shape checked every {Settings.ValidateEvery}th request."));
        Console.WriteLine($"machine: {Machine()}");
        Console.WriteLine($"date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");

        // Warm-up (JIT of training, probing, collection, serialization and HTTP on both sides); not reported.
        var warmUpTraining = Task.Run(() => MonitoredRun.Execute(spec with { Steps = 60 }, options));
        var warmUpScrapes = ScrapeLoad.RunAsync(address, Settings with { Clients = 2, Duration = TimeSpan.FromSeconds(1) }, CancellationToken.None).GetAwaiter().GetResult();
        warmUpTraining.GetAwaiter().GetResult();
        Console.Error.WriteLine($"  warm-up: {warmUpScrapes.Requests} scrapes, {warmUpScrapes.Errors} errors");

        var (before, beforeCost) = PhaseCost.Measure(() => Unscraped(spec, options));
        Console.Error.WriteLine($"  unscraped (before): {Describe(before)}; load average {LoadAverage()}");
        long collectionsBefore = Interlocked.Read(ref collections);
        var ((scraped, scrapes), scrapedCost) = PhaseCost.Measure(() => Scraped(spec, options, address));
        long scrapedCollections = Interlocked.Read(ref collections) - collectionsBefore;
        Console.Error.WriteLine($"  scraped: {Describe(scraped)}; load average {LoadAverage()}");
        var (after, afterCost) = PhaseCost.Measure(() => Unscraped(spec, options));
        Console.Error.WriteLine($"  unscraped (after): {Describe(after)}; load average {LoadAverage()}");

        Console.WriteLine();
        Console.WriteLine("| scrapes | requests | achieved rps | errors (non-200 + exceptions) | latency p50 (ms) | p99 (ms) | max (ms) | payload (bytes, median / max) | shapes checked / bad |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {Settings.Clients} × {Settings.RequestsPerSecondPerClient} rps, {PhaseDuration.TotalSeconds} s | {scrapes.Requests} | {scrapes.AchievedRate:F1} | {scrapes.Errors} ({scrapes.NonSuccessStatus} + {scrapes.Exceptions}) | {scrapes.LatencyPercentileMs(0.5):F2} | {scrapes.LatencyPercentileMs(0.99):F2} | {scrapes.LatencyPercentileMs(1):F2} | {scrapes.PayloadPercentileBytes(0.5):F0} / {scrapes.PayloadPercentileBytes(1):F0} | {scrapes.Validated} / {scrapes.ShapeProblems.Count} |"));
        Console.WriteLine();
        Console.WriteLine("| training phase | wall (s) | steps | probes | steps/s | scraped steps/s ÷ this | training-thread CPU per step (ms) | scraped steps per CPU-s ÷ this | training thread waiting for a core (% of wall) | other CPU of the process (s) | gen0 GCs | GC pause (ms) | allocated (MB) |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        var scrapedPhase = (Record: scraped, Cost: scrapedCost);
        Row("unscraped (before)", (before, beforeCost), scrapedPhase);
        Row("scraped", scrapedPhase, scrapedPhase);
        Row("unscraped (after)", (after, afterCost), scrapedPhase);

        // The scrape clients and the endpoint run outside the training thread: their CPU is the growth of the
        // process's other CPU time over an unscraped phase (GC, timers, and in the first phase the JIT's tier-1
        // recompilations, hence the smaller of the two).
        double baselineOther = Math.Min(beforeCost.OtherCpuSeconds / before.Elapsed.TotalSeconds, afterCost.OtherCpuSeconds / after.Elapsed.TotalSeconds);
        double scrapeCpuMs = (scrapedCost.OtherCpuSeconds - baselineOther * scraped.Elapsed.TotalSeconds) / Math.Max(1, scrapes.Requests) * 1e3;
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"CPU per scrape (client + endpoint, same process): {scrapeCpuMs:F2} ms, i.e. {scrapeCpuMs * Settings.TotalRate / 10:F1}% of one core at {Settings.TotalRate} rps."));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Collections during the scraped phase: {scrapedCollections} for {scrapes.Requests} scrapes ({scrapedCollections / scraped.Elapsed.TotalSeconds:F1} per second); the exporter answered the other scrapes from its 300 ms response cache."));
        if (scrapes.LateStarts > 0)
        {
            Console.WriteLine($"late starts (a client more than one period behind its schedule): {scrapes.LateStarts}");
        }

        foreach (var line in scrapes.ErrorSamples.Concat(scrapes.ShapeProblems))
        {
            Console.WriteLine($"problem: {line}");
        }

        var diverged = new[] { before, scraped, after }.Where(r => r.Diverged).ToArray();
        foreach (var run in diverged)
        {
            Console.WriteLine($"problem: the training diverged after {run.Losses.Count} steps; its step rate is not comparable.");
        }

        return scrapes.Errors == 0 && scrapes.ShapeProblems.Count == 0 && scrapes.Validated > 0 && diverged.Length == 0 ? 0 : 1;
    }

    private static RunRecord Unscraped(RunSpec spec, StabilityMonitorOptions options)
    {
        using var stop = new CancellationTokenSource(PhaseDuration);
        return MonitoredRun.Execute(spec, options, cancellationToken: stop.Token);
    }

    /// <summary>Trains while the clients scrape; the training stops when the scrape schedule ends (or at a hard time limit).</summary>
    private static (RunRecord Record, ScrapeLoadResult Scrapes) Scraped(RunSpec spec, StabilityMonitorOptions options, Uri address)
    {
        using var stopTraining = new CancellationTokenSource(PhaseDuration + Settings.RequestTimeout + TimeSpan.FromSeconds(5));
        using var stopScraping = new CancellationTokenSource();
        var scraping = ScrapeLoad.RunAsync(address, Settings, stopScraping.Token);
        var scrapingEnded = scraping.ContinueWith(_ => stopTraining.Cancel(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        var record = MonitoredRun.Execute(spec, options, cancellationToken: stopTraining.Token);

        // The training can end first (divergence or the step bound): then no new scrape starts.
        stopScraping.Cancel();
        var scrapes = scraping.GetAwaiter().GetResult();
        scrapingEnded.GetAwaiter().GetResult();
        return (record, scrapes);
    }

    private static double StepRate(RunRecord record) => record.Losses.Count / record.Elapsed.TotalSeconds;

    private static string Describe(RunRecord record) =>
        string.Create(CultureInfo.InvariantCulture, $"{record.Losses.Count} steps in {record.Elapsed.TotalSeconds:F2} s ({StepRate(record):F1} steps/s), {record.Probes.Count} probes, final loss {record.FinalLoss:G4}");

    private static void Row(string name, (RunRecord Record, PhaseCost Cost) phase, (RunRecord Record, PhaseCost Cost) scraped)
    {
        var (record, cost) = phase;
        double seconds = record.Elapsed.TotalSeconds;
        double cpuPerStepMs = CpuPerStepMs(phase);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {seconds:F2} | {record.Losses.Count} | {record.Probes.Count} | {StepRate(record):F1} | {StepRate(scraped.Record) / StepRate(record):F3} | {cpuPerStepMs:F2} | {cpuPerStepMs / CpuPerStepMs(scraped):F3} | {100 * cost.TrainingRunQueueWaitSeconds / seconds:F0} | {cost.OtherCpuSeconds:F2} | {cost.Gen0Collections} | {cost.GcPause.TotalMilliseconds:F0} | {cost.AllocatedBytes / 1e6:F0} |"));
    }

    private static double CpuPerStepMs((RunRecord Record, PhaseCost Cost) phase) => 1e3 * phase.Cost.TrainingCpuSeconds / phase.Record.Losses.Count;

    private static string Machine()
    {
        string cpu = "unknown CPU";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        }
        catch (IOException)
        {
            // Not Linux, or /proc is not readable: the CPU model is only informative.
        }
        catch (UnauthorizedAccessException)
        {
            // As above.
        }

        return $"{Environment.ProcessorCount} cores ({cpu}), {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}; load average at start {LoadAverage()}";
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "n/a";
        }
        catch (UnauthorizedAccessException)
        {
            return "n/a";
        }
    }
}
