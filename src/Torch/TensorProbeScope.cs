using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch;

/// <summary>
/// The one <see cref="DisposeScope"/> around a whole probe: every tensor created on this thread while it is open
/// (Krylov vectors, autograd temporaries, state snapshots) is freed when it is disposed, unless it was handed to a
/// <see cref="TensorStore"/> to outlive the probe.
/// </summary>
/// <remarks>
/// Dispose scopes are per thread: open, use and dispose the scope on the thread that runs the probe. Scopes nest:
/// a probe scope opened inside the caller's own scope frees only what the probe created.
/// <code>
/// using (var scope = TensorProbeScope.Begin())
/// {
///     using var hvp = new HessianVectorProductOperator(view, lossClosure);
///     // run the estimators on view.CreateVectorSpace() and hvp …
///     warmStart.Keep(ritzVector);   // survives the scope
/// }
/// </code>
/// </remarks>
public sealed class TensorProbeScope : IDisposable
{
    private readonly DisposeScope _scope;

    private TensorProbeScope(DisposeScope scope) => _scope = scope;

    /// <summary>Opens a probe scope on the current thread.</summary>
    /// <returns>The scope; dispose it when the probe ends.</returns>
    public static TensorProbeScope Begin() => new(torch.NewDisposeScope());

    /// <summary>Number of tensors (and other disposables) currently registered in the scope.</summary>
    public int LiveCount => _scope.DisposablesCount;

    /// <summary>Runs <paramref name="probe"/> inside a new probe scope and returns its (CPU-only) result.</summary>
    /// <typeparam name="TResult">The result type; it must not hold tensors created in the scope.</typeparam>
    /// <param name="probe">The probe body.</param>
    /// <returns>What <paramref name="probe"/> returned.</returns>
    public static TResult Run<TResult>(Func<TResult> probe)
    {
        ArgumentNullException.ThrowIfNull(probe);
        using var scope = Begin();
        return probe();
    }

    /// <summary>Frees every tensor created in the scope and not moved out of it.</summary>
    public void Dispose() => _scope.Dispose();
}

/// <summary>
/// Owns tensors that must outlive a probe's <see cref="TensorProbeScope"/> (warm-start vectors, reference states):
/// <see cref="Keep"/> detaches a tensor from every dispose scope; <see cref="Dispose"/> frees all of them.
/// </summary>
public sealed class TensorStore : IDisposable
{
    private readonly List<Tensor> _tensors = [];
    private bool _disposed;

    /// <summary>Number of tensors held.</summary>
    public int Count => _tensors.Count;

    /// <summary>Takes ownership of <paramref name="tensor"/>: it is detached from its dispose scope and freed by this store.</summary>
    /// <param name="tensor">A tensor.</param>
    /// <returns><paramref name="tensor"/>.</returns>
    public Tensor Keep(Tensor tensor)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.IsInvalid)
        {
            throw new ArgumentException("The tensor is already disposed.", nameof(tensor));
        }

        tensor.DetachFromDisposeScope();
        if (!_tensors.Contains(tensor))
        {
            _tensors.Add(tensor);
        }

        return tensor;
    }

    /// <summary>Frees <paramref name="tensor"/> now if this store holds it.</summary>
    /// <param name="tensor">A tensor kept earlier.</param>
    /// <returns>Whether it was held (and is now freed).</returns>
    public bool Release(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (!_tensors.Remove(tensor))
        {
            return false;
        }

        tensor.Dispose();
        return true;
    }

    /// <summary>Frees every tensor held.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var tensor in _tensors)
        {
            tensor.Dispose();
        }

        _tensors.Clear();
    }
}
