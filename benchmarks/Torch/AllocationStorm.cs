namespace SpectralMonitor.Benchmarks.Torch;

/// <summary>
/// A background thread that allocates short-lived arrays as fast as it can until disposed, so that garbage collections
/// (and the finalizers they queue) run at any moment of another thread's work: the setting in which TorchSharp 0.107
/// frees temporary Scalars during native calls (scalar-lifetime, and the adapter's GC-storm test).
/// </summary>
internal sealed class AllocationStorm : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private bool _disposed;

    private AllocationStorm()
    {
        _thread = new Thread(Allocate) { IsBackground = true, Name = "allocation-storm" };
        _thread.Start();
    }

    /// <summary>Starts a storm, or returns null (no storm) when <paramref name="enabled"/> is false.</summary>
    public static AllocationStorm? StartIf(bool enabled) => enabled ? new AllocationStorm() : null;

    /// <summary>Stops the thread and waits for it (once).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _stop.Cancel();
        _thread.Join();
        _stop.Dispose();
    }

    private void Allocate()
    {
        var keep = new List<byte[]>();
        while (!_stop.IsCancellationRequested)
        {
            keep.Add(new byte[256]);
            if (keep.Count > 20_000)
            {
                keep.Clear();
            }
        }
    }
}
