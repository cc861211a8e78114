namespace SpectralMonitor.Estimators.Operators;

/// <summary>
/// A basis of block vectors, stored as one basis of the underlying space per block. Each bulk operation is the
/// underlying bulk operation applied block by block (one backend call per block): <see cref="Basis{TVec}.Project"/> sums the
/// per-block projections; <see cref="Basis{TVec}.SubtractProjection"/>, <see cref="Basis{TVec}.Combine"/> and <see cref="Basis{TVec}.Transform"/> apply
/// the same coefficients to every block.
/// </summary>
/// <typeparam name="TVec">The underlying backend's vector type.</typeparam>
public sealed class BlockBasis<TVec> : Basis<BlockVector<TVec>>
    where TVec : class
{
    private readonly BlockVectorSpace<TVec> _space;
    private readonly IBasis<TVec>[] _blocks;

    /// <summary>Creates an empty basis for vectors of <paramref name="space"/>.</summary>
    /// <param name="space">The block space.</param>
    /// <param name="capacity">Maximum number of vectors.</param>
    public BlockBasis(BlockVectorSpace<TVec> space, int capacity)
        : base(capacity)
    {
        ArgumentNullException.ThrowIfNull(space);
        _space = space;
        _blocks = new IBasis<TVec>[space.BlockCount];
        for (int b = 0; b < _blocks.Length; b++)
        {
            _blocks[b] = space.BlockSpace.CreateBasis(capacity);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Returns a new block-vector wrapper around the per-block views on each call.</remarks>
    protected override BlockVector<TVec> VectorAt(int index)
    {
        var views = new TVec[_blocks.Length];
        for (int b = 0; b < _blocks.Length; b++)
        {
            views[b] = _blocks[b][index];
        }

        return new BlockVector<TVec>(views);
    }

    /// <inheritdoc/>
    protected override void AppendCore(BlockVector<TVec> vector, int index)
    {
        for (int b = 0; b < _blocks.Length; b++)
        {
            _blocks[b].Append(vector[b]);
        }
    }

    /// <inheritdoc/>
    protected override void ProjectCore(BlockVector<TVec> vector, Span<double> coefficients)
    {
        _blocks[0].Project(vector[0], coefficients);
        if (_blocks.Length == 1)
        {
            return;
        }

        var partial = new double[coefficients.Length];
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
    protected override void SubtractProjectionCore(BlockVector<TVec> vector, ReadOnlySpan<double> coefficients)
    {
        for (int b = 0; b < _blocks.Length; b++)
        {
            _blocks[b].SubtractProjection(vector[b], coefficients);
        }
    }

    /// <inheritdoc/>
    protected override void CombineCore(ReadOnlySpan<double> coefficients, BlockVector<TVec> destination)
    {
        for (int b = 0; b < _blocks.Length; b++)
        {
            _blocks[b].Combine(coefficients, destination[b]);
        }
    }

    /// <inheritdoc/>
    protected override void TransformCore(double[,] matrix)
    {
        for (int b = 0; b < _blocks.Length; b++)
        {
            _blocks[b].Transform(matrix);
        }
    }

    /// <inheritdoc/>
    protected override void TruncateCore(int count)
    {
        for (int b = 0; b < _blocks.Length; b++)
        {
            if (_blocks[b].Count > count)
            {
                _blocks[b].Truncate(count);
            }
        }
    }

    /// <inheritdoc/>
    protected override void CheckVector(BlockVector<TVec> vector, string parameterName) => _space.Check(vector, parameterName);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        foreach (var block in _blocks)
        {
            block.Dispose();
        }

        base.Dispose(disposing);
    }
}
