namespace SpectralMonitor.Estimators;

/// <summary>
/// The argument checks and bookkeeping of every <see cref="IBasis{TVec}"/>, written once. The public members validate
/// (the vector belongs to the space, one coefficient per basis vector, the transform's shape, capacity, index range,
/// not disposed) and keep <see cref="Count"/>; the protected core members only compute, on arguments already checked
/// (SciPy's LinearOperator split: the public <c>matvec</c> validates, the protected <c>_matvec</c> computes).
/// </summary>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
public abstract class Basis<TVec> : IBasis<TVec>
    where TVec : class
{
    private bool _disposed;

    /// <summary>Creates an empty basis able to hold <paramref name="capacity"/> vectors.</summary>
    /// <param name="capacity">Maximum number of vectors, positive.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not positive.</exception>
    protected Basis(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Capacity = capacity;
    }

    /// <inheritdoc/>
    public int Count { get; private set; }

    /// <inheritdoc/>
    public int Capacity { get; }

    /// <inheritdoc/>
    public TVec this[int index]
    {
        get
        {
            ThrowIfDisposed();
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            return VectorAt(index);
        }
    }

    /// <inheritdoc/>
    public void Append(TVec vector)
    {
        ThrowIfDisposed();
        CheckVector(vector, nameof(vector));
        if (Count == Capacity)
        {
            throw new InvalidOperationException($"The basis is full (capacity {Capacity}).");
        }

        AppendCore(vector, Count);
        Count++;
    }

    /// <inheritdoc/>
    public void Project(TVec vector, Span<double> coefficients)
    {
        CheckOperands(vector, coefficients.Length, nameof(vector), nameof(coefficients));
        if (Count > 0)
        {
            ProjectCore(vector, coefficients);
        }
    }

    /// <inheritdoc/>
    public void SubtractProjection(TVec vector, ReadOnlySpan<double> coefficients)
    {
        CheckOperands(vector, coefficients.Length, nameof(vector), nameof(coefficients));
        if (Count > 0)
        {
            SubtractProjectionCore(vector, coefficients);
        }
    }

    /// <inheritdoc/>
    public void Combine(ReadOnlySpan<double> coefficients, TVec destination)
    {
        CheckOperands(destination, coefficients.Length, nameof(destination), nameof(coefficients));
        CombineCore(coefficients, destination);
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

        if (newCount > 0)
        {
            TransformCore(matrix);
        }

        TruncateCore(newCount);
        Count = newCount;
    }

    /// <inheritdoc/>
    public void Truncate(int count)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Count);
        TruncateCore(count);
        Count = count;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Count = 0;
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Throws <see cref="ArgumentException"/> (naming <paramref name="parameterName"/>) unless <paramref name="vector"/> is a vector of this basis's space.</summary>
    /// <param name="vector">The vector to check (may be null: then <see cref="ArgumentNullException"/>).</param>
    /// <param name="parameterName">The caller's parameter name.</param>
    protected abstract void CheckVector(TVec vector, string parameterName);

    /// <summary>The stored vector <paramref name="index"/> (in range).</summary>
    /// <param name="index">An index in <c>[0, Count)</c>.</param>
    protected abstract TVec VectorAt(int index);

    /// <summary>Copies <paramref name="vector"/> into slot <paramref name="index"/> (<c>= Count</c>, below the capacity).</summary>
    /// <param name="vector">A checked vector.</param>
    /// <param name="index">The slot.</param>
    protected abstract void AppendCore(TVec vector, int index);

    /// <summary><c>c = Qᵀ·v</c> over the <see cref="Count"/> (&gt; 0) vectors; <paramref name="coefficients"/> has length <see cref="Count"/>.</summary>
    /// <param name="vector">A checked vector.</param>
    /// <param name="coefficients">Receives the coefficients.</param>
    protected abstract void ProjectCore(TVec vector, Span<double> coefficients);

    /// <summary><c>v ← v − Q·c</c> over the <see cref="Count"/> (&gt; 0) vectors.</summary>
    /// <param name="vector">A checked vector, updated in place.</param>
    /// <param name="coefficients">One coefficient per basis vector.</param>
    protected abstract void SubtractProjectionCore(TVec vector, ReadOnlySpan<double> coefficients);

    /// <summary><c>destination ← Q·c</c> (zero when <see cref="Count"/> is 0).</summary>
    /// <param name="coefficients">One coefficient per basis vector.</param>
    /// <param name="destination">A checked vector, overwritten.</param>
    protected abstract void CombineCore(ReadOnlySpan<double> coefficients, TVec destination);

    /// <summary><c>Q ← Q·M</c> in place for a checked <see cref="Count"/> × <c>p</c> matrix with <c>0 &lt; p ≤ Count</c>.</summary>
    /// <param name="matrix">The transform, row-major.</param>
    protected abstract void TransformCore(double[,] matrix);

    /// <summary>Called when the count drops to <paramref name="count"/> (by <see cref="Truncate"/> or <see cref="Transform"/>); nothing by default.</summary>
    /// <param name="count">The new count.</param>
    protected virtual void TruncateCore(int count)
    {
    }

    /// <summary>Frees the storage; called once.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> after <see cref="Dispose()"/>.</summary>
    protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>Checks that there is room for one more vector and returns its slot (<see cref="Count"/>): for <see cref="IInPlaceAppendBasis{TVec}.NextSlot"/>.</summary>
    /// <exception cref="InvalidOperationException">The basis is full.</exception>
    protected int NextIndex()
    {
        ThrowIfDisposed();
        if (Count == Capacity)
        {
            throw new InvalidOperationException($"The basis is full (capacity {Capacity}).");
        }

        return Count;
    }

    /// <summary>Counts the vector written into slot <see cref="Count"/> as part of the basis: for <see cref="IInPlaceAppendBasis{TVec}.CommitNext"/>.</summary>
    /// <exception cref="InvalidOperationException">The basis is full.</exception>
    protected void CommitNextIndex()
    {
        NextIndex();
        Count++;
    }

    /// <summary>Throws <see cref="ArgumentException"/> (naming <paramref name="parameterName"/>) unless <paramref name="length"/> is <see cref="Count"/>.</summary>
    /// <param name="length">The number of coefficients given.</param>
    /// <param name="parameterName">The caller's parameter name.</param>
    protected void CheckCoefficients(int length, string parameterName)
    {
        if (length != Count)
        {
            throw new ArgumentException($"Expected {Count} coefficients (one per basis vector), got {length}.", parameterName);
        }
    }

    private void CheckOperands(TVec vector, int coefficients, string vectorName, string coefficientsName)
    {
        ThrowIfDisposed();
        CheckVector(vector, vectorName);
        CheckCoefficients(coefficients, coefficientsName);
    }
}
