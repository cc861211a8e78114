using System.Numerics;
using System.Numerics.Tensors;

namespace SpectralMonitor.Estimators.Cpu;

/// <summary>
/// The CPU backend: vectors are <typeparamref name="T"/>[] arrays of length <see cref="Dimension"/>,
/// operations are vectorized with <see cref="TensorPrimitives"/>.
/// </summary>
/// <remarks>Reductions of <see cref="float"/> vectors are accumulated per block in single precision and
/// summed across blocks in double, so their error grows with the block length, not with <c>n</c>.</remarks>
/// <typeparam name="T"><see cref="double"/> or <see cref="float"/>.</typeparam>
public sealed class CpuVectorSpace<T> : IElementwiseVectorSpace<T[]>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Block length of the cache-blocked bulk operations (elements).</summary>
    internal const int BlockLength = 2048;

    /// <summary>Creates the space of vectors of length <paramref name="dimension"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimension"/> is not positive.</exception>
    public CpuVectorSpace(int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        Dimension = dimension;
    }

    /// <inheritdoc/>
    public int Dimension { get; }

    /// <inheritdoc/>
    public T[] CreateVector() => new T[Dimension];

    /// <inheritdoc/>
    public void Release(T[] vector)
    {
        // Managed memory: the garbage collector frees it.
    }

    /// <inheritdoc/>
    public bool IsCompatible(T[] vector) => vector is not null && vector.Length == Dimension;

    /// <inheritdoc/>
    public void FillRandom(T[] vector, RandomKind kind, int seed)
    {
        Check(vector);
        var random = new Random(seed);
        if (kind == RandomKind.Rademacher)
        {
            for (int i = 0; i < vector.Length; i++)
            {
                vector[i] = random.Next(2) == 0 ? -T.One : T.One;
            }

            return;
        }

        if (kind == RandomKind.GaussianProduct)
        {
            int columns = (int)Math.Ceiling(Math.Sqrt(vector.Length));
            int rows = (vector.Length + columns - 1) / columns;
            var factors = new double[rows + columns];
            FillGaussian(factors, random);
            for (int i = 0; i < vector.Length; i++)
            {
                vector[i] = T.CreateChecked(factors[i / columns] * factors[rows + (i % columns)]);
            }

            return;
        }

        var values = new double[vector.Length];
        FillGaussian(values, random);
        for (int i = 0; i < vector.Length; i++)
        {
            vector[i] = T.CreateChecked(values[i]);
        }
    }

    /// <summary>Box–Muller: two independent standard normals per pair of uniforms.</summary>
    private static void FillGaussian(double[] values, Random random)
    {
        for (int i = 0; i < values.Length; i += 2)
        {
            double u1 = 1.0 - random.NextDouble();
            double u2 = random.NextDouble();
            double r = Math.Sqrt(-2.0 * Math.Log(u1));
            values[i] = r * Math.Cos(2 * Math.PI * u2);
            if (i + 1 < values.Length)
            {
                values[i + 1] = r * Math.Sin(2 * Math.PI * u2);
            }
        }
    }

    /// <inheritdoc/>
    public void Clear(T[] vector)
    {
        Check(vector);
        Array.Clear(vector);
    }

    /// <inheritdoc/>
    public double Dot(T[] x, T[] y)
    {
        Check(x);
        Check(y);
        return DotBlocked(x, y);
    }

    /// <inheritdoc/>
    public double Norm(T[] x)
    {
        Check(x);
        if (typeof(T) == typeof(double))
        {
            return double.CreateTruncating(TensorPrimitives.Norm<T>(x));
        }

        return Math.Sqrt(DotBlocked(x, x));
    }

    /// <inheritdoc/>
    public double MaxAbs(T[] x)
    {
        Check(x);
        // MaxMagnitude returns the element of largest magnitude with its sign.
        return Math.Abs(double.CreateTruncating(TensorPrimitives.MaxMagnitude<T>(x)));
    }

    /// <inheritdoc/>
    public void Axpy(double alpha, T[] x, T[] y)
    {
        Check(x);
        Check(y);
        TensorPrimitives.MultiplyAdd<T>(x, T.CreateChecked(alpha), y, y);
    }

    /// <inheritdoc/>
    public void Scale(T[] x, double alpha)
    {
        Check(x);
        TensorPrimitives.Multiply<T>(x, T.CreateChecked(alpha), x);
    }

    /// <inheritdoc/>
    public void Copy(T[] source, T[] destination)
    {
        Check(source);
        Check(destination);
        source.AsSpan().CopyTo(destination);
    }

    /// <inheritdoc/>
    public void Multiply(T[] x, T[] y, T[] destination)
    {
        Check(x);
        Check(y);
        Check(destination);
        TensorPrimitives.Multiply<T>(x, y, destination);
    }

    /// <inheritdoc/>
    public void Maximum(T[] x, T[] y, T[] destination)
    {
        Check(x);
        Check(y);
        Check(destination);
        TensorPrimitives.Max<T>(x, y, destination);
    }

    /// <inheritdoc/>
    public void IndicatorBelow(T[] x, double threshold, T[] destination)
    {
        Check(x);
        Check(destination);
        var t = T.CreateChecked(threshold);
        for (int i = 0; i < x.Length; i++)
        {
            destination[i] = x[i] < t ? T.One : T.Zero;
        }
    }

    /// <inheritdoc/>
    public void Sqrt(T[] x, T[] destination)
    {
        Check(x);
        Check(destination);
        TensorPrimitives.Sqrt<T>(x, destination);
    }

    /// <inheritdoc/>
    public void InverseSqrtPlusEpsilon(T[] x, double scale, double epsilon, T[] destination)
    {
        Check(x);
        Check(destination);
        T s = T.CreateChecked(scale);
        T e = T.CreateChecked(epsilon);
        for (int i = 0; i < x.Length; i++)
        {
            destination[i] = T.One / (T.Sqrt(s * x[i]) + e);
        }
    }

    /// <inheritdoc/>
    public IBasis<T[]> CreateBasis(int capacity) => new CpuBasis<T>(Dimension, capacity);

    internal static double DotBlocked(ReadOnlySpan<T> x, ReadOnlySpan<T> y)
    {
        if (typeof(T) == typeof(double))
        {
            return double.CreateTruncating(TensorPrimitives.Dot(x, y));
        }

        double sum = 0;
        for (int start = 0; start < x.Length; start += BlockLength)
        {
            int length = Math.Min(BlockLength, x.Length - start);
            sum += double.CreateTruncating(TensorPrimitives.Dot(x.Slice(start, length), y.Slice(start, length)));
        }

        return sum;
    }

    private void Check(T[] vector)
    {
        ArgumentNullException.ThrowIfNull(vector);
        if (vector.Length != Dimension)
        {
            throw new ArgumentException($"Vector has length {vector.Length}; this space has dimension {Dimension}.", nameof(vector));
        }
    }
}
