using System.Numerics;
using System.Numerics.Tensors;
using SpectralMonitor.Estimators.Cpu;

namespace SpectralMonitor.Estimators.Operators;

/// <summary>A dense <c>n × n</c> matrix as an operator on CPU vectors (row-major storage).</summary>
/// <typeparam name="T"><see cref="double"/> or <see cref="float"/>.</typeparam>
public sealed class DenseMatrixOperator<T> : LinearOperator<T[]>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _rowMajor;
    private readonly bool _symmetric;

    /// <summary>Wraps a square matrix given as <c>matrix[row, column]</c>.</summary>
    /// <param name="matrix">The matrix; copied.</param>
    /// <param name="assumeSymmetric">Declare the matrix symmetric (checked to within 100·ε·‖A‖_max).</param>
    /// <exception cref="ArgumentException">The matrix is empty, not square, has a non-finite entry, or is declared symmetric but is not.</exception>
    public DenseMatrixOperator(double[,] matrix, bool assumeSymmetric = false)
        : base(new CpuVectorSpace<T>(CheckSquare(matrix)))
    {
        int n = Dimension;
        _rowMajor = new T[n * n];
        double maxAbs = 0;
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double v = matrix[i, j];
                if (!double.IsFinite(v))
                {
                    throw new ArgumentException($"Matrix entry ({i}, {j}) is {v}; every entry must be finite.", nameof(matrix));
                }

                maxAbs = Math.Max(maxAbs, Math.Abs(v));
                _rowMajor[(i * n) + j] = T.CreateChecked(v);
            }
        }

        if (assumeSymmetric)
        {
            // Entries that differ by rounding only (a matrix read from text, a product formed two ways) pass.
            double tolerance = 100 * Precision.MachineEpsilon * maxAbs;
            for (int i = 0; i < n; i++)
            {
                for (int j = i + 1; j < n; j++)
                {
                    if (Math.Abs(matrix[i, j] - matrix[j, i]) > tolerance)
                    {
                        throw new ArgumentException($"Matrix declared symmetric but entry ({i}, {j}) = {matrix[i, j]} differs from ({j}, {i}) = {matrix[j, i]}.", nameof(matrix));
                    }
                }
            }
        }

        _symmetric = assumeSymmetric;
    }

    /// <inheritdoc/>
    public override bool IsSymmetric => _symmetric;

    /// <inheritdoc/>
    public override bool SupportsTranspose => true;

    /// <summary>Entry <c>A[row, column]</c>.</summary>
    public double this[int row, int column] => double.CreateTruncating(_rowMajor[(row * Dimension) + column]);

    /// <summary>A copy of the matrix as <c>double[row, column]</c>.</summary>
    public double[,] ToArray()
    {
        int n = Dimension;
        var result = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                result[i, j] = double.CreateTruncating(_rowMajor[(i * n) + j]);
            }
        }

        return result;
    }

    /// <inheritdoc/>
    protected override void ApplyCore(T[] x, T[] y)
    {
        int n = Dimension;
        for (int i = 0; i < n; i++)
        {
            y[i] = TensorPrimitives.Dot<T>(_rowMajor.AsSpan(i * n, n), x);
        }
    }

    /// <inheritdoc/>
    protected override void ApplyTransposeCore(T[] x, T[] y)
    {
        int n = Dimension;
        Array.Clear(y);
        for (int i = 0; i < n; i++)
        {
            TensorPrimitives.MultiplyAdd<T>(_rowMajor.AsSpan(i * n, n), x[i], y, y);
        }
    }

    private static int CheckSquare(double[,] matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        int rows = matrix.GetLength(0);
        int columns = matrix.GetLength(1);
        if (rows == 0 || rows != columns)
        {
            throw new ArgumentException($"Matrix must be square and non-empty; it is {rows} × {columns}.", nameof(matrix));
        }

        return rows;
    }
}
