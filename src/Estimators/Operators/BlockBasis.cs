namespace SpectralMonitor.Estimators.Operators;

/// <summary>
/// A basis of block vectors, stored as one basis of the underlying space per block. Each bulk operation is the
/// underlying bulk operation applied block by block (one backend call per block): <see cref="Project"/> sums the
/// per-block projections; <see cref="SubtractProjection"/>, <see cref="Combine"/> and <see cref="Transform"/> apply
/// the same coefficients to every block.
/// </summary>
/// <typeparam name="TVec">The underlying backend's vector type.</typeparam>
public sealed class BlockBasis<TVec> : IBasis<BlockVector<TVec>>
    where TVec : class
{
    private readonly BlockVectorSpace<TVec> _space;
    private readonly IBasis<TVec>[] _blocks;
    private bool _disposed;

    /// <summary>Creates an empty basis for vectors of <paramref name="space"/>.</summary>
    /// <param name="space">The block space.</param>
    /// <param name="capacity">Maximum number of vectors.</param>
    public BlockBasis(BlockVectorSpace<TVec> space, int capacity)
    {
        ArgumentNullException.ThrowIfNull(space);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _space = space;
        _blocks = new IBasis<TVec>[space.BlockCount];
        for (int b = 0; b < _blocks.Length; b++)
        {
            _blocks[b] = space.BlockSpace.CreateBasis(capacity);
        }
    }

    /// <inheritdoc/>
    public int Count => _blocks[0].Count;

    /// <inheritdoc/>
    public int Capacity => _blocks[0].Capacity;

    /// <inheritdoc/>
    /// <remarks>Returns a new block-vector wrapper around the per-block views on each call.</remarks>
    public BlockVector<TVec> this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            var views = new TVec[_blocks.Length];
            for (int b = 0; b < _blocks.Length; b++)
            {
                views[b] = _blocks[b][index];
            }

            return new BlockVector<TVec>(views);
        }
    }

    /// <inheritdoc/>
    public void Append(BlockVector<TVec> vector)
    {
        _space.Check(vector);
        if (Count == Capacity)
        {
            throw new InvalidOperationException($"The basis is full (capacity {Capacity}).");
        }

        for (int b = 0; b < _blocks.Length; b++)
        {
            _blocks[b].Append(vector[b]);
        }
    }

    /// <inheritdoc/>
    public void Project(BlockVector<TVec> vector, Span<double> coefficients)
    {
        _space.Check(vector);
        CheckCoefficients(coefficients.Length, nameof(coefficients));
        _blocks[0].Project(vector[0], coefficients);
        if (_blocks.Length == 1)
        {
            return;
        }

        var partial = new double[Count];
        for (int b = 1; b < _blocks.Length; b++)
        {
            _blocks[b].Project(vector[b], partial);
            for (int i = 0; i < partial.Length; i++)
            {
                coefficients[i] += partial[i];
            }
        }
    }

    /// <inheritdoc/>
    public void SubtractProjection(BlockVector<TVec> vector, ReadOnlySpan<double> coefficients)
    {
        _space.Check(vector);
        CheckCoefficients(coefficients.Length, nameof(coefficients));
        for (int b = 0; b < _blocks.Length; b++)
        {
            _blocks[b].SubtractProjection(vector[b], coefficients);
        }
    }

    /// <inheritdoc/>
    public void Combine(ReadOnlySpan<double> coefficients, BlockVector<TVec> destination)
    {
        _space.Check(destination);
        CheckCoefficients(coefficients.Length, nameof(coefficients));
        for (int b = 0; b < _blocks.Length; b++)
        {
            _blocks[b].Combine(coefficients, destination[b]);
        }
    }

    /// <inheritdoc/>
    public void Transform(double[,] matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        if (matrix.GetLength(0) != Count)
        {
            throw new ArgumentException($"Transform matrix has {matrix.GetLength(0)} rows; the basis holds {Count} vectors.", nameof(matrix));
        }

        if (matrix.GetLength(1) > Count)
        {
            throw new ArgumentException($"Transform matrix has {matrix.GetLength(1)} columns; at most {Count} are allowed.", nameof(matrix));
        }

        for (int b = 0; b < _blocks.Length; b++)
        {
            _blocks[b].Transform(matrix);
        }
    }

    /// <inheritdoc/>
    public void Truncate(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Count);
        for (int b = 0; b < _blocks.Length; b++)
        {
            _blocks[b].Truncate(count);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var block in _blocks)
        {
            block.Dispose();
        }
    }

    private void CheckCoefficients(int length, string parameterName)
    {
        if (length != Count)
        {
            throw new ArgumentException($"Expected {Count} coefficients (one per basis vector), got {length}.", parameterName);
        }
    }
}
