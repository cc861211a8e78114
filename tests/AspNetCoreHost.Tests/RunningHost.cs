using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace SpectralMonitor.Examples.AspNetCoreHost.Tests;

/// <summary>The example app started in-process on Kestrel at 127.0.0.1 with a free port (no test server: the real thing).</summary>
internal sealed class RunningHost : IAsyncDisposable
{
    private RunningHost(WebApplication app, Uri address)
    {
        this.App = app;
        this.Address = address;
        this.Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
    }

    public WebApplication App { get; }

    public Uri Address { get; }

    public HttpClient Client { get; }

    public TrainingState State => this.App.Services.GetRequiredService<TrainingState>();

    /// <summary>Starts the app; <paramref name="arguments"/> come after <c>--urls http://127.0.0.1:0</c> and a short step delay.</summary>
    public static async Task<RunningHost> StartAsync(params string[] arguments)
    {
        var app = TrainingHost.Build(["--urls", "http://127.0.0.1:0", "--Training:StepDelayMilliseconds=1", "--Logging:LogLevel:Default=Warning", .. arguments]);
        await app.StartAsync(TestContext.Current.CancellationToken);
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new RunningHost(app, new Uri(bound));
    }

    /// <summary>Polls until <paramref name="condition"/> holds, failing after <paramref name="limit"/>.</summary>
    public static Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan limit, string what) => WaitUntilAsync(condition, limit, () => what);

    /// <summary>Polls until <paramref name="condition"/> holds, failing after <paramref name="limit"/> with the description <paramref name="what"/> gives then.</summary>
    /// <remarks><paramref name="what"/> is read after each try, so it can report the last answer.</remarks>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan limit, Func<string> what)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out after {limit.TotalSeconds} s waiting for {what()}.");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        this.Client.Dispose();
        await this.App.StopAsync(CancellationToken.None);
        await this.App.DisposeAsync();
    }
}
