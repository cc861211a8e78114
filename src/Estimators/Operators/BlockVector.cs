namespace SpectralMonitor.Estimators.Operators;

/// <summary>
/// A vector of a product space: an ordered array of blocks, each a vector of one underlying space.
/// The augmented state of an optimizer, for example (θ, m) for Adam, is one <see cref="BlockVector{TVec}"/>.
/// </summary>
/// <remarks>The block vector does not own its blocks' memory: it is a view. Vectors made by
/// <see cref="BlockVectorSpace{TVec}.CreateVector"/> are released block by block by <see cref="BlockVectorSpace{TVec}.Release"/>.</remarks>
/// <typeparam name="TVec">The underlying backend's vector type.</typeparam>
public sealed class BlockVector<TVec>
    where TVec : class
{
    private readonly TVec[] _blocks;

    /// <summary>Wraps <paramref name="blocks"/> (the array is copied; the vectors are not).</summary>
    /// <param name="blocks">The blocks, in order; none may be null.</param>
    /// <exception cref="ArgumentException">No block is given, or a block is null.</exception>
    public BlockVector(params TVec[] blocks)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        if (blocks.Length == 0)
        {
            throw new ArgumentException("A block vector needs at least one block; none was given.", nameof(blocks));
        }

        for (int b = 0; b < blocks.Length; b++)
        {
            if (blocks[b] is null)
            {
                throw new ArgumentException($"Block {b} is null.", nameof(blocks));
            }
        }

        _blocks = (TVec[])blocks.Clone();
    }

    /// <summary>Number of blocks.</summary>
    public int BlockCount => _blocks.Length;

    /// <summary>The block at <paramref name="index"/> (a reference, not a copy).</summary>
    /// <param name="index">Block index in <c>[0, BlockCount)</c>.</param>
    public TVec this[int index] => _blocks[index];
}
