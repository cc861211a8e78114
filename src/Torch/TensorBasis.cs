using SpectralMonitor.Estimators;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch;

/// <summary>
/// A Krylov basis on the device, stored as ONE stacked <c>capacity × n</c> tensor <c>Q</c> (row <c>i</c> is <c>qᵢ</c>),
/// so that <see cref="Project"/> (<c>Q·v</c>), <see cref="SubtractProjection"/> and <see cref="Combine"/> (<c>Qᵀ·c</c>)
/// are one matrix–vector product each, and <see cref="Transform"/> one matrix product (done in column chunks so that
/// its temporary is at most about one parameter-sized vector). Only the <c>Count</c> coefficients cross to the host.
/// </summary>
/// <remarks>
/// The storage is allocated once (<c>capacity·n</c> elements), is not registered in any dispose scope and is freed by
/// <see cref="Dispose"/>. The vectors returned by the indexer are views of the storage, owned by the basis; they stay
/// valid (and see the new contents) after <see cref="Transform"/>.
/// </remarks>
public sealed class TensorBasis : IBasis<Tensor>
{
    private readonly TensorVectorSpace _space;
    private readonly Tensor _storage;
    private readonly Tensor?[] _rows;
    private bool _disposed;

    /// <summary>Creates an empty basis for the vectors of <paramref name="space"/>.</summary>
    /// <param name="space">The vector space.</param>
    /// <param name="capacity">Maximum number of vectors.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not positive.</exception>
    public TensorBasis(TensorVectorSpace space, int capacity)
    {
        ArgumentNullException.ThrowIfNull(space);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _space = space;
        _rows = new Tensor?[capacity];
        _storage = torch.empty(new long[] { capacity, space.Dimension }, space.ScalarType, space.Device).DetachFromDisposeScope();
    }

    /// <inheritdoc/>
    public int Count { get; private set; }

    /// <inheritdoc/>
    public int Capacity => _rows.Length;

    /// <inheritdoc/>
    public Tensor this[int index]
    {
        get
        {
            ThrowIfDisposed();
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            return Row(index);
        }
    }

    /// <inheritdoc/>
    public void Append(Tensor vector)
    {
        ThrowIfDisposed();
        _space.Check(vector, nameof(vector));
        if (Count == Capacity)
        {
            throw new InvalidOperationException($"The basis is full (capacity {Capacity}).");
        }

        using var noGrad = torch.no_grad();
        Row(Count).copy_(vector);
        Count++;
    }

    /// <inheritdoc/>
    public void Project(Tensor vector, Span<double> coefficients)
    {
        ThrowIfDisposed();
        _space.Check(vector, nameof(vector));
        CheckCoefficients(coefficients.Length, nameof(coefficients));
        if (Count == 0)
        {
            return;
        }

        using var noGrad = torch.no_grad();
        using var active = _storage.narrow(0, 0, Count);
        using var product = active.mv(vector);
        CopyToHost(product, coefficients);
    }

    /// <inheritdoc/>
    public void SubtractProjection(Tensor vector, ReadOnlySpan<double> coefficients)
    {
        ThrowIfDisposed();
        _space.Check(vector, nameof(vector));
        CheckCoefficients(coefficients.Length, nameof(coefficients));
        if (Count == 0)
        {
            return;
        }

        using var noGrad = torch.no_grad();
        using var c = ToDevice(coefficients);
        using var active = _storage.narrow(0, 0, Count);
        using var activeT = active.t();
        vector.addmv_(activeT, c, 1, -1);
    }

    /// <inheritdoc/>
    public void Combine(ReadOnlySpan<double> coefficients, Tensor destination)
    {
        ThrowIfDisposed();
        _space.Check(destination, nameof(destination));
        CheckCoefficients(coefficients.Length, nameof(coefficients));
        using var noGrad = torch.no_grad();
        destination.zero_();
        if (Count == 0)
        {
            return;
        }

        using var c = ToDevice(coefficients);
        using var active = _storage.narrow(0, 0, Count);
        using var activeT = active.t();
        destination.addmv_(activeT, c, 0, 1);
    }

    /// <inheritdoc/>
    public void Transform(double[,] matrix)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(matrix);
        int rows = matrix.GetLength(0);
        int newCount = matrix.GetLength(1);
        if (rows != Count)
        {
            throw new ArgumentException($"Transform matrix has {rows} rows; the basis holds {Count} vectors.", nameof(matrix));
        }

        if (newCount > Count)
        {
            throw new ArgumentException($"Transform matrix has {newCount} columns; at most {Count} are allowed.", nameof(matrix));
        }

        if (newCount == 0)
        {
            Count = 0;
            return;
        }

        // New row j = Σᵢ M[i, j]·qᵢ, i.e. Q_new = Mᵀ·Q. The columns of Q are processed in chunks so that the
        // temporary (newCount × chunk) holds about one parameter-sized vector; each chunk is read completely before
        // it is overwritten, so the update is in place.
        var transposed = new double[newCount * rows];
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < newCount; j++)
            {
                transposed[(j * rows) + i] = matrix[i, j];
            }
        }

        using var noGrad = torch.no_grad();
        using var mt = torch.tensor(transposed, new long[] { newCount, rows }, _space.ScalarType, _space.Device);
        long n = _space.Dimension;
        long chunk = Math.Max(1, (n + newCount - 1) / newCount);
        using var active = _storage.narrow(0, 0, rows);
        using var target = _storage.narrow(0, 0, newCount);
        for (long start = 0; start < n; start += chunk)
        {
            long length = Math.Min(chunk, n - start);
            using var block = active.narrow(1, start, length);
            using var product = mt.mm(block);
            using var destination = target.narrow(1, start, length);
            destination.copy_(product);
        }

        Count = newCount;
    }

    /// <inheritdoc/>
    public void Truncate(int count)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Count);
        Count = count;
    }

    /// <summary>Frees the device storage and the row views.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        for (int i = 0; i < _rows.Length; i++)
        {
            _rows[i]?.Dispose();
            _rows[i] = null;
        }

        _storage.Dispose();
        Count = 0;
    }

    private Tensor Row(int index) =>
        _rows[index] ??= _storage.select(0, index).DetachFromDisposeScope();

    private Tensor ToDevice(ReadOnlySpan<double> coefficients) =>
        torch.tensor(coefficients.ToArray(), _space.ScalarType, _space.Device);

    private static void CopyToHost(Tensor values, Span<double> destination)
    {
        using var asDouble = values.to(ScalarType.Float64);
        using var onHost = asDouble.cpu();
        onHost.data<double>().ToArray().AsSpan().CopyTo(destination);
    }

    private void CheckCoefficients(int length, string parameterName)
    {
        if (length != Count)
        {
            throw new ArgumentException($"Expected {Count} coefficients (one per basis vector), got {length}.", parameterName);
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}
