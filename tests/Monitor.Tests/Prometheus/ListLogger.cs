using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace SpectralMonitor.Tests.Prometheus;

/// <summary>Records log entries (the feed lacks Microsoft.Extensions.Diagnostics.Testing's FakeLogger).</summary>
internal sealed class ListLogger : ILogger
{
    public ConcurrentQueue<(LogLevel Level, EventId Id, string Message, Exception? Exception)> Entries { get; } = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        => this.Entries.Enqueue((logLevel, eventId, formatter(state, exception), exception));
}
