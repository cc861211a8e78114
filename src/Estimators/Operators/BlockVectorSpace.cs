namespace SpectralMonitor.Estimators.Operators;

/// <summary>
/// The product space <c>V × V × … × V</c> (<see cref="BlockCount"/> copies of one underlying space): vectors are
/// <see cref="BlockVector{TVec}"/>s and every operation is the underlying operation applied block by block, with
/// reductions summed over blocks. This lets a Krylov method written against <see cref="IVectorSpace{TVec}"/> run on
/// an optimizer's augmented state, for example (θ, m) or (θ, m, v), on any backend.
/// </summary>
/// <remarks>
/// The Krylov operations need only <see cref="IVectorSpace{TVec}"/> of the block space; the element-wise operations
/// (<see cref="IElementwiseVectorSpace{TVec}"/>) are available when the block space has them too, and throw
/// <see cref="NotSupportedException"/> otherwise.
/// </remarks>
/// <typeparam name="TVec">The underlying backend's vector type.</typeparam>
public sealed class BlockVectorSpace<TVec> : IElementwiseVectorSpace<BlockVector<TVec>>
    where TVec : class
{
    /// <summary>Creates the product of <paramref name="blockCount"/> copies of <paramref name="blockSpace"/>.</summary>
    /// <param name="blockSpace">The space of each block.</param>
    /// <param name="blockCount">Number of blocks, at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="blockCount"/> is not positive, or the total dimension overflows <see cref="int"/>.</exception>
    public BlockVectorSpace(IVectorSpace<TVec> blockSpace, int blockCount)
    {
        ArgumentNullException.ThrowIfNull(blockSpace);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockCount);
        long dimension = (long)blockSpace.Dimension * blockCount;
        if (dimension > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(blockCount), blockCount, $"{blockCount} blocks of dimension {blockSpace.Dimension} exceed the largest supported dimension {int.MaxValue}.");
        }

        BlockSpace = blockSpace;
        BlockCount = blockCount;
        Dimension = (int)dimension;
    }

    /// <summary>The space of each block.</summary>
    public IVectorSpace<TVec> BlockSpace { get; }

    /// <summary>Number of blocks of every vector.</summary>
    public int BlockCount { get; }

    /// <inheritdoc/>
    public int Dimension { get; }

    /// <inheritdoc/>
    public BlockVector<TVec> CreateVector()
    {
        var blocks = new TVec[BlockCount];
        for (int b = 0; b < BlockCount; b++)
        {
            blocks[b] = BlockSpace.CreateVector();
        }

        return new BlockVector<TVec>(blocks);
    }

    /// <inheritdoc/>
    public void Release(BlockVector<TVec> vector)
    {
        Check(vector);
        for (int b = 0; b < BlockCount; b++)
        {
            BlockSpace.Release(vector[b]);
        }
    }

    /// <inheritdoc/>
    public bool IsCompatible(BlockVector<TVec> vector)
    {
        if (vector is null || vector.BlockCount != BlockCount)
        {
            return false;
        }

        for (int b = 0; b < BlockCount; b++)
        {
            if (!BlockSpace.IsCompatible(vector[b]))
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc/>
    /// <remarks>Block <c>b</c> is filled with a seed derived deterministically from <paramref name="seed"/> and <c>b</c>,
    /// so the blocks are not copies of each other and the result is reproducible.</remarks>
    public void FillRandom(BlockVector<TVec> vector, RandomKind kind, int seed)
    {
        Check(vector);
        for (int b = 0; b < BlockCount; b++)
        {
            BlockSpace.FillRandom(vector[b], kind, BlockSeed(seed, b));
        }
    }

    /// <inheritdoc/>
    public void Clear(BlockVector<TVec> vector)
    {
        Check(vector);
        for (int b = 0; b < BlockCount; b++)
        {
            BlockSpace.Clear(vector[b]);
        }
    }

    /// <inheritdoc/>
    public double Dot(BlockVector<TVec> x, BlockVector<TVec> y)
    {
        Check(x);
        Check(y);
        double sum = 0;
        for (int b = 0; b < BlockCount; b++)
        {
            sum += BlockSpace.Dot(x[b], y[b]);
        }

        return sum;
    }

    /// <inheritdoc/>
    /// <exception cref="NotSupportedException">The block space has no element-wise operations.</exception>
    public double MaxAbs(BlockVector<TVec> x)
    {
        Check(x);
        var elementwise = Elementwise();
        double largest = 0;
        for (int b = 0; b < BlockCount; b++)
        {
            double value = elementwise.MaxAbs(x[b]);
            if (double.IsNaN(value))
            {
                return double.NaN;
            }

            largest = Math.Max(largest, value);
        }

        return largest;
    }

    /// <inheritdoc/>
    /// <remarks>Combines the block norms with scaling by the largest, so that it overflows only when the result does.</remarks>
    public double Norm(BlockVector<TVec> x)
    {
        Check(x);
        Span<double> norms = BlockCount <= 16 ? stackalloc double[BlockCount] : new double[BlockCount];
        double largest = 0;
        for (int b = 0; b < BlockCount; b++)
        {
            norms[b] = BlockSpace.Norm(x[b]);
            if (double.IsNaN(norms[b]))
            {
                return double.NaN;
            }

            largest = Math.Max(largest, norms[b]);
        }

        if (largest == 0 || double.IsInfinity(largest))
        {
            return largest;
        }

        double sum = 0;
        for (int b = 0; b < BlockCount; b++)
        {
            double r = norms[b] / largest;
            sum += r * r;
        }

        return largest * Math.Sqrt(sum);
    }

    /// <inheritdoc/>
    public void Axpy(double alpha, BlockVector<TVec> x, BlockVector<TVec> y)
    {
        Check(x);
        Check(y);
        for (int b = 0; b < BlockCount; b++)
        {
            BlockSpace.Axpy(alpha, x[b], y[b]);
        }
    }

    /// <inheritdoc/>
    public void Scale(BlockVector<TVec> x, double alpha)
    {
        Check(x);
        for (int b = 0; b < BlockCount; b++)
        {
            BlockSpace.Scale(x[b], alpha);
        }
    }

    /// <inheritdoc/>
    public void Copy(BlockVector<TVec> source, BlockVector<TVec> destination)
    {
        Check(source);
        Check(destination);
        for (int b = 0; b < BlockCount; b++)
        {
            BlockSpace.Copy(source[b], destination[b]);
        }
    }

    /// <inheritdoc/>
    /// <exception cref="NotSupportedException">The block space has no element-wise operations.</exception>
    public void Multiply(BlockVector<TVec> x, BlockVector<TVec> y, BlockVector<TVec> destination)
    {
        Check(x);
        Check(y);
        Check(destination);
        var elementwise = Elementwise();
        for (int b = 0; b < BlockCount; b++)
        {
            elementwise.Multiply(x[b], y[b], destination[b]);
        }
    }

    /// <inheritdoc/>
    /// <exception cref="NotSupportedException">The block space has no element-wise operations.</exception>
    public void Maximum(BlockVector<TVec> x, BlockVector<TVec> y, BlockVector<TVec> destination)
    {
        Check(x);
        Check(y);
        Check(destination);
        var elementwise = Elementwise();
        for (int b = 0; b < BlockCount; b++)
        {
            elementwise.Maximum(x[b], y[b], destination[b]);
        }
    }

    /// <inheritdoc/>
    /// <exception cref="NotSupportedException">The block space has no element-wise operations.</exception>
    public void IndicatorBelow(BlockVector<TVec> x, double threshold, BlockVector<TVec> destination)
    {
        Check(x);
        Check(destination);
        var elementwise = Elementwise();
        for (int b = 0; b < BlockCount; b++)
        {
            elementwise.IndicatorBelow(x[b], threshold, destination[b]);
        }
    }

    /// <inheritdoc/>
    /// <exception cref="NotSupportedException">The block space has no element-wise operations.</exception>
    public void Sqrt(BlockVector<TVec> x, BlockVector<TVec> destination)
    {
        Check(x);
        Check(destination);
        var elementwise = Elementwise();
        for (int b = 0; b < BlockCount; b++)
        {
            elementwise.Sqrt(x[b], destination[b]);
        }
    }

    /// <inheritdoc/>
    /// <exception cref="NotSupportedException">The block space has no element-wise operations.</exception>
    public void InverseSqrtPlusEpsilon(BlockVector<TVec> x, double scale, double epsilon, BlockVector<TVec> destination)
    {
        Check(x);
        Check(destination);
        var elementwise = Elementwise();
        for (int b = 0; b < BlockCount; b++)
        {
            elementwise.InverseSqrtPlusEpsilon(x[b], scale, epsilon, destination[b]);
        }
    }

    /// <inheritdoc/>
    public IBasis<BlockVector<TVec>> CreateBasis(int capacity) => new BlockBasis<TVec>(this, capacity);

    /// <summary>The seed used for block <paramref name="block"/>: a fixed integer hash (SplitMix-style finalizer) of both inputs.</summary>
    internal static int BlockSeed(int seed, int block)
    {
        unchecked
        {
            ulong z = ((ulong)(uint)seed << 32) | (uint)block;
            z += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            return (int)(z & 0x7FFFFFFF);
        }
    }

    private IElementwiseVectorSpace<TVec> Elementwise() =>
        BlockSpace as IElementwiseVectorSpace<TVec>
        ?? throw new NotSupportedException($"The block space ({BlockSpace.GetType().Name}) has no element-wise operations (it does not implement IElementwiseVectorSpace).");

    internal void Check(BlockVector<TVec> vector, string? parameterName = null)
    {
        ArgumentNullException.ThrowIfNull(vector, parameterName ?? nameof(vector));
        if (vector.BlockCount != BlockCount)
        {
            throw new ArgumentException($"Block vector has {vector.BlockCount} blocks; this space has {BlockCount}.", parameterName ?? nameof(vector));
        }
    }
}
