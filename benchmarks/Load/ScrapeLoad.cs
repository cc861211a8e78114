using System.Diagnostics;
using System.Net;
using System.Text;

namespace SpectralMonitor.Benchmarks.Load;

/// <summary>How the scrape clients pace themselves.</summary>
/// <param name="Clients">Concurrent clients, each with its own HttpClient and at most one request in flight.</param>
/// <param name="RequestsPerSecondPerClient">Each client's paced rate.</param>
/// <param name="Duration">Length of the schedule; each client sends <see cref="RequestsPerClient"/> requests over it.</param>
/// <param name="RequestTimeout">Per-request timeout (a timeout counts as an exception); also the grace after <paramref name="Duration"/> past which no request starts.</param>
/// <param name="ValidateEvery">Check the shape of every this-many-th payload (by global request number).</param>
internal sealed record ScrapeLoadSettings(int Clients, double RequestsPerSecondPerClient, TimeSpan Duration, TimeSpan RequestTimeout, int ValidateEvery)
{
    /// <summary>Requests each client sends (the bound on the loop count).</summary>
    public int RequestsPerClient => (int)Math.Round(RequestsPerSecondPerClient * Duration.TotalSeconds);

    /// <summary>Time between two requests of one client.</summary>
    public TimeSpan Period => TimeSpan.FromSeconds(1 / RequestsPerSecondPerClient);

    /// <summary>The total target rate.</summary>
    public double TotalRate => Clients * RequestsPerSecondPerClient;
}

/// <summary>What the scrape clients saw.</summary>
/// <param name="Requests">Requests sent.</param>
/// <param name="NonSuccessStatus">Responses other than 200.</param>
/// <param name="Exceptions">Requests that threw (connection errors, timeouts).</param>
/// <param name="ErrorSamples">The first few error descriptions.</param>
/// <param name="LatenciesMs">Latency of each 200 response, request start to full body, ascending.</param>
/// <param name="PayloadBytes">Body size of each 200 response (identity encoding), ascending.</param>
/// <param name="Validated">Payloads whose shape was checked.</param>
/// <param name="ShapeProblems">Checked payloads that failed, with their request number.</param>
/// <param name="LateStarts">Requests that started more than one period after their slot (a client fell behind).</param>
/// <param name="Window">From the first slot to the last response.</param>
internal sealed record ScrapeLoadResult(
    int Requests,
    int NonSuccessStatus,
    int Exceptions,
    IReadOnlyList<string> ErrorSamples,
    IReadOnlyList<double> LatenciesMs,
    IReadOnlyList<int> PayloadBytes,
    int Validated,
    IReadOnlyList<string> ShapeProblems,
    int LateStarts,
    TimeSpan Window)
{
    /// <summary>Non-200 responses plus exceptions.</summary>
    public int Errors => NonSuccessStatus + Exceptions;

    /// <summary>Requests per second over <see cref="Window"/>.</summary>
    public double AchievedRate => Window > TimeSpan.Zero ? Requests / Window.TotalSeconds : double.NaN;

    /// <summary>Nearest-rank percentile of <see cref="LatenciesMs"/> (<paramref name="fraction"/> in (0, 1]); NaN when empty.</summary>
    public double LatencyPercentileMs(double fraction) => NearestRank(LatenciesMs, fraction);

    /// <summary>Nearest-rank percentile of <see cref="PayloadBytes"/>; NaN when empty.</summary>
    public double PayloadPercentileBytes(double fraction) => NearestRank([.. PayloadBytes.Select(b => (double)b)], fraction);

    private static double NearestRank(IReadOnlyList<double> ascending, double fraction)
    {
        if (!(fraction > 0 && fraction <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, $"The percentile fraction must be in (0, 1] (was {fraction}).");
        }

        return ascending.Count == 0 ? double.NaN : ascending[Math.Max(0, (int)Math.Ceiling(fraction * ascending.Count) - 1)];
    }
}

/// <summary>
/// Paced, concurrent scrapes of one URL: each client sends its requests on a fixed schedule (slots one period
/// apart, clients offset evenly within the period), one at a time; a client that falls behind sends its next request
/// at once rather than skipping it. The loop is bounded in count (<see cref="ScrapeLoadSettings.RequestsPerClient"/>)
/// and in time (no request starts after Duration + RequestTimeout, and each request times out).
/// </summary>
internal static class ScrapeLoad
{
    private const int MaxErrorSamples = 5;

    /// <summary>Runs the clients until their schedules end or <paramref name="stop"/> fires; in-flight requests finish.</summary>
    public static async Task<ScrapeLoadResult> RunAsync(Uri address, ScrapeLoadSettings settings, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Clients < 1 || !(settings.RequestsPerSecondPerClient > 0) || settings.Duration <= TimeSpan.Zero
            || settings.RequestTimeout <= TimeSpan.Zero || settings.ValidateEvery < 1)
        {
            throw new ArgumentException($"Invalid scrape load settings: {settings}.", nameof(settings));
        }

        var shared = new SharedCounters();
        var clock = Stopwatch.StartNew();
        var clients = await Task.WhenAll(Enumerable.Range(0, settings.Clients)
            .Select(c => Task.Run(() => RunClientAsync(c, address, settings, clock, shared, stop), CancellationToken.None))).ConfigureAwait(false);
        var window = clock.Elapsed;

        var latencies = clients.SelectMany(c => c.Latencies).Order().ToArray();
        var sizes = clients.SelectMany(c => c.Sizes).Order().ToArray();
        return new ScrapeLoadResult(
            clients.Sum(c => c.Requests),
            clients.Sum(c => c.NonSuccess),
            clients.Sum(c => c.Exceptions),
            [.. clients.SelectMany(c => c.Errors).Take(MaxErrorSamples)],
            latencies,
            sizes,
            clients.Sum(c => c.Validated),
            [.. clients.SelectMany(c => c.ShapeProblems)],
            clients.Sum(c => c.LateStarts),
            window);
    }

    private static async Task<ClientTally> RunClientAsync(int client, Uri address, ScrapeLoadSettings settings, Stopwatch clock, SharedCounters shared, CancellationToken stop)
    {
        var tally = new ClientTally();
        using var handler = new SocketsHttpHandler
        {
            AutomaticDecompression = DecompressionMethods.None,
            MaxConnectionsPerServer = 1,
            UseProxy = false,
        };
        using var http = new HttpClient(handler) { Timeout = settings.RequestTimeout };
        var offset = settings.Period * client / settings.Clients;
        var lastStart = settings.Duration + settings.RequestTimeout;
        for (int i = 0; i < settings.RequestsPerClient && !stop.IsCancellationRequested; i++)
        {
            var wait = offset + settings.Period * i - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
            else if (-wait > settings.Period)
            {
                tally.LateStarts++;
            }

            if (clock.Elapsed > lastStart)
            {
                break;
            }

            long number = Interlocked.Increment(ref shared.Requests);
            tally.Requests++;
            long started = Stopwatch.GetTimestamp();
            try
            {
                // No cancellation token: a request in flight when the run ends still finishes (bounded by Timeout).
                using var response = await http.GetAsync(address, HttpCompletionOption.ResponseContentRead, CancellationToken.None).ConfigureAwait(false);
                byte[] body = await response.Content.ReadAsByteArrayAsync(CancellationToken.None).ConfigureAwait(false);
                double latencyMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    tally.NonSuccess++;
                    tally.Errors.Add($"request {number}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
                    continue;
                }

                tally.Latencies.Add(latencyMs);
                tally.Sizes.Add(body.Length);
                if (number % settings.ValidateEvery == 0)
                {
                    tally.Validated++;
                    if (PayloadShape.Problem(Encoding.UTF8.GetString(body)) is { } problem)
                    {
                        tally.ShapeProblems.Add($"request {number}: {problem}");
                    }
                }
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or IOException)
            {
                tally.Exceptions++;
                tally.Errors.Add($"request {number}: {exception.GetType().Name}: {exception.Message}");
            }
        }

        return tally;
    }

    /// <summary>The global request counter shared by the clients of one run.</summary>
    private sealed class SharedCounters
    {
        public long Requests;
    }

    /// <summary>One client's observations (written by that client only).</summary>
    private sealed class ClientTally
    {
        public int Requests { get; set; }

        public int NonSuccess { get; set; }

        public int Exceptions { get; set; }

        public int Validated { get; set; }

        public int LateStarts { get; set; }

        public List<string> Errors { get; } = [];

        public List<string> ShapeProblems { get; } = [];

        public List<double> Latencies { get; } = [];

        public List<int> Sizes { get; } = [];
    }
}
