using System.Numerics;
using System.Numerics.Tensors;

namespace SpectralMonitor.Estimators.Cpu;

/// <summary>
/// A basis of CPU vectors. Every bulk operation walks the vectors block by block so that each basis vector
/// is read from memory once per call while the block of the operand stays in cache.
/// </summary>
/// <typeparam name="T"><see cref="double"/> or <see cref="float"/>.</typeparam>
public sealed class CpuBasis<T> : IBasis<T[]>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private const int BlockLength = CpuVectorSpace<T>.BlockLength;
    private readonly T[][] _vectors;
    private readonly int _dimension;

    /// <summary>Creates an empty basis for vectors of length <paramref name="dimension"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public CpuBasis(int dimension, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _dimension = dimension;
        _vectors = new T[capacity][];
    }

    /// <inheritdoc/>
    public int Count { get; private set; }

    /// <inheritdoc/>
    public int Capacity => _vectors.Length;

    /// <inheritdoc/>
    public T[] this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            return _vectors[index];
        }
    }

    /// <inheritdoc/>
    public void Append(T[] vector)
    {
        CheckVector(vector);
        if (Count == Capacity)
        {
            throw new InvalidOperationException($"The basis is full (capacity {Capacity}).");
        }

        var slot = _vectors[Count] ??= new T[_dimension];
        vector.AsSpan().CopyTo(slot);
        Count++;
    }

    /// <inheritdoc/>
    public void Project(T[] vector, Span<double> coefficients)
    {
        CheckVector(vector);
        CheckCoefficients(coefficients.Length, nameof(coefficients));
        coefficients.Clear();
        for (int start = 0; start < _dimension; start += BlockLength)
        {
            int length = Math.Min(BlockLength, _dimension - start);
            var block = vector.AsSpan(start, length);
            for (int i = 0; i < Count; i++)
            {
                coefficients[i] += CpuVectorSpace<T>.DotBlocked(_vectors[i].AsSpan(start, length), block);
            }
        }
    }

    /// <inheritdoc/>
    public void SubtractProjection(T[] vector, ReadOnlySpan<double> coefficients)
    {
        CheckVector(vector);
        CheckCoefficients(coefficients.Length, nameof(coefficients));
        for (int start = 0; start < _dimension; start += BlockLength)
        {
            int length = Math.Min(BlockLength, _dimension - start);
            var block = vector.AsSpan(start, length);
            for (int i = 0; i < Count; i++)
            {
                TensorPrimitives.MultiplyAdd<T>(_vectors[i].AsSpan(start, length), T.CreateChecked(-coefficients[i]), block, block);
            }
        }
    }

    /// <inheritdoc/>
    public void Combine(ReadOnlySpan<double> coefficients, T[] destination)
    {
        CheckVector(destination);
        CheckCoefficients(coefficients.Length, nameof(coefficients));
        Array.Clear(destination);
        for (int start = 0; start < _dimension; start += BlockLength)
        {
            int length = Math.Min(BlockLength, _dimension - start);
            var block = destination.AsSpan(start, length);
            for (int i = 0; i < Count; i++)
            {
                TensorPrimitives.MultiplyAdd<T>(_vectors[i].AsSpan(start, length), T.CreateChecked(coefficients[i]), block, block);
            }
        }
    }

    /// <inheritdoc/>
    public void Transform(double[,] matrix)
    {
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

        var scratch = new T[newCount * BlockLength];
        for (int start = 0; start < _dimension; start += BlockLength)
        {
            int length = Math.Min(BlockLength, _dimension - start);
            for (int j = 0; j < newCount; j++)
            {
                var target = scratch.AsSpan(j * BlockLength, length);
                target.Clear();
                for (int i = 0; i < rows; i++)
                {
                    double m = matrix[i, j];
                    if (m != 0)
                    {
                        TensorPrimitives.MultiplyAdd<T>(_vectors[i].AsSpan(start, length), T.CreateChecked(m), target, target);
                    }
                }
            }

            for (int j = 0; j < newCount; j++)
            {
                scratch.AsSpan(j * BlockLength, length).CopyTo(_vectors[j].AsSpan(start, length));
            }
        }

        Count = newCount;
    }

    /// <inheritdoc/>
    public void Truncate(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Count);
        Count = count;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        // Managed memory only.
    }

    private void CheckVector(T[] vector)
    {
        ArgumentNullException.ThrowIfNull(vector);
        if (vector.Length != _dimension)
        {
            throw new ArgumentException($"Vector has length {vector.Length}; the basis holds vectors of length {_dimension}.", nameof(vector));
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
