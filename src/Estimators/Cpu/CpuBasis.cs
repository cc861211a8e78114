using System.Numerics;
using System.Numerics.Tensors;

namespace SpectralMonitor.Estimators.Cpu;

/// <summary>
/// A basis of CPU vectors. Every bulk operation walks the vectors block by block so that each basis vector
/// is read from memory once per call while the block of the operand stays in cache.
/// </summary>
/// <typeparam name="T"><see cref="double"/> or <see cref="float"/>.</typeparam>
public sealed class CpuBasis<T> : Basis<T[]>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private const int BlockLength = CpuVectorSpace<T>.BlockLength;
    private readonly T[][] _vectors;
    private readonly int _dimension;

    /// <summary>Creates an empty basis for vectors of length <paramref name="dimension"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public CpuBasis(int dimension, int capacity)
        : base(capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        _dimension = dimension;
        _vectors = new T[capacity][];
    }

    /// <inheritdoc/>
    protected override T[] VectorAt(int index) => _vectors[index];

    /// <inheritdoc/>
    protected override void AppendCore(T[] vector, int index)
    {
        var slot = _vectors[index] ??= new T[_dimension];
        vector.AsSpan().CopyTo(slot);
    }

    /// <inheritdoc/>
    protected override void ProjectCore(T[] vector, Span<double> coefficients)
    {
        coefficients.Clear();
        for (int start = 0; start < _dimension; start += BlockLength)
        {
            int length = Math.Min(BlockLength, _dimension - start);
            var block = vector.AsSpan(start, length);
            for (int i = 0; i < coefficients.Length; i++)
            {
                coefficients[i] += CpuVectorSpace<T>.DotBlocked(_vectors[i].AsSpan(start, length), block);
            }
        }
    }

    /// <inheritdoc/>
    protected override void SubtractProjectionCore(T[] vector, ReadOnlySpan<double> coefficients)
    {
        for (int start = 0; start < _dimension; start += BlockLength)
        {
            int length = Math.Min(BlockLength, _dimension - start);
            var block = vector.AsSpan(start, length);
            for (int i = 0; i < coefficients.Length; i++)
            {
                TensorPrimitives.MultiplyAdd<T>(_vectors[i].AsSpan(start, length), T.CreateChecked(-coefficients[i]), block, block);
            }
        }
    }

    /// <inheritdoc/>
    protected override void CombineCore(ReadOnlySpan<double> coefficients, T[] destination)
    {
        Array.Clear(destination);
        for (int start = 0; start < _dimension; start += BlockLength)
        {
            int length = Math.Min(BlockLength, _dimension - start);
            var block = destination.AsSpan(start, length);
            for (int i = 0; i < coefficients.Length; i++)
            {
                TensorPrimitives.MultiplyAdd<T>(_vectors[i].AsSpan(start, length), T.CreateChecked(coefficients[i]), block, block);
            }
        }
    }

    /// <inheritdoc/>
    protected override void TransformCore(double[,] matrix)
    {
        int rows = matrix.GetLength(0);
        int newCount = matrix.GetLength(1);
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
    }

    /// <inheritdoc/>
    protected override void CheckVector(T[] vector, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(vector, parameterName);
        if (vector.Length != _dimension)
        {
            throw new ArgumentException($"Vector has length {vector.Length}; the basis holds vectors of length {_dimension}.", parameterName);
        }
    }
}
