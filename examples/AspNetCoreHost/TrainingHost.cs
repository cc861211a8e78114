using System.Text.Json.Serialization;
using OpenTelemetry.Metrics;

namespace SpectralMonitor.Examples.AspNetCoreHost;

/// <summary>Builds the web application: the training service, /metrics and /healthz.</summary>
public static class TrainingHost
{
    /// <summary>Where the app listens unless <c>--urls</c> (or <c>ASPNETCORE_URLS</c>) says otherwise: loopback only.</summary>
    public const string DefaultUrl = "http://127.0.0.1:5080";

    /// <summary>Builds the app from command-line arguments (e.g. <c>--urls http://127.0.0.1:0</c>, <c>--Training:Rounds=2</c>).</summary>
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]))
        {
            // /metrics has no authentication: listening beyond loopback must be asked for with --urls.
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        builder.Services.Configure<TrainingOptions>(builder.Configuration.GetSection(TrainingOptions.Section));
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter());

            // The loss is NaN before the first step; JSON has no NaN, so it is written as the string "NaN".
            o.SerializerOptions.NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals;
        });
        builder.Services.AddSingleton<TrainingState>();
        builder.Services.AddHostedService<TrainingService>();
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddSpectralMonitorInstrumentation()
            .AddPrometheusExporter());

        var app = builder.Build();
        app.MapPrometheusScrapingEndpoint();
        app.MapGet("/healthz", (TrainingState state) =>
        {
            var status = state.Current;
            return Results.Json(status, statusCode: status.Phase == TrainingPhase.Faulted ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK);
        });
        return app;
    }
}
