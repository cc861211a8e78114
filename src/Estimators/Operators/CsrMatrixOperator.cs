using System.Numerics;
using SpectralMonitor.Estimators.Cpu;

namespace SpectralMonitor.Estimators.Operators;

/// <summary>A sparse <c>n × n</c> matrix in compressed sparse row form as an operator on CPU vectors.</summary>
/// <typeparam name="T"><see cref="double"/> or <see cref="float"/>.</typeparam>
public sealed class CsrMatrixOperator<T> : LinearOperator<T[]>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] _rowStart;
    private readonly int[] _columns;
    private readonly T[] _values;
    private readonly bool _symmetric;

    /// <summary>Wraps CSR arrays (copied). Row <c>i</c>'s entries are <c>rowStart[i] … rowStart[i+1]−1</c>.</summary>
    /// <param name="dimension">Matrix size <c>n</c>.</param>
    /// <param name="rowStart">Length <c>n + 1</c>, non-decreasing, from 0 to the entry count.</param>
    /// <param name="columns">Column index of each entry, in <c>[0, n)</c>.</param>
    /// <param name="values">Value of each entry, finite.</param>
    /// <param name="assumeSymmetric">Declare the matrix symmetric (not checked; used for <see cref="LinearOperator{TVec}.ApplyTranspose"/>).</param>
    /// <exception cref="ArgumentException">The arrays are inconsistent; the message names the first offending index.</exception>
    public CsrMatrixOperator(int dimension, int[] rowStart, int[] columns, double[] values, bool assumeSymmetric = false)
        : base(new CpuVectorSpace<T>(dimension))
    {
        ArgumentNullException.ThrowIfNull(rowStart);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(values);
        if (rowStart.Length != dimension + 1)
        {
            throw new ArgumentException($"rowStart has length {rowStart.Length}; expected dimension + 1 = {dimension + 1}.", nameof(rowStart));
        }

        if (columns.Length != values.Length)
        {
            throw new ArgumentException($"columns has {columns.Length} entries but values has {values.Length}.", nameof(values));
        }

        if (rowStart[0] != 0 || rowStart[dimension] != values.Length)
        {
            throw new ArgumentException($"rowStart must run from 0 to the entry count {values.Length}; it runs from {rowStart[0]} to {rowStart[dimension]}.", nameof(rowStart));
        }

        for (int i = 0; i < dimension; i++)
        {
            if (rowStart[i + 1] < rowStart[i])
            {
                throw new ArgumentException($"rowStart decreases at row {i} ({rowStart[i]} → {rowStart[i + 1]}).", nameof(rowStart));
            }
        }

        _values = new T[values.Length];
        for (int k = 0; k < columns.Length; k++)
        {
            if ((uint)columns[k] >= (uint)dimension)
            {
                throw new ArgumentException($"Entry {k} has column {columns[k]}, outside [0, {dimension}).", nameof(columns));
            }

            if (!double.IsFinite(values[k]))
            {
                throw new ArgumentException($"Entry {k} is {values[k]}; every entry must be finite.", nameof(values));
            }

            _values[k] = T.CreateChecked(values[k]);
        }

        _rowStart = (int[])rowStart.Clone();
        _columns = (int[])columns.Clone();
        _symmetric = assumeSymmetric;
    }

    /// <inheritdoc/>
    public override bool IsSymmetric => _symmetric;

    /// <inheritdoc/>
    public override bool SupportsTranspose => true;

    /// <summary>Number of stored entries.</summary>
    public int NonZeroCount => _values.Length;

    /// <inheritdoc/>
    protected override void ApplyCore(T[] x, T[] y)
    {
        for (int i = 0; i < Dimension; i++)
        {
            T sum = T.Zero;
            for (int k = _rowStart[i]; k < _rowStart[i + 1]; k++)
            {
                sum += _values[k] * x[_columns[k]];
            }

            y[i] = sum;
        }
    }

    /// <inheritdoc/>
    protected override void ApplyTransposeCore(T[] x, T[] y)
    {
        Array.Clear(y);
        for (int i = 0; i < Dimension; i++)
        {
            T xi = x[i];
            for (int k = _rowStart[i]; k < _rowStart[i + 1]; k++)
            {
                y[_columns[k]] += _values[k] * xi;
            }
        }
    }
}

/// <summary>Factories for <see cref="CsrMatrixOperator{T}"/>.</summary>
public static class CsrMatrixOperator
{
    /// <summary>Builds the operator from coordinate triplets; duplicates are summed.</summary>
    /// <exception cref="ArgumentException">The arrays differ in length or an index is out of range.</exception>
    public static CsrMatrixOperator<T> FromCoordinates<T>(int dimension, int[] rows, int[] columns, double[] values, bool assumeSymmetric = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(values);
        if (rows.Length != columns.Length || rows.Length != values.Length)
        {
            throw new ArgumentException($"Coordinate arrays differ in length: rows {rows.Length}, columns {columns.Length}, values {values.Length}.", nameof(values));
        }

        var counts = new int[dimension + 1];
        for (int k = 0; k < rows.Length; k++)
        {
            if ((uint)rows[k] >= (uint)dimension)
            {
                throw new ArgumentException($"Entry {k} has row {rows[k]}, outside [0, {dimension}).", nameof(rows));
            }

            counts[rows[k] + 1]++;
        }

        for (int i = 0; i < dimension; i++)
        {
            counts[i + 1] += counts[i];
        }

        var next = (int[])counts.Clone();
        var sortedColumns = new int[rows.Length];
        var sortedValues = new double[rows.Length];
        for (int k = 0; k < rows.Length; k++)
        {
            int slot = next[rows[k]]++;
            sortedColumns[slot] = columns[k];
            sortedValues[slot] = values[k];
        }

        return new CsrMatrixOperator<T>(dimension, counts, sortedColumns, sortedValues, assumeSymmetric);
    }

}
